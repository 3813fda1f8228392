"""Projections as pictures: the paper's gray-centred display and the Deep Visualization Toolbox's others, the crop
beside the image patch, and the tiles of dataset exemplars (the rules: :mod:`cnnviz_widget.encode`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .activations import SIGNED_ZERO
from .pixels import fit_size, shrink_tile

__all__ = ["BLUR_SIGMA", "LAYER_ATLAS_TILE", "PROJECTION_DISPLAYS", "TOP9_TILE", "central_box", "crop_box", "exemplar_tile_sizes", "exemplar_tiles", "gaussian_blur", "projection_display", "projection_pixels"]


def _rgb_order(x: np.ndarray, channel_order: str) -> np.ndarray:
    """``[C,H,W]`` in the model's channel order → ``[3,H,W]`` RGB (gray repeated; extra channels dropped)."""
    if x.shape[0] == 1:
        return np.repeat(x, 3, axis=0)
    if channel_order == "BGR":
        return x[2::-1]
    return x[:3] if x.shape[0] >= 3 else np.concatenate([x, np.repeat(x[-1:], 3 - x.shape[0], axis=0)])


def crop_box(field: Sequence[int], size: Sequence[int], min_side: int = 24) -> list[int]:
    """The part of the input to show for a unit: its receptive field ``(top, left, bottom, right)``, widened
    around its centre to at least ``min_side`` px a side and clipped to the input of ``size`` ``(H, W)``."""
    box = []
    for lo, hi, n in ((field[0], field[2], size[0]), (field[1], field[3], size[1])):
        side = min(max(hi - lo, min_side), n)
        centre = (lo + hi) / 2
        start = int(min(max(math.floor(centre - side / 2), 0), n - side))
        box.append((start, start + side))
    (top, bottom), (left, right) = box
    return [top, left, bottom, right]


def projection_pixels(projection: torch.Tensor, channel_order: str = "RGB", quantile: float = 0.995,
                      box: Sequence[int] | None = None) -> np.ndarray:
    """A projection (``[C,H,W]`` in the model's input space) as an H×W×3 ``uint8`` picture centred on gray.

    Args:
        projection: the engine's ``Explorer.project`` result.
        channel_order: the model's input channel order (``"RGB"``, ``"BGR"`` or ``"L"``).
        quantile: which quantile of ``|p|`` maps to full contrast (1.0: the maximum).
        box: ``(top, left, bottom, right)``: show (and normalise) only this part, e.g. :func:`crop_box`.
    """
    p = projection.detach().to("cpu", torch.float32).numpy()
    if box is not None:
        top, left, bottom, right = (int(v) for v in box)
        p = p[:, top:bottom, left:right]
    magnitude = np.abs(p)
    scale = float(np.quantile(magnitude, quantile)) if quantile < 1.0 else float(magnitude.max())
    if scale <= 0:
        scale = float(magnitude.max())
    if scale <= 0:  # an all-zero projection (a silent unit): plain gray
        return np.full((*p.shape[1:], 3), SIGNED_ZERO, dtype=np.uint8)
    pixels = SIGNED_ZERO + np.round(127.0 * np.clip(p / scale, -1.0, 1.0))
    return _rgb_order(pixels, channel_order).transpose(1, 2, 0).astype(np.uint8)


#: How a projection can be shown (:func:`projection_display`): the Deep Visualization Toolbox's four display modes.
PROJECTION_DISPLAYS = ("raw", "gray", "norm", "blurred_norm")


#: σ of the ``blurred_norm`` display, in input pixels: the toolbox's ``caffevis_grad_norm_blur_radius``.
BLUR_SIGMA = 4.0


def central_box(field: Sequence[int], fraction: float) -> list[int]:
    """The central part of a box ``(top, left, bottom, right)``: ``fraction`` of its height and width (rounded, at
    least 1 px), same centre (rounded down where it cannot be exact). Pass the result to :func:`crop_box`.

    A deep unit's projection falls mostly in the middle of its theoretical receptive field (the *effective*
    receptive field is much smaller, Luo et al. 2016), so a crop to its central part shows the projection larger.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction!r}")
    out = []
    for lo, hi in ((field[0], field[2]), (field[1], field[3])):
        side = max(1, round((hi - lo) * fraction))
        start = int(lo) + (int(hi - lo) - side) // 2
        out.append((start, start + side))
    (top, bottom), (left, right) = out
    return [top, left, bottom, right]


def gaussian_blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """``[H, W]`` values blurred by a Gaussian: the separable kernel ``exp(−t² / 2σ²)`` for ``|t| ≤ ceil(4σ)``,
    normalised to sum 1, the border mirrored without repeating the edge pixel (OpenCV's default, which the Deep
    Visualization Toolbox used). Returns ``float64 [H, W]``."""
    a = np.asarray(values, dtype=np.float64)
    if sigma <= 0:
        return a.copy()
    radius = math.ceil(4 * sigma)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-t * t / (2 * sigma * sigma))
    kernel /= kernel.sum()
    padded = np.pad(a, radius, mode="reflect") if min(a.shape) > 1 else np.pad(a, radius, mode="edge")
    rows = np.lib.stride_tricks.sliding_window_view(padded, kernel.size, axis=0) @ kernel
    return np.lib.stride_tricks.sliding_window_view(rows, kernel.size, axis=1) @ kernel


def _robust_scale(magnitude: np.ndarray, quantile: float) -> float:
    """The value shown at full contrast: the ``quantile`` of ``magnitude``, its maximum where that is zero."""
    scale = float(np.quantile(magnitude, quantile)) if quantile < 1.0 else float(magnitude.max())
    return scale if scale > 0 else float(magnitude.max())


def projection_display(projection: torch.Tensor, mode: str = "raw", channel_order: str = "RGB",
                       quantile: float = 0.995, box: Sequence[int] | None = None,
                       sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A projection as an H×W×3 ``uint8`` picture in one of the display modes of the module docstring.

    Args:
        projection: the engine's ``Explorer.project`` result, ``[C,H,W]`` in the model's input space.
        mode: ``"raw"`` (:func:`projection_pixels`, colour centred on gray), ``"gray"``, ``"norm"`` or
            ``"blurred_norm"`` (:data:`PROJECTION_DISPLAYS`).
        channel_order: the model's input channel order (``"RGB"``, ``"BGR"`` or ``"L"``); only ``raw`` has colour.
        quantile: which quantile of what is shown maps to full contrast (1.0: the maximum).
        box: ``(top, left, bottom, right)``: show (and normalise) only this part; ``blurred_norm`` blurs the whole
            projection first, so the crop's border is not blurred against nothing.
        sigma: the blur of ``blurred_norm``, in input pixels.

    Raises:
        ValueError: an unknown ``mode``.
    """
    if mode not in PROJECTION_DISPLAYS:
        raise ValueError(f"unknown projection display {mode!r}; choose one of {', '.join(PROJECTION_DISPLAYS)}")
    if mode == "raw":
        return projection_pixels(projection, channel_order, quantile, box)
    p = projection.detach().to("cpu", torch.float64).numpy()
    if mode == "gray":
        values = p.mean(axis=0)
    else:
        values = np.sqrt((p * p).sum(axis=0))
        if mode == "blurred_norm":
            values = gaussian_blur(values, sigma)
    if box is not None:
        top, left, bottom, right = (int(v) for v in box)
        values = values[top:bottom, left:right]
    scale = _robust_scale(np.abs(values), quantile)
    if scale <= 0:  # an all-zero projection (a silent unit): gray, or black without a sign
        return np.full((*values.shape, 3), SIGNED_ZERO if mode == "gray" else 0, dtype=np.uint8)
    if mode == "gray":
        pixels = SIGNED_ZERO + np.round(127.0 * np.clip(values / scale, -1.0, 1.0))
    else:
        pixels = np.round(255.0 * np.clip(values / scale, 0.0, 1.0))
    return np.repeat(pixels.astype(np.uint8)[..., None], 3, axis=2)


#: A unit's dataset exemplars (each a receptive-field patch and its projection) are shown at most this many pixels a
#: side: in the unit card's top-9 panel, and in the layer atlas, where one page holds many units.
TOP9_TILE = 96


LAYER_ATLAS_TILE = 32


def exemplar_tiles(patches: Sequence[np.ndarray], projections: Sequence[torch.Tensor], channel_order: str = "RGB",
                   max_side: int = TOP9_TILE, display: str = "raw", fraction: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A unit's exemplars as display tiles, ``(patches, projections)``, each ``uint8 [N, h, w, 3]``.

    Args:
        patches: the receptive fields as the model saw them (``Exemplar.patch``, ``uint8 [h, w, 3]``, one size).
        projections: the unit projected onto each (``Exemplar.projection``, ``[C, h, w]`` in the model's input
            space), each normalised on its own in ``display`` (:func:`projection_display`; ``raw``: centred on
            gray in colour, as the paper's Figure 2 shows them).
        channel_order: the model's input channel order (projections are shown in RGB).
        max_side: tiles larger than this are shrunk to it (the mean of the pixels each tile pixel covers).
        display: one of :data:`PROJECTION_DISPLAYS`.
        fraction: below 1, patch and projection are cut to that central part of the field (:func:`central_box`),
            as the unit card shows a deep unit (tiles are never widened: a field tile shows the field exactly).
    """
    return exemplar_tile_sizes(patches, projections, channel_order, (max_side,), display, fraction)[0]


def exemplar_tile_sizes(patches: Sequence[np.ndarray], projections: Sequence[torch.Tensor], channel_order: str,
                        max_sides: Sequence[int], display: str = "raw", fraction: float = 1.0
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`exemplar_tiles` at several sizes, one ``(patches, projections)`` pair per side in ``max_sides``: each
    projection is displayed once, then shrunk to every size."""
    if len(patches) != len(projections):
        raise ValueError(f"{len(patches)} patches but {len(projections)} projections")
    if not patches:
        return [(np.zeros((0, 1, 1, 3), np.uint8), np.zeros((0, 1, 1, 3), np.uint8)) for _ in max_sides]
    height, width = patches[0].shape[:2]
    box = None if fraction >= 1 else central_box((0, 0, height, width), fraction)
    if box is not None:
        height, width = box[2] - box[0], box[3] - box[1]
    shown = [np.asarray(p, dtype=np.uint8) if box is None else np.asarray(p, dtype=np.uint8)[box[0]:box[2], box[1]:box[3]]
             for p in patches]
    displayed = [projection_display(p, display, channel_order, box=box) for p in projections]
    out = []
    for max_side in max_sides:
        size = fit_size(height, width, max_side)
        out.append((np.stack([shrink_tile(p, size) for p in shown]),
                    np.stack([shrink_tile(p, size) for p in displayed])))
    return out
