"""Pixels in and out: raw pictures, PNG, colour maps, tile sheets and thumbnails — the helpers every other
part of :mod:`cnnviz_widget.encode` draws with."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

__all__ = ["COLORMAPS", "colorize", "colormap_lut", "fit_picture", "fit_size", "grid_columns", "png", "raw", "sheet_tiles", "shrink_tile", "shrunk", "thumbnail", "thumbnail_sheet", "tile_sheet", "to_pil"]


#: Colour maps as ``(code, (r, g, b))`` stops, interpolated linearly between stops. ``js/src/lib/colormap.js`` holds
#: the same table; a test checks both give identical look-up tables.
COLORMAPS: dict[str, tuple[tuple[int, tuple[int, int, int]], ...]] = {
    "gray": ((0, (0, 0, 0)), (255, (255, 255, 255))),
    "heat": ((0, (0, 0, 4)), (64, (87, 16, 110)), (128, (188, 55, 84)), (192, (249, 142, 9)),
             (255, (252, 255, 164))),
    "diverging": ((0, (33, 102, 172)), (64, (146, 197, 222)), (128, (247, 247, 247)), (192, (244, 165, 130)),
                  (255, (178, 24, 43))),
}


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


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """``(height, width)`` itself when it fits in ``max_side``, else shrunk to it with the aspect ratio kept."""
    scale = min(1.0, max_side / max(height, width, 1))
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink_tile(tile: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An H×W×3 ``uint8`` tile at ``size`` ``(h, w)``: the mean of the pixels each output pixel covers."""
    if tile.shape[:2] == size:
        return tile
    return np.asarray(Image.fromarray(tile).resize((size[1], size[0]), Image.Resampling.BOX), dtype=np.uint8)


def fit_picture(picture: np.ndarray, side: int) -> np.ndarray:
    """A ``uint8`` picture made to fit a ``side``×``side`` cell: enlarged by a whole factor with nearest neighbour
    (each pixel a crisp block, values unchanged) or, when larger, shrunk with the mean of the pixels covered."""
    h, w = picture.shape[:2]
    if max(h, w) <= side:
        zoom = side // max(h, w)
        return picture.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return shrink_tile(picture, fit_size(h, w, side))


def sheet_tiles(sheet: bytes, count: int, cols: int, tile: Sequence[int]) -> np.ndarray:
    """Cut ``count`` tiles of ``tile`` ``(h, w)`` out of a PNG sheet laid out ``cols`` a row: ``uint8 [N, h, w, 3]``."""
    pixels = np.asarray(to_pil(sheet))
    h, w = int(tile[0]), int(tile[1])
    return np.stack([pixels[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w]
                     for i in range(count)]) if count else np.zeros((0, h, w, 3), np.uint8)


def shrunk(picture: np.ndarray, max_side: int) -> np.ndarray:
    """A ``uint8`` picture itself when it fits in ``max_side`` pixels, else shrunk to it (aspect kept; each pixel the
    mean of those it covers)."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    return shrink_tile(picture, fit_size(*picture.shape[:2], max_side))


def thumbnail(image: Image.Image, size: int = 64) -> np.ndarray:
    """A square ``size``×``size`` RGB thumbnail (centre crop, as the model's preprocessing crops)."""
    return np.asarray(ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def thumbnail_sheet(images: Sequence[Image.Image], size: int = 64) -> tuple[bytes, int]:
    """Thumbnails of ``images`` as one RGB PNG sheet: ``(png, cols)``; tile ``i`` is image ``i``."""
    if not images:
        return png(np.zeros((size, size, 3), dtype=np.uint8)), 1
    cols = min(len(images), 8)
    return png(tile_sheet(np.stack([thumbnail(img, size) for img in images]), cols)), cols
