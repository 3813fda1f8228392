"""The structure score (contour agreement) on hand-made pictures whose contour maps can be written down."""

import numpy as np
import pytest

from cnnviz_widget.engine.projection.structure import contour_strength, structure_score


def step(vertical: bool, n: int = 8) -> np.ndarray:
    """An n×n gray picture, 0 left of (above) column (row) n/2 and 1 from there on."""
    ramp = (np.arange(n) >= n // 2).astype(float)
    return np.tile(ramp, (n, 1)) if vertical else np.tile(ramp[:, None], (1, n))


def checkerboard(n: int = 8) -> np.ndarray:
    return (np.add.outer(np.arange(n), np.arange(n)) % 2).astype(float)


def test_contour_strength_is_the_forward_difference_gradient():
    # a = [[0, 1, 3], [0, 1, 3], [2, 2, 2]]: dx = [[1, 2], [1, 2]], dy = [[0, 0], [2, 1]]
    a = np.array([[0, 1, 3], [0, 1, 3], [2, 2, 2]], dtype=np.uint8)
    assert np.array_equal(contour_strength(a), np.sqrt([[1.0, 4.0], [5.0, 5.0]]))
    # colour: the channels' squared differences add up (R steps by 3 to the right, G by 4 downwards)
    rgb = np.zeros((2, 2, 3))
    rgb[:, 1, 0] = 3.0
    rgb[1, :, 1] = 4.0
    assert contour_strength(rgb).tolist() == [[5.0]]
    with pytest.raises(ValueError, match="at least 2×2"):
        contour_strength(np.zeros((1, 5)))


def test_the_same_contours_score_one_whatever_the_brightness_and_contrast():
    patch = step(vertical=True)
    assert structure_score(patch, patch) == pytest.approx(1.0, abs=1e-12)
    assert structure_score(3.0 * patch + 10.0, patch) == pytest.approx(1.0, abs=1e-12)
    assert structure_score(1.0 - patch, patch) == pytest.approx(1.0, abs=1e-12)  # contrast, not sign, is seen
    rgb = np.stack([patch * 200, patch * 10, np.zeros_like(patch)], axis=-1).astype(np.uint8)
    assert structure_score(rgb, patch) == pytest.approx(1.0, abs=1e-12)


def test_perpendicular_edges_score_zero():
    # G(vertical step) = 1 on column 3 (7 of the 7×7 pixels), G(horizontal step) = 1 on row 3; they share one
    # pixel: 1/49 = (7/49)², so the covariance, and the score, is 0.
    assert structure_score(step(vertical=False), step(vertical=True)) == pytest.approx(0.0, abs=1e-12)


def test_flat_pictures_and_uniform_checkerboards_score_zero():
    patch = step(vertical=True)
    assert structure_score(np.full((8, 8), 128.0), patch) == 0.0
    assert np.all(contour_strength(checkerboard()) == np.sqrt(2.0))  # contrast everywhere, the same everywhere
    assert structure_score(checkerboard(), patch) == 0.0
    assert structure_score(patch, np.zeros((8, 8))) == 0.0  # a flat patch has no structure to agree with


def test_speckle_and_blur_both_lower_the_score():
    # A disc (a bottle cap) seen as its own outline scores 1; under ±0.5 pixel speckle, or blurred by a Gaussian of
    # σ = 4 px (a "where" picture, not a "what" picture), far less.
    n = 32
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    disc = (np.hypot(yy, xx) < 9).astype(float)
    speckle = np.random.default_rng(0).choice([-1.0, 1.0], size=(n, n))
    t = np.arange(-16, 17)
    kernel = np.exp(-t**2 / 32.0) / np.exp(-t**2 / 32.0).sum()
    blurred = np.apply_along_axis(np.convolve, 0, np.pad(disc, 16, mode="reflect"), kernel, "valid")
    blurred = np.apply_along_axis(np.convolve, 1, blurred, kernel, "valid")
    assert structure_score(disc, disc) == pytest.approx(1.0, abs=1e-12)
    assert structure_score(disc + 0.5 * speckle, disc) < 0.3
    assert structure_score(blurred, disc) < 0.5


def test_sizes_must_match():
    with pytest.raises(ValueError, match="differ in size"):
        structure_score(np.zeros((4, 4)), np.zeros((4, 5, 3)))
