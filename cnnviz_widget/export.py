"""One self-contained HTML page of a widget, to open without Python: ``CNNViz.to_html`` and ``cnnviz export``.

The page holds the bundled front end, the widget's state and every picture inline — no CDN, no kernel — and a
small static model (``js/src/static-model.js``) that answers the page's clicks from results computed here. The
panels are the widget's own and render from that state exactly as they do live.

**What is precomputed** (choices that keep a page of a whole network a reasonable size):

* the activation grid of every exported layer, for the widget's current image;
* a unit card for **every channel** of those layers at its strongest location (``positions=("max",)``; add
  ``"map"`` for the whole-map projections), for the chosen rules, displays and crops (default: the widget's
  current ones, ``"auto"`` included: each layer's default view, :mod:`.views`). Projections
  are computed in batches, one receptive-field crop per unit (:meth:`~.engine.explorer.Explorer.project_batch`); a
  unit that is silent on the image has a zero projection, known without computing it;
* with dataset exemplars in the widget (``w.mine()``, ``w.load_exemplars()``), the top-9 panel of every unit of the
  mined layers and every page of their layer atlas, in both orders. These are many pictures (18 per unit): export
  the layers you will show — a few layers, not all of them;
* the class-evidence panel (Grad-CAM and guided Grad-CAM) of each of the image's top-5 classes — and of the class
  chosen at export time — at every exported layer with a spatial map and at the default Grad-CAM layer, with and
  without the counterfactual map: one batched engine call per layer for all the classes;
* the unit selected at export time, when the page holds it (its rule and position are among those saved);
  otherwise the page opens on the same unit at a saved position and rule (a location picked on the map — as
  opening an exemplar picks one — becomes the unit's strongest location), so its first click is answered.

Another position (a click on the activation map), another rule or a new image needs the kernel: the page's rule and
position buttons it cannot answer are disabled with a title that says so, and its header lists what it can answer.

**Storage.** Binary data is stored once per distinct content and base64-encoded. Pictures of *codes* (activation
maps, atlases: their values are coloured in the page) and the layer-1 filters stay lossless PNG; the unit cards'
RGB projections are WebP at ``quality``, those larger than ``max_side`` pixels shrunk to it (the units of the last
layers see the whole image), and so are the photos: the input, the gallery and the exemplar sheets of the top-9
panels and the layer atlas — unless ``lossless=True``: then every picture is the widget's own, pixel for pixel.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import encode
from .engine import UnitRequest
from .errors import CNNVizError
from .state.class_evidence import ClassRequest, class_evidence_state, class_layers
from .state.exemplars import layer_atlas_state, top9_state
from .state.keys import ANSWER_KEYS, answer_key
from .state.units import atlas_state, silence, unit_request, unit_state
from .views import CROP_CHOICES, DISPLAY_CHOICES, RULE_CHOICES

__all__ = ["ExportReport", "export_html"]

_STATIC = Path(__file__).parent / "static"
#: Positions a unit card can be precomputed at (see ``CNNViz.position``).
POSITIONS = ("max", "map")
#: Units projected per batch.
BATCH_UNITS = 64
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
        units: unit cards precomputed (all layers, rules, displays, crops and positions).
        blobs: distinct binary items stored (pictures, statistics).
        seconds: time taken.
    """

    path: Path
    size: int
    layers: list[str]
    units: int
    blobs: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.path}: {self.size / 1e6:.1f} MB — {len(self.layers)} layers, {self.units} unit cards, "
                f"{self.blobs} pictures and tables, {self.seconds:.0f} s")


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


def _unit_states(widget: Any, layer: str, channels: list[int], position: str, rule: str, display: str,
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


def _opening(widget: Any, names: list[str], shown: dict[str, list[str]], positions: list[str]) -> dict[str, Any]:
    """The selection a saved page opens on: the widget's own where the page holds it, else the nearest it holds —
    an exported layer (its first channel when the layer changes), a saved rule, display and crop (``shown``: the
    saved values of each), a saved position (a location picked on the map, e.g. by opening an exemplar, becomes
    the unit's strongest location or its whole map)."""
    layer = widget.layer if widget.layer in names else names[0]
    own = {trait: getattr(widget, trait) for trait in shown}
    return {"layer": layer, "channel": widget.channel if layer == widget.layer else 0,
            "position": widget.position if widget.position in positions else positions[0],
            **{trait: value if value in shown[trait] else shown[trait][0] for trait, value in own.items()}}


def _displayed_size(top9: dict[str, Any]) -> dict[str, Any]:
    """A top-9 state with its sheets' tiles shrunk to :data:`EXEMPLAR_SIDE` (the panel shows no more pixels)."""
    if "patches" not in top9 or max(top9["tile"]) <= EXEMPLAR_SIDE:
        return top9
    shrunk = dict(top9)
    for name in ("patches", "projections"):
        tiles = encode.sheet_tiles(top9[name], top9["count"], top9["cols"], top9["tile"])
        small = np.stack([encode.fit_picture(tile, EXEMPLAR_SIDE) for tile in tiles])
        shrunk[name] = encode.png(encode.tile_sheet(small, top9["cols"]))
        shrunk["tile"] = list(small.shape[1:3])
    return shrunk


def _exemplar_answers(widget: Any, layers: list[str], views: list[tuple[str, str, str]], store: _Store,
                      tick: Callable[[int], None]) -> dict[str, dict[str, Any]]:
    """Top-9 panels and layer-atlas pages of the mined layers among ``layers`` (see :mod:`.panels.exemplars`), for
    each ``(rule, display, crop)`` of ``views``."""
    panel = widget.panels.exemplars
    result, version = panel.current()
    session = widget.session
    order = session.channel_order
    top9: dict[str, Any] = {}
    pages: dict[str, Any] = {}
    for layer in [name for name in layers if name in result.layer_names]:
        stats = result.stats(layer)
        channels = list(range(int(stats.fired.shape[0])))
        for rule, display, crop in views:
            view = session.view(layer, rule, display, crop)
            shown = {"rule": rule, "display": display, "crop": crop}
            for chunk in _chunks(channels, BATCH_UNITS):
                live = [c for c in chunk if result.top(layer, c) and not stats.dead[c]]
                if live:
                    panel.tiles.get(result, layer, live, view, order)  # one batch; the states below reuse the tiles
                for c in chunk:
                    request = {"layer": layer, "channel": c, **shown}
                    state = top9_state(result, version, request, panel.tiles, order, view)
                    top9[answer_key("top9", request)] = store.value(
                        state if store.lossless else _displayed_size(state), photos=True)
                tick(len(chunk))
            for sort_by in ("channel", "strength"):
                page, count = 0, 1
                while page < count:
                    request = {"layer": layer, "page": page, **shown, "sort_by": sort_by}
                    state = layer_atlas_state(result, version, request, panel.tiles, order, view)
                    selection = {"layer": layer, "layer_atlas_page": page, **shown, "sort_by": sort_by,
                                 "layer_atlas_open": True}
                    pages[str(answer_key("layer_atlas", selection))] = store.value(state, photos=True)
                    count = int(state.get("pages", 1))
                    page += 1
    return {"top9": top9, "layer_atlas": pages}


def _class_answers(widget: Any, names: list[str], store: _Store) -> tuple[list[str], dict[str, Any]]:
    """The class-evidence answers of the top-5 classes (and the chosen one) at the class layers among ``names`` and
    the default one (see :mod:`.panels.class_evidence`); returns the layers answered and the answers by key. A
    layer the engine refuses is left out — all of them for a model whose output is not class scores: the page then
    shows the panel as it was."""
    session = widget.session
    ex, x = session.explorer, session.require_input()
    with_map, default = class_layers(ex)
    layers = [name for name in with_map if name in names or name == default]
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
    layers: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
    displays: Sequence[str] | None = None,
    crops: Sequence[str] | None = None,
    positions: Sequence[str] = ("max",),
    lossless: bool = False,
    quality: int = 80,
    max_side: int | None = 128,
    title: str | None = None,
    progress: bool | Callable[[int, int], None] = True,
) -> ExportReport:
    """Write ``widget`` as one self-contained HTML file (see the module docstring for what it holds).

    Args:
        widget: a :class:`~cnnviz_widget.CNNViz`.
        path: the file to write (``.html``).
        layers: the layers to export (default: every layer the widget lists).
        rules: projection rules to precompute (default: the widget's current rule); any of ``"auto"`` (each
            layer's default, :mod:`.views`), ``"deconvnet"``, ``"guided"``, ``"gradient"``. Each one adds a card per
            unit.
        displays: projection displays to precompute (default: the widget's current one); any of ``"auto"``,
            ``"raw"``, ``"gray"``, ``"norm"``, ``"blurred_norm"``. Each one adds a card per unit and rule.
        crops: crops to precompute (default: the widget's current one); any of ``"auto"``, ``"field"`` (the
            receptive field), ``"center"`` (its central half). Each one adds a card per unit, rule and display.
        positions: ``"max"`` (each unit at its strongest location) and/or ``"map"`` (its whole map).
        lossless: store projections as PNG at full size (the widget's exact pixels) instead of WebP (about 5× smaller).
        quality: WebP quality (1–100) of the projections when not lossless.
        max_side: projections larger than this many pixels a side are shrunk to it when not lossless (``None``:
            never).
        title: the page's title (default: model and image names).
        progress: a progress bar (``True``), none (``False``) or ``callback(done, total)`` in unit cards.

    Returns:
        An :class:`ExportReport` (its ``str`` is one line: path, size, counts, time).

    Raises:
        LayerError: an unknown layer (the message lists the valid ones).
        ValueError: an unknown rule, display, crop or position.
        CNNVizError: the front end is not built.
    """
    start = time.perf_counter()
    ex = widget.explorer
    names = list(ex.layer_names) if layers is None else [ex.layer(name).name for name in layers]
    if not names:
        raise ValueError("layers is empty: pass at least one layer name (w.explorer.layer_names lists them)")
    shown: dict[str, list[str]] = {}
    for trait, asked, choices in (("rule", rules, RULE_CHOICES), ("display", displays, DISPLAY_CHOICES),
                                  ("crop", crops, CROP_CHOICES)):
        shown[trait] = [getattr(widget, trait)] if asked is None else list(dict.fromkeys(asked))
        for value in shown[trait]:
            if value not in choices:
                raise ValueError(f"unknown {trait} {value!r}; choose among {', '.join(choices)}")
        if not shown[trait]:
            raise ValueError(f"{trait}s is empty: pass at least one of {', '.join(choices)}")
    rules = shown["rule"]
    views = [(r, d, c) for r in shown["rule"] for d in shown["display"] for c in shown["crop"]]
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

    exemplars = widget.exemplars
    mined = [n for n in names if exemplars is not None and n in exemplars.layer_names]
    unit_count = sum(ex.layer(n).channels for n in names) * len(views) * len(positions)
    total = unit_count + sum(ex.layer(n).channels for n in mined) * len(views)
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
    session = widget.session
    answers: dict[str, dict[str, Any]] = {"atlas": {}, "unit": {}}
    syntheses: dict[str, Any] = {}
    try:
        for name in names:
            answers["atlas"][str(answer_key("atlas", {"layer": name}))] = store.value(
                atlas_state(session.image_id, name, session.activations(name))[0])
            channels = list(range(ex.layer(name).channels))
            for rule_, display_, crop_ in views:
                for position_ in positions:
                    for chunk in _chunks(channels, BATCH_UNITS):
                        for c, state in zip(chunk, _unit_states(widget, name, chunk, position_, rule_, display_,
                                                                crop_)):
                            key = answer_key("unit", {"layer": name, "channel": c, "position": position_,
                                                      "rule": rule_, "display": display_, "crop": crop_})
                            answers["unit"][str(key)] = store.value(state)
                        tick(len(chunk))
        if mined:
            answers.update(_exemplar_answers(widget, mined, views, store, tick))
        # Every unit synthesised in this session (of the exported layers) shows its image on the page too.
        for (layer, channel), state in widget.panels.experiments.syntheses_of(ex).items():
            if layer in names:
                syntheses[str(answer_key("synthesis_result", {"layer": layer, "channel": channel}))] = state
        if syntheses:
            answers["synthesis_result"] = {key: store.value(state) for key, state in syntheses.items()}
        class_layers_saved, class_answers = _class_answers(widget, names, store)
        if class_answers:
            answers["class_evidence"] = class_answers
    finally:
        if bar is not None:
            bar.close()

    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")
             and k not in ("layout", "tabbable", "tooltip", *_LIVE_ONLY)}
    state["layers"] = [entry for entry in widget.layers if entry["name"] in names]
    opening = _opening(widget, names, shown, positions)
    if opening != {k: state[k] for k in opening}:  # open on a unit the page answers, and whose neighbours it answers
        state.update(opening, note={})
        state["atlas"] = answers["atlas"][str(answer_key("atlas", state))]
        state["unit"] = answers["unit"][str(answer_key("unit", state))]
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
    document = {
        "format": 2,
        "about": about,
        "keys": ANSWER_KEYS,
        "holds": {"layers": names, "rules": rules, "displays": shown["display"], "crops": shown["crop"],
                  "positions": positions, "exemplars": mined},
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
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return ExportReport(path=path, size=path.stat().st_size, layers=names, units=unit_count, blobs=len(store.blobs),
                        seconds=time.perf_counter() - start)
