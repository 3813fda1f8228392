"""How much a projection picture shows the image's structure rather than speckle: one number, used to choose how
projections are shown (``notebooks/05-why-projections-speckle.ipynb``).

**Contour agreement**: the Pearson correlation, over pixels, between the contour strength of the picture as displayed
and the contour strength of the image patch it projects onto. Contour strength at a pixel is the colour gradient
magnitude from forward differences,

    ``G(a)[i, j] = sqrt( Σ_c (a[i, j+1, c] − a[i, j, c])² + (a[i+1, j, c] − a[i, j, c])² )``,

for ``0 ≤ i < H−1``, ``0 ≤ j < W−1``: the contrast a viewer sees between neighbouring pixels, in any colour.

What it rewards and why:

* A projection whose visible edges lie on the image's edges (a ring drawn where the eye's rim is) scores near 1.
* Speckle unrelated to the image scores near 0, and pixel-level checkerboards do count as contrast: forward
  differences respond most at the highest frequency, where a central difference (Sobel) or a diagonal one
  (Roberts) is blind to a period-2 pattern.
* Blurring does not win by construction: a blurred picture has weak, spread-out contrast that does not sit on the
  image's edges. (A measure such as "the share of spectral energy above half-Nyquist" is lowered by any blur, so it
  cannot choose between displays.)
* It is unchanged by the display's brightness and contrast (``a·picture + b``, ``a > 0``), and it does not ask
  whether the picture is specific to the unit — only whether it shows image structure or noise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["contour_strength", "structure_score"]


def contour_strength(image: np.ndarray) -> np.ndarray:
    """``G(image)``: the forward-difference colour gradient magnitude, ``float64 [H−1, W−1]``.

    Args:
        image: ``[H, W]`` or ``[H, W, C]`` pixels (any real dtype), ``H, W ≥ 2``.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[0] < 2 or a.shape[1] < 2:
        raise ValueError(f"contour_strength takes an [H, W] or [H, W, C] picture of at least 2×2, not {a.shape}")
    dx = a[:-1, 1:] - a[:-1, :-1]
    dy = a[1:, :-1] - a[:-1, :-1]
    return np.sqrt((dx * dx + dy * dy).sum(axis=-1))


def structure_score(picture: np.ndarray, patch: np.ndarray) -> float:
    """Contour agreement of a displayed projection with its image patch (see the module docstring), in ``[−1, 1]``.

    Args:
        picture: the projection as shown, ``[H, W]`` or ``[H, W, C]`` (e.g. ``uint8`` display pixels).
        patch: the image region it was projected onto, the same ``H×W`` (e.g. ``Exemplar.patch``).

    Returns:
        The correlation of ``G(picture)`` with ``G(patch)``; ``0.0`` when either has the same contour strength
        everywhere (a flat picture, a uniform checkerboard), where a correlation is undefined.
    """
    if np.shape(picture)[:2] != np.shape(patch)[:2]:
        raise ValueError(f"picture {np.shape(picture)[:2]} and patch {np.shape(patch)[:2]} differ in size")
    seen, edges = contour_strength(picture).ravel(), contour_strength(patch).ravel()
    if np.ptp(seen) == 0 or np.ptp(edges) == 0:
        return 0.0
    seen, edges = seen - seen.mean(), edges - edges.mean()
    return float((seen * edges).sum() / np.sqrt((seen * seen).sum() * (edges * edges).sum()))
