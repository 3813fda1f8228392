"""The results a saved page answers its clicks with, built by the :mod:`cnnviz_widget.state` functions the live
widget uses: unit cards, top-9 panels and layer-atlas pages, class evidence, and what a panel shows for what the
page does not hold."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from .. import encode
from ..engine import UnitRequest
from ..errors import CNNVizError
from ..state.class_evidence import ClassRequest, class_evidence_state, class_layers
from ..state.exemplars import (
    ExemplarTiles,
    Tiles,
    atlas_order,
    layer_atlas_state,
    top9_state,
)
from ..state.keys import answer_key
from ..state.units import silence, unit_request, unit_state
from ..views import View
from .plan import LayerPlan
from .store import Store

__all__ = ["BATCH_UNITS", "EXEMPLAR_SIDE", "LayerTiles", "chunks", "class_evidence_answers",
           "exemplar_answers", "unit_states", "unsaved"]


#: Units projected per batch (unit cards; for top-9 panels, the units whose exemplars share forward passes).
BATCH_UNITS = 64


#: Top-9 tiles are saved at most this many pixels a side: the size the panel shows them at (js/src/widget.css).
EXEMPLAR_SIDE = 64


def chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def unit_states(widget: Any, layer: str, channels: list[int], position: str, rule: str, display: str,
                 crop: str) -> list[dict[str, Any]]:
    """Unit cards of ``channels`` at ``position`` ("max" or "map") shown as ``rule``, ``display`` and ``crop`` say
    (``"auto"``: the layer's default), projections batched."""
    session = widget.session
    ex, x = session.explorer, session.require_input()
    view = session.view(layer, rule, display, crop)
    acts = session.activations(layer)
    geometry = [session.unit_geometry(layer, c, position) for c in channels]
    projections: list[torch.Tensor | None] = [None] * len(channels)
    groups: dict[Any, list[int]] = {}
    size = tuple(x.shape)
    for i, (c, where) in enumerate(zip(channels, geometry)):
        box = tuple(where.crop) if where.crop is not None else None
        if silence(acts[c], where.location):  # its projection starts from an activation of 0: every pixel is 0
            shape = (size[0], box[2] - box[0], box[3] - box[1]) if box is not None else size
            projections[i] = torch.zeros(shape)
        else:
            groups.setdefault(None if box is None else (box[2] - box[0], box[3] - box[1]), []).append(i)
    for crop_size, members in groups.items():
        requests = [UnitRequest(0, layer, channels[i], geometry[i].location) for i in members]
        boxes = None if crop_size is None else [tuple(geometry[i].crop) for i in members]
        batch = ex.project_batch(x[None], requests, rule=view.rule, boxes=boxes)
        for i, projection in zip(members, batch):
            projections[i] = projection
    stats = encode.channel_stats(acts)
    return [unit_state(unit_request(session.image_id, layer, c, position, rule, display, crop), acts[c], where, p,
                       session.channel_order, x.shape[1:], view, stats_row=stats[c], projection_cropped=True)
            for c, where, p in zip(channels, geometry, projections)]


def _displayed(tiles: Tiles, side: int) -> Tiles:
    """A unit's exemplar tiles for its top-9 panel with those larger than ``side`` px shrunk to it (the panel
    shows no more pixels)."""
    if max(tiles.patches.shape[1:3]) <= side:
        return tiles
    return replace(tiles, patches=np.stack([encode.fit_picture(t, side) for t in tiles.patches]),
                   projections=np.stack([encode.fit_picture(t, side) for t in tiles.projections]))


def _small(tiles: Tiles) -> Tiles:
    """A unit's tiles for the layer atlas, which reads the small ones only: the large ones are not kept (a deep
    layer has hundreds of units)."""
    return replace(tiles, patches=tiles.small_patches, projections=tiles.small_projections)


class LayerTiles:
    """The exemplar tiles of one layer and view as the export uses them — the same interface as
    :class:`~cnnviz_widget.state.exemplars.ExemplarTiles` (``get``), each unit's computed once: :meth:`compute`
    gets a batch of units' tiles from the widget's cache (which computes them), and keeps only the small tiles of
    the layer atlas once their top-9 panels are saved, so every page of the atlas, in either order, is built
    without computing a projection again."""

    def __init__(self, source: ExemplarTiles, side: int | None) -> None:
        self.source = source
        self.side = side
        self.top9: dict[int, Tiles] = {}
        self.kept: dict[int, Tiles] = {}

    def compute(self, result: Any, layer: str, channels: list[int], view: View, order: str) -> None:
        """Tiles of ``channels`` (units with exemplars), ready for their top-9 panels until the next call."""
        fresh = self.source.get(result, layer, channels, view, order) if channels else {}
        self.top9 = {c: t if self.side is None else _displayed(t, self.side) for c, t in fresh.items()}
        self.kept.update({c: _small(t) for c, t in fresh.items()})

    def get(self, result: Any, layer: str, channels: Sequence[int], view: View, order: str) -> dict[int, Tiles]:
        missing = [c for c in channels if c not in self.top9 and c not in self.kept]
        if missing:  # units on a saved page of the atlas without a top-9 panel of their own
            self.kept.update({c: _small(t) for c, t in self.source.get(result, layer, missing, view, order).items()})
        return {c: self.top9[c] if c in self.top9 else self.kept[c] for c in channels}


def exemplar_answers(widget: Any, plans: list[LayerPlan], views: list[tuple[str, str, str]], store: Store,
                      tick: Callable[[int], None]) -> dict[str, dict[str, Any]]:
    """Top-9 panels and layer-atlas pages of the plans' mined layers (see :mod:`.panels.exemplars`), for each
    ``(rule, display, crop)`` of ``views``."""
    panel = widget.panels.exemplars
    result, version = panel.current()
    session = widget.session
    order = session.channel_order
    top9: dict[str, Any] = {}
    pages: dict[str, Any] = {}
    for plan in plans:
        if not plan.top9 and not plan.pages:
            continue
        dead = result.stats(plan.name).dead
        for rule, display, crop in views:
            view = session.view(plan.name, rule, display, crop)
            shown = {"rule": rule, "display": display, "crop": crop}
            tiles = LayerTiles(panel.tiles, None if store.lossless else EXEMPLAR_SIDE)
            # Strongest first: the units of a page of the atlas in strength order share a batch.
            wanted = set(plan.top9)
            ranked = [c for c in atlas_order(result, plan.name, "strength") if c in wanted]
            for chunk in chunks(ranked, BATCH_UNITS):
                tiles.compute(result, plan.name, [c for c in chunk if result.top(plan.name, c) and not dead[c]],
                              view, order)
                for c in chunk:
                    request = {"layer": plan.name, "channel": c, **shown}
                    state = top9_state(result, version, request, tiles, order, view)
                    top9[str(answer_key("top9", request))] = store.value(state, photos=True)
                tick(len(chunk))
            tiles.top9 = {}  # the atlas pages below show the small tiles
            for sort_by, page in plan.pages:
                request = {"layer": plan.name, "page": page, **shown, "sort_by": sort_by}
                state = layer_atlas_state(result, version, request, tiles, order, view, page_size=plan.page_size)
                selection = {"layer": plan.name, "layer_atlas_page": page, **shown, "sort_by": sort_by,
                             "layer_atlas_open": True}
                pages[str(answer_key("layer_atlas", selection))] = store.value(state, photos=True)
    return {"top9": top9, "layer_atlas": pages}


def class_evidence_answers(widget: Any, wanted: Sequence[str], store: Store) -> tuple[list[str], dict[str, Any]]:
    """The class-evidence answers of the top-5 classes (and the chosen one) at the class layers among ``wanted``
    and the default one (see :mod:`.panels.class_evidence`); returns the layers answered and the answers by key. A
    layer the engine refuses is left out — all of them for a model whose output is not class scores: the page then
    shows the panel as it was."""
    session = widget.session
    ex, x = session.explorer, session.require_input()
    with_map, default = class_layers(ex)
    layers = [name for name in with_map if name in wanted or name == default]
    targets = [int(p["index"]) for p in widget.picture.get("predictions", [])]
    if widget.class_target is not None and widget.class_target not in targets:
        targets.append(int(widget.class_target))
    answers: dict[str, Any] = {}
    saved: list[str] = []
    for layer in layers if targets else []:
        try:
            guided = ex.guided_grad_cam(x, layer, targets)
            cams = {c: ex.grad_cam(x, layer, targets, counterfactual=c) for c in (False, True)}
        except CNNVizError:  # e.g. class scores that do not depend on this layer
            continue
        saved.append(layer)
        for counterfactual, maps in cams.items():
            for target, cam, picture in zip(targets, maps, guided):
                request = ClassRequest(session.image_id, target, layer, counterfactual)
                state = class_evidence_state(request, ex.spec.labels, cam, picture, session.channel_order)
                selection = {"class_target": target, "class_layer": layer, "class_counterfactual": counterfactual}
                answers[str(answer_key("class_evidence", selection))] = store.value(state)
    return saved, answers


def unsaved(plans: list[LayerPlan]) -> dict[str, Any]:
    """What the page shows for a top-9 panel or a layer-atlas page it does not hold (``static-model.js``): a state
    stamped with the selection (each request field read from a selection trait) that says so."""
    if all(not plan.top9 for plan in plans):
        return {}
    return {
        "top9": {"request": {"layer": "layer", "channel": "channel", "rule": "rule", "display": "display",
                             "crop": "crop"},
                 "message": "Not in this saved page: it holds the top-9 exemplars of the units on the layer atlas's "
                            "first page and of the unit selected when it was saved. Run the notebook to see this "
                            "unit's."},
        "layer_atlas": {"request": {"layer": "layer", "page": "layer_atlas_page", "rule": "rule", "display": "display",
                                    "crop": "crop", "sort_by": "sort_by"},
                        "message": "Not in this saved page: it holds the layer atlas's first page in strength order "
                                   "(sort the grid by strength). Run the notebook to page through every unit."},
    }
