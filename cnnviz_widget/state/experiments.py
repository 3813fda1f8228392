"""States of the experiment panels: ``occlusion_result``, ``invariance_result``, ``evolution_result`` and
``synthesis_result`` (without their ``request`` stamp, which the panel adds).

Each function turns an engine result into the trait's value; the live widget (:mod:`cnnviz_widget.panels.experiments`)
and the HTML export (through the saved states) show the same. The formats are documented in
:mod:`cnnviz_widget.panels.experiments`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import encode
from ..engine import Explorer
from ..engine.experiments.common import class_label
from ..engine.experiments.evolution import FeatureEvolution
from ..engine.experiments.invariance import InvarianceCurves
from ..engine.experiments.occlusion import OcclusionMaps
from ..engine.experiments.synthesis import SynthesisResult

__all__ = ["evolution_state", "invariance_state", "occlusion_state", "synthesis_state"]


def _f32(values: Any) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def occlusion_state(explorer: Explorer, maps: OcclusionMaps) -> dict[str, Any]:
    """The three occlusion maps of Fig. 7 over the image, with what the page needs to draw the occluded image."""
    top, left, _, _ = maps.box(0, 0)
    fill = explorer.to_pixels(maps.occluded(0, 0))[top, left]
    feature = None if maps.layer is None else {
        "layer": maps.layer, "channel": maps.channel,
        "position": list(maps.position) if maps.position is not None else None}
    return {
        "model": explorer.spec.name, "size": maps.size, "stride": maps.stride, "tops": maps.tops.tolist(),
        "lefts": maps.lefts.tolist(), "input_size": list(maps.input_size),
        "image": encode.png(explorer.to_pixels(maps.image)), "fill": [int(v) for v in fill],
        "target": maps.target, "target_label": maps.target_label,
        "reference": {"probability": maps.reference_probability, "top_class": maps.reference_top_class,
                      "top_label": maps.label(maps.reference_top_class), "activation": maps.reference_activation},
        "feature": feature,
        "maps": {"probability": encode.value_map(maps.probability),
                 "activation": encode.value_map(maps.activation) if maps.activation is not None else None,
                 "top_probability": encode.value_map(maps.top_probability),
                 "top_class": encode.class_map(maps.top_class, maps.label)},
    }


def invariance_state(model_name: str | None, curves: InvarianceCurves) -> dict[str, Any]:
    """The invariance curves of Fig. 5, with the transformed images shrunk for the slider."""
    side = encode.INVARIANCE_TILE
    canonical = encode.shrunk(curves.canonical, side)
    found: dict[int, str] = {}
    out = []
    for curve in curves.curves.values():
        tiles = np.stack([encode.shrunk(image, side) for image in curve.images])
        cols = encode.grid_columns(len(tiles))
        for c in curve.top_class.tolist():
            found.setdefault(int(c), class_label(curves.labels, int(c)))
        out.append({"transform": curve.transform, "unit": curve.unit, "count": len(curve.values),
                    "values": _f32(curve.values), "distance": {n: _f32(d) for n, d in curve.distance.items()},
                    "probability": _f32(curve.probability), "top_class": curve.top_class.astype("<i4").tobytes(),
                    "top_probability": _f32(curve.top_probability), "cols": cols,
                    "images": encode.png(encode.tile_sheet(tiles, cols))})
    return {
        "model": model_name, "layers": list(curves.layers),
        "target": curves.target, "target_label": curves.target_label,
        "reference_probability": curves.reference_probability, "reference_norm": dict(curves.reference_norm),
        "canonical": encode.png(canonical), "tile": list(canonical.shape[:2]), "fill": list(curves.fill),
        "classes": [[k, v] for k, v in sorted(found.items())], "curves": out,
    }


def evolution_state(explorer: Explorer, dataset_name: str, result: FeatureEvolution) -> dict[str, Any]:
    """The units × checkpoints grid of Fig. 4: each cell's strongest patch and its projection."""
    order = getattr(explorer.spec.preprocess, "channel_order", "RGB")
    units = []
    for (layer, channel), cells in zip(result.units, result.cells):
        present = [c for c in cells if c is not None]
        box = present[0].patch.shape[:2] if present else (1, 1)
        patches, projections = encode.exemplar_tiles([c.patch for c in present], [c.projection for c in present],
                                                     order, encode.EVOLUTION_TILE)
        size = patches.shape[1:3] if present else (1, 1)
        sheets = [np.zeros((len(cells), *size, 3), np.uint8) for _ in range(2)]
        k = 0
        for i, cell in enumerate(cells):
            if cell is not None:
                sheets[0][i], sheets[1][i] = patches[k], projections[k]
                k += 1
        units.append({
            "layer": layer, "channel": channel, "tile": list(size), "box": list(box),
            "patches": encode.png(encode.tile_sheet(sheets[0], len(cells))),
            "projections": encode.png(encode.tile_sheet(sheets[1], len(cells))),
            "cells": [None if c is None else {"id": c.id, "index": c.index, "position": list(c.position),
                                              "value": float(c.value), "label_name": c.label_name} for c in cells],
        })
    return {"model": explorer.spec.name, "checkpoints": list(result.checkpoints), "rule": result.rule,
            "dataset": dataset_name, "values": _f32(result.activations), "units": units}


def synthesis_state(result: SynthesisResult) -> dict[str, Any]:
    """The image that maximises a unit, cropped to its receptive field, and the ascent's history."""
    image = result.image
    if result.field is not None:
        top, left, bottom, right = result.field
        image = image[top:bottom, left:right]
    return {"image": encode.png(np.ascontiguousarray(image)),
            "field": list(result.field) if result.field is not None else None,
            "input_size": list(result.image.shape[:2]), "activation": result.activation,
            "history": _f32(result.history), "steps": len(result.history), "from_cache": result.from_cache}
