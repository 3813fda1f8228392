"""Class evidence in the widget: Grad-CAM and guided Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations
from Deep Networks via Gradient-based Localization") of any class at any layer with a spatial map.

The unit card answers "what does this *unit* respond to?" (deconvnet, guided backprop, gradient); this panel answers
"where in the image is the evidence for this *class*?". Click a class among the top-5 predictions (or find any class
by name) and the panel shows the Grad-CAM map over the image with its colour scale, the guided Grad-CAM picture beside
it, and — with the counterfactual toggle — what argues *against* the class (:mod:`~cnnviz_widget.engine.projection.
class_evidence`).

Its share of the protocol with the front end (``js/src/panels/class-evidence.js``; the top-5 list of
``input-panel.js`` sets ``class_target`` too):

* **Selection** — synced both ways, settable and observable from Python: ``class_target`` (a class index, or
  ``None``: no class chosen, nothing computed), ``class_layer`` (a layer with a spatial map; at first the last one,
  ``Explorer.default_layer("grad_cam")``; ``""`` selects that default) and ``class_counterfactual`` (bool: the map of
  negated gradients).
* **Results** — written by Python only:

  - ``class_info``: ``{names, layers, default_layer}``, once per model: the class names (``None`` for a model
    without them: classes are then chosen by index), the layers with a spatial map in forward order, the default.
  - ``class_evidence``: ``{request: {image, target, layer, counterfactual}, state, message, label, input_size,
    map, guided}``, stamped with the selection it answers (``image`` is ``picture.id``); ``{}`` while no class is
    chosen. ``state`` is ``"ready"`` or ``"error"`` (``message`` says why — a model whose output is not class
    scores, say — and the banner says it too). ``map``: the Grad-CAM map at the layer's resolution as
    ``{codes, shape, min, max, colormap}`` (an :func:`.encode.value_map` state without its float ``values``: codes
    ``floor(255 · (v − min) / (max − min) + ½)``; ``Explorer.grad_cam`` gives the values); the front end lays it over
    the image upsampled bilinearly (``align_corners=False``, as ``Explorer.grad_cam(..., upsample=True)``). ``guided``:
    guided Grad-CAM of the class (the positive map's, also when the counterfactual map is shown) as a raw RGB
    picture centred on gray, drawn like the unit card's projections; ``input_size``: ``[H, W]`` of the input.
* **Commands** — none.

Threads: answers are computed in the panel's background :class:`~cnnviz_widget.jobs.JobRunner`, newest selection
first (a burst of clicks computes the last one only; an answer whose selection moved on meanwhile is dropped), so
unit clicks stay as quick as ever. A new image recomputes the chosen class on it. :meth:`ClassEvidencePanel.wait`
waits for the answer.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..engine import Explorer
from ..engine.projection.class_evidence import check_layer as check_map_layer
from ..engine.projection.class_evidence import grad_cam_layer
from ..errors import CNNVizError, LayerError
from ..jobs import Job, JobRunner, Refresh
from ..session import Session, check_layer
from ..state.class_evidence import (
    ClassRequest,
    class_evidence_error,
    class_evidence_state,
    class_info_state,
    class_layers,
)

if TYPE_CHECKING:
    from ..widget import CNNViz

__all__ = ["ClassEvidencePanel", "check_class_layer", "check_class_target"]

_ERROR = "class evidence: "  # how this panel's messages in the banner begin
#: Answers kept (toggling the counterfactual map or going back to a class is instant).
CACHE_ANSWERS = 32
#: Guided Grad-CAM pictures kept as tensors (the counterfactual toggle reuses the class's; each is C×H×W floats).
CACHE_GUIDED = 4


def check_class_target(explorer: Explorer, value: Any) -> int | None:
    """``value`` as a class index of the model (or ``None``); else a ``LayerError`` naming the valid range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LayerError(f"class_target must be a class index (an int) or None, not {value!r}")
    labels = explorer.spec.labels
    if value < 0 or (labels and value >= len(labels)):
        top = f"0–{len(labels) - 1}" if labels else "0 and up"
        raise LayerError(f"class {value} is outside this model's classes {top}; pick one of them "
                         "(w.picture['predictions'] lists the likely ones)")
    return value


def check_class_layer(explorer: Explorer, value: str) -> str:
    """The layer with a spatial map ``value`` selects (``""``: the default one; a container's name: the layer it
    stands for); else a ``LayerError`` naming the fix (a ``ModelError`` if the model has no such layer at all)."""
    layers, default = class_layers(explorer)
    if value == "":
        return default or ""
    name = check_layer(explorer, value)
    if name not in layers:
        check_map_layer(explorer.layer(name), grad_cam_layer(explorer.layers))
    return name


class ClassEvidencePanel:
    """Grad-CAM and guided Grad-CAM of the chosen class (see the module docstring for the protocol)."""

    writes = ("class_info", "class_evidence")
    observes = ("class_target", "class_layer", "class_counterfactual", "picture", "model_info")
    commands = ()

    def __init__(self, session: Session, host: CNNViz) -> None:
        self.session = session
        self.host = host
        self._answers: collections.OrderedDict[ClassRequest, dict[str, Any]] = collections.OrderedDict()
        self._guided: collections.OrderedDict[tuple[int, int, str], torch.Tensor] = collections.OrderedDict()
        self._runner = JobRunner("cnnviz-class-evidence", self._on_job_error)
        self.show_model()

    def show_model(self) -> None:
        """Describe the model shown (its classes and map layers); keep the selected layer if it has one."""
        info = class_info_state(self.session.explorer)
        self.host.class_info = info
        if self.host.class_layer not in info["layers"]:
            self.host.class_layer = info["default_layer"] or ""

    def request(self) -> ClassRequest | None:
        """The stamp of the current selection (``None``: no class chosen, or no image yet)."""
        host, session = self.host, self.session
        image = session.image_id  # read before the input: a new image in between then fails the final check
        if host.class_target is None or session.x is None:
            return None
        return ClassRequest(image, int(host.class_target), host.class_layer, bool(host.class_counterfactual))

    # ------------------------------------------------------------------------------------------ changes
    def on_change(self, name: str, new: Any) -> None:
        if name == "model_info":
            self.show_model()
        self._runner.submit(Refresh("class_evidence", self._refresh))

    def _refresh(self) -> None:
        """Compute the answer to the current selection and show it, unless the selection moved on meanwhile (its
        own refresh is queued then)."""
        request = self.request()
        state = {} if request is None else self._answers.get(request) or self._compute(request)
        if request != self.request():
            return
        host = self.host
        host.set_trait("class_evidence", state)
        if state.get("state") == "error":
            host.error = f"{_ERROR}{state['message']}"
        elif host.error.startswith(_ERROR):  # this panel's own refusal is over
            host.error = ""

    def _compute(self, request: ClassRequest) -> dict[str, Any]:
        start = time.perf_counter()
        session = self.session
        explorer, x = session.explorer, session.require_input()
        labels = explorer.spec.labels
        layer = request.layer or None
        try:
            cam = explorer.grad_cam(x, layer, request.target, counterfactual=request.counterfactual)
            key = (request.image, request.target, request.layer)
            guided = self._guided.get(key)
            if guided is None:
                guided = explorer.guided_grad_cam(x, layer, request.target)
                self._guided[key] = guided
                while len(self._guided) > CACHE_GUIDED:
                    self._guided.popitem(last=False)
            state = class_evidence_state(request, labels, cam, guided, session.channel_order)
        except (CNNVizError, RuntimeError) as exc:
            state = class_evidence_error(request, labels, exc)
        self._answers[request] = state
        while len(self._answers) > CACHE_ANSWERS:
            self._answers.popitem(last=False)
        session.timings.append({"kind": "class", "target": request.target, "layer": request.layer,
                                "counterfactual": request.counterfactual,
                                "ms": (time.perf_counter() - start) * 1e3})
        return state

    def _on_job_error(self, _job: Job, exc: BaseException) -> None:
        self.host.error = f"{_ERROR}{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------------------------------ the panel protocol
    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        pass

    def stop(self) -> None:
        self._runner.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the answer to the current selection is shown; ``False`` if ``timeout`` (seconds) passed first."""
        return self._runner.wait(timeout)
