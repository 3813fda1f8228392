"""States of the unit panels — the header, the picture, the activation grid, the unit card, the filters, the gallery.

Each function builds one trait's value from explicit inputs (engine objects and tensors); the live widget
(:mod:`cnnviz_widget.panels.units`) and the HTML export (:mod:`cnnviz_widget.export`) both call them. The traits'
formats are documented in :mod:`cnnviz_widget.widget`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import encode
from ..engine import Explorer
from ..session import UnitGeometry
from ..views import View, view_box, view_state

__all__ = ["UnitRequestKey", "atlas_state", "clamp_note", "filters_state", "gallery_state", "layers_state",
           "model_info_state", "picture_state", "silence", "unit_request", "unit_state"]


@dataclass(frozen=True)
class UnitRequestKey:
    """What a unit card answers (its stamp): the image, the layer, the channel, the position, and the rule, display
    and crop as selected (``"auto"`` stays ``"auto"``: it resolves the same way for the same layer)."""

    image: int
    layer: str
    channel: int
    position: str | tuple[int, int]
    rule: str
    display: str
    crop: str

    def to_state(self) -> dict[str, Any]:
        position = list(self.position) if isinstance(self.position, tuple) else self.position
        return {"image": self.image, "layer": self.layer, "channel": self.channel, "position": position,
                "rule": self.rule, "display": self.display, "crop": self.crop}


def unit_request(image: int, layer: str, channel: int, position: Any, rule: str, display: str,
                 crop: str) -> UnitRequestKey:
    """The stamp of a selection (``position``: ``"max"``, ``"map"`` or ``[y, x]``)."""
    where = (int(position[0]), int(position[1])) if isinstance(position, (list, tuple)) else str(position)
    return UnitRequestKey(int(image), str(layer), int(channel), where, str(rule), str(display), str(crop))


def clamp_note(layer: str, asked: int, channels: int) -> dict[str, Any]:
    """``note`` when selecting ``layer`` moves channel ``asked`` to its last one (the front end's
    ``protocol.js: selectionChanges`` writes the same)."""
    channel = channels - 1
    plural = "" if channels == 1 else "s"
    return {"layer": layer, "channel": channel,
            "text": f"channel {asked} → {channel}: {layer} has {channels} channel{plural}"}


def model_info_state(explorer: Explorer) -> dict[str, Any]:
    """``model_info``: the header's model name and facts."""
    spec = explorer.spec
    return {"name": spec.name, "source": spec.source, "pretrained": spec.pretrained,
            "input_shape": list(spec.input_shape), "classes": len(spec.labels) if spec.labels else None,
            "first_conv": explorer.first_conv.name}


def layers_state(explorer: Explorer, default_view: Callable[[str], View]) -> list[dict[str, Any]]:
    """``layers``: every layer worth showing, in forward order; ``stage`` marks the model's stages (the picker's
    default list, :attr:`~cnnviz_widget.engine.Explorer.stages`), ``view`` the ``{rule, display, crop}`` its
    ``"auto"`` selections show (``default_view(layer_name)``, e.g. :meth:`~cnnviz_widget.session.Session.default_view`)."""
    stages = {info.name for info in explorer.stages}
    out = []
    for i in explorer.layers:
        view = default_view(i.name)
        out.append({"name": i.name, "kind": i.kind, "label": i.label, "shape": list(i.shape), "stage": i.name in stages,
                    "view": {"rule": view.rule, "display": view.display, "crop": view.crop}})
    return out


def filters_state(explorer: Explorer, channel_order: str) -> dict[str, Any]:
    """``filters``: the first convolution's weights as a sheet of tiny images."""
    return {"layer": explorer.first_conv.name, **encode.filter_sheet(explorer.filters(), channel_order).to_state()}


def gallery_state(gallery: Sequence[tuple[str, Image.Image]]) -> dict[str, Any]:
    """``gallery``: thumbnails of the photos offered, with their names."""
    sheet, cols = encode.thumbnail_sheet([image for _, image in gallery])
    return {"names": [name for name, _ in gallery], "png": sheet, "tile": 64, "cols": cols}


def picture_state(image_id: int, name: str, explorer: Explorer, x: torch.Tensor, k: int = 5) -> dict[str, Any]:
    """``picture``: the image as the model sees it (``x``), with the model's top-``k`` predictions."""
    predictions = [{"index": i, "label": label, "probability": p} for i, label, p in explorer.predict(x, k)]
    return {"id": image_id, "name": name, "png": encode.png(explorer.to_pixels(x)), "size": list(x.shape[1:]),
            "predictions": predictions}


def atlas_state(image_id: int, layer: str, activations: torch.Tensor) -> tuple[dict[str, Any], np.ndarray]:
    """``atlas``: every channel of ``layer`` for image ``image_id``; also its per-channel statistics (rows of
    :data:`~cnnviz_widget.encode.STATS_COLUMNS`), which the unit card reuses."""
    atlas = encode.activation_atlas(activations)
    return {"image": image_id, "layer": layer, **atlas.to_state()}, atlas.stats


def silence(feature_map: torch.Tensor, location: tuple[int, int] | None) -> str | None:
    """Why a unit's projection is empty, if it is: ``"everywhere"`` when its whole map is 0 on the image,
    ``"here"`` when its activation at ``location`` is 0 (the backward pass starts from that value, so every pixel
    of the projection is 0), else ``None``."""
    if not bool(feature_map.any()):
        return "everywhere"
    if location is not None and float(feature_map[location]) == 0:
        return "here"
    return None


def unit_state(request: UnitRequestKey, feature_map: torch.Tensor, geometry: UnitGeometry,
               projection: torch.Tensor, channel_order: str, input_size: Sequence[int], view: View,
               stats_row: np.ndarray | None = None, projection_cropped: bool = False) -> dict[str, Any]:
    """``unit``: the unit card answering ``request``.

    Args:
        request: the stamp.
        feature_map: the unit's channel on the image (``Tensor[h, w]``, or a scalar for a linear layer).
        geometry: where the unit sits (:meth:`~cnnviz_widget.session.Session.unit_geometry`).
        projection: its projection with ``view.rule``, ``Tensor[C, H, W]`` of the whole input — or of
            ``geometry.crop`` only when ``projection_cropped`` (as ``Explorer.project_batch(..., boxes=[crop])``
            returns it; a unit's projection is zero outside its receptive field, so nothing is lost).
        channel_order: the model's channel order, for drawing.
        input_size: ``[H, W]`` of the model's input.
        view: what ``request`` shows (its ``"auto"`` parts resolved: :meth:`~cnnviz_widget.session.Session.view`):
            ``projection`` is drawn in ``view.display`` on ``view.crop`` of the field
            (:func:`~cnnviz_widget.views.view_box`), which is also the card's ``crop`` (the image patch beside it).
        stats_row: the channel's ``min, max, mean, fraction_active`` when known (from the atlas), else computed.

    Its ``silent`` (:func:`silence`) says when the projection is empty and why, for the card to say so; its ``view``
    (:func:`~cnnviz_widget.views.view_state`) what the projection shows and why.
    """
    location = geometry.location
    row = stats_row if stats_row is not None else encode.channel_stats(feature_map[None])[0]
    if projection_cropped and geometry.crop is not None:
        top, left, bottom, right = geometry.crop
        whole = projection.new_zeros((projection.shape[0], *input_size))
        whole[:, top:bottom, left:right] = projection
        projection = whole
    box = view_box(geometry.field, view.crop, input_size)
    return {
        "request": request.to_state(),
        "location": list(location) if location is not None else None,
        "field": geometry.field,
        "crop": box,
        "input_size": list(input_size),
        "map": encode.activation_map(feature_map),
        "projection": encode.raw(encode.projection_display(projection, view.display, channel_order, box=box)),
        "view": view_state(view, request.rule, request.display, request.crop),
        "silent": silence(feature_map, location),
        "stats": {"min": float(row[0]), "max": float(row[1]), "mean": float(row[2]),
                  "fraction_active": float(row[3]),
                  "value": float(feature_map[location]) if location is not None else None},
    }
