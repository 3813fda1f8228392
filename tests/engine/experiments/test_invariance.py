"""Invariance curves (Fig. 5) on a toy net whose answers are worked out by hand.

The toy net is a 1×1 convolution (weight 1) followed by a global max-pool: its conv layer moves with the image,
its pooled feature does not (translation- and rotation-invariant while the content stays in view)."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnviz_widget import Explorer, ImagePreprocess, ModelError
from cnnviz_widget.engine.experiments.common import penultimate_layer
from cnnviz_widget.engine.experiments.invariance import (
    DEFAULT_SWEEPS,
    invariance_curves,
    transform_image,
)
from cnnviz_widget.engine.progress import Cancelled

GRAY16 = ImagePreprocess(size=16, resize=None, mean=(0.0,), std=(1.0,), channel_order="L")
WHITE = np.float32(255.0) * np.float32(1.0 / 255.0)  # a white pixel in model space, as the preprocessing computes it


class PoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.fc.weight.copy_(torch.tensor([[2.0], [-1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).flatten(1))


def _square(width=16, height=16, top=6, left=6, side=4):
    """Black picture with a white ``side``×``side`` square (centred by default: rows/cols 6–9 of 16)."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[top:top + side, left:left + side] = 255
    return Image.fromarray(arr)


def _explorer(pre=GRAY16):
    return Explorer(PoolNet(), preprocess=pre, labels=["bright", "dark"])


def test_default_layers_are_layer_one_and_the_penultimate():
    ex = _explorer()
    assert penultimate_layer(ex, 2) == "pool"
    result = invariance_curves(ex, _square(), transforms={"translate": [0.0]})
    assert result.layers == ["conv", "pool"]
    assert result.fill == (0, 0, 0)  # the preprocessing's mean: 0
    assert result.target == 0 and result.target_label == "bright"


def test_translation_distances_by_hand():
    # Shifting the 4×4 square down by t: the conv map loses t rows of 4 white pixels and gains t others, so
    # ‖Δ‖ = √(2·4·t)·white for t ≤ 4 and √32·white once the squares no longer overlap. The max-pool sees one white
    # pixel in every case: distance 0, probability unchanged.
    amounts = [-6.0, -4.0, -2.0, 0.0, 1.0, 2.0, 4.0, 6.0]
    result = invariance_curves(_explorer(), _square(), transforms={"translate": amounts})
    curve = result.curves["translate"]
    expected = np.array([np.sqrt(32), np.sqrt(32), 4.0, 0.0, np.sqrt(8), 4.0, np.sqrt(32), np.sqrt(32)]) * WHITE
    np.testing.assert_allclose(curve.distance["conv"], expected, rtol=1e-6)
    np.testing.assert_array_equal(curve.distance["pool"], np.zeros(len(amounts), np.float32))
    np.testing.assert_array_equal(curve.probability, np.full(len(amounts), result.reference_probability, np.float32))
    assert curve.unit == "px" and curve.values.tolist() == amounts
    assert result.reference_norm["conv"] == pytest.approx(4.0 * WHITE)  # √16 white pixels
    # The transformed image for t = +2: the square moved down two rows, black (the mean) above it.
    shifted = np.zeros((16, 16, 3), np.uint8)
    shifted[8:12, 6:10] = 255
    np.testing.assert_array_equal(curve.images[amounts.index(2.0)], shifted)
    np.testing.assert_array_equal(result.canonical, np.asarray(_square()))


def test_rotation_of_a_symmetric_pattern_changes_nothing_and_zoom_keeps_the_max():
    result = invariance_curves(_explorer(), _square(), transforms={"rotate": [0, 90, 180, 270, 360], "scale": [1.0, 2.0]})
    for name in ("conv", "pool"):
        np.testing.assert_array_equal(result.curves["rotate"].distance[name], np.zeros(5, np.float32))
    # Zooming 2× grows the square to 8×8 (blurred edges): the conv map changes, its maximum stays white.
    scale = result.curves["scale"]
    assert scale.distance["conv"][0] == 0.0 and scale.distance["conv"][1] > 1.0
    np.testing.assert_array_equal(scale.distance["pool"], [0.0, 0.0])
    assert scale.unit == "×" and result.curves["rotate"].unit == "°"


def test_rotation_is_counter_clockwise_and_exact_at_right_angles():
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[2:5, 10:14] = (255, 0, 0)  # a red bar right of centre, near the top
    picture = Image.fromarray(arr)
    for angle, k in ((90, 1), (180, 2), (270, 3)):
        np.testing.assert_array_equal(np.asarray(transform_image(picture, "rotate", angle)), np.rot90(arr, k))


def test_non_square_original_rotates_about_the_centre_of_the_models_view():
    # 24×16 original, resize 16 → crop box x ∈ [4, 20). Rotating by 90° about the crop's centre turns the crop
    # square onto itself, so the model sees exactly the rotated crop; real content, not fill, comes in at no point.
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    pre = ImagePreprocess(size=16, resize=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    ex = Explorer(nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), preprocess=pre)
    result = invariance_curves(ex, arr, transforms={"rotate": [90, 180]}, layers=["0"])
    np.testing.assert_array_equal(result.canonical, arr[:, 4:20])
    np.testing.assert_array_equal(result.curves["rotate"].images[0], np.rot90(arr[:, 4:20], 1))
    np.testing.assert_array_equal(result.curves["rotate"].images[1], np.rot90(arr[:, 4:20], 2))
    assert result.fill == (128, 128, 128)  # mean 0.5 → 127.5, rounded


def test_translation_brings_in_real_content_beyond_the_crop():
    # A 16-wide, 24-tall original under resize 16: the crop is rows 4–19, so a 3-px shift down shows rows 1–3.
    arr = np.zeros((24, 16, 3), np.uint8)
    arr[:, :, 0] = np.arange(24, dtype=np.uint8)[:, None] * 10
    pre = ImagePreprocess(size=16, resize=16, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    ex = Explorer(nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), preprocess=pre)
    result = invariance_curves(ex, arr, transforms={"translate": [3.0, 6.0]}, layers=["0"])
    np.testing.assert_array_equal(result.curves["translate"].images[0], arr[1:17])
    # 6 px is more than the 4 px of margin above the crop: the two rows beyond the photo are the mean (black).
    moved = result.curves["translate"].images[1]
    np.testing.assert_array_equal(moved[:2], np.zeros((2, 16, 3), np.uint8))
    np.testing.assert_array_equal(moved[2:], arr[0:14])


def test_model_input_tensor_is_warped_as_the_picture_it_shows():
    ex = _explorer()
    x = GRAY16(_square())
    result = invariance_curves(ex, x, transforms={"translate": [0.0, 4.0]})
    np.testing.assert_allclose(result.curves["translate"].distance["conv"], [0.0, np.sqrt(32) * WHITE], rtol=1e-6)


def test_custom_preprocess_non_square_rotation_is_refused_with_the_fix():
    def custom(image):
        return torch.as_tensor(np.asarray(image, np.float32)[..., 0] / 255.0)[None, :16, :16]

    ex = Explorer(PoolNet(), preprocess=custom, input_size=16)
    with pytest.raises(ValueError, match="cannot rotate a non-square 24×16 image for a custom preprocess.*crop the "
                                         "image square first"):
        invariance_curves(ex, _square(width=24), transforms=("rotate",))
    # Square images and the other transforms are fine; the fill is neutral gray (the mean is unknown).
    result = invariance_curves(ex, _square(), transforms={"rotate": [90.0]})
    assert result.fill == (128, 128, 128)
    np.testing.assert_array_equal(result.curves["rotate"].distance["pool"], [0.0])
    with pytest.raises(ModelError, match="not the model's input tensor"):
        invariance_curves(ex, torch.zeros(1, 16, 16), transforms=("translate",))


def test_bad_requests_name_the_fix():
    ex = _explorer()
    with pytest.raises(ValueError, match="unknown transform 'shear'; choose from translate, scale, rotate"):
        invariance_curves(ex, _square(), transforms=("shear",))
    with pytest.raises(ValueError, match="scale factors must be positive, not 0.0"):
        invariance_curves(ex, _square(), transforms={"scale": [1.0, 0.0]})
    with pytest.raises(KeyError, match="target 5 is not a class"):
        invariance_curves(ex, _square(), transforms={"translate": [0]}, target=5)
    with pytest.raises(KeyError, match="unknown layer"):
        invariance_curves(ex, _square(), transforms={"translate": [0]}, layers=["nope"])


def test_default_sweeps_are_the_papers():
    assert DEFAULT_SWEEPS["translate"][[0, -1]].tolist() == [-60, 60] and len(DEFAULT_SWEEPS["translate"]) == 25
    assert DEFAULT_SWEEPS["scale"][[0, -1]].tolist() == [1.0, 1.8] and len(DEFAULT_SWEEPS["scale"]) == 17
    assert DEFAULT_SWEEPS["rotate"][[0, -1]].tolist() == [0, 350] and len(DEFAULT_SWEEPS["rotate"]) == 36


def test_progress_cancel_and_no_images():
    ex = _explorer()
    seen = []
    result = invariance_curves(ex, _square(), transforms={"translate": [0, 1, 2, 3, 4]}, batch_size=2, keep_images=False,
                        progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)] and result.curves["translate"].images is None
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="invariance was cancelled"):
        invariance_curves(ex, _square(), transforms=("translate",), cancel=cancel)


@pytest.mark.slow
def test_default_model_sweep():
    from cnnviz_widget import load_model
    from cnnviz_widget.engine.model.samples import imagenet_photos

    ex = Explorer(load_model())
    photo = imagenet_photos()[0]
    result = invariance_curves(ex, photo.path, transforms={"translate": [-60, 0, 60], "rotate": [0, 180]},
                        target=photo.label)
    assert result.layers == ["features.0", "features.12"]
    assert result.target == photo.label and result.canonical.shape == (227, 227, 3)
    for curve in result.curves.values():
        assert curve.images.shape == (len(curve.values), 227, 227, 3) and curve.images.dtype == np.uint8
        zero = int(np.flatnonzero(curve.values == 0)[0])
        # The identity gives the canonical image; only batch-size-dependent float rounding separates the features.
        assert all(curve.distance[n][zero] <= 1e-5 * result.reference_norm[n] for n in result.layers)
        assert curve.probability[zero] == pytest.approx(result.reference_probability, rel=1e-5)
        assert all((curve.distance[n][np.arange(len(curve.values)) != zero] > 0).all() for n in result.layers)
