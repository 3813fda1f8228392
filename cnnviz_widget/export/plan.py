"""What a saved page holds of each layer: the default layers (one per stage and the selected one) and, on a
reader's page, the units a reader clicks; the selection the page opens on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import encode
from ..state.exemplars import (
    LAYER_ATLAS_PAGE,
    atlas_order,
)

__all__ = ["ATLAS_UNITS", "STRONGEST", "UNITS", "LayerPlan", "default_layers", "opening_selection",
           "plan_layer"]


#: Which units of a layer a page holds: ``"reader"`` (the units a reader clicks) or ``"all"``.
UNITS = ("reader", "all")


#: ``units="reader"``: unit cards of this many units a layer, the strongest on the image.
STRONGEST = 16


#: ``units="reader"``: the layer atlas's first page in strength order holds this many units, with their top-9.
ATLAS_UNITS = 4


@dataclass(frozen=True)
class LayerPlan:
    """What a page holds of one layer.

    Attributes:
        name: the layer.
        cards: channels with a unit card (for every view and position saved); a reader's page lists the strongest on
            the image first (the page selects the first when a new layer does not hold the channel selected).
        top9: channels with a top-9 panel (a mined layer's).
        pages: the layer atlas's pages saved, ``(sort_by, page)``.
        page_size: units on a page of its layer atlas.
    """

    name: str
    cards: list[int]
    top9: list[int] = field(default_factory=list)
    pages: list[tuple[str, int]] = field(default_factory=list)
    page_size: int = LAYER_ATLAS_PAGE


def default_layers(widget: Any) -> list[str]:
    """The layers a page holds by default: one per stage (:attr:`~cnnviz_widget.engine.Explorer.stages`) and the
    selected layer, in forward order."""
    ex = widget.explorer
    names = {info.name for info in ex.stages} | {ex.layer(widget.layer).name}
    return [name for name in ex.layer_names if name in names]


def _strongest(acts: torch.Tensor, count: int) -> list[int]:
    """The ``count`` channels of a layer's activations ``[C, ...]`` strongest on the image: highest maximum first,
    ties by channel — the activation grid's order sorted by strength (``js/src/lib/layout.js: tileOrder``)."""
    peaks = encode.channel_stats(acts)[:, 1]
    return sorted(range(len(peaks)), key=lambda c: (-float(peaks[c]), c))[:count]


def plan_layer(widget: Any, name: str, units: str) -> LayerPlan:
    """What a page holds of layer ``name``: every unit (``units="all"``), or the reader's (the module docstring)."""
    channels = widget.explorer.layer(name).channels
    result = widget.exemplars
    mined = result is not None and name in result.layer_names
    if units == "all":
        pages = math.ceil(channels / LAYER_ATLAS_PAGE)
        return LayerPlan(name, list(range(channels)), list(range(channels)) if mined else [],
                         [(order, page) for order in ("channel", "strength") for page in range(pages)] if mined
                         else [])
    selected = [widget.channel] if name == widget.layer else []
    head = atlas_order(result, name, "strength")[:ATLAS_UNITS] if mined else []
    cards = list(dict.fromkeys([*_strongest(widget.session.activations(name), STRONGEST), *head, *selected]))
    return LayerPlan(name, cards, sorted({*head, *selected}) if mined else [], [("strength", 0)] if mined else [],
                     ATLAS_UNITS)


def opening_selection(widget: Any, plans: dict[str, LayerPlan], shown: dict[str, list[str]],
             positions: list[str]) -> dict[str, Any]:
    """The selection a saved page opens on: the widget's own where the page holds it, else the nearest it holds —
    an exported layer (its first unit held — channel 0, or the strongest on a reader's page — when the selected one
    is not held there), a saved rule, display and crop (``shown``: the saved values of each), a saved position (a
    location picked on the map, e.g. by opening an exemplar, becomes the unit's strongest location or its whole
    map)."""
    layer = widget.layer if widget.layer in plans else next(iter(plans))
    cards = plans[layer].cards
    channel = widget.channel if layer == widget.layer and widget.channel in cards else cards[0]
    return {"layer": layer, "channel": channel,
            "position": widget.position if widget.position in positions else positions[0],
            **{trait: getattr(widget, trait) if getattr(widget, trait) in values else values[0]
               for trait, values in shown.items()}}
