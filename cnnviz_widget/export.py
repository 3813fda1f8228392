"""One self-contained HTML page of a widget, to open without Python: ``CNNViz.to_html`` and ``cnnviz export``.

The page holds the bundled front end, the widget's state and every picture inline — no CDN, no kernel — and a
small static model (``js/src/static-model.js``) that answers the page's clicks from results computed here. The
panels are the widget's own and render from that state exactly as they do live.

**What is saved by default: what a reader needs** (``w.to_html("page.html")``, ``cnnviz export``; a few seconds
and a few MB for the default model with the demo set's exemplars, where every unit of every layer took 152 s and
34 MB without exemplars, and hours with them):

* the **layers the paper shows**, one per stage (:attr:`~cnnviz_widget.engine.Explorer.stages`; SqueezeNet:
  features.0, the eight fire modules, classifier.1), and the selected layer — each with its activation grid;
* of each layer, the **units a reader clicks** (``units="reader"``): unit cards of the :data:`STRONGEST` units
  strongest on the image (what the grid sorted by strength shows first), of the units on the layer atlas's first
  page and of the selected unit;
* with dataset exemplars (``w.mine()``, ``w.load_exemplars()``): the layer atlas's **first page in strength order**,
  :data:`ATLAS_UNITS` units (the paper's Figure 2 for the layer: the units whose best exemplars fire hardest), and
  the top-9 panels of those units and of the selected unit. Exemplar projections are the dear part: a unit's top-9
  is 9 projections, each of the whole image in the last layers;
* the class-evidence panel (Grad-CAM and guided Grad-CAM) of each of the image's top-5 classes — and of the class
  chosen at export time — at the default Grad-CAM layer and at the class layer chosen, with and without the
  counterfactual map: one batched engine call per layer for all the classes.

The page opens on the selected unit (the grid and the layer atlas sorted by strength, so what it holds comes
first) and says what it holds: the header lists it, the tiles of units it does not hold are dimmed, a click on
one says in the banner that it needs the live widget, and a top-9 panel or layer-atlas page it does not hold says
so in place.

**Everything, or what you choose.** ``layers="all"`` (every layer the widget lists) or a list of layers saves
**every unit** of them (``units="all"``, the default for layers you name; ``units="reader"`` keeps the reader's
choice on them): a unit card of each channel, and with exemplars every unit's top-9 and every page of the layer
atlas in both orders (18 pictures a unit: export the layers you will show). Either way:

* unit cards are at the unit's strongest location (``positions=("max",)``; add ``"map"`` for the whole-map
  projections), for the chosen rules (default: the widget's current rule); projections are computed in batches,
  one receptive-field crop per unit (:meth:`~.engine.explorer.Explorer.project_batch`), and a unit that is silent
  on the image has a zero projection, known without computing it;
* a unit's exemplar projections are computed once (a batch of units at a time), for its top-9 panel and its row
  of the layer atlas, whatever the order of the page it is on;
* every unit synthesised in the session (activation maximisation) shows its image.

Another position (a click on the activation map), another rule or a new image needs the kernel: the page's rule and
position buttons it cannot answer are disabled with a title that says so.

**Interrupting.** The progress bar counts unit cards and top-9 panels; Ctrl-C (a notebook's interrupt) stops the
export within a batch, writes no file (the page is written whole at the end, through a temporary file), and leaves
the widget as it was.

**Storage.** Binary data is stored once per distinct content and base64-encoded. Pictures of *codes* (activation
maps, atlases: their values are coloured in the page) and the layer-1 filters stay lossless PNG; the unit cards'
RGB projections are WebP at ``quality``, those larger than ``max_side`` pixels shrunk to it (the units of the last
layers see the whole image), and so are the photos: the input, the gallery and the exemplar sheets of the top-9
panels (their tiles at :data:`EXEMPLAR_SIDE` px, the size the panel shows) and the layer atlas — unless
``lossless=True``: then every picture is the widget's own, pixel for pixel.

**Safety.** Every text (class names, layer names, file names) travels inside ``<script type="application/json">``
with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no text can end the script or open
a tag, and the panels put it in the page with ``textContent`` only. The page's Content-Security-Policy allows no
network request at all: it runs from a ``file://`` URL, offline.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import encode
from .engine import RULES, UnitRequest
from .errors import CNNVizError
from .state.class_evidence import ClassRequest, class_evidence_state, class_layers
from .state.exemplars import (
    LAYER_ATLAS_PAGE,
    ExemplarTiles,
    Tiles,
    atlas_order,
    layer_atlas_state,
    top9_state,
)
from .state.keys import ANSWER_KEYS, answer_key
from .state.units import atlas_state, silence, unit_request, unit_state

__all__ = ["ATLAS_UNITS", "STRONGEST", "UNITS", "ExportReport", "LayerPlan", "default_layers", "export_html",
           "plan_layer"]

_STATIC = Path(__file__).parent / "static"
#: Positions a unit card can be precomputed at (see ``CNNViz.position``).
POSITIONS = ("max", "map")
#: Units projected per batch (unit cards; for top-9 panels, the units whose exemplars share forward passes).
BATCH_UNITS = 64
#: Which units of a layer a page holds: ``"reader"`` (the units a reader clicks) or ``"all"``.
UNITS = ("reader", "all")
#: ``units="reader"``: unit cards of this many units a layer, the strongest on the image.
STRONGEST = 16
#: ``units="reader"``: the layer atlas's first page in strength order holds this many units, with their top-9.
ATLAS_UNITS = 4
#: Uncompressed pictures up to this many bytes are stored as they are (a PNG would not be smaller).
RAW_AS_IS = 1024
#: Top-9 tiles are saved at most this many pixels a side: the size the panel shows them at (js/src/widget.css).
EXEMPLAR_SIDE = 64
#: The widget's traits that hold no result and have no meaning on a page without a kernel.
_LIVE_ONLY = ("busy", "error")
_UNFINISHED = ("queued", "running", "cancelling")  # job states a saved page, which runs nothing, must not show

_BOOTSTRAP = """
const text = (id) => JSON.parse(document.getElementById(id).textContent);
const load = (id) => import(URL.createObjectURL(new Blob([text(id)], { type: "text/javascript" })));
const el = document.getElementById("cnnviz-export");
try {
  const [widget, page] = await Promise.all([load("cnnviz-widget-module"), load("cnnviz-export-module")]);
  await page.mount(widget.default, text("cnnviz-document"), el);
} catch (error) {
  el.textContent = `This page could not start: ${error}`;
  throw error;
}
"""

_PAGE_CSS = """
body { margin: 16px; font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
.cnnviz-export-note { color: #555; font-size: 13px; margin: 0 0 10px; max-width: 1200px; }
.cnnviz-export-widget .cnnviz-drop, .cnnviz-export-widget [data-kernel-only] { display: none !important; }
"""

_CSP = ("default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src blob: data:; "
        "base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_html` wrote.

    Attributes:
        path: the HTML file.
        size: its size in bytes.
        layers: the exported layers.
        units: unit cards precomputed (all layers, rules and positions).
        blobs: distinct binary items stored (pictures, statistics).
        seconds: time taken.
        exemplars: top-9 panels saved (all layers and rules).
    """

    path: Path
    size: int
    layers: list[str]
    units: int
    blobs: int
    seconds: float
    exemplars: int = 0

    def __str__(self) -> str:
        return (f"{self.path}: {self.size / 1e6:.1f} MB — {len(self.layers)} layers, {self.units} unit cards, "
                f"{self.exemplars} top-9 panels, {self.blobs} pictures and tables, {self.seconds:.1f} s")


_PNG = b"\x89PNG\r\n\x1a\n"
#: State traits whose pictures are photos (and exemplar sheets), stored lossy unless ``lossless``.
_PHOTO_TRAITS = ("picture", "gallery", "top9", "layer_atlas")


class _Store:
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


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _unit_states(widget: Any, layer: str, channels: list[int], position: str, rule: str) -> list[dict[str, Any]]:
    """Unit cards of ``channels`` at ``position`` ("max" or "map"), projections batched."""
    session = widget.session
    ex, x = session.explorer, session.require_input()
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
        batch = ex.project_batch(x[None], requests, rule=rule, boxes=boxes)
        for i, projection in zip(members, batch):
            projections[i] = projection
    stats = encode.channel_stats(acts)
    return [unit_state(unit_request(session.image_id, layer, c, position, rule), acts[c], where, p,
                       session.channel_order, x.shape[1:], stats_row=stats[c], projection_cropped=True)
            for c, where, p in zip(channels, geometry, projections)]


@dataclass(frozen=True)
class LayerPlan:
    """What a page holds of one layer.

    Attributes:
        name: the layer.
        cards: channels with a unit card (for every rule and position saved); a reader's page lists the strongest on
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


def _opening(widget: Any, plans: dict[str, LayerPlan], rules: list[str], positions: list[str]) -> dict[str, Any]:
    """The selection a saved page opens on: the widget's own where the page holds it, else the nearest it holds —
    an exported layer (its first unit held — channel 0, or the strongest on a reader's page — when the selected one
    is not held there), a saved rule, a saved position (a location picked on the map, e.g. by opening an exemplar, becomes the unit's strongest
    location or its whole map)."""
    layer = widget.layer if widget.layer in plans else next(iter(plans))
    cards = plans[layer].cards
    channel = widget.channel if layer == widget.layer and widget.channel in cards else cards[0]
    return {"layer": layer, "channel": channel,
            "position": widget.position if widget.position in positions else positions[0],
            "rule": widget.rule if widget.rule in rules else rules[0]}


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


class _LayerTiles:
    """The exemplar tiles of one layer and rule as the export uses them — the same interface as
    :class:`~cnnviz_widget.state.exemplars.ExemplarTiles` (``get``), each unit's computed once: :meth:`compute`
    gets a batch of units' tiles from the widget's cache (which computes them), and keeps only the small tiles of
    the layer atlas once their top-9 panels are saved, so every page of the atlas, in either order, is built
    without computing a projection again."""

    def __init__(self, source: ExemplarTiles, side: int | None) -> None:
        self.source = source
        self.side = side
        self.top9: dict[int, Tiles] = {}
        self.kept: dict[int, Tiles] = {}

    def compute(self, result: Any, layer: str, channels: list[int], rule: str, order: str) -> None:
        """Tiles of ``channels`` (units with exemplars), ready for their top-9 panels until the next call."""
        fresh = self.source.get(result, layer, channels, rule, order) if channels else {}
        self.top9 = {c: t if self.side is None else _displayed(t, self.side) for c, t in fresh.items()}
        self.kept.update({c: _small(t) for c, t in fresh.items()})

    def get(self, result: Any, layer: str, channels: Sequence[int], rule: str, order: str) -> dict[int, Tiles]:
        missing = [c for c in channels if c not in self.top9 and c not in self.kept]
        if missing:  # units on a saved page of the atlas without a top-9 panel of their own
            self.kept.update({c: _small(t) for c, t in self.source.get(result, layer, missing, rule, order).items()})
        return {c: self.top9[c] if c in self.top9 else self.kept[c] for c in channels}


def _exemplar_answers(widget: Any, plans: list[LayerPlan], rules: list[str], store: _Store,
                      tick: Callable[[int], None]) -> dict[str, dict[str, Any]]:
    """Top-9 panels and layer-atlas pages of the plans' mined layers (see :mod:`.panels.exemplars`)."""
    panel = widget.panels.exemplars
    result, version = panel.current()
    order = widget.session.channel_order
    top9: dict[str, Any] = {}
    pages: dict[str, Any] = {}
    for plan in plans:
        if not plan.top9 and not plan.pages:
            continue
        dead = result.stats(plan.name).dead
        for rule in rules:
            tiles = _LayerTiles(panel.tiles, None if store.lossless else EXEMPLAR_SIDE)
            # Strongest first: the units of a page of the atlas in strength order share a batch.
            wanted = set(plan.top9)
            ranked = [c for c in atlas_order(result, plan.name, "strength") if c in wanted]
            for chunk in _chunks(ranked, BATCH_UNITS):
                tiles.compute(result, plan.name, [c for c in chunk if result.top(plan.name, c) and not dead[c]],
                              rule, order)
                for c in chunk:
                    request = {"layer": plan.name, "channel": c, "rule": rule}
                    state = top9_state(result, version, request, tiles, order)
                    top9[str(answer_key("top9", request))] = store.value(state, photos=True)
                tick(len(chunk))
            tiles.top9 = {}  # the atlas pages below show the small tiles
            for sort_by, page in plan.pages:
                request = {"layer": plan.name, "page": page, "rule": rule, "sort_by": sort_by}
                state = layer_atlas_state(result, version, request, tiles, order, page_size=plan.page_size)
                selection = {"layer": plan.name, "layer_atlas_page": page, "rule": rule, "sort_by": sort_by,
                             "layer_atlas_open": True}
                pages[str(answer_key("layer_atlas", selection))] = store.value(state, photos=True)
    return {"top9": top9, "layer_atlas": pages}


def _class_answers(widget: Any, wanted: Sequence[str], store: _Store) -> tuple[list[str], dict[str, Any]]:
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


def _unsaved(plans: list[LayerPlan]) -> dict[str, Any]:
    """What the page shows for a top-9 panel or a layer-atlas page it does not hold (``static-model.js``): a state
    stamped with the selection (each request field read from a selection trait) that says so."""
    if all(not plan.top9 for plan in plans):
        return {}
    return {
        "top9": {"request": {"layer": "layer", "channel": "channel", "rule": "rule"},
                 "message": "Not in this saved page: it holds the top-9 exemplars of the units on the layer atlas's "
                            "first page and of the unit selected when it was saved. Run the notebook to see this "
                            "unit's."},
        "layer_atlas": {"request": {"layer": "layer", "page": "layer_atlas_page", "rule": "rule",
                                    "sort_by": "sort_by"},
                        "message": "Not in this saved page: it holds the layer atlas's first page in strength order "
                                   "(sort the grid by strength). Run the notebook to page through every unit."},
    }


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: nothing in it can close the element."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _front_end() -> tuple[str, str, str]:
    files = [_STATIC / name for name in ("widget.js", "export.js", "widget.css")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise CNNVizError(f"the front end is not built ({', '.join(missing)} missing in {_STATIC}) — run `make js` "
                          "(or `make setup`) in the repository")
    return tuple(f.read_text(encoding="utf-8") for f in files)  # type: ignore[return-value]


def export_html(
    widget: Any,
    path: str | Path,
    *,
    layers: Sequence[str] | str | None = None,
    units: str | None = None,
    rules: Sequence[str] | None = None,
    positions: Sequence[str] = ("max",),
    lossless: bool = False,
    quality: int = 80,
    max_side: int | None = 128,
    title: str | None = None,
    progress: bool | Callable[[int, int], None] = True,
) -> ExportReport:
    """Write ``widget`` as one self-contained HTML file (the module docstring says what it holds).

    Args:
        widget: a :class:`~cnnviz_widget.CNNViz`.
        path: the file to write (``.html``).
        layers: the layers to export: by default one per stage and the selected one (:func:`default_layers`),
            ``"all"`` for every layer the widget lists, or a list of layer names.
        units: which units of those layers: ``"reader"`` (the units a reader clicks: the :data:`STRONGEST` strongest
            on the image, the layer atlas's first page, the selected one) or ``"all"``. Default: ``"reader"`` for
            the default layers, ``"all"`` for layers you name.
        rules: projection rules to precompute (default: the widget's current rule); any of
            ``"deconvnet"``, ``"guided"``, ``"gradient"``. Each one adds a card per unit.
        positions: ``"max"`` (each unit at its strongest location) and/or ``"map"`` (its whole map).
        lossless: store projections as PNG at full size (the widget's exact pixels) instead of WebP (about 5× smaller).
        quality: WebP quality (1–100) of the projections when not lossless.
        max_side: projections larger than this many pixels a side are shrunk to it when not lossless (``None``:
            never).
        title: the page's title (default: model and image names).
        progress: a progress bar (``True``), none (``False``) or ``callback(done, total)`` in unit cards and top-9
            panels.

    Returns:
        An :class:`ExportReport` (its ``str`` is one line: path, size, counts, time).

    Raises:
        LayerError: an unknown layer (the message lists the valid ones).
        ValueError: an unknown rule, position or units.
        CNNVizError: the front end is not built.
        KeyboardInterrupt: the export was interrupted: no file was written.
    """
    start = time.perf_counter()
    ex = widget.explorer
    if layers is None:
        names = default_layers(widget)
    elif isinstance(layers, str) and layers == "all":
        names = list(ex.layer_names)
    elif isinstance(layers, str):
        raise ValueError(f"layers={layers!r}: pass 'all' or a list of layer names (w.explorer.layer_names lists them)")
    else:
        names = list(dict.fromkeys(ex.layer(name).name for name in layers))
    if not names:
        raise ValueError("layers is empty: pass at least one layer name (w.explorer.layer_names lists them)")
    units = ("reader" if layers is None else "all") if units is None else units
    if units not in UNITS:
        raise ValueError(f"unknown units {units!r}; choose among {', '.join(UNITS)}")
    rules = [widget.rule] if rules is None else list(dict.fromkeys(rules))
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; choose among {', '.join(RULES)}")
    positions = list(dict.fromkeys(positions))
    for position in positions:
        if position not in POSITIONS:
            raise ValueError(f"unknown position {position!r}; choose among {', '.join(POSITIONS)}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1–100, not {quality}")
    widget_js, export_js, css = _front_end()
    if "</" in css:
        raise CNNVizError("widget.css contains '</', which would end the page's <style> element — remove it")
    widget.wait_exemplars()  # no panel job may run while this reads the exemplars
    widget.wait_class_evidence()  # the saved state shows the chosen class's answer

    session = widget.session
    plans = {name: plan_layer(widget, name, units) for name in names}
    unit_count = sum(len(plan.cards) for plan in plans.values()) * len(rules) * len(positions)
    exemplar_count = sum(len(plan.top9) for plan in plans.values()) * len(rules)
    total = unit_count + exemplar_count
    done = 0
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="export", unit="unit")

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        elif callable(progress):
            progress(done, total)

    store = _Store(lossless, int(quality), max_side)
    answers: dict[str, dict[str, Any]] = {"atlas": {}, "unit": {}}
    syntheses: dict[str, Any] = {}
    try:
        for name, plan in plans.items():
            answers["atlas"][str(answer_key("atlas", {"layer": name}))] = store.value(
                atlas_state(session.image_id, name, session.activations(name))[0])
            for rule_ in rules:
                for position_ in positions:
                    for chunk in _chunks(plan.cards, BATCH_UNITS):
                        for c, state in zip(chunk, _unit_states(widget, name, chunk, position_, rule_)):
                            key = answer_key("unit", {"layer": name, "channel": c, "position": position_,
                                                      "rule": rule_})
                            answers["unit"][str(key)] = store.value(state)
                        tick(len(chunk))
        if exemplar_count or any(plan.pages for plan in plans.values()):
            answers.update(_exemplar_answers(widget, list(plans.values()), rules, store, tick))
        # Every unit synthesised in this session (of the exported layers) shows its image on the page too.
        for (layer, channel), state in widget.panels.experiments.syntheses_of(ex).items():
            if layer in plans and channel in plans[layer].cards:
                syntheses[str(answer_key("synthesis_result", {"layer": layer, "channel": channel}))] = state
        if syntheses:
            answers["synthesis_result"] = {key: store.value(state) for key, state in syntheses.items()}
        # The reader's page: Grad-CAM where its paper looks (the default layer) and where the widget looks now.
        class_wanted = [widget.class_layer] if units == "reader" else names
        class_layers_saved, class_answers = _class_answers(widget, class_wanted, store)
        if class_answers:
            answers["class_evidence"] = class_answers
    finally:
        if bar is not None:
            bar.close()

    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")
             and k not in ("layout", "tabbable", "tooltip", *_LIVE_ONLY)}
    state["layers"] = [entry for entry in widget.layers if entry["name"] in plans]
    opening = _opening(widget, plans, rules, positions)
    if units == "reader":  # the grid and the layer atlas list what the page holds first
        opening.update(sort_by="strength", layer_atlas_page=0)
    if opening != {k: state[k] for k in opening}:  # open on a unit the page answers, and whose neighbours it answers
        state.update(opening, note={})
    for trait in ("atlas", "unit", "top9", "layer_atlas"):  # the opening selection's answers, as saved
        key = answer_key(trait, state)
        if key is not None and str(key) in answers.get(trait, {}):
            state[trait] = answers[trait][str(key)]
    own = str(answer_key("synthesis_result", state))
    if own in syntheses:  # the page opens on the selected unit's own image
        state["synthesis_result"] = syntheses[own]
    if class_answers:  # the class panel offers the layers the page holds
        state["class_info"] = {**state["class_info"], "layers": class_layers_saved}
        if state["class_layer"] not in class_layers_saved:
            default = state["class_info"]["default_layer"]
            state["class_layer"] = default if default in class_layers_saved else class_layers_saved[0]
        state["class_evidence"] = class_answers.get(str(answer_key("class_evidence", state)), {})
    picture = widget.picture
    about = {"model": widget.model_info.get("name"), "image": picture.get("name"),
             "source": widget.model_info.get("source")}
    holds: dict[str, Any] = {"layers": names, "rules": rules, "positions": positions,
                             "exemplars": [name for name, plan in plans.items() if plan.pages]}
    if units == "reader":
        holds["units"] = {name: plan.cards for name, plan in plans.items()}
        holds["units_note"] = (f"the {STRONGEST} strongest on this image"
                               + (f", the {ATLAS_UNITS} heading the layer atlas" if holds["exemplars"] else "")
                               + " and the one selected")
    document = {
        "format": 2,
        "about": about,
        "keys": ANSWER_KEYS,
        "holds": holds,
        "unsaved": _unsaved(list(plans.values())) if units == "reader" else {},
        "state": {**{k: store.value(v, photos=k in _PHOTO_TRAITS) for k, v in state.items()}, "busy": False,
                  "error": "", "jobs": {kind: job for kind, job in widget.jobs.items()
                                        if job.get("state") not in _UNFINISHED}},
        "answers": answers,
        "blobs": store.blobs,
    }
    page_title = title or f"{about['model']} · {about['image']} — what the network sees"
    page = "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="cnnviz-widget">',
        f"<title>{html.escape(page_title)}</title>",
        f"<style>{css}{_PAGE_CSS}</style>",
        "</head>",
        "<body>",
        '<main id="cnnviz-export"><p>Loading… (this page needs JavaScript)</p></main>',
        f'<script type="application/json" id="cnnviz-widget-module">{_script_json(widget_js)}</script>',
        f'<script type="application/json" id="cnnviz-export-module">{_script_json(export_js)}</script>',
        f'<script type="application/json" id="cnnviz-document">{_script_json(document)}</script>',
        f'<script type="module">{_BOOTSTRAP}</script>',
        "</body>",
        "</html>",
        "",
    ])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    except BaseException:  # an interrupt (or a full disk) mid-write leaves no partial file behind
        tmp.unlink(missing_ok=True)
        raise
    return ExportReport(path=path, size=path.stat().st_size, layers=names, units=unit_count, blobs=len(store.blobs),
                        seconds=time.perf_counter() - start, exemplars=exemplar_count)
