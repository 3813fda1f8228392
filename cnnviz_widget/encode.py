"""Tensors → display bytes: the one place where pixels are made.

Everything the widget shows is built here from engine tensors and sent as narrow, binary payloads (``uint8``
pictures as PNG, or uncompressed for the unit card's small pictures, statistics as little-endian ``float32``),
never as JSON lists of numbers.

How values become pixels (the choices, stated once):

* **Activations** are sent as *codes*, one ``uint8`` per value, which the front end colours with a look-up table
  (the same tables as :data:`COLORMAPS`, see ``js/src/lib/colormap.js``). A layer with no negative value is
  *unsigned*: ``code = round(255 · min(x / s, 1) ** γ)``, black is zero. A layer with negative values (a
  convolution before its ReLU) is *signed*: ``code = 128 ± round(127 · min(|x| / s, 1) ** γ)`` (the sign of
  ``x``), mid-gray is zero, as in the paper's gray grids. The unit card's single map uses ``γ = 1`` and its own
  channel's largest ``|x|`` as ``s``.
  In an **atlas** (the activation grid) all tiles share one scale, so tiles compare: ``s`` is the 95th percentile
  (:data:`ATLAS_PERCENTILE`) of the layer's unit *peaks* (a unit's peak: its largest ``|x|`` on this image; the
  largest peak when that percentile is 0) and ``γ = 0.5`` (:data:`ATLAS_GAMMA`), so half brightness is a quarter
  of ``s``. Peaks above ``s`` are clipped to full brightness; the grid marks those tiles and its legend says what
  full brightness is; hovering gives the exact values (the atlas's statistics). Why not the layer's largest value
  with ``γ = 1``: deep layers respond sparsely, a few units peak far above the rest, and that scale left most
  tiles of a firing layer black. Measured on the default model over its 33 sample photos
  (``bench/atlas_lit_share.py``; *lit*: a tile whose brightest code is at least a quarter of full brightness;
  *firing*: a unit whose peak is above 0): at ``features.12`` 22 % of tiles were lit while 79 % of units fired,
  at ``features.9`` 47 % vs 97 %, at ``features.7`` 67 % vs 99 %; with this rule 73 %, 95 % and 98 % (every
  layer after a ReLU within 7 points of its firing share, 1 point on average; it was 58 and 28). A gentler curve
  or a higher percentile left deep layers further apart (99th percentile: 10 points), a steeper one flattens the
  differences between strong units. ``normalize="channel"`` stretches each tile on its own instead (``s`` = its
  own peak).
* **Projections** (deconvnet / guided backprop / gradient) are shown the way Zeiler & Fergus show their
  reconstructions: centred on gray, ``pixel = 128 + 127 · p / s`` with one scale ``s`` per image shared by the
  three colour channels (so hue is kept), ``s`` being the 99.5th percentile of ``|p|``: a handful of extreme
  pixels would otherwise wash the rest out to flat gray. Values beyond ``s`` are clipped. A unit at one location
  is shown (and normalised) on its receptive field only, widened to at least 24 px (:func:`crop_box`), beside
  the same patch of the image, as the paper pairs projections with patches. That is the ``raw`` display;
  :func:`projection_display` also makes the Deep Visualization Toolbox's other three (Yosinski et al. 2015), each
  with the same robust scale ``s`` (the 99.5th percentile of what is shown, not the maximum): ``gray``, the mean
  of the channels ``m``, ``pixel = 128 + 127 · m / s`` in all three channels (colour speckle, the channels'
  disagreeing signs, gone); ``norm``, the length of each pixel's channel vector ``n = ‖p‖``, ``pixel =
  255 · n / s`` from black (no sign: where the signal is, not which way); ``blurred_norm``, ``n`` blurred by a
  Gaussian of σ = 4 input pixels (:data:`BLUR_SIGMA`, the toolbox's default) over the whole input before the crop,
  then shown as ``norm``. :func:`central_box` narrows a field to its central part, where a deep unit's projection
  lies.
* **Layer-1 filters** are centred on gray per filter (``128 + 127 · w / max|w|``), put in RGB order (Caffe
  models store BGR), and scaled up with nearest-neighbour so a 3×3 filter stays a crisp 3×3 block of colour.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

__all__ = [
    "BLUR_SIGMA", "COLORMAPS", "PROJECTION_DISPLAYS", "Atlas", "FilterSheet", "activation_atlas", "activation_map",
    "atlas_scale", "central_box", "channel_stats", "class_map", "colorize", "colormap_lut", "crop_box", "encode_codes",
    "exemplar_tiles", "filter_sheet", "fit_picture", "gaussian_blur", "png", "projection_display",
    "projection_pixels", "raw", "sheet_tiles", "shrunk", "thumbnail_sheet", "to_pil", "top9_figure", "unit_card",
    "value_map",
]

#: Colour maps as ``(code, (r, g, b))`` stops, interpolated linearly between stops. ``js/src/lib/colormap.js`` holds
#: the same table; a test checks both give identical look-up tables.
COLORMAPS: dict[str, tuple[tuple[int, tuple[int, int, int]], ...]] = {
    "gray": ((0, (0, 0, 0)), (255, (255, 255, 255))),
    "heat": ((0, (0, 0, 4)), (64, (87, 16, 110)), (128, (188, 55, 84)), (192, (249, 142, 9)),
             (255, (252, 255, 164))),
    "diverging": ((0, (33, 102, 172)), (64, (146, 197, 222)), (128, (247, 247, 247)), (192, (244, 165, 130)),
                  (255, (178, 24, 43))),
}

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


def raw(array: np.ndarray) -> dict[str, Any]:
    """A small ``uint8`` picture (H×W codes or H×W×3 RGB) uncompressed: ``{"shape": [H, W], "channels", "data"}``.

    The unit card's pictures travel this way: at most a few hundred KB, and the front end paints them in the same
    task that receives them, where a PNG would cost an encode here and an asynchronous decode there on every click.
    """
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise TypeError(f"raw() takes H×W or H×W×3 uint8 pixels, not {array.dtype} {array.shape}")
    channels = 1 if array.ndim == 2 else int(array.shape[2])
    return {"shape": [int(array.shape[0]), int(array.shape[1])], "channels": channels, "data": array.tobytes()}


def to_pil(payload: bytes | dict[str, Any]) -> Image.Image:
    """Read back what this module made — PNG bytes or a :func:`raw` picture — as an RGB PIL image
    (e.g. ``to_pil(w.unit["projection"])``); one-channel codes come back as gray."""
    if isinstance(payload, dict):
        h, w = payload["shape"]
        channels = payload.get("channels", 1)
        array = np.frombuffer(bytes(payload["data"]), np.uint8).reshape((h, w, channels) if channels > 1 else (h, w))
        return Image.fromarray(array).convert("RGB")
    return Image.open(io.BytesIO(bytes(payload))).convert("RGB")


def png(array: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode a ``uint8`` array (H×W gray or H×W×3 RGB) as PNG bytes.

    Level 1 compresses activation atlases within ~10 % of level 6 in a third of the time: latency matters more here.
    """
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"png() takes uint8 pixels, not {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- colour maps
def colormap_lut(name: str) -> np.ndarray:
    """The 256×3 ``uint8`` look-up table of colour map ``name`` (a key of :data:`COLORMAPS`)."""
    try:
        stops = COLORMAPS[name]
    except KeyError:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}") from None
    lut = np.zeros((256, 3), dtype=np.uint8)
    for (k0, c0), (k1, c1) in itertools.pairwise(stops):
        for code in range(k0, k1 + 1):
            t = (code - k0) / (k1 - k0)
            # floor(v + 0.5), not round(): Python rounds halves to even, JavaScript's Math.round does not.
            lut[code] = [math.floor(a + (b - a) * t + 0.5) for a, b in zip(c0, c1)]
    return lut


def colorize(codes: np.ndarray, name: str) -> np.ndarray:
    """Colour ``uint8`` codes with a colour map: ``(..., 3)`` uint8 RGB."""
    return colormap_lut(name)[np.asarray(codes, dtype=np.uint8)]


# ------------------------------------------------------------------------------------------------- activations
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


def grid_columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` tiles (``js/src/lib/layout.js`` uses the same layout)."""
    return max(1, math.ceil(math.sqrt(count)))


def tile_sheet(tiles: np.ndarray, cols: int) -> np.ndarray:
    """Lay ``[N, h, w(, 3)]`` tiles row-major into one ``[rows·h, cols·w(, 3)]`` sheet (unused cells zero)."""
    n, h, w = tiles.shape[:3]
    rows = max(1, math.ceil(n / cols))
    padded = np.zeros((rows * cols, *tiles.shape[1:]), dtype=tiles.dtype)
    padded[:n] = tiles
    sheet = padded.reshape(rows, cols, h, w, *tiles.shape[3:]).swapaxes(1, 2)
    return sheet.reshape(rows * h, cols * w, *tiles.shape[3:])


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


# ------------------------------------------------------------------------------------------------- projections
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


# ----------------------------------------------------------------------------------------------------- filters
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


# -------------------------------------------------------------------------------------------------- thumbnails
def thumbnail(image: Image.Image, size: int = 64) -> np.ndarray:
    """A square ``size``×``size`` RGB thumbnail (centre crop, as the model's preprocessing crops)."""
    return np.asarray(ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def thumbnail_sheet(images: Sequence[Image.Image], size: int = 64) -> tuple[bytes, int]:
    """Thumbnails of ``images`` as one RGB PNG sheet: ``(png, cols)``; tile ``i`` is image ``i``."""
    if not images:
        return png(np.zeros((size, size, 3), dtype=np.uint8)), 1
    cols = min(len(images), 8)
    return png(tile_sheet(np.stack([thumbnail(img, size) for img in images]), cols)), cols


# --------------------------------------------------------------------------------------------------- exemplars
#: A unit's dataset exemplars (each a receptive-field patch and its projection) are shown at most this many pixels a
#: side: in the unit card's top-9 panel, and in the layer atlas, where one page holds many units.
TOP9_TILE = 96
LAYER_ATLAS_TILE = 32


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """``(height, width)`` itself when it fits in ``max_side``, else shrunk to it with the aspect ratio kept."""
    scale = min(1.0, max_side / max(height, width, 1))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _shrink(tile: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An H×W×3 ``uint8`` tile at ``size`` ``(h, w)``: the mean of the pixels each output pixel covers."""
    if tile.shape[:2] == size:
        return tile
    return np.asarray(Image.fromarray(tile).resize((size[1], size[0]), Image.Resampling.BOX), dtype=np.uint8)


def exemplar_tiles(patches: Sequence[np.ndarray], projections: Sequence[torch.Tensor], channel_order: str = "RGB",
                   max_side: int = TOP9_TILE) -> tuple[np.ndarray, np.ndarray]:
    """A unit's exemplars as display tiles, ``(patches, projections)``, each ``uint8 [N, h, w, 3]``.

    Args:
        patches: the receptive fields as the model saw them (``Exemplar.patch``, ``uint8 [h, w, 3]``, one size).
        projections: the unit projected onto each (``Exemplar.projection``, ``[C, h, w]`` in the model's input
            space), each centred on gray and normalised on its own (:func:`projection_pixels`), as the paper's
            Figure 2 shows them.
        channel_order: the model's input channel order (projections are shown in RGB).
        max_side: tiles larger than this are shrunk to it (the mean of the pixels each tile pixel covers).
    """
    if len(patches) != len(projections):
        raise ValueError(f"{len(patches)} patches but {len(projections)} projections")
    if not patches:
        return np.zeros((0, 1, 1, 3), np.uint8), np.zeros((0, 1, 1, 3), np.uint8)
    size = fit_size(*patches[0].shape[:2], max_side)
    return (np.stack([_shrink(np.asarray(p, dtype=np.uint8), size) for p in patches]),
            np.stack([_shrink(projection_pixels(p, channel_order), size) for p in projections]))


# -------------------------------------------------------------------------------------------------- unit cards
#: Side of each picture on a unit card, and of each top-9 tile.
CARD_PICTURE = 192
CARD_TILE = 64
_CARD_MARGIN = 12
_CARD_GAP = 8
_CARD_BACKGROUND = (255, 255, 255)
_CARD_TEXT = (20, 20, 20)
_CARD_MUTED = (100, 100, 100)
_CARD_FIELD = (0, 200, 255)


@dataclass(frozen=True)
class UnitCard:
    """A unit card as one picture (for slides and handouts), with where each part sits.

    Attributes:
        image: the card, RGB.
        boxes: part name (``"input"``, ``"map"``, ``"projection"``, ``"patch"``, ``"top9_projections"``,
            ``"top9_patches"``) → ``(top, left, bottom, right)`` in the card, half-open.
    """

    image: Image.Image
    boxes: dict[str, tuple[int, int, int, int]]

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()


def fit_picture(picture: np.ndarray, side: int) -> np.ndarray:
    """A ``uint8`` picture made to fit a ``side``×``side`` cell: enlarged by a whole factor with nearest neighbour
    (each pixel a crisp block, values unchanged) or, when larger, shrunk with the mean of the pixels covered."""
    h, w = picture.shape[:2]
    if max(h, w) <= side:
        zoom = side // max(h, w)
        return picture.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return _shrink(picture, fit_size(h, w, side))


def sheet_tiles(sheet: bytes, count: int, cols: int, tile: Sequence[int]) -> np.ndarray:
    """Cut ``count`` tiles of ``tile`` ``(h, w)`` out of a PNG sheet laid out ``cols`` a row: ``uint8 [N, h, w, 3]``."""
    pixels = np.asarray(to_pil(sheet))
    h, w = int(tile[0]), int(tile[1])
    return np.stack([pixels[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w]
                     for i in range(count)]) if count else np.zeros((0, h, w, 3), np.uint8)


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def unit_card(
    *,
    title: str,
    lines: Sequence[str],
    picture: np.ndarray,
    field: Sequence[int] | None,
    crop: Sequence[int] | None,
    activation: dict[str, Any],
    projection: np.ndarray,
    captions: Sequence[str] = ("input · receptive field", "activation map", "projection", "image patch"),
    top9: tuple[np.ndarray, np.ndarray] | None = None,
    top9_title: str = "Top-9 dataset exemplars: projections · image patches",
    footer: str = "cnnviz-widget · Zeiler & Fergus, Visualizing and Understanding Convolutional Networks (2014)",
    side: int = CARD_PICTURE,
) -> UnitCard:
    """Draw a unit card: its name, the input with the receptive field, the activation map, the projection and the
    image patch side by side, and — when given — its top-9 exemplars (projections beside patches, 3 a row).

    Args:
        title: the unit's name (model · layer · channel); ``lines``: text lines under it (rule, position, stats).
        picture: the input as the model saw it, ``uint8 [H, W, 3]``.
        field: the receptive field ``(top, left, bottom, right)`` in ``picture`` (drawn as a box), or ``None``.
        crop: the part of ``picture`` the projection covers (the patch), or ``None`` for all of it.
        activation: the unit card's map (:func:`activation_map`): codes coloured with its colour map.
        projection: the projection's pixels, ``uint8 [h, w, 3]`` (:func:`projection_pixels`).
        top9: ``(projections, patches)``, each ``uint8 [N, h, w, 3]``, strongest first.
        side: the cell each of the four pictures is fitted into (pixels).
    """
    from PIL import ImageDraw

    codes = np.frombuffer(bytes(activation["codes"]["data"]), np.uint8).reshape(activation["codes"]["shape"])
    in_height, in_width = picture.shape[:2]
    scale = min(side / in_height, side / in_width)
    size = (max(1, round(in_width * scale)), max(1, round(in_height * scale)))
    shown = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR))
    patch = picture if crop is None else picture[crop[0]:crop[2], crop[1]:crop[3]]
    pictures = {"input": shown, "map": fit_picture(colorize(codes, activation["colormap"]), side),
                "projection": fit_picture(projection, side), "patch": fit_picture(np.ascontiguousarray(patch), side)}
    title_font, text_font, small_font = _font(20), _font(14), _font(12)
    line_height, small_height = 19, 16
    top = _CARD_MARGIN + 26 + line_height * len(lines) + _CARD_GAP
    row_height = side + small_height + _CARD_GAP
    card_width = 2 * _CARD_MARGIN + 4 * side + 3 * _CARD_GAP
    grid = 0
    if top9 is not None and len(top9[0]):
        rows = math.ceil(len(top9[0]) / 3)
        grid = 22 + rows * (CARD_TILE + 3) + _CARD_GAP
    height = top + row_height + grid + small_height + _CARD_MARGIN
    card = Image.new("RGB", (card_width, height), _CARD_BACKGROUND)
    draw = ImageDraw.Draw(card)
    draw.text((_CARD_MARGIN, _CARD_MARGIN), title, font=title_font, fill=_CARD_TEXT)
    for i, line in enumerate(lines):
        draw.text((_CARD_MARGIN, _CARD_MARGIN + 28 + i * line_height), line, font=text_font, fill=_CARD_MUTED)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    for i, (name, caption) in enumerate(zip(pictures, captions)):
        left = _CARD_MARGIN + i * (side + _CARD_GAP)
        pixels = pictures[name]
        card.paste(Image.fromarray(pixels), (left, top))
        boxes[name] = (top, left, top + pixels.shape[0], left + pixels.shape[1])
        draw.text((left, top + side + 2), caption, font=small_font, fill=_CARD_MUTED)
    if field is not None:  # the receptive field on the input, clipped to it
        t, lft, b, r = (round(min(max(v, 0), limit) * scale)
                        for v, limit in zip(field, (in_height, in_width, in_height, in_width)))
        if b > t and r > lft:
            draw.rectangle([_CARD_MARGIN + lft, top + t, _CARD_MARGIN + r - 1, top + b - 1], outline=_CARD_FIELD,
                           width=2)
    if grid:
        projections, patches = top9
        y = top + row_height
        draw.text((_CARD_MARGIN, y), top9_title, font=text_font, fill=_CARD_TEXT)
        y += 22
        for name, tiles, offset in (("top9_projections", projections, 0), ("top9_patches", patches, 1)):
            x = _CARD_MARGIN + offset * (3 * (CARD_TILE + 3) + 2 * _CARD_GAP)
            for i, tile in enumerate(tiles):
                fitted = fit_picture(tile, CARD_TILE)
                card.paste(Image.fromarray(fitted), (x + (i % 3) * (CARD_TILE + 3), y + (i // 3) * (CARD_TILE + 3)))
            boxes[name] = (y, x, y + math.ceil(len(tiles) / 3) * (CARD_TILE + 3) - 3, x + 3 * (CARD_TILE + 3) - 3)
    draw.text((_CARD_MARGIN, height - _CARD_MARGIN - small_height + 2), footer, font=small_font, fill=_CARD_MUTED)
    return UnitCard(image=card, boxes=boxes)


def top9_figure(patches: Sequence[np.ndarray], projections: Sequence[torch.Tensor], *, mode: str = "raw",
                channel_order: str = "RGB", fraction: float = 1.0, tile: int = 64, gap: int = 2,
                cols: int = 3) -> np.ndarray:
    """A unit's top-k exemplars drawn as Zeiler & Fergus's Figure 2 draws them: the projections in a grid on the
    left, the image patches they come from in the same places on the right, strongest first, ``cols`` a row.

    Every exemplar is shown on the same box of its receptive field — all of it, or its central ``fraction``
    (:func:`central_box`, widened by :func:`crop_box` to at least 24 px) — the projection with
    :func:`projection_display` in ``mode`` (each on its own robust scale), the patch as the model saw it; both are
    fitted to ``tile`` px (:func:`fit_picture`: enlarged by a whole factor with nearest neighbour, or shrunk).

    Args:
        patches: the exemplars' receptive fields (``Exemplar.patch``, ``uint8 [h, w, 3]``, all one size).
        projections: the unit projected onto each (``Exemplar.projection``, ``[C, h, w]``).
        mode: the projections' display (:data:`PROJECTION_DISPLAYS`).
        channel_order: the model's input channel order (``"RGB"``, ``"BGR"`` or ``"L"``).
        fraction: the part of the field shown, in (0, 1].
        tile: the side each picture is fitted to, in pixels.
        gap: white pixels between pictures; the two grids are ``4 * gap`` apart.
        cols: pictures a row.

    Returns:
        ``uint8 [H, W, 3]`` on white.

    Raises:
        ValueError: no exemplars, or as many patches as projections.
    """
    if len(patches) != len(projections) or not patches:
        raise ValueError(f"top9_figure takes as many patches as projections, at least one: got {len(patches)} and "
                         f"{len(projections)}")
    h, w = np.shape(patches[0])[:2]
    field = (0, 0, h, w)
    box = crop_box(central_box(field, fraction) if fraction < 1 else field, (h, w))
    top, left, bottom, right = box
    shown = [fit_picture(projection_display(p, mode, channel_order, box=box), tile) for p in projections]
    cut = [fit_picture(np.ascontiguousarray(np.asarray(p, dtype=np.uint8)[top:bottom, left:right]), tile)
           for p in patches]
    th, tw = shown[0].shape[:2]
    rows = math.ceil(len(shown) / cols)
    grid_width = cols * tw + (cols - 1) * gap
    figure = np.full((rows * th + (rows - 1) * gap, 2 * grid_width + 4 * gap, 3), 255, np.uint8)
    for i, (projection, patch) in enumerate(zip(shown, cut)):
        y, x = (i // cols) * (th + gap), (i % cols) * (tw + gap)
        figure[y:y + th, x:x + tw] = projection
        figure[y:y + th, grid_width + 4 * gap + x:grid_width + 4 * gap + x + tw] = patch
    return figure


# ------------------------------------------------------------------------------------------ the paper's experiments
#: A most-probable-class map (occlusion, Fig. 7 c) gives the commonest classes a colour each; the rest share one.
#: ``js/src/lib/scales.js`` holds the palette.
CLASS_COLOURS = 10
#: The images of an invariance sweep (Fig. 5) are sent at most this many pixels a side.
INVARIANCE_TILE = 128
#: Feature-evolution cells (Fig. 4: a patch and a projection per unit and checkpoint), at most this many pixels a side.
EVOLUTION_TILE = 64


def value_map(values: np.ndarray) -> dict[str, Any]:
    """A map of values (an occlusion map) stretched from its minimum (code 0) to its maximum (code 255):
    ``code = floor(255 · (v − min) / (max − min) + 0.5)``, all 0 for a flat map. The front end colours the codes with
    ``colormap`` and draws the colour scale from ``min`` to ``max``; ``values`` (little-endian float32, row-major)
    are for its read-outs.

    Returns:
        ``{"codes": raw codes, "shape": [h, w], "min", "max", "colormap": "heat", "values": bytes}``.
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"value_map takes a non-empty 2-D map, not shape {v.shape}")
    lo, hi = float(v.min()), float(v.max())
    if hi > lo:
        codes = np.floor(255.0 * (v.astype(np.float64) - lo) / (hi - lo) + 0.5).astype(np.uint8)
    else:
        codes = np.zeros(v.shape, np.uint8)
    return {"codes": raw(codes), "shape": list(v.shape), "min": lo, "max": hi, "colormap": "heat",
            "values": v.astype("<f4").tobytes()}


def class_map(classes: np.ndarray, name: Any, colours: int = CLASS_COLOURS) -> dict[str, Any]:
    """A map of class indices as codes of a legend: the commonest class is code 0, the next code 1, …, and every
    class beyond the ``colours`` commonest shares code ``colours`` ("other"). Ties go to the lower class index.

    Args:
        classes: integer class indices, 2-D.
        name: ``name(index) -> str``, the class names for the legend.

    Returns:
        ``{"codes": raw codes, "shape": [h, w], "classes": [[index, name, count], ...] (commonest first, every class
        present), "colours": colours, "indices": little-endian int32 bytes of ``classes``}``.
    """
    c = np.asarray(classes, dtype=np.int64)
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"class_map takes a non-empty 2-D map, not shape {c.shape}")
    if not 1 <= colours <= 255:
        raise ValueError(f"colours must lie in 1–255, not {colours}")
    found, counts = np.unique(c, return_counts=True)
    order = sorted(range(len(found)), key=lambda i: (-int(counts[i]), int(found[i])))
    rank = {int(found[i]): min(r, colours) for r, i in enumerate(order)}
    codes = np.vectorize(rank.__getitem__, otypes=[np.uint8])(c)
    return {"codes": raw(codes), "shape": list(c.shape), "colours": colours,
            "classes": [[int(found[i]), str(name(int(found[i]))), int(counts[i])] for i in order],
            "indices": c.astype("<i4").tobytes()}


def shrunk(picture: np.ndarray, max_side: int) -> np.ndarray:
    """A ``uint8`` picture itself when it fits in ``max_side`` pixels, else shrunk to it (aspect kept; each pixel the
    mean of those it covers)."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    return _shrink(picture, fit_size(*picture.shape[:2], max_side))
