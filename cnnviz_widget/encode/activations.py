"""Activations as codes: the activation grid (an atlas of every channel of a layer) and the unit card's map
(the rules: :mod:`cnnviz_widget.encode`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .pixels import grid_columns, png, raw, tile_sheet

__all__ = ["ATLAS_GAMMA", "ATLAS_PERCENTILE", "ATLAS_PIXELS", "ATLAS_TILE", "SIGNED_ZERO", "STATS_COLUMNS", "Atlas", "activation_atlas", "activation_map", "atlas_downscale", "atlas_scale", "channel_stats", "encode_codes"]


#: Codes of the signed encoding: zero sits exactly here.
SIGNED_ZERO = 128


#: Atlas tiles are max-pooled (keeping the sign of the strongest value) until they are at most this many pixels
#: on a side and the whole atlas holds at most ``ATLAS_PIXELS`` pixels, which keeps it under ~500 KB as PNG.
ATLAS_TILE = 64


ATLAS_PIXELS = 400_000


#: Stats columns of an atlas, in order (float32 each).
STATS_COLUMNS = ("min", "max", "mean", "fraction_active", "scale")


#: An atlas's scale is this percentile of its units' peaks, and its codes follow ``(x / scale) ** ATLAS_GAMMA``
#: (see the module docstring; ``percentile=100, gamma=1`` is the layer's largest value, linearly).
ATLAS_PERCENTILE = 95.0


ATLAS_GAMMA = 0.5


def _as_maps(acts: torch.Tensor) -> torch.Tensor:
    """``[C,h,w]`` float32 on the CPU; a linear layer's ``[F]`` becomes ``[F,1,1]``."""
    acts = acts.detach().to("cpu", torch.float32)
    if acts.dim() == 1:
        return acts[:, None, None]
    if acts.dim() == 2:
        return acts[:, None, :]
    if acts.dim() != 3:
        raise ValueError(f"activations must be [C,h,w] (or [F] for a linear layer), got shape {tuple(acts.shape)}")
    return acts


def channel_stats(acts: torch.Tensor) -> np.ndarray:
    """Per-channel ``min, max, mean, fraction_active`` (fraction of positions > 0): float32 ``[C, 4]``."""
    maps = _as_maps(acts).flatten(1)
    return torch.stack([maps.amin(1), maps.amax(1), maps.mean(1), (maps > 0).float().mean(1)], 1).numpy()


def encode_codes(maps: torch.Tensor, scale: torch.Tensor | float, signed: bool, gamma: float = 1.0) -> np.ndarray:
    """Activation values → ``uint8`` codes (see the module docstring). ``scale`` broadcasts over ``maps``;
    a zero scale gives the code of zero; values beyond ``scale`` are clipped; ``gamma`` bends the ramp."""
    maps = maps.detach().to("cpu", torch.float32)
    scale = torch.as_tensor(scale, dtype=torch.float32)
    ratio = torch.where(scale > 0, maps / torch.where(scale > 0, scale, torch.ones_like(scale)), 0.0)
    if signed:
        codes = SIGNED_ZERO + torch.round(127.0 * torch.sign(ratio) * ratio.abs().clamp(max=1.0) ** gamma)
    else:
        codes = torch.round(255.0 * ratio.clamp(0.0, 1.0) ** gamma)
    return codes.to(torch.uint8).numpy()


def atlas_scale(peaks: torch.Tensor, percentile: float = ATLAS_PERCENTILE) -> float:
    """An atlas's one scale: the ``percentile`` (0–100, linear interpolation) of its units' peaks (each unit's
    largest ``|x|``), or the largest peak when that percentile is 0 (fewer units fire than it skips)."""
    peaks = torch.as_tensor(peaks, dtype=torch.float32).flatten()
    if peaks.numel() == 0:
        return 0.0
    scale = float(torch.quantile(peaks.double(), percentile / 100.0))
    return scale if scale > 0 else float(peaks.max())


def _signed_maxpool(maps: torch.Tensor, factor: int) -> torch.Tensor:
    """Max-pool by ``factor``, keeping the value of largest magnitude (with its sign) in each window."""
    high = F.max_pool2d(maps[None], factor, ceil_mode=True)[0]
    low = -F.max_pool2d(-maps[None], factor, ceil_mode=True)[0]
    return torch.where(high >= -low, high, low)


def atlas_downscale(count: int, height: int, width: int, max_tile: int = ATLAS_TILE,
                    max_pixels: int = ATLAS_PIXELS) -> int:
    """The smallest integer factor that brings tiles to ``max_tile`` px a side and the atlas to ``max_pixels``."""
    factor = 1
    while (max(math.ceil(height / factor), math.ceil(width / factor)) > max_tile
           or count * math.ceil(height / factor) * math.ceil(width / factor) > max_pixels):
        factor += 1
    return factor


@dataclass(frozen=True)
class Atlas:
    """All channels of one layer for one image, as one gray PNG of codes plus per-channel statistics.

    Attributes:
        png: the codes, tiles laid out row-major, ``cols`` per row, no gaps.
        count: number of channels (tiles).
        tile: ``(h, w)`` of a tile, after downscaling.
        cols: tiles per row.
        signed: whether codes are signed (128 = zero) or unsigned (0 = zero).
        downscale: the max-pool factor applied to each map (1 = full resolution).
        stats: float32 ``[count, 5]``: ``min, max, mean, fraction_active`` of the full-resolution map, and the
            ``scale`` its codes were made with (a unit whose peak exceeds it is clipped).
        gamma: the exponent of the codes' ramp (``code ∝ (x / scale) ** gamma``).
        percentile: which percentile of the units' peaks the scale is (``None``: each tile its own peak).
    """

    png: bytes
    count: int
    tile: tuple[int, int]
    cols: int
    signed: bool
    downscale: int
    stats: np.ndarray
    gamma: float = 1.0
    percentile: float | None = None

    def to_state(self) -> dict[str, Any]:
        """The JSON-and-bytes form the widget sends (``stats`` as little-endian float32 bytes)."""
        return {"png": self.png, "count": self.count, "tile": list(self.tile), "cols": self.cols,
                "signed": self.signed, "downscale": self.downscale, "stats": self.stats.astype("<f4").tobytes(),
                "stats_columns": list(STATS_COLUMNS), "gamma": self.gamma, "percentile": self.percentile}


def activation_atlas(acts: torch.Tensor, *, normalize: str = "layer", percentile: float = ATLAS_PERCENTILE,
                     gamma: float = ATLAS_GAMMA, max_tile: int = ATLAS_TILE, max_pixels: int = ATLAS_PIXELS) -> Atlas:
    """Encode every channel of a layer (``[C,h,w]``, or ``[F]`` for a linear layer) as one :class:`Atlas`.

    Args:
        acts: the layer's output for one image.
        normalize: ``"layer"``: one scale for every tile (:func:`atlas_scale` of ``percentile``); ``"channel"``:
            each tile stretched to its own peak.
        percentile, gamma: the scale and the ramp of the codes (see the module docstring);
            ``percentile=100, gamma=1`` maps the layer's largest value to full brightness, linearly.
        max_tile, max_pixels: tiles are max-pooled to fit these (:func:`atlas_downscale`).
    """
    if normalize not in ("layer", "channel"):
        raise ValueError(f"normalize must be 'layer' or 'channel', not {normalize!r}")
    if not 0 <= percentile <= 100 or gamma <= 0:
        raise ValueError(f"percentile must lie in 0–100 and gamma be positive, not {percentile} and {gamma}")
    maps = _as_maps(acts)
    count, height, width = maps.shape
    stats = channel_stats(maps)
    signed = bool(stats[:, 0].min() < 0) if count else False
    peaks = torch.from_numpy(np.maximum(np.abs(stats[:, 0]), np.abs(stats[:, 1])))
    scale = peaks if normalize == "channel" else torch.full((count,), atlas_scale(peaks, percentile))
    factor = atlas_downscale(count, height, width, max_tile, max_pixels)
    small = _signed_maxpool(maps, factor) if factor > 1 else maps
    codes = encode_codes(small, scale[:, None, None], signed, gamma)
    cols = grid_columns(count)
    return Atlas(png=png(tile_sheet(codes, cols)), count=count, tile=(int(small.shape[1]), int(small.shape[2])),
                 cols=cols, signed=signed, downscale=factor,
                 stats=np.concatenate([stats, scale.numpy()[:, None]], axis=1).astype(np.float32),
                 gamma=float(gamma), percentile=float(percentile) if normalize == "layer" else None)


def activation_map(feature_map: torch.Tensor) -> dict[str, Any]:
    """One channel's map (``[h,w]``) at full resolution, stretched on its own: the unit card's picture.

    Returns the state the front end colours: ``codes`` (:func:`raw` codes), ``shape``, ``signed``, ``scale``,
    ``colormap``.
    """
    fmap = feature_map.detach().to("cpu", torch.float32)
    fmap = fmap.reshape(1, 1) if fmap.dim() == 0 else fmap.reshape(1, -1) if fmap.dim() == 1 else fmap
    signed = bool(fmap.min() < 0)
    scale = float(fmap.abs().max())
    return {"codes": raw(encode_codes(fmap, scale, signed)), "shape": list(fmap.shape), "signed": signed,
            "scale": scale, "colormap": "diverging" if signed else "heat"}
