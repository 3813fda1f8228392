"""Reading images from anything a user may hold: PIL, numpy, torch, a path, or raw bytes.

Every failure raises :class:`~cnnviz_widget.errors.ImageError` with the problem and the fix in its message.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ...errors import ImageError

#: Largest image accepted, in pixels (PIL's own decompression-bomb threshold). Raise it deliberately if needed.
MAX_PIXELS = 89_478_485
#: Smallest side accepted, in pixels. Smaller images carry too little to show; they are rejected, not blown up.
MIN_SIDE = 8

ImageLike = Union[Image.Image, np.ndarray, torch.Tensor, str, os.PathLike, bytes, bytearray, memoryview]


def _limits_check(width: int, height: int, source: str) -> None:
    import cnnviz_widget

    limit = getattr(cnnviz_widget, "MAX_PIXELS", MAX_PIXELS)
    if width * height > limit:
        raise ImageError(
            f"{source} is {width}×{height} ({width * height / 1e6:.0f} MP); the limit is {limit / 1e6:.0f} MP — "
            "resize it or raise cnnviz_widget.MAX_PIXELS"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"{source} is {width}×{height}; images need at least {MIN_SIDE} px on each side — use a larger image"
        )


def _open_bytes(data: bytes, source: str, draft: Callable[[Image.Image], None] | None = None) -> Image.Image:
    if len(data) == 0:
        raise ImageError(f"{source} is empty (0 bytes) — pass a JPEG, PNG, WebP, GIF, BMP or TIFF file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _limits_check(img.width, img.height, source)
            if draft is not None:
                draft(img)
            img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{source} is a decompression bomb ({exc}); the limit is {MAX_PIXELS / 1e6:.0f} MP — "
            "resize it or raise cnnviz_widget.MAX_PIXELS"
        ) from None
    except UnidentifiedImageError:
        head = bytes(data[:12])
        raise ImageError(
            f"{source} is not an image PIL can read ({len(data)} bytes starting {head!r}) — "
            "pass a JPEG, PNG, WebP, GIF, BMP or TIFF file"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{source} is corrupt or truncated ({exc}) — re-export or re-download it") from None
    return img


def _from_array(arr: np.ndarray, source: str) -> Image.Image:
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # CHW → HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageError(
            f"{source} has shape {tuple(arr.shape)}; expected H×W, H×W×3, H×W×4 (or C×H×W) — "
            "pass one image, not a batch"
        )
    if arr.size == 0:
        raise ImageError(f"{source} is empty (shape {tuple(arr.shape)})")
    _limits_check(arr.shape[1], arr.shape[0], source)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError(f"{source} contains NaN or infinite values — clean it first")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            arr = np.round(arr * 255.0)
        elif lo >= 0.0 and hi <= 255.0:
            arr = np.round(arr)
        else:  # some other range: stretch it, as a viewer would
            arr = np.round((arr - lo) / max(hi - lo, 1e-12) * 255.0)
        arr = arr.astype(np.uint8)
    elif arr.dtype == np.uint16:
        arr = (arr.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.min() >= 0 and arr.max() <= 255:
            arr = arr.astype(np.uint8)
        else:
            lo, hi = int(arr.min()), int(arr.max())
            arr = ((arr.astype(np.float64) - lo) / max(hi - lo, 1) * 255.0).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without the classic pitfalls (16-bit clipping, black alpha)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # PIL's convert("L") clips 16/32-bit values at 255 instead of scaling them.
        arr = np.asarray(img)
        if mode.startswith("I;16") or (mode == "I" and arr.min() >= 0 and arr.max() <= 65535 and arr.max() > 255):
            arr = (arr.astype(np.uint32) * 255 // 65535).astype(np.uint8)
        return _from_array(arr.astype(np.float64) if mode == "F" else arr, "image").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels often hide arbitrary colours: composite over white, as a browser shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def load_image(source: Any, *, name: str | None = None,
               draft: Callable[[Image.Image], None] | None = None) -> Image.Image:
    """Read ``source`` into an 8-bit RGB :class:`PIL.Image.Image`, honouring EXIF orientation.

    Args:
        source: a PIL image; a numpy array (H×W, H×W×3/4 or C×H×W; uint8, uint16, bool or float in 0–1);
            a torch tensor (C×H×W or H×W, same value conventions); a file path; or the encoded bytes of a file.
        name: how to call the image in error messages (defaults to its path or type).
        draft: for a file or bytes, called with the opened image before it is decoded (its size checked against
            the limits, its pixels not yet read) — it may call ``img.draft(...)`` to have a JPEG decoded at a
            reduced size (DCT scaling).

    Raises:
        ImageError: corrupt, empty, non-image, decompression bomb (more than ``cnnviz_widget.MAX_PIXELS``),
            fewer than ``MIN_SIDE`` pixels on a side, or an unsupported array shape.
    """
    label = name
    if isinstance(source, Image.Image):
        label = label or "image"
        _limits_check(source.width, source.height, label)
        img = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        img = _open_bytes(bytes(source), label or "image bytes", draft)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        label = label or str(path)
        if not path.is_file():
            raise ImageError(f"no image file at {str(path)!r} — check the path")
        img = _open_bytes(path.read_bytes(), label, draft)
    elif isinstance(source, torch.Tensor):
        label = label or "tensor"
        if source.ndim == 4 and source.shape[0] == 1:
            source = source[0]
        tensor = source.detach().to("cpu")
        return _to_rgb(_from_array((tensor.float() if tensor.is_floating_point() else tensor).numpy(), label))
    elif isinstance(source, np.ndarray):
        return _to_rgb(_from_array(source, label or "array"))
    else:
        raise ImageError(
            f"cannot read an image from a {type(source).__name__}; pass a PIL image, numpy array, torch tensor, "
            "file path or the file's bytes"
        )
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the picture
        pass
    return _to_rgb(img)
