"""The experiment panels' maps: values stretched min…max, class maps with a legend (occlusion, Fig. 7), and the
sizes their pictures are shrunk to."""

from __future__ import annotations

from typing import Any

import numpy as np

from .pixels import raw

__all__ = ["CLASS_COLOURS", "EVOLUTION_TILE", "INVARIANCE_TILE", "class_map", "value_map"]


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
