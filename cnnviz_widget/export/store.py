"""Binary data of a saved page: each distinct picture or table once, base64, photos as WebP unless lossless; and
JSON that no text can break out of (the rules: :mod:`cnnviz_widget.export`)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from typing import Any

import numpy as np
from PIL import Image

from .. import encode

__all__ = ["PHOTO_TRAITS", "RAW_AS_IS", "Store", "script_json"]


#: Uncompressed pictures up to this many bytes are stored as they are (a PNG would not be smaller).
RAW_AS_IS = 1024


_PNG = b"\x89PNG\r\n\x1a\n"


#: State traits whose pictures are photos (and exemplar sheets), stored lossy unless ``lossless``.
PHOTO_TRAITS = ("picture", "gallery", "top9", "layer_atlas")


class Store:
    """Binary data of the page, each distinct content once; values become JSON with references into it."""

    def __init__(self, lossless: bool, quality: int, max_side: int | None = None) -> None:
        self.lossless = lossless
        self.quality = quality
        self.max_side = max_side
        self.blobs: list[str] = []
        self._index: dict[bytes, int] = {}

    def add(self, data: bytes) -> int:
        digest = hashlib.sha256(data).digest()
        if digest not in self._index:
            self._index[digest] = len(self.blobs)
            self.blobs.append(base64.b64encode(data).decode("ascii"))
        return self._index[digest]

    def picture(self, raw: dict[str, Any]) -> dict[str, Any]:
        """An :func:`.encode.raw` picture: codes (1 channel) as PNG, RGB as WebP (or PNG when lossless)."""
        data = bytes(raw["data"])
        height, width = raw["shape"]
        channels = int(raw.get("channels", 1))
        if len(data) <= RAW_AS_IS:
            return {"shape": [height, width], "channels": channels, "data": {"$b": self.add(data)}}
        array = np.frombuffer(data, np.uint8).reshape((height, width, channels) if channels > 1 else (height, width))
        if channels == 1 or self.lossless:
            encoded = encode.png(array, compress_level=9)
        else:
            if self.max_side is not None and max(height, width) > self.max_side:
                array = encode.fit_picture(array, self.max_side)
                height, width = array.shape[:2]
            encoded = self._webp(array)
        return {"$img": self.add(encoded), "shape": [height, width], "channels": channels}

    def _webp(self, array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="WEBP", quality=self.quality, method=4)
        return buffer.getvalue()

    def photo(self, data: bytes) -> bytes:
        """An RGB PNG as WebP at ``quality`` (when smaller, and unless lossless); anything else as it is. The page
        decodes either from the bytes themselves, whatever type it is told."""
        if self.lossless or not data.startswith(_PNG):
            return data
        with Image.open(io.BytesIO(data)) as image:
            if image.mode != "RGB":
                return data
            encoded = self._webp(np.asarray(image))
        return encoded if len(encoded) < len(data) else data

    def value(self, value: Any, photos: bool = False) -> Any:
        """A trait value as JSON with references: bytes → ``{"$b": i}``, raw pictures → ``{"$img": i, ...}``.
        ``photos``: the value's RGB PNGs are photos or exemplar sheets (stored as :meth:`photo`)."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"$b": self.add(self.photo(bytes(value)) if photos else bytes(value))}
        if isinstance(value, dict):
            if set(value) == {"shape", "channels", "data"} and isinstance(value["data"], (bytes, memoryview)):
                return self.picture(value)
            return {str(k): self.value(v, photos) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, photos) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON has no NaN; the panels read a missing number as "–"
        if isinstance(value, (np.integer, np.floating)):
            return self.value(value.item())
        return value


def script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: nothing in it can close the element."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
