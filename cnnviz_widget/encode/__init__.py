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

from .activations import (
    ATLAS_GAMMA,
    ATLAS_PERCENTILE,
    ATLAS_PIXELS,
    ATLAS_TILE,
    SIGNED_ZERO,
    STATS_COLUMNS,
    Atlas,
    activation_atlas,
    activation_map,
    atlas_downscale,
    atlas_scale,
    channel_stats,
    encode_codes,
)
from .cards import CARD_PICTURE, CARD_TILE, UnitCard, top9_figure, unit_card
from .experiments import CLASS_COLOURS, EVOLUTION_TILE, INVARIANCE_TILE, class_map, value_map
from .filters import FilterSheet, filter_pixels, filter_sheet
from .pixels import (
    COLORMAPS,
    colorize,
    colormap_lut,
    fit_picture,
    fit_size,
    grid_columns,
    png,
    raw,
    sheet_tiles,
    shrunk,
    thumbnail,
    thumbnail_sheet,
    tile_sheet,
    to_pil,
)
from .projections import (
    BLUR_SIGMA,
    LAYER_ATLAS_TILE,
    PROJECTION_DISPLAYS,
    TOP9_TILE,
    central_box,
    crop_box,
    exemplar_tile_sizes,
    exemplar_tiles,
    gaussian_blur,
    projection_display,
    projection_pixels,
)

__all__ = [
    "ATLAS_GAMMA",
    "ATLAS_PERCENTILE",
    "ATLAS_PIXELS",
    "ATLAS_TILE",
    "BLUR_SIGMA",
    "CARD_PICTURE",
    "CARD_TILE",
    "CLASS_COLOURS",
    "COLORMAPS",
    "EVOLUTION_TILE",
    "INVARIANCE_TILE",
    "LAYER_ATLAS_TILE",
    "PROJECTION_DISPLAYS",
    "SIGNED_ZERO",
    "STATS_COLUMNS",
    "TOP9_TILE",
    "Atlas",
    "FilterSheet",
    "UnitCard",
    "activation_atlas",
    "activation_map",
    "atlas_downscale",
    "atlas_scale",
    "central_box",
    "channel_stats",
    "class_map",
    "colorize",
    "colormap_lut",
    "crop_box",
    "encode_codes",
    "exemplar_tile_sizes",
    "exemplar_tiles",
    "filter_pixels",
    "filter_sheet",
    "fit_picture",
    "fit_size",
    "gaussian_blur",
    "grid_columns",
    "png",
    "projection_display",
    "projection_pixels",
    "raw",
    "sheet_tiles",
    "shrunk",
    "thumbnail",
    "thumbnail_sheet",
    "tile_sheet",
    "to_pil",
    "top9_figure",
    "unit_card",
    "value_map",
]
