"""``CNNViz``: the Jupyter widget — its traits (the protocol with the front end), validators, verbs, and the wiring of
its panels. The engine computes, :mod:`.state` builds what the panels show, :mod:`.encode` draws.

The protocol with the front end (``js/src/``):

* **Selection** — synced both ways, set by Python or by a click: ``layer`` (str), ``channel`` (int),
  ``position`` (``"max"`` = the channel's strongest location, ``"map"`` = its whole feature map, or ``[y, x]``),
  how the projection is shown — ``rule`` (``"deconvnet"`` / ``"guided"`` / ``"gradient"``), ``display``
  (``"raw"`` / ``"gray"`` / ``"norm"`` / ``"blurred_norm"``) and ``crop`` (``"field"`` / ``"center"``), each
  ``"auto"`` by default: the layer's default view by depth (:mod:`.views`) — ``sort_by`` (``"channel"`` /
  ``"strength"``),
  ``layer_atlas_open`` and ``layer_atlas_page``; ``class_target``, ``class_layer`` and ``class_counterfactual``
  (:mod:`.panels.class_evidence`).
* **Results** — written by Python only, each by one panel, which documents their formats: ``model_info``,
  ``layers``, ``picture``, ``atlas``, ``unit``, ``filters``, ``gallery``, ``note`` (:mod:`.panels.units`; the
  front end writes ``note`` too, with the selection it clamps); ``top9``,
  ``layer_atlas``, ``mining`` (:mod:`.panels.exemplars`); ``occlusion_result``, ``invariance_result``,
  ``evolution_result``, ``synthesis_result``, ``jobs`` (:mod:`.panels.experiments`); ``checkpoint``
  (:mod:`.panels.checkpoints`); ``class_info``, ``class_evidence`` (:mod:`.panels.class_evidence`). ``busy`` (bool) while the kernel computes and ``error`` (str, ``""`` = none) for
  the banner are any panel's. Every panel renders from these alone, so a static page holding them renders without
  a kernel (:mod:`.export`). Values may carry ``bytes`` (sent as binary buffers). Results that answer a selection
  are *stamped* with it (``request``): the front end paints one only when its stamp matches the current
  selection, so stale answers to rapid clicks are dropped.
* **Commands** — custom messages from the front end, each answered by the one panel that declares its ``type``
  (``upload``, ``sample``, ``frame``, ``save_unit``: :mod:`.panels.units`; ``exemplar``, ``mining``; ``experiment``;
  ``checkpoint``). The HTML export answers none: it has no kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import torch
import traitlets
from PIL import Image
from torch import nn

from . import encode
from .engine import Exemplars, Explorer, Miner, ModelSpec, load_image
from .engine.experiments.evolution import FeatureEvolution
from .engine.experiments.invariance import InvarianceCurves
from .engine.experiments.occlusion import OcclusionMaps
from .engine.experiments.synthesis import AscentParams, SynthesisResult
from .errors import CNNVizError, ImageError
from .jobs import stop_at_exit
from .panels import CheckpointsPanel, ClassEvidencePanel, ExemplarsPanel, ExperimentsPanel, Panels, UnitsPanel
from .panels.class_evidence import check_class_layer, check_class_target
from .panels.experiments import ExperimentJob
from .panels.units import default_name
from .session import Session, check_channel, check_layer, check_position
from .views import CROP_CHOICES, DISPLAY_CHOICES, RULE_CHOICES, View, ViewPolicy

__all__ = ["CNNViz"]

_STATIC = Path(__file__).parent / "static"
_NOT_BUILT = """export default { render({ el }) {
  el.textContent = "cnnviz-widget: the front end is not built (no cnnviz_widget/static/widget.js). In the repository: "
    + "make js. Or install a built package: pip install cnnviz-widget.";
} };"""

SORTS = ("channel", "strength")
_KEYWORDS = ("model", "image", "layer", "channel", "position", "rule", "display", "crop", "sort_by", "preprocess",
             "labels", "input_size", "views", "gallery", "exemplars")


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


class CNNViz(anywidget.AnyWidget):
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
                                                           # maximisation
        w.class_target = 281                               # class evidence: Grad-CAM of "tabby" (a top-5 click)
        w.rule, w.display, w.crop = "deconvnet", "raw", "field"   # the paper's view ("auto": by depth)

    Args:
        model: a model name (``"squeezenet1_1"``, the offline default, or a torchvision name), an ``nn.Module``,
            a :class:`~cnnviz_widget.ModelSpec` or an :class:`~cnnviz_widget.Explorer`.
        image: the first image (anything :func:`~cnnviz_widget.load_image` reads); default: the first sample photo.
        layer: the layer shown first (default: the first convolution).
        channel, position: the unit selected first (see the traits).
        rule, display, crop: how its projection is shown (see the traits); ``"auto"``: the layer's default view,
            by depth (:class:`~cnnviz_widget.views.DepthViews`).
        preprocess, labels: passed to :func:`~cnnviz_widget.load_model` for an ``nn.Module``.
        input_size: the side of the square input of an ``nn.Module`` given without ``preprocess`` (e.g. 28 for a
            Fashion-MNIST net; default 224), passed to :func:`~cnnviz_widget.load_model`.
        gallery: images offered in the gallery (paths, PIL images or ``(name, image)`` pairs); default: 64 photos
            of the demo image pool (:func:`~cnnviz_widget.engine.model.pool.gallery_photos`).
        exemplars: dataset exemplars to show (a cache folder written by ``cnnviz mine``, or a mined result);
            see :meth:`load_exemplars`, and :meth:`mine` to mine them from the widget.
        views: each layer's default view, ``views(explorer, layer_name) -> View`` (default:
            :class:`~cnnviz_widget.views.DepthViews`: the defaults the structure measure chose on the default model,
            generalised by the receptive field's reach; e.g. ``DepthViews(deep_from=0.1)``, or
            ``lambda explorer, layer: PAPER_VIEW`` for the paper's view everywhere).

    Raises:
        TypeError: an unknown keyword (the message lists the valid ones).
        ImageError: ``image`` cannot be read.
        ModelError: the model fails on its input (the message names ``input_size`` and ``preprocess``).
        LayerError: unknown ``layer``, or ``channel``/``position`` outside it.

    Attributes:
        session: the model, the current image and what is cached for it (:class:`~cnnviz_widget.session.Session`).
        panels: the widget's panels (:class:`~cnnviz_widget.panels.Panels`).
        timings: recent kernel-side compute times, newest last (``{"kind": "unit" | "image", "ms": ...}``;
            ``bench/widget_latency.py`` compares them with what the browser sees).
    """

    _esm = _static("widget.js", _NOT_BUILT)
    _css = _static("widget.css", "")

    # ------------------------------------------------------------------ selection (Python ⇄ front end)
    # Not echoed back: the page holds a burst's newest selection unsent while the kernel computes the one before
    # (js/src/lib/selection-gate.js), and the echo of that one would overwrite it.
    layer = traitlets.Unicode("").tag(sync=True, echo_update=False)
    channel = traitlets.Int(0).tag(sync=True, echo_update=False)
    position = _Position().tag(sync=True, echo_update=False)
    #: How the unit card, the top-9 panel and the layer atlas show projections (:mod:`.views`): each ``"auto"`` (the
    #: layer's default view, by depth) or an explicit choice, which a new layer keeps.
    rule = traitlets.Enum(RULE_CHOICES, default_value="auto").tag(sync=True, echo_update=False)
    display = traitlets.Enum(DISPLAY_CHOICES, default_value="auto").tag(sync=True, echo_update=False)
    crop = traitlets.Enum(CROP_CHOICES, default_value="auto").tag(sync=True, echo_update=False)
    sort_by = traitlets.Enum(SORTS, default_value="channel").tag(sync=True)
    layer_atlas_open = traitlets.Bool(False).tag(sync=True)
    layer_atlas_page = traitlets.Int(0).tag(sync=True)
    #: The current image (an RGB PIL image). Set it to anything ``load_image`` reads; observe it like any trait.
    image = traitlets.Any(None, allow_none=True)
    #: Class evidence (:mod:`.panels.class_evidence`): the class whose Grad-CAM is shown (``None``: none), the layer
    #: it is computed at (a layer with a spatial map; ``""``: the default one) and whether the map is the
    #: counterfactual one (what argues against the class).
    class_target = traitlets.Int(None, allow_none=True).tag(sync=True)
    class_layer = traitlets.Unicode("").tag(sync=True)
    class_counterfactual = traitlets.Bool(False).tag(sync=True)

    # ------------------------------------------------------------------ results (Python → front end), by panel
    model_info = traitlets.Dict().tag(sync=True)  # units
    layers = traitlets.List().tag(sync=True)
    picture = traitlets.Dict().tag(sync=True)
    atlas = traitlets.Dict().tag(sync=True)
    unit = traitlets.Dict().tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    gallery = traitlets.Dict().tag(sync=True)
    #: ``{layer, channel, text}`` or ``{}``: a remark on the selection shown beside the layer picker while that unit
    #: is selected — a new layer without the channel moved it to its last one. Set by whichever side clamped.
    note = traitlets.Dict().tag(sync=True, echo_update=False)
    top9 = traitlets.Dict().tag(sync=True)  # exemplars
    layer_atlas = traitlets.Dict().tag(sync=True)
    mining = traitlets.Dict().tag(sync=True)
    occlusion_result = traitlets.Dict().tag(sync=True)  # experiments
    invariance_result = traitlets.Dict().tag(sync=True)
    evolution_result = traitlets.Dict().tag(sync=True)
    synthesis_result = traitlets.Dict().tag(sync=True)
    jobs = traitlets.Dict().tag(sync=True)
    checkpoint = traitlets.Dict().tag(sync=True)  # checkpoints
    class_info = traitlets.Dict().tag(sync=True)  # class evidence
    class_evidence = traitlets.Dict().tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)  # any panel
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: str | nn.Module | ModelSpec | Explorer | None = None,
        *,
        image: Any = None,
        layer: str | None = None,
        channel: int = 0,
        position: str | Sequence[int] = "max",
        rule: str = "auto",
        display: str = "auto",
        crop: str = "auto",
        sort_by: str = "channel",
        preprocess: Callable[[Any], torch.Tensor] | None = None,
        labels: Sequence[str] | None = None,
        input_size: int | None = None,
        gallery: Sequence[Any] | None = None,
        exemplars: str | Path | Exemplars | None = None,
        views: ViewPolicy | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(
                f"CNNViz() got unknown keyword{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(k) for k in unknown)}; valid keywords: {', '.join(_KEYWORDS)}"
            )
        self._incoming_name: str | None = None
        self.session = Session.open(model, preprocess=preprocess, labels=labels, input_size=input_size, views=views)
        super().__init__()
        units = UnitsPanel(self.session, self, gallery)
        exemplar_panel = ExemplarsPanel(self.session, self)
        experiments = ExperimentsPanel(self.session, self)
        self.panels = Panels(units, exemplar_panel, experiments,
                             CheckpointsPanel(self.session, self, units, exemplar_panel, experiments),
                             ClassEvidencePanel(self.session, self))
        stop_at_exit(self.panels)
        self._commands = {command: panel for panel in self.panels for command in panel.commands}
        observed = list(dict.fromkeys(name for panel in self.panels for name in panel.observes))
        self._observers = {name: [p for p in self.panels if name in p.observes] for name in observed}
        self.on_msg(self._dispatch)
        units.show_model(self.session.explorer)

        ex = self.session.explorer
        self.layer = layer if layer is not None else ex.first_conv.name
        self.channel = channel
        self.position = position
        self.rule = rule
        self.display = display
        self.crop = crop
        self.sort_by = sort_by
        self.observe(self._changed, names=observed)
        units.ready = True
        if image is None:
            if units.gallery:
                self.set_image(units.gallery[0][1], name=units.gallery[0][0])
            else:
                _, height, width = ex.spec.input_shape
                self.set_image(Image.new("RGB", (width, height), (128, 128, 128)), name="gray")
        else:
            self.set_image(image)
        if exemplars is not None:
            self.load_exemplars(exemplars)

    # ------------------------------------------------------------------------------------------ the image
    @property
    def explorer(self) -> Explorer:
        """The engine object behind the widget (for computing what the widget shows, in code)."""
        return self.session.explorer

    @property
    def views(self) -> ViewPolicy:
        """What gives each layer's default view (the ``views`` argument; :class:`~cnnviz_widget.views.DepthViews`)."""
        return self.session.views

    def view_of(self, layer: str | None = None) -> View:
        """The view the unit card shows on ``layer`` (default: the selected one): ``rule``, ``display`` and ``crop``
        as selected, each ``"auto"`` resolved to the layer's default.

        Example::

            w.layer = "features.12"
            w.view_of()          # View(rule='guided', display='gray', crop='center')
            w.unit["view"]       # the same, with why, as the card says it
        """
        name = self.layer if layer is None else check_layer(self.session.explorer, layer)
        return self.session.view(name, self.rule, self.display, self.crop)

    @property
    def timings(self) -> Any:
        """Recent kernel-side compute times, newest last (see :attr:`Session.timings`)."""
        return self.session.timings

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
        self.panels.units.rename(self.session.image_name)  # same pixels (no change event), maybe a new name

    @traitlets.validate("image")
    def _validate_image(self, proposal: dict[str, Any]) -> Image.Image:
        name = self._incoming_name or default_name(proposal["value"])
        try:
            img = load_image(proposal["value"], name=name)
        except ImageError as exc:
            self.error = str(exc)
            raise
        self.session.image_name = name
        return img

    @traitlets.observe("image")
    def _on_image(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.panels.units.show_image(change["new"], self.session.image_name)

    # ------------------------------------------------------------------------------------------ the unit card
    def unit_card(self) -> encode.UnitCard:
        """The selected unit as one picture for slides and handouts: its name, the input with its receptive field, its
        activation map, its projection and image patch, and its top-9 exemplars (projections and patches) when they
        have been mined. ``.image`` is a PIL image, ``.png()`` its bytes; :meth:`save_unit` writes it."""
        self.wait_exemplars()
        return self.panels.units.card(self.panels.exemplars.selected_tiles())

    def save_unit(self, path: str | Path | None = None) -> Path:
        """Write the selected unit's card (:meth:`unit_card`) as a PNG; returns its path (default: a name like
        ``squeezenet1_1-features.6-channel12.png`` in the current folder). The widget's download button saves the same
        picture from the browser."""
        target = Path(path) if path is not None else Path(self.panels.units.file_name())
        target.write_bytes(self.unit_card().png())
        return target

    def to_html(self, path: str | Path, *, layers: Sequence[str] | str | None = None,
                rules: Sequence[str] | None = None, **options: Any) -> Any:
        """Save the widget as one self-contained HTML page that opens without Python (a handout, a slide, a web
        page). By default it holds what a reader needs, in seconds: one layer per stage and the selected one, each
        with its grid and the cards (and top-9 exemplars, when mined) of the units a reader clicks; ``layers="all"``
        or a list of layers holds every unit of them. Returns an :class:`~cnnviz_widget.export.ExportReport`.

        Example::

            w.to_html("tour.html")                                          # what a reader needs
            w.to_html("atlas.html", layers=["features.0", "features.4"])    # every unit of two layers

        See :func:`cnnviz_widget.export.export_html` for ``units``, ``rules``, ``displays``, ``crops``,
        ``positions``, ``lossless``, ``quality``, ``title`` and ``progress`` (Ctrl-C stops it and writes nothing).
        """
        from .export import export_html

        return export_html(self, path, layers=layers, rules=rules, **options)

    # ------------------------------------------------------------------------------------------ dataset exemplars
    @property
    def exemplars(self) -> Exemplars | None:
        """The mined result behind the top-9 panel and the layer atlas (a snapshot while a pass runs), or ``None``."""
        return self.panels.exemplars.exemplars

    def mine(self, data: Any = "demo", *, layers: Sequence[str] | None = None, k: int = 9, batch_size: int = 32,
             cache_dir: str | Path | None = None, checkpoint_every: float = 60.0) -> Miner:
        self._refuse_while_checkpoint("mining", "so the exemplars belong to the model")
        return self.panels.exemplars.mine(data, layers=layers, k=k, batch_size=batch_size, cache_dir=cache_dir,
                                          checkpoint_every=checkpoint_every)

    def load_exemplars(self, source: str | Path | Exemplars, *, data: Any = None) -> Exemplars:
        self._refuse_while_checkpoint("loading exemplars", "")
        return self.panels.exemplars.load(source, data=data)

    def wait_exemplars(self, timeout: float | None = None) -> bool:
        """Wait until a running mining pass has ended and the panels answer the current selection.

        Returns ``False`` if ``timeout`` (seconds) passed first.
        """
        return self.panels.exemplars.wait(timeout)

    def _refuse_while_checkpoint(self, what: str, why: str) -> None:
        if self.checkpoint:
            raise CNNVizError(f"checkpoint {self.checkpoint['name']!r} is open — close it (w.close_checkpoint(), or "
                              f"the evolution panel's back button) before {what}{', ' + why if why else ''}")

    # ------------------------------------------------------------------------------------------ the experiments
    @property
    def experiment_results(self) -> dict[str, Any]:
        """The engine results the panels show now, by kind (``OcclusionMaps``, ``InvarianceCurves``,
        ``FeatureEvolution``, ``SynthesisResult``); a kind not run yet is absent."""
        return dict(self.panels.experiments.results)

    def occlusion(self, *, size: int | None = None, stride: int | None = None, target: int | None = None,
                  layer: str | None = None, channel: int | str | None = None,
                  position: tuple[int, int] | str | None = "selected", fill: float | Sequence[float] | None = None,
                  batch_size: int = 64, wait: bool = True) -> OcclusionMaps | ExperimentJob:
        return self.panels.experiments.occlusion(size=size, stride=stride, target=target, layer=layer,
                                                 channel=channel, position=position, fill=fill,
                                                 batch_size=batch_size, wait=wait)

    def invariance(self, *, transforms: Sequence[str] | Mapping[str, Sequence[float]] = ("translate", "scale", "rotate"),
                   layers: Sequence[str] | None = None, target: int | None = None,
                   fill: tuple[int, int, int] | None = None, wait: bool = True) -> InvarianceCurves | ExperimentJob:
        return self.panels.experiments.invariance(transforms=transforms, layers=layers, target=target, fill=fill,
                                                  wait=wait)

    def evolution(self, checkpoints: Sequence[Any] | Mapping[str, Any], data: Any,
                  units: Sequence[tuple[str, int]] | None = None, *, rule: str | None = None, batch_size: int = 32,
                  wait: bool = True) -> FeatureEvolution | ExperimentJob:
        return self.panels.experiments.evolution(checkpoints, data, units, rule=rule, batch_size=batch_size, wait=wait)

    def open_checkpoint(self, checkpoint: int | str, unit: int | None = None) -> None:
        """Switch the widget to a checkpoint of the last :meth:`evolution` result (an index or a name): its weights,
        and — with ``unit`` (a row of the result) — that unit selected on its strongest image at that checkpoint.
        The unit card, the activation grid, the filters and the experiments then show that checkpoint; the dataset
        exemplars (mined with the original weights) are hidden until :meth:`close_checkpoint`."""
        self.panels.checkpoints.open(checkpoint, unit)

    def close_checkpoint(self) -> None:
        """Return from :meth:`open_checkpoint` to the original model, with the image shown before."""
        self.panels.checkpoints.close()

    def synthesize(self, layer: str | None = None, channel: int | None = None, *,
                   position: tuple[int, int] | str | None = "center", seed: int = 0,
                   params: AscentParams | None = None, cache_dir: Any = None,
                   wait: bool = True) -> SynthesisResult | ExperimentJob:
        return self.panels.experiments.synthesize(layer, channel, position=position, seed=seed, params=params,
                                                  cache_dir=cache_dir, wait=wait)

    def cancel_experiments(self, kind: str | None = None) -> None:
        """Cancel the running and queued runs of experiment ``kind`` (default: all)."""
        self.panels.experiments.cancel(kind)

    def wait_experiments(self, timeout: float | None = None) -> bool:
        """Wait until no experiment runs or waits; ``False`` if ``timeout`` (seconds) passed first."""
        return self.panels.experiments.wait(timeout)

    # ------------------------------------------------------------------------------------------ class evidence
    def wait_class_evidence(self, timeout: float | None = None) -> bool:
        """Wait until ``class_evidence`` answers the current class selection (``class_target``, ``class_layer``,
        ``class_counterfactual``, on the current image); ``False`` if ``timeout`` (seconds) passed first.

        Example::

            w.class_target = 281                  # or a click on a class of the top-5
            w.wait_class_evidence()
            w.class_evidence["map"]["values"]     # the Grad-CAM map (float32), as Explorer.grad_cam computes it
        """
        return self.panels.class_evidence.wait(timeout)

    def close(self) -> None:
        """Close the widget; a mining pass stops after its current batch (mining again resumes it), experiments at
        their next step."""
        for panel in getattr(self, "panels", ()):  # absent when the constructor failed
            panel.stop()
        super().close()

    # ------------------------------------------------------------------------------------------ wiring
    def _changed(self, change: dict[str, Any]) -> None:
        """Tell the panels that observe a trait of its change, in the wiring order (:class:`Panels`)."""
        for panel in self._observers[change["name"]]:
            panel.on_change(change["name"], change["new"])

    def _dispatch(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        """Every message from the front end, to the one panel that answers its ``type``; its refusal to the banner."""
        if not isinstance(content, dict) or content.get("type") not in self._commands:
            return
        try:
            self._commands[content["type"]].on_command(content, buffers)
        except CNNVizError as exc:
            self.error = str(exc)

    # ------------------------------------------------------------------------------------------ validators
    @traitlets.validate("layer")
    def _validate_layer(self, proposal: dict[str, Any]) -> str:
        return check_layer(self.session.explorer, proposal["value"])

    @traitlets.validate("channel")
    def _validate_channel(self, proposal: dict[str, Any]) -> int:
        return check_channel(self.session.explorer, self.layer, proposal["value"])

    @traitlets.validate("position")
    def _validate_position(self, proposal: dict[str, Any]) -> str | list[int]:
        return check_position(self.session.explorer, self.layer, proposal["value"])

    @traitlets.validate("class_target")
    def _validate_class_target(self, proposal: dict[str, Any]) -> int | None:
        return check_class_target(self.session.explorer, proposal["value"])

    @traitlets.validate("class_layer")
    def _validate_class_layer(self, proposal: dict[str, Any]) -> str:
        try:
            return check_class_layer(self.session.explorer, proposal["value"])
        except CNNVizError as exc:  # a layer without a map: said in the banner too
            self.error = f"class evidence: {exc}"
            raise


# The verbs' documentation lives with their implementation, once; the widget's verbs show it.
for _verb, _implementation in (("mine", ExemplarsPanel.mine), ("load_exemplars", ExemplarsPanel.load),
                               ("occlusion", ExperimentsPanel.occlusion), ("invariance", ExperimentsPanel.invariance),
                               ("evolution", ExperimentsPanel.evolution), ("synthesize", ExperimentsPanel.synthesize)):
    getattr(CNNViz, _verb).__doc__ = _implementation.__doc__
