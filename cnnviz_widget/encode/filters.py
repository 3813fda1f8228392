"""Layer-1 filters as tiny images (the rule: :mod:`cnnviz_widget.encode`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .activations import SIGNED_ZERO
from .pixels import grid_columns, png, tile_sheet

__all__ = ["FilterSheet", "filter_pixels", "filter_sheet"]


@dataclass(frozen=True)
class FilterSheet:
    """A convolution's filters as one RGB PNG: ``count`` tiles of ``tile``×``tile`` px, ``cols`` per row."""

    png: bytes
    count: int
    tile: tuple[int, int]
    cols: int
    zoom: int
    kernel: tuple[int, int]

    def to_state(self) -> dict[str, Any]:
        return {"png": self.png, "count": self.count, "tile": list(self.tile), "cols": self.cols, "zoom": self.zoom,
                "kernel": list(self.kernel)}


def filter_pixels(weights: torch.Tensor, channel_order: str = "RGB") -> np.ndarray:
    """Filters ``[out, in, kh, kw]`` → ``[out, kh, kw, 3]`` uint8, each centred on gray by its own ``max|w|``.

    Filters with 3 input channels are shown in colour (reordered to RGB); others as gray (the mean over inputs).
    """
    w = weights.detach().to("cpu", torch.float32).numpy()
    if w.ndim != 4:
        raise ValueError(f"filters must be [out, in, kh, kw], got shape {w.shape}")
    if w.shape[1] == 3:
        w = w[:, ::-1] if channel_order == "BGR" else w
    else:
        w = np.repeat(w.mean(axis=1, keepdims=True), 3, axis=1)
    scale = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)[:, None, None, None]
    pixels = SIGNED_ZERO + np.round(127.0 * w / scale)
    return pixels.transpose(0, 2, 3, 1).astype(np.uint8)


def filter_sheet(weights: torch.Tensor, channel_order: str = "RGB", min_tile: int = 24) -> FilterSheet:
    """Layer-1 filters as a :class:`FilterSheet`, scaled up by an integer ``zoom`` (nearest-neighbour) to at
    least ``min_tile`` px a side."""
    tiles = filter_pixels(weights, channel_order)
    kh, kw = tiles.shape[1:3]
    zoom = max(1, math.ceil(min_tile / max(kh, kw)))
    tiles = tiles.repeat(zoom, axis=1).repeat(zoom, axis=2)
    cols = grid_columns(len(tiles))
    return FilterSheet(png=png(tile_sheet(tiles, cols)), count=len(tiles), tile=(kh * zoom, kw * zoom), cols=cols,
                       zoom=zoom, kernel=(kh, kw))
