"""``CNNViz``: the Jupyter widget. Traits, validators and commands; the engine computes, :mod:`.encode` draws.

The protocol with the front end (``js/src/``), in one place:

* **Selection** — synced both ways, set by Python or by a click: ``layer`` (str), ``channel`` (int),
  ``position`` (``"max"`` = the channel's strongest location, ``"map"`` = its whole feature map, or ``[y, x]``),
  ``rule`` (``"deconvnet"`` / ``"guided"`` / ``"gradient"``), ``sort_by`` (``"channel"`` / ``"strength"``).
* **Results** — written by Python only; every panel renders from these alone (so a static page holding them
  renders without a kernel). Each is a dict that may carry ``bytes`` (sent as binary buffers):

  - ``model_info``: ``{name, source, pretrained, input_shape, classes, first_conv}``.
  - ``layers``: ``[{name, kind, label, shape}, ...]`` in forward order.
  - ``picture``: ``{id, name, png, size: [H, W], predictions: [{index, label, probability}, ...]}`` — the image
    as the model sees it; ``id`` increases with every new image.
  - ``atlas``: ``{image, layer, png, count, tile: [h, w], cols, signed, downscale, stats, stats_columns}`` —
    every channel of ``layer`` for picture ``image`` (see :class:`.encode.Atlas`).
  - ``unit``: ``{request: {image, layer, channel, position, rule}, location, field, crop, map, projection,
    stats, input_size}`` — the selected unit (``projection`` shows the ``crop`` box of the input, or all of
    it), *stamped* with the request it answers: the front end paints it only when the stamp equals the current
    selection, so stale answers to rapid clicks are dropped.
  - ``filters``: the first convolution's weights (:class:`.encode.FilterSheet`) plus ``layer``.
  - ``gallery``: ``{names, png, tile, cols}`` — thumbnails of the sample photos.
  - ``top9``, ``layer_atlas``, ``mining``: the dataset exemplars (the paper's Figure 2): the selected unit's
    top-9, a page of the layer atlas (selected by ``layer_atlas_open`` and ``layer_atlas_page``), and where they
    come from — see :mod:`.exemplar_panels`, which also answers the commands ``exemplar`` and ``mining``.
  - ``occlusion_result``, ``invariance_result``, ``evolution_result``, ``synthesis_result``, ``jobs``,
    ``checkpoint``: the paper's experiments (Figs. 7, 5, 4 and activation maximisation) and their runs — see
    :mod:`.experiment_panels`, which also answers the commands ``experiment`` and ``checkpoint``.
  - ``busy`` (bool) while the kernel computes; ``error`` (str, ``""`` = none) for the banner.
* **Commands** — custom messages from the front end: ``{"type": "upload", "name": str}`` with the file's bytes
  as one buffer, and ``{"type": "sample", "index": int}``. Both answer by changing the results above.
  ``{"type": "frame", "seq": int, "camera": str, "taken": ms}`` with a camera frame (JPEG) as one buffer: the new
  image, then the message ``{"type": "frame_done", "seq", "camera"}`` back (that camera sends its next frame only
  then; ``js/src/frame-gate.js``). ``{"type": "save_unit", "id"}``: the message ``{"type": "unit_png", "name", "id"}``
  back with the unit card (:meth:`CNNViz.unit_card`) as one PNG buffer. The HTML export (:mod:`.export`) answers
  none of these: it has no kernel.
"""

from __future__ import annotations

import atexit
import collections
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets
from PIL import Image
from torch import nn

from . import encode
from .engine import DEFAULT_MODEL, RULES, Explorer, ModelSpec, load_image, load_model
from .engine.exemplars.results import Exemplars
from .engine.model.samples import sample_photos
from .errors import CNNVizError, ImageError, LayerError, unknown_name
from .exemplar_panels import ExemplarPanels
from .experiment_panels import ExperimentPanels

__all__ = ["CNNViz"]

_STATIC = Path(__file__).parent / "static"
_NOT_BUILT = """export default { render({ el }) {
  el.textContent = "cnnviz-widget: the front end is not built (no cnnviz_widget/static/widget.js). In the repository: "
    + "make js. Or install a built package: pip install cnnviz-widget.";
} };"""

POSITIONS = ("max", "map")
SORTS = ("channel", "strength")
_CACHE_LAYERS = 8  # activations kept per image (each is one layer's output)
_CACHE_UNITS = 64  # unit cards kept per image (toggling back and forth is instant)
_TIMINGS = 500


def _static(name: str, fallback: str) -> Path | str:
    path = _STATIC / name
    return path if path.is_file() else fallback


class _Position(traitlets.TraitType):
    """A unit's position: ``"max"``, ``"map"`` or ``[y, x]`` (``None`` means ``"map"``, as in the engine).
    Checked against the selected layer by ``CNNViz._validate_position``."""

    default_value = "max"
    info_text = "'max', 'map' or [y, x]"

    def validate(self, obj: Any, value: Any) -> Any:
        return "map" if value is None else value


def _default_name(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return Path(source).name
    return "image"


#: Widgets alive in this process: at exit their background work is stopped and waited for (see _quiesce).
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()
_EXIT_WAIT_S = 10.0


@atexit.register
def _quiesce() -> None:
    """At interpreter exit, cancel what the widgets run in the background (mining, experiments) and let each
    thread finish its current step: a daemon thread killed inside a torch call aborts the process ("terminate
    called without an active exception") instead of exiting cleanly."""
    widgets = list(_LIVE)
    for w in widgets:
        w._stop_background()
    deadline = time.monotonic() + _EXIT_WAIT_S
    for w in widgets:
        w._wait_background(max(0.0, deadline - time.monotonic()))


class CNNViz(ExperimentPanels, ExemplarPanels, anywidget.AnyWidget):
    """See what a CNN has learned: activations, deconvnet projections and filters, clickable, in Jupyter.

    Example::

        from cnnviz_widget import CNNViz
        w = CNNViz()                                       # offline default model + sample photos
        w = CNNViz(model=my_module, image="dog.jpg", layer="layer2.0.conv1")
        w.layer, w.channel, w.image = "features.3", 12, pil_image
        w.observe(lambda change: print(change.new), "channel")
        maps = w.occlusion()                               # the paper's experiments, shown in the widget's panels:
        curves = w.invariance()                            # occlusion, invariance, feature evolution
        result = w.synthesize()                            # (w.evolution(checkpoints, data)) and activation
                                                           # maximisation — see cnnviz_widget.experiment_panels

    Args:
        model: a model name (``"squeezenet1_1"``, the offline default, or a torchvision name), an ``nn.Module``,
            a :class:`~cnnviz_widget.ModelSpec` or an :class:`~cnnviz_widget.Explorer`.
        image: the first image (anything :func:`~cnnviz_widget.load_image` reads); default: the first sample photo.
        layer: the layer shown first (default: the first convolution).
        channel, position, rule: the unit selected first (see the traits).
        preprocess, labels: passed to :func:`~cnnviz_widget.load_model` for an ``nn.Module``.
        gallery: images offered in the gallery (paths, PIL images or ``(name, image)`` pairs); default: the
            sample photos that ship with the installed packages.
        exemplars: dataset exemplars to show (a cache folder written by ``cnnviz mine``, or a mined result);
            see :meth:`load_exemplars`, and :meth:`mine` to mine them from the widget.

    Raises:
        TypeError: an unknown keyword (the message lists the valid ones).
        ImageError: ``image`` cannot be read.
        LayerError: unknown ``layer``, or ``channel``/``position`` outside it.

    Attributes:
        explorer: the engine object behind the widget.
        timings: recent kernel-side compute times, newest last (``{"kind": "unit" | "image", "ms": ...}``;
            ``bench/widget_latency.py`` compares them with what the browser sees).
    """

    _esm = _static("widget.js", _NOT_BUILT)
    _css = _static("widget.css", "")

    # ------------------------------------------------------------------ selection (Python ⇄ front end)
    layer = traitlets.Unicode("").tag(sync=True)
    channel = traitlets.Int(0).tag(sync=True)
    position = _Position().tag(sync=True)
    rule = traitlets.Enum(RULES, default_value="deconvnet").tag(sync=True)
    sort_by = traitlets.Enum(SORTS, default_value="channel").tag(sync=True)
    #: The current image (an RGB PIL image). Set it to anything ``load_image`` reads; observe it like any trait.
    image = traitlets.Any(None, allow_none=True)

    # ------------------------------------------------------------------ results (Python → front end)
    model_info = traitlets.Dict().tag(sync=True)
    layers = traitlets.List().tag(sync=True)
    picture = traitlets.Dict().tag(sync=True)
    atlas = traitlets.Dict().tag(sync=True)
    unit = traitlets.Dict().tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    gallery = traitlets.Dict().tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: str | nn.Module | ModelSpec | Explorer | None = None,
        *,
        image: Any = None,
        layer: str | None = None,
        channel: int = 0,
        position: str | Sequence[int] = "max",
        rule: str = "deconvnet",
        sort_by: str = "channel",
        preprocess: Callable[[Any], torch.Tensor] | None = None,
        labels: Sequence[str] | None = None,
        gallery: Sequence[Any] | None = None,
        exemplars: str | Path | Exemplars | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            valid = ("model", "image", "layer", "channel", "position", "rule", "sort_by", "preprocess", "labels",
                     "gallery", "exemplars")
            raise TypeError(
                f"CNNViz() got unknown keyword{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(k) for k in unknown)}; valid keywords: {', '.join(valid)}"
            )
        self._ready = False
        self._image_id = 0
        self._x: torch.Tensor | None = None
        self._incoming_name: str | None = None
        self._image_name = "image"
        self._acts: collections.OrderedDict[str, torch.Tensor] = collections.OrderedDict()
        self._units: collections.OrderedDict[tuple, dict[str, Any]] = collections.OrderedDict()
        self._atlas_key: tuple | None = None
        self._atlas_stats = None
        self._unit_key: tuple | None = None
        #: Recent kernel-side compute times, newest last: ``{"kind": "unit"|"image", "ms": ..., ...}``.
        self.timings: collections.deque[dict[str, Any]] = collections.deque(maxlen=_TIMINGS)
        super().__init__()
        _LIVE.add(self)
        self._show_model(self._make_explorer(model, preprocess, labels))
        ex = self._explorer
        self._gallery = self._load_gallery(gallery)
        sheet, cols = encode.thumbnail_sheet([img for _, img in self._gallery])
        self.gallery = {"names": [name for name, _ in self._gallery], "png": sheet, "tile": 64, "cols": cols}
        self.on_msg(self._on_message)

        self.layer = layer if layer is not None else ex.first_conv.name
        self.channel = channel
        self.position = position
        self.rule = rule
        self.sort_by = sort_by
        self._ready = True
        if image is None:
            if self._gallery:
                self.set_image(self._gallery[0][1], name=self._gallery[0][0])
            else:
                _, height, width = ex.spec.input_shape
                self.set_image(Image.new("RGB", (width, height), (128, 128, 128)), name="gray")
        else:
            self.set_image(image)
        self._start_exemplar_panels()
        self._start_experiment_panels()
        if exemplars is not None:
            self.load_exemplars(exemplars)

    # ------------------------------------------------------------------------------------------ public
    @property
    def explorer(self) -> Explorer:
        """The engine object behind the widget (for computing what the widget shows, in code)."""
        return self._explorer

    def set_image(self, source: Any, name: str | None = None) -> None:
        """Show a new image, called ``name`` in the widget. Same as ``w.image = source`` apart from the name.

        Raises:
            ImageError: unreadable image; the widget keeps the previous one and shows the error in its banner.
        """
        self._incoming_name = name
        try:
            self.image = source
        finally:
            self._incoming_name = None
        if self.picture and self.picture.get("name") != self._image_name:  # same pixels (no change event), new name
            self.picture = {**self.picture, "name": self._image_name}

    def unit_card(self) -> encode.UnitCard:
        """The selected unit as one picture for slides and handouts: its name, the input with its receptive field, its
        activation map, its projection and image patch, and its top-9 exemplars (projections and patches) when they
        have been mined. ``.image`` is a PIL image, ``.png()`` its bytes; :meth:`save_unit` writes it."""
        self.wait_exemplars()
        self._refresh(busy=False)
        unit, picture, info = self.unit, self.picture, self.model_info
        request = unit.get("request") or {}
        if request.get("image") != picture.get("id"):
            raise CNNVizError("the selected unit could not be computed (see the error banner) — select another one")
        stats = unit["stats"]
        where = (f"at ({unit['location'][0]}, {unit['location'][1]}) of its map" if unit.get("location")
                 else "over its whole map")
        value = f" · value there {stats['value']:.3g}" if stats.get("value") is not None else ""
        lines = [f"{request['rule']} projection {where}{value}",
                 f"max {stats['max']:.3g} · mean {stats['mean']:.3g} · active {100 * stats['fraction_active']:.3g}%"
                 f" · image: {picture.get('name', '')}"]
        top9 = None
        mined = self.top9
        if (mined.get("state") == "ready" and mined.get("request") == {
                "layer": request["layer"], "channel": request["channel"], "rule": request["rule"]}):
            top9 = tuple(encode.sheet_tiles(mined[name], mined["count"], mined["cols"], mined["tile"])
                         for name in ("projections", "patches"))
            lines.append(f"top-{mined['k']} of {mined['stats']['images']} dataset images")
        return encode.unit_card(
            title=f"{info.get('name', 'model')} · {request['layer']} · channel {request['channel']}", lines=lines,
            picture=np.asarray(encode.to_pil(picture["png"])), field=unit.get("field"), crop=unit.get("crop"),
            activation=unit["map"], projection=np.asarray(encode.to_pil(unit["projection"])), top9=top9)

    def save_unit(self, path: str | Path | None = None) -> Path:
        """Write the selected unit's card (:meth:`unit_card`) as a PNG; returns its path (default: a name like
        ``squeezenet1_1-features.6-channel12.png`` in the current folder). The widget's download button saves the same
        picture from the browser."""
        target = Path(path) if path is not None else Path(self._unit_file_name())
        target.write_bytes(self.unit_card().png())
        return target

    def _unit_file_name(self) -> str:
        name = f"{self.model_info.get('name', 'model')}-{self.layer}-channel{self.channel}"
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".png"

    def to_html(self, path: str | Path, *, layers: Sequence[str] | None = None, rules: Sequence[str] | None = None,
                **options: Any) -> Any:
        """Save the widget as one self-contained HTML page that opens without Python (a handout, a slide, a web
        page): the grids, unit cards, projections and — when exemplars were mined — top-9 panels of ``layers``
        stay clickable. Returns an :class:`~cnnviz_widget.export.ExportReport` (path, size, counts).

        Example::

            w.to_html("atlas.html", layers=["features.0", "features.4", "features.7"])

        See :func:`cnnviz_widget.export.export_html` for ``rules``, ``positions``, ``lossless``, ``quality``,
        ``title`` and ``progress``.
        """
        from .export import export_html

        return export_html(self, path, layers=layers, rules=rules, **options)

    # ------------------------------------------------------------------------------------------ setup
    def _show_model(self, ex: Explorer) -> None:
        """Make ``ex`` the widget's model: its description, layers and filters (the image is prepared afresh by the
        caller). Feature evolution swaps in a checkpoint's Explorer this way (:mod:`.experiment_panels`)."""
        self._explorer = ex
        self._channel_order = getattr(ex.spec.preprocess, "channel_order", "RGB")
        self.model_info = {
            "name": ex.spec.name, "source": ex.spec.source, "pretrained": ex.spec.pretrained,
            "input_shape": list(ex.spec.input_shape), "classes": len(ex.spec.labels) if ex.spec.labels else None,
            "first_conv": ex.first_conv.name,
        }
        self.layers = [{"name": i.name, "kind": i.kind, "label": i.label, "shape": list(i.shape)} for i in ex.layers]
        self.filters = {"layer": ex.first_conv.name,
                        **encode.filter_sheet(ex.filters(), self._channel_order).to_state()}

    @staticmethod
    def _make_explorer(model: Any, preprocess: Any, labels: Any) -> Explorer:
        if isinstance(model, Explorer):
            return model
        spec = model if isinstance(model, ModelSpec) else load_model(
            DEFAULT_MODEL if model is None else model, preprocess=preprocess, labels=labels)
        return Explorer(spec, preprocess=preprocess, labels=labels)

    @staticmethod
    def _load_gallery(gallery: Sequence[Any] | None) -> list[tuple[str, Image.Image]]:
        if gallery is None:
            sources = [(photo.name, photo.path) for photo in sample_photos()]
        else:
            sources = [item if isinstance(item, tuple) else (_default_name(item) if isinstance(item, (str, Path))
                                                             else f"image {i}", item)
                       for i, item in enumerate(gallery)]
        loaded = []
        for name, source in sources:
            try:
                loaded.append((str(name), load_image(source, name=str(name))))
            except ImageError as exc:
                warnings.warn(f"gallery: skipped {name!r}: {exc}", stacklevel=3)
        return loaded

    # ------------------------------------------------------------------------------------------ validators
    @traitlets.validate("image")
    def _validate_image(self, proposal: dict[str, Any]) -> Image.Image:
        name = self._incoming_name or _default_name(proposal["value"])
        try:
            img = load_image(proposal["value"], name=name)
        except ImageError as exc:
            self.error = str(exc)
            raise
        self._image_name = name
        return img

    @traitlets.validate("layer")
    def _validate_layer(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name not in self._explorer.layer_names:
            raise LayerError(unknown_name("layer", name, self._explorer.layer_names, listed_by="w.explorer.layer_names"))
        return name

    @traitlets.validate("channel")
    def _validate_channel(self, proposal: dict[str, Any]) -> int:
        channel = proposal["value"]
        channels = self._explorer.layer(self.layer).channels
        if not 0 <= channel < channels:
            raise LayerError(f"channel {channel} is outside layer {self.layer!r}, which has channels 0–{channels - 1}")
        return channel

    @traitlets.validate("position")
    def _validate_position(self, proposal: dict[str, Any]) -> str | list[int]:
        value = proposal["value"]
        if isinstance(value, str):
            if value not in POSITIONS:
                raise LayerError(f"position must be 'max', 'map' or [y, x], not {value!r}")
            return value
        try:
            y, x = (int(v) for v in value)
        except (TypeError, ValueError):
            raise LayerError(f"position must be 'max', 'map' or [y, x], not {value!r}") from None
        info = self._explorer.layer(self.layer)
        height, width = info.spatial
        if len(info.shape) == 1 or not (0 <= y < height and 0 <= x < width):
            raise LayerError(f"position {[y, x]} is outside layer {info.name!r}, whose map is {height}×{width}")
        return [y, x]

    # ------------------------------------------------------------------------------------------ observers
    @traitlets.observe("image")
    def _on_image(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        start = time.perf_counter()
        self.busy = True
        try:
            ex = self._explorer
            self._x = ex.prepare(change["new"])
            self._image_id += 1
            self._acts.clear()
            self._units.clear()
            self._atlas_key = self._unit_key = None
            predictions = [{"index": i, "label": label, "probability": p} for i, label, p in ex.predict(self._x, 5)]
            self.picture = {"id": self._image_id, "name": self._image_name, "png": encode.png(ex.to_pixels(self._x)),
                            "size": list(self._x.shape[1:]), "predictions": predictions}
            self.error = ""
            self._refresh(busy=False)
        finally:
            self.busy = False
        self.timings.append({"kind": "image", "image": self._image_id, "ms": (time.perf_counter() - start) * 1e3})

    @traitlets.observe("layer")
    def _on_layer(self, change: dict[str, Any]) -> None:
        info = self._explorer.layer(change["new"])
        if self.channel >= info.channels:
            self.set_trait("channel", info.channels - 1)
        if isinstance(self.position, list):
            height, width = info.spatial
            y, x = self.position
            if len(info.shape) == 1 or not (y < height and x < width):
                self.set_trait("position", "max")
        self._refresh()

    @traitlets.observe("channel", "position", "rule")
    def _on_selection(self, change: dict[str, Any]) -> None:
        self._refresh()

    # ------------------------------------------------------------------------------------------ commands
    def _on_message(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "upload":
                if not buffers:
                    raise ImageError(f"{content.get('name', 'upload')} arrived without its bytes — try again")
                self.set_image(bytes(buffers[0]), name=str(content.get("name") or "upload"))
            elif kind == "sample":
                index = int(content.get("index", -1))
                if not 0 <= index < len(self._gallery):
                    raise ImageError(f"there is no sample photo {index}; the gallery has {len(self._gallery)}")
                self.set_image(self._gallery[index][1], name=self._gallery[index][0])
            elif kind == "frame":
                self._on_frame(content, buffers)
            elif kind == "save_unit":
                card = self.unit_card()
                self.send({"type": "unit_png", "name": self._unit_file_name(), "id": content.get("id")}, [card.png()])
                return
            else:
                return
            self.error = ""
        except CNNVizError as exc:
            self.error = str(exc)

    def _on_frame(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        """A camera frame: shown as the new image; answered with ``frame_done`` whatever happens, as the front end
        sends its next frame only then (``js/src/webcam.js``)."""
        try:
            if not buffers:
                raise ImageError("a camera frame arrived without its pixels")
            self.set_image(bytes(buffers[0]), name="camera")
        finally:
            self.send({"type": "frame_done", "seq": content.get("seq"), "camera": content.get("camera")})

    # ------------------------------------------------------------------------------------------ computing
    def _request(self) -> tuple:
        position = tuple(self.position) if isinstance(self.position, list) else self.position
        return (self._image_id, self.layer, self.channel, position, self.rule)

    def _activations(self, layer: str) -> torch.Tensor:
        if layer in self._acts:
            self._acts.move_to_end(layer)
        else:
            self._acts[layer] = self._explorer.activations(self._x, [layer])[layer]
            while len(self._acts) > _CACHE_LAYERS:
                self._acts.popitem(last=False)
        return self._acts[layer]

    def _refresh(self, busy: bool = True) -> None:
        """Bring ``atlas`` and ``unit`` up to date with the selection (only what is stale)."""
        if not self._ready or self._x is None:
            return
        atlas_key = (self._image_id, self.layer)
        request = self._request()
        if self._atlas_key == atlas_key and self._unit_key == request:
            return
        if busy:
            self.busy = True
        try:
            if self._atlas_key != atlas_key:
                state, self._atlas_stats = self._atlas_state(self.layer)
                self._atlas_key = atlas_key
                self.atlas = state
            if self._unit_key != request:
                state = self._units.get(request) or self._unit_state(request)
                self._units[request] = state
                while len(self._units) > _CACHE_UNITS:
                    self._units.popitem(last=False)
                self._unit_key = request
                with self.hold_sync():  # the answer and the end of "busy" in one message
                    self.unit = state
                    if busy:
                        self.busy = False
        except (CNNVizError, RuntimeError) as exc:
            self.error = f"could not compute {self.layer} channel {self.channel}: {exc}"
        finally:
            if busy:
                self.busy = False

    def _atlas_state(self, layer: str) -> tuple[dict[str, Any], Any]:
        """The ``atlas`` result for ``layer`` on the current image, and its per-channel statistics."""
        atlas = encode.activation_atlas(self._activations(layer))
        return {"image": self._image_id, "layer": layer, **atlas.to_state()}, atlas.stats

    def _unit_geometry(self, layer: str, channel: int, position: Any) -> tuple[Any, Any, Any]:
        """Where the unit of ``position`` (``"max"``, ``"map"`` or ``(y, x)``) sits on the current image:
        ``(location, field, crop)`` — its map position (``None``: the whole map), its receptive field and the part
        of the input its card shows (``None`` without a location or traced geometry)."""
        ex = self._explorer
        info = ex.layer(layer)
        if len(info.shape) == 1 or position == "map":
            location = None
        elif position == "max":
            fmap = self._activations(layer)[channel]
            location = divmod(int(torch.argmax(fmap)), int(fmap.shape[-1]))
        else:
            location = tuple(position)
        field = None
        if location is not None and info.geometry is not None:
            field = list(ex.receptive_field(layer, location))
        crop = encode.crop_box(field, self._x.shape[1:]) if field is not None else None
        return location, field, crop

    def _unit_state(self, request: tuple, projection: torch.Tensor | None = None) -> dict[str, Any]:
        """The ``unit`` result answering ``request``. ``projection``: the unit's projection when it is computed
        already, cut to the card's crop (as ``Explorer.project_batch(..., boxes=[crop])`` returns it) — the HTML
        export computes them in batches."""
        start = time.perf_counter()
        image_id, layer, channel, position, rule = request
        ex = self._explorer
        fmap = self._activations(layer)[channel]
        location, field, crop = self._unit_geometry(layer, channel, position)
        project_start = time.perf_counter()
        box = None
        if projection is None:
            projection = ex.project(self._x, layer, channel, position=location, rule=rule)
            box = crop
        project_ms = (time.perf_counter() - project_start) * 1e3
        row = self._atlas_stats[channel] if self._atlas_key == (image_id, layer) else None
        if row is None:
            row = encode.channel_stats(fmap[None])[0]
        state = {
            "request": {"image": image_id, "layer": layer, "channel": channel,
                        "position": list(position) if isinstance(position, tuple) else position, "rule": rule},
            "location": list(location) if location is not None else None,
            "field": field,
            "crop": crop,
            "input_size": list(self._x.shape[1:]),
            "map": encode.activation_map(fmap),
            "projection": encode.raw(encode.projection_pixels(projection, self._channel_order, box=box)),
            "stats": {"min": float(row[0]), "max": float(row[1]), "mean": float(row[2]),
                      "fraction_active": float(row[3]),
                      "value": float(fmap[location]) if location is not None else None},
        }
        self.timings.append({"kind": "unit", "layer": layer, "channel": channel, "position": state["location"],
                             "rule": rule, "project_ms": project_ms, "ms": (time.perf_counter() - start) * 1e3})
        return state
