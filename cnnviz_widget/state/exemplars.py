"""States of the dataset-exemplar panels (Zeiler & Fergus's Figure 2): ``top9``, ``layer_atlas`` and ``mining``.

Each function builds one trait's value from a mined result (:class:`~cnnviz_widget.engine.Exemplars`) and the
request it answers; the pictures come from an :class:`ExemplarTiles` cache. The live widget
(:mod:`cnnviz_widget.panels.exemplars`) and the HTML export both call them. The formats are documented in
:mod:`cnnviz_widget.panels.exemplars`.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import encode
from ..engine import Exemplars, Miner
from ..errors import CNNVizError
from ..views import View, view_state

__all__ = ["LAYER_ATLAS_PAGE", "ExemplarTiles", "Tiles", "atlas_order", "error_state", "layer_atlas_state",
           "mined_info_state", "mining_progress_state", "top9_state"]

#: Units on one page of the layer atlas.
LAYER_ATLAS_PAGE = 16
#: Encoded exemplar tiles an :class:`ExemplarTiles` keeps for reuse (paging back, toggling the rule).
TILE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Tiles:
    """One unit's exemplars encoded for display: for the top-9 panel and (smaller) for the layer atlas.

    Attributes:
        box: the size ``(h, w)`` of what the tiles show (the receptive field, or its central half) before shrinking.
        patches, projections: ``uint8 [k, h, w, 3]`` tiles of :data:`~cnnviz_widget.encode.TOP9_TILE` px.
        small_patches, small_projections: the same at :data:`~cnnviz_widget.encode.LAYER_ATLAS_TILE` px.
    """

    box: tuple[int, int]
    patches: np.ndarray
    projections: np.ndarray
    small_patches: np.ndarray
    small_projections: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.patches, self.projections, self.small_patches, self.small_projections))


class ExemplarTiles:
    """Display tiles of units' exemplars, computed in one batch for the units not encoded before and kept for reuse:
    a unit of the same model and dataset whose top-k images and positions did not change has the same patches and
    projections. Safe to share between threads (one computes at a time)."""

    def __init__(self, max_bytes: int = TILE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._tiles: collections.OrderedDict[tuple, Tiles] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, result: Exemplars, layer: str, channels: Sequence[int], view: View,
            channel_order: str) -> dict[int, Tiles]:
        """Tiles of ``channels`` (units with exemplars) of ``layer``, shown in ``view`` (its rule, display and crop,
        as the unit card shows a unit)."""
        with self._lock:
            return self._get(result, layer, channels, view, channel_order)

    def _get(self, result: Exemplars, layer: str, channels: Sequence[int], view: View,
             channel_order: str) -> dict[int, Tiles]:
        source = (result.key["model"], result.key["dataset"])
        keys = {c: (*source, layer, c, view, tuple((e.index, e.position) for e in result.top(layer, c)))
                for c in channels}
        todo = [c for c, key in keys.items() if key not in self._tiles]
        if todo:
            computed = result.atlas(layer, todo, rule=view.rule)
            fraction = view.fraction
            for c in todo:
                patches = [e.patch for e in computed[c]]
                projections = [e.projection for e in computed[c]]
                big, small = encode.exemplar_tile_sizes(patches, projections, channel_order,
                                                        (encode.TOP9_TILE, encode.LAYER_ATLAS_TILE), view.display,
                                                        fraction)
                self._tiles[keys[c]] = Tiles(_shown_size(patches[0].shape[:2], fraction), *big, *small)
        out = {}
        for c, key in keys.items():
            self._tiles.move_to_end(key)
            out[c] = self._tiles[key]
        while len(self._tiles) > len(out) and sum(t.nbytes for t in self._tiles.values()) > self.max_bytes:
            self._tiles.popitem(last=False)
        return out


def _shown_size(field: Sequence[int], fraction: float) -> tuple[int, int]:
    """The size of what an exemplar tile shows of a field of size ``field``, before shrinking
    (:func:`~cnnviz_widget.encode.exemplar_tiles`)."""
    top, left, bottom, right = encode.central_box((0, 0, *(int(v) for v in field)), fraction)
    return bottom - top, right - left


def _sheet(tiles: np.ndarray, cols: int) -> bytes:
    return encode.png(encode.tile_sheet(tiles, cols))


def _not_mined(base: dict[str, Any], result: Exemplars, layer: str) -> dict[str, Any]:
    mined = ", ".join(result.layer_names[:6]) + (" …" if len(result.layer_names) > 6 else "")
    return {**base, "state": "not-mined", "message": f"layer {layer} was not mined (mined: {mined}) — mine it "
            f"with w.mine(layers=[{layer!r}, ...])"}


def _view(view: View, request: dict[str, Any]) -> dict[str, Any]:
    return view_state(view, request["rule"], request["display"], request["crop"])


def top9_state(result: Exemplars, version: int, request: dict[str, Any], tiles: ExemplarTiles,
               channel_order: str, view: View) -> dict[str, Any]:
    """``top9``: the top-k exemplars of unit ``request["channel"]`` of ``request["layer"]``, shown in ``view`` (the
    request's ``rule``, ``display`` and ``crop`` with their ``"auto"`` parts resolved); ``version`` is the result's
    number in the widget (it grows with every new result)."""
    layer, channel = request["layer"], request["channel"]
    base = {"request": request, "version": version, "complete": result.complete, "k": result.k,
            "view": _view(view, request)}
    if layer not in result.layer_names:
        return _not_mined(base, result, layer)
    top = result.top(layer, channel)
    stats = result.stats(layer)
    dead = bool(stats.dead[channel])
    state = {
        **base, "state": "empty" if not top else "dead" if dead else "ready", "message": "",
        "count": len(top), "cols": encode.grid_columns(result.k),
        "exemplars": [{"rank": e.rank, "value": float(e.value), "index": e.index, "id": e.id, "label": e.label,
                       "label_name": e.label_name, "position": list(e.position)} for e in top],
        "stats": {"images": stats.images, "fired": int(stats.fired[channel]),
                  "firing_rate": float(stats.firing_rate[channel]), "dead": dead,
                  "class_mix": [list(m) for m in result.class_mix(layer, channel)]},
    }
    if state["state"] == "ready":
        unit = tiles.get(result, layer, [channel], view, channel_order)[channel]
        state.update(tile=list(unit.patches.shape[1:3]), box=list(unit.box),
                     patches=_sheet(unit.patches, state["cols"]), projections=_sheet(unit.projections, state["cols"]))
    return state


def atlas_order(result: Exemplars, layer: str, sort_by: str) -> list[int]:
    """The layer atlas's units in ``sort_by`` order: ``"channel"``, or ``"strength"`` (each unit's strongest
    exemplar, strongest first; units with none last; ties by channel)."""
    table = result.table(layer)
    values = table["values"].numpy()
    counts = (table["indices"].numpy() >= 0).sum(axis=1)
    top = np.where(counts > 0, values[:, 0], -np.inf)
    order = list(range(values.shape[0]))
    if sort_by == "strength":
        order.sort(key=lambda c: (-top[c], c))
    return order


def layer_atlas_state(result: Exemplars, version: int, request: dict[str, Any], tiles: ExemplarTiles,
                      channel_order: str, view: View, page_size: int | None = None) -> dict[str, Any]:
    """``layer_atlas``: page ``request["page"]`` of ``request["layer"]``'s units in ``request["sort_by"]`` order
    (``"channel"`` or ``"strength"``), each with its top-k exemplars shown in ``view`` (as :func:`top9_state`);
    ``page_size`` units a page (default :data:`LAYER_ATLAS_PAGE`)."""
    page_size = LAYER_ATLAS_PAGE if page_size is None else page_size
    layer = request["layer"]
    base = {"request": request, "version": version, "complete": result.complete, "k": result.k,
            "view": _view(view, request)}
    if layer not in result.layer_names:
        return _not_mined(base, result, layer)
    table = result.table(layer)
    stats = result.stats(layer)
    values = table["values"].numpy()
    counts = (table["indices"].numpy() >= 0).sum(axis=1)
    count, k = values.shape
    top = np.where(counts > 0, values[:, 0], -np.inf)
    order = atlas_order(result, layer, request["sort_by"])
    pages = max(1, math.ceil(count / page_size))
    page = min(max(int(request["page"]), 0), pages - 1)
    channels = order[page * page_size:(page + 1) * page_size]
    live = [c for c in channels if counts[c] > 0 and not stats.dead[c]]
    encoded = tiles.get(result, layer, live, view, channel_order)
    sample = next(iter(encoded.values()), None)
    tile = sample.small_patches.shape[1:3] if sample is not None else (1, 1)
    patches = np.zeros((len(channels), k, *tile, 3), np.uint8)
    projections = np.zeros_like(patches)
    shown = np.full((len(channels), k), np.nan, np.float32)
    rows = np.zeros((len(channels), 3), np.float32)
    top_class = []
    for i, c in enumerate(channels):
        shown[i, :counts[c]] = values[c, :counts[c]]
        rows[i] = (stats.firing_rate[c], stats.fired[c], top[c] if counts[c] else np.nan)
        if c in encoded:
            n = len(encoded[c].small_patches)
            patches[i, :n], projections[i, :n] = encoded[c].small_patches, encoded[c].small_projections
        mix = result.class_mix(layer, c)
        top_class.append([mix[0][1], mix[0][2]] if mix else None)
    flat = (len(channels) * k, *tile, 3)
    return {
        **base, "state": "ready", "message": "", "count": count, "page": page, "pages": pages,
        "page_size": page_size, "channels": channels, "images": stats.images, "tile": list(tile),
        "box": list(sample.box) if sample is not None else None,
        "patches": _sheet(patches.reshape(flat), k), "projections": _sheet(projections.reshape(flat), k),
        "values": shown.astype("<f4").tobytes(), "stats": rows.astype("<f4").tobytes(),
        "stats_columns": ["firing_rate", "fired", "top"], "top_class": top_class,
    }


def error_state(request: dict[str, Any], version: int, exc: CNNVizError) -> dict[str, Any]:
    """A panel's state when its result could not be computed (the message names the fix)."""
    return {"request": request, "version": version, "state": "error", "message": str(exc)}


def mining_progress_state(miner: Miner, state: str, version: int, shown_entry: bool,
                          message: str = "") -> dict[str, Any]:
    """``mining`` while a pass runs (or ends): its progress; ``shown_entry``: name the cache folder it writes."""
    p = miner.progress
    return {"state": state, "dataset": miner.dataset.name, "images": p.images, "skipped": p.skipped,
            "done": p.done, "total": p.total, "k": miner.k, "layers": [i.name for i in miner.layers],
            "version": version, "message": message,
            "entry": str(miner.entry) if shown_entry and miner.entry is not None else None}


def mined_info_state(result: Exemplars, state: str, version: int, shown_entry: bool) -> dict[str, Any]:
    """``mining`` for a result shown (loaded, finished or cancelled)."""
    return {"state": state, "dataset": result.dataset_name, "images": result.images, "skipped": result.skipped,
            "done": result.images + result.skipped, "total": result.total, "k": result.k,
            "layers": result.layer_names, "version": version, "message": "",
            "entry": str(result.entry) if shown_entry and result.entry is not None else None}
