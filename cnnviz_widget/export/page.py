"""The page itself: :func:`export_html` plans, computes and writes one self-contained HTML file (the module
:mod:`cnnviz_widget.export` says what it holds)."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CNNVizError
from ..state.keys import ANSWER_KEYS, answer_key
from ..state.units import atlas_state
from ..views import CROP_CHOICES, DISPLAY_CHOICES, RULE_CHOICES
from .answers import BATCH_UNITS, chunks, class_evidence_answers, exemplar_answers, unit_states, unsaved
from .plan import ATLAS_UNITS, STRONGEST, UNITS, default_layers, opening_selection, plan_layer
from .store import PHOTO_TRAITS, Store, script_json

__all__ = ["POSITIONS", "ExportReport", "export_html"]


_STATIC = Path(__file__).parents[1] / "static"


#: Positions a unit card can be precomputed at (see ``CNNViz.position``).
POSITIONS = ("max", "map")


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


def _front_end() -> tuple[str, str, str]:
    files = [_STATIC / name for name in ("widget.js", "export.js", "widget.css")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise CNNVizError(f"the front end is not built ({', '.join(missing)} missing in {_STATIC}) — run `make js` "
                          "(or `make setup`) in the repository")
    widget, export, css = (f.read_text(encoding="utf-8") for f in files)
    return widget, export, css


def export_html(
    widget: Any,
    path: str | Path,
    *,
    layers: Sequence[str] | str | None = None,
    units: str | None = None,
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
    """Write ``widget`` as one self-contained HTML file (the module docstring says what it holds).

    Args:
        widget: a :class:`~cnnviz_widget.CNNViz`.
        path: the file to write (``.html``).
        layers: the layers to export: by default one per stage and the selected one (:func:`default_layers`),
            ``"all"`` for every layer the widget lists, or a list of layer names.
        units: which units of those layers: ``"reader"`` (the units a reader clicks: the :data:`STRONGEST` strongest
            on the image, the layer atlas's first page, the selected one) or ``"all"``. Default: ``"reader"`` for
            the default layers, ``"all"`` for layers you name.
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
        progress: a progress bar (``True``), none (``False``) or ``callback(done, total)`` in unit cards and top-9
            panels.

    Returns:
        An :class:`ExportReport` (its ``str`` is one line: path, size, counts, time).

    Raises:
        LayerError: an unknown layer (the message lists the valid ones).
        ValueError: an unknown rule, display, crop, position or units.
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

    session = widget.session
    plans = {name: plan_layer(widget, name, units) for name in names}
    unit_count = sum(len(plan.cards) for plan in plans.values()) * len(views) * len(positions)
    exemplar_count = sum(len(plan.top9) for plan in plans.values()) * len(views)
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

    store = Store(lossless, int(quality), max_side)
    answers: dict[str, dict[str, Any]] = {"atlas": {}, "unit": {}}
    syntheses: dict[str, Any] = {}
    try:
        for name, plan in plans.items():
            answers["atlas"][str(answer_key("atlas", {"layer": name}))] = store.value(
                atlas_state(session.image_id, name, session.activations(name))[0])
            for rule_, display_, crop_ in views:
                for position_ in positions:
                    for chunk in chunks(plan.cards, BATCH_UNITS):
                        for c, state in zip(chunk, unit_states(widget, name, chunk, position_, rule_, display_,
                                                                crop_)):
                            key = answer_key("unit", {"layer": name, "channel": c, "position": position_,
                                                      "rule": rule_, "display": display_, "crop": crop_})
                            answers["unit"][str(key)] = store.value(state)
                        tick(len(chunk))
        if exemplar_count or any(plan.pages for plan in plans.values()):
            answers.update(exemplar_answers(widget, list(plans.values()), views, store, tick))
        # Every unit synthesised in this session (of the exported layers) shows its image on the page too.
        for (layer, channel), state in widget.panels.experiments.syntheses_of(ex).items():
            if layer in plans and channel in plans[layer].cards:
                syntheses[str(answer_key("synthesis_result", {"layer": layer, "channel": channel}))] = state
        if syntheses:
            answers["synthesis_result"] = {key: store.value(state) for key, state in syntheses.items()}
        # The reader's page: Grad-CAM where its paper looks (the default layer) and where the widget looks now.
        class_wanted = [widget.class_layer] if units == "reader" else names
        class_layers_saved, class_answers = class_evidence_answers(widget, class_wanted, store)
        if class_answers:
            answers["class_evidence"] = class_answers
    finally:
        if bar is not None:
            bar.close()

    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")
             and k not in ("layout", "tabbable", "tooltip", *_LIVE_ONLY)}
    state["layers"] = [entry for entry in widget.layers if entry["name"] in plans]
    opening = opening_selection(widget, plans, shown, positions)
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
    holds: dict[str, Any] = {"layers": names, "rules": rules, "displays": shown["display"], "crops": shown["crop"],
                             "positions": positions,
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
        "unsaved": unsaved(list(plans.values())) if units == "reader" else {},
        "state": {**{k: store.value(v, photos=k in PHOTO_TRAITS) for k, v in state.items()}, "busy": False,
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
        f'<script type="application/json" id="cnnviz-widget-module">{script_json(widget_js)}</script>',
        f'<script type="application/json" id="cnnviz-export-module">{script_json(export_js)}</script>',
        f'<script type="application/json" id="cnnviz-document">{script_json(document)}</script>',
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
