"""The paper's experiments in the widget: occlusion (Zeiler & Fergus Fig. 7), invariance (Fig. 5), feature evolution
during training (Fig. 4) and activation maximisation (the Deep Visualization Toolbox).

Each experiment is a verb of the widget — :meth:`~cnnviz_widget.CNNViz.occlusion`,
:meth:`~cnnviz_widget.CNNViz.invariance`, :meth:`~cnnviz_widget.CNNViz.evolution`,
:meth:`~cnnviz_widget.CNNViz.synthesize` — that runs its engine function in the panel's background
:class:`~cnnviz_widget.jobs.JobRunner` and returns the engine's result (or, with ``wait=False``, an
:class:`ExperimentJob` at once), and a panel in the front end with a run button, a progress bar and a cancel button
(``js/src/panels/occlusion.js``, ``invariance.js``, ``evolution.js``; ``synthesis.js`` inside the unit card).

Its share of the protocol with the front end:

* **Results** — written by Python only, each *stamped* with ``request``: what it answers, with ``id``, the number of
  the run (it grows with every run of any experiment). A failed or cancelled run leaves the result as it was.

  - ``occlusion_result``: ``{request: {id, image, image_name, size, stride, target, layer, channel, position}, model, size,
    stride, tops, lefts, input_size: [H, W], image, fill, target, target_label, reference: {probability, top_class,
    top_label, activation}, feature, maps: {probability, activation, top_probability, top_class}}``. ``image``: the
    input as the model saw it (PNG) — the occluder of map cell ``(i, j)`` covers rows ``tops[i]…tops[i]+size`` and
    columns ``lefts[j]…lefts[j]+size`` of it (cut at the border), painted in ``fill`` (``[r, g, b]``), so the page
    draws the occluded image itself. ``feature``: ``{layer, channel, position}`` of map (a), ``None`` without one.
    ``maps.probability`` (b), ``maps.activation`` (a, or ``None``) and ``maps.top_probability`` are
    :func:`.encode.value_map` states (codes stretched min…max, float32 values); ``maps.top_class`` (c) is an
    :func:`.encode.class_map` state (legend codes, ``classes: [[index, name, count], ...]``, int32 indices).
  - ``invariance_result``: ``{request: {id, image, image_name, transforms, layers, target}, model, layers, target,
    target_label, reference_probability, reference_norm: {layer: float}, canonical, tile: [h, w], fill, classes:
    [[index, name], ...], curves: [{transform, unit, count, values, distance: {layer: bytes}, probability,
    top_class, top_probability, cols, images}, ...]}``. Curves' arrays are little-endian float32 bytes (``top_class``
    int32) of ``count`` values; ``images`` is a PNG sheet of ``count`` tiles of ``tile`` px, ``cols`` a row, each
    transformed image as the model saw it (shrunk to :data:`.encode.INVARIANCE_TILE`), ``canonical`` the original
    at the same size.
  - ``evolution_result``: ``{request: {id, checkpoints, units, rule, dataset}, model, checkpoints, rule, dataset, values,
    units: [{layer, channel, tile: [h, w], box: [h, w], patches, projections, cells: [{id, index, position, value,
    label_name} | None, ...]}, ...]}``: one row per unit, one column per checkpoint. ``values``: float32
    ``[units, checkpoints]`` (NaN: no cell); each unit's ``patches`` / ``projections`` are PNG sheets of one row of
    ``len(checkpoints)`` tiles.
  - ``synthesis_result``: ``{request: {id, model, layer, channel, position, seed}, image, field, input_size, activation,
    history, steps, from_cache}``: the image that maximises the unit, cropped to its receptive field ``field``
    (PNG), and the activation at each ascent step (float32 ``history``). The unit card paints it when ``request``
    names the selected unit of the current model (``model_info.name``); a unit synthesised before is shown again as
    soon as it is selected.
  - ``jobs``: ``{kind: {id, state, done, total, message}}`` for ``kind`` in :data:`KINDS`: the latest run of each
    experiment. ``state``: ``"queued"``, ``"running"``, ``"cancelling"``, ``"done"``, ``"cancelled"`` or
    ``"failed"`` (``message`` says why; the error banner too).
  - ``checkpoint``: ``{name, column, evolution, model}`` while a checkpoint of the feature-evolution result is open
    (see :mod:`.checkpoints`), else ``{}``.
* **Commands** — ``{"type": "experiment", "action": "run", "kind", "params": {...}}`` runs an experiment on the
  current image / selected unit (occlusion ``params``: ``size``, ``stride``, ``target``; invariance: ``target``;
  synthesis: ``seed``; evolution: none — the checkpoints and data of the last :meth:`~cnnviz_widget.CNNViz.evolution`,
  the selected layer's units); ``{"type": "experiment", "action": "cancel", "kind"}``;
  ``{"type": "checkpoint", "action": "open", "column", "unit"}`` and ``{"type": "checkpoint", "action": "close"}``
  (:mod:`.checkpoints`).

Threads: runs happen one at a time in the panel's background thread, oldest first; a new run of an experiment
replaces its queued run and cancels its running one (the newest request wins), so the widget stays responsive and
only the last answer of a burst is computed. The engine's hooks ignore other threads' passes, so clicking units
meanwhile works as usual.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..engine import Explorer
from ..engine.exemplars.datasets import ImageDataset, open_dataset
from ..engine.experiments.common import paper_layers
from ..engine.experiments.evolution import FeatureEvolution, feature_evolution
from ..engine.experiments.invariance import InvarianceCurves, invariance_curves
from ..engine.experiments.occlusion import OcclusionMaps, occlusion_maps
from ..engine.experiments.synthesis import AscentParams, SynthesisResult, synthesize
from ..engine.progress import Cancelled
from ..errors import CNNVizError
from ..jobs import Job, JobRunner
from ..session import Session
from ..state import experiments as states

if TYPE_CHECKING:
    from ..widget import CNNViz

__all__ = ["EVOLUTION_UNITS", "KINDS", "ExperimentJob", "ExperimentsPanel"]

#: The experiments, in the order their panels appear.
KINDS = ("occlusion", "invariance", "evolution", "synthesis")
#: Units shown by default by :meth:`~cnnviz_widget.CNNViz.evolution`: the selected one and the next ones of its layer.
EVOLUTION_UNITS = 4
_PROGRESS_EVERY = 0.25  # seconds between progress updates sent to the front end
_SYNTHESES_KEPT = 64  # synthesis states kept per widget, to show a unit's image again when it is selected
_ACTIVE = ("queued", "running", "cancelling")


class ExperimentJob:
    """One run of an experiment in the widget's background thread (the verbs return it with ``wait=False``).

    Attributes:
        kind: ``"occlusion"``, ``"invariance"``, ``"evolution"`` or ``"synthesis"``.
        id: the run's number (the ``request.id`` its result is stamped with).
        request: what it computes (the stamp).
    """

    def __init__(self, kind: str, id: int, request: dict[str, Any], work: Callable[..., Any],
                 publish: Callable[[Any], dict[str, Any]], execute: Callable[[ExperimentJob], None],
                 shown: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.kind = kind
        self.id = id
        self.request = request
        self.work = work
        self.publish = publish
        self.shown = shown
        self._execute = execute
        self.cancel_event = threading.Event()
        self.future: Future = Future()

    def __repr__(self) -> str:
        state = "done" if self.done() else "cancelling" if self.cancel_event.is_set() else "pending"
        return f"<ExperimentJob {self.kind} #{self.id} {state}>"

    def run(self) -> None:
        self._execute(self)

    def cancel(self) -> None:
        """Stop the run at its next step (or before it starts); :meth:`result` then raises ``Cancelled``."""
        self.cancel_event.set()

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def done(self) -> bool:
        """Whether the run has ended (finished, failed or cancelled)."""
        return self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the engine's result and return it.

        Raises:
            Cancelled: the run was cancelled (or replaced by a newer run of the same experiment before it started).
            CNNVizError: the engine refused the request (its message names the fix).
            TimeoutError: ``timeout`` seconds passed first.
        """
        return self.future.result(timeout)


class ExperimentsPanel:
    """The paper's experiments (see the module docstring for the protocol). The verbs are the widget's."""

    writes = ("occlusion_result", "invariance_result", "evolution_result", "synthesis_result", "jobs")
    observes = ("layer", "channel")
    commands = ("experiment",)

    def __init__(self, session: Session, host: CNNViz) -> None:
        self.session = session
        self.host = host
        self.results: dict[str, Any] = {}
        #: The dataset of the feature-evolution result shown (its cells' images are read from it).
        self.evolution_data: ImageDataset | None = None
        self.evolution_args: dict[str, Any] | None = None
        self._lock = threading.RLock()
        self._next_id = 0
        self._latest: dict[str, int] = {}
        self._syntheses: collections.OrderedDict[tuple[int, str, int], dict[str, Any]] = collections.OrderedDict()
        self._synthesis_settings: dict[str, Any] = {"position": "center", "params": None, "cache_dir": None}
        self._runner = JobRunner("cnnviz-experiments", self._on_job_error, on_drop=self._dropped)

    # ------------------------------------------------------------------------------------------ the verbs
    def occlusion(self, *, size: int | None = None, stride: int | None = None, target: int | None = None,
                  layer: str | None = None, channel: int | str | None = None,
                  position: tuple[int, int] | str | None = "selected", fill: float | Sequence[float] | None = None,
                  batch_size: int = 64, wait: bool = True) -> OcclusionMaps | ExperimentJob:
        """Slide a gray square over the current image and map what the network sees (Zeiler & Fergus, Fig. 7).

        The widget's occlusion panel shows the three maps over the image: (a) the total activation of the selected
        feature map (or of the picked unit), (b) the probability of ``target``, (c) the most probable class; hover
        a map to see the occluded image there. See :func:`~cnnviz_widget.engine.experiments.occlusion.occlusion_maps`.

        Args:
            size, stride: the occluder's side and step in model-input pixels; default ``size`` ≈ a fifth of the
                input (48 on a 227-pixel input), ``stride`` a third of ``size``.
            target: the class whose probability is mapped (the correct class, if known); default: the predicted one.
            layer, channel: the feature map of map (a); default: the selected unit's (``channel="max"``: the
                strongest map).
            position: ``"selected"`` (default): the picked unit when a position is picked on ``layer``, else the
                map's total activation; ``None``, ``(y, x)`` or ``"max"`` as in the engine.
            fill, batch_size: as in the engine (``fill`` default: the dataset mean).
            wait: block until done and return the maps (default); ``False`` returns an
                :class:`~cnnviz_widget.panels.experiments.ExperimentJob`.

        Raises:
            CNNVizError: the occluder is larger than the input, a zero stride, an unknown class (also shown in the
                widget's banner; the panel keeps its last maps).
        """
        host = self.host
        ex, x = self.session.explorer, self.session.require_input()
        height, width = int(x.shape[1]), int(x.shape[2])
        if size is None:
            size = max(1, round(min(height, width) * 48 / 227))
        if stride is None:
            stride = max(1, round(size / 3))
        layer = host.layer if layer is None else layer
        channel = host.channel if channel is None and layer == host.layer else channel
        channel = "max" if channel is None else channel
        if isinstance(position, str) and position == "selected":
            picked = host.position
            position = tuple(picked) if isinstance(picked, list) and layer == host.layer else None
        picture = host.picture
        request = {"image": picture.get("id"), "image_name": picture.get("name"), "size": size, "stride": stride,
                   "target": target, "layer": layer, "channel": channel,
                   "position": list(position) if isinstance(position, tuple) else position}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> OcclusionMaps:
            return occlusion_maps(ex, x, size=size, stride=stride, target=target, layer=layer, channel=channel,
                                  position=position, fill=fill, batch_size=batch_size, progress=progress,
                                  cancel=cancel)

        return self._submit("occlusion", request, work, lambda maps: states.occlusion_state(ex, maps), wait)

    def invariance(self, *, transforms: Sequence[str] | Mapping[str, Sequence[float]] = ("translate", "scale", "rotate"),
                   layers: Sequence[str] | None = None, target: int | None = None,
                   fill: tuple[int, int, int] | None = None, wait: bool = True) -> InvarianceCurves | ExperimentJob:
        """Translate, scale and rotate the current image and follow its features and prediction (Fig. 5).

        The invariance panel plots, for each transform, the Euclidean distance between the feature vectors of the
        original and the transformed image at each layer, and the probability of ``target``, with the canonical
        and the transformed image side by side on a slider. See
        :func:`~cnnviz_widget.engine.experiments.invariance.invariance_curves`.

        Args:
            transforms: names (the paper's sweeps) or ``{name: amounts}``.
            layers: the layers compared; default: the paper's (the first convolution and the penultimate layer) and
                the selected layer.
            target: the true class, if known; default: the predicted one.
            fill: RGB colour of uncovered areas (default: the preprocessing's mean colour).
            wait: block until done and return the curves (default); ``False`` returns an ``ExperimentJob``.
        """
        host = self.host
        ex, x = self.session.explorer, self.session.require_input()
        image, selected, picture = host.image, host.layer, host.picture
        model_name = host.model_info.get("name")
        request = {"image": picture.get("id"), "image_name": picture.get("name"), "transforms": list(transforms),
                   "layers": list(layers) if layers is not None else None, "target": target}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> InvarianceCurves:
            chosen = list(layers) if layers is not None else list(dict.fromkeys([*paper_layers(ex, x), selected]))
            return invariance_curves(ex, image, transforms=transforms, layers=chosen, target=target, fill=fill,
                                     progress=progress, cancel=cancel)

        return self._submit("invariance", request, work, lambda curves: states.invariance_state(model_name, curves),
                            wait)

    def evolution(self, checkpoints: Sequence[Any] | Mapping[str, Any], data: Any,
                  units: Sequence[tuple[str, int]] | None = None, *, rule: str | None = None, batch_size: int = 32,
                  wait: bool = True) -> FeatureEvolution | ExperimentJob:
        """How the chosen units' favourite inputs form during training (Fig. 4): for each checkpoint, each unit's
        strongest activation over ``data`` with its projection and image patch.

        The evolution panel shows a units × checkpoints grid; **clicking a cell opens that checkpoint's unit card**:
        the widget switches to that checkpoint's weights (its name in the header shows ``@ checkpoint``), shows the
        cell's image with the unit selected at its position, and the panel's "back" button returns to the
        original model (:meth:`open_checkpoint`, :meth:`close_checkpoint`). See
        :func:`~cnnviz_widget.engine.experiments.evolution.feature_evolution`.

        Args:
            checkpoints: in training order: paths to state dicts, state dicts or modules of this architecture; or
                ``{name: checkpoint}``.
            data: the images to search (anything :func:`~cnnviz_widget.engine.exemplars.datasets.open_dataset` reads).
            units: ``[(layer, channel), ...]``; default: the selected unit and the next ones of its layer
                (:data:`~cnnviz_widget.panels.experiments.EVOLUTION_UNITS` in all).
            rule: projection rule; default: the one the unit card shows (the widget's ``rule``, or the selected
                layer's default for ``"auto"``).
            wait: block until done and return the result (default); ``False`` returns an ``ExperimentJob``.

        Raises:
            ModelError: a checkpoint of another architecture (the message names the mismatched keys).
        """
        host = self.host
        ex = self.session.original
        if units is None:
            count = ex.layer(host.layer).channels
            units = [(host.layer, (host.channel + i) % count) for i in range(min(EVOLUTION_UNITS, count))]
        unit_list = [(str(layer), int(channel)) for layer, channel in units]
        rule = rule or self.session.view(host.layer, host.rule, "auto", "auto").rule
        dataset = open_dataset(data)
        self.evolution_args = {"checkpoints": checkpoints, "data": dataset, "rule": rule, "batch_size": batch_size}
        request = {"units": [list(u) for u in unit_list], "rule": rule, "dataset": dataset.name}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> FeatureEvolution:
            return feature_evolution(ex, checkpoints, dataset, unit_list, rule=rule, batch_size=batch_size,
                                     progress=progress, cancel=cancel)

        def publish(result: FeatureEvolution) -> dict[str, Any]:
            self.evolution_data = dataset
            return states.evolution_state(ex, dataset.name, result)

        return self._submit("evolution", request, work, publish, wait)

    def synthesize(self, layer: str | None = None, channel: int | None = None, *,
                   position: tuple[int, int] | str | None = "center", seed: int = 0,
                   params: AscentParams | None = None, cache_dir: Any = None,
                   wait: bool = True) -> SynthesisResult | ExperimentJob:
        """Synthesise the image that maximises a unit (default: the selected one) by regularised gradient ascent,
        and show it in the unit card beside its projection and top-9. Seeded (the same seed gives the same image)
        and cached per unit: selecting the unit again shows it at once. The card's button runs this with the
        ``position``, ``params`` and ``cache_dir`` of the last call. See
        :func:`~cnnviz_widget.engine.experiments.synthesis.synthesize`.

        Args:
            layer, channel: the unit; default: the selected one.
            position: ``"center"`` (the unit at the centre of its map), ``(y, x)`` or ``None`` (the whole channel).
            seed: seeds the starting noise and the jitter.
            params: ascent settings (:class:`~cnnviz_widget.engine.experiments.synthesis.AscentParams`).
            cache_dir: also keep results as files here (reused across sessions).
            wait: block until done and return the result (default); ``False`` returns an ``ExperimentJob``.

        Raises:
            SynthesisDiverged: the ascent produced NaN (nothing is cached; the banner says so too).
        """
        host = self.host
        ex = self.session.explorer
        layer = host.layer if layer is None else layer
        channel = host.channel if channel is None else int(channel)
        self._synthesis_settings = {"position": position, "params": params, "cache_dir": cache_dir}
        request = {"model": host.model_info.get("name"), "layer": layer, "channel": channel,
                   "position": list(position) if isinstance(position, tuple) else position, "seed": int(seed)}
        memo = (id(ex), layer, channel)

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> SynthesisResult:
            return synthesize(ex, layer, channel, position, params=params, seed=seed, cache_dir=cache_dir,
                              progress=progress, cancel=cancel)

        def shown(state: dict[str, Any]) -> None:
            self._syntheses[memo] = state
            self._syntheses.move_to_end(memo)
            while len(self._syntheses) > _SYNTHESES_KEPT:
                self._syntheses.popitem(last=False)

        return self._submit("synthesis", request, work, states.synthesis_state, wait, shown)

    def cancel(self, kind: str | None = None) -> None:
        """Cancel the running and queued runs of experiment ``kind`` (default: all)."""
        for job in self._runner.cancel(kind):
            if isinstance(job, ExperimentJob):
                self._set_job(job, "cancelling", keep_progress=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no experiment runs or waits; ``False`` if ``timeout`` (seconds) passed first."""
        return self._runner.wait(timeout)

    def stop(self) -> None:
        self._runner.cancel()

    def syntheses_of(self, explorer: Explorer) -> dict[tuple[str, int], dict[str, Any]]:
        """The ``synthesis_result`` states shown so far for units of ``explorer``, by ``(layer, channel)``."""
        return {(layer, channel): state for (model, layer, channel), state in list(self._syntheses.items())
                if model == id(explorer)}

    def show_synthesis(self) -> None:
        """Show the selected unit's synthesised image again if it was made before (the front end paints it only
        when its stamp names the selected unit of the current model)."""
        host = self.host
        state = self._syntheses.get((id(self.session.explorer), host.layer, host.channel))
        if state is not None and state is not host.synthesis_result:
            host.synthesis_result = state

    def on_change(self, name: str, new: Any) -> None:
        self.show_synthesis()

    # ------------------------------------------------------------------------------------------ jobs
    def _submit(self, kind: str, request: dict[str, Any], work: Callable[..., Any],
                publish: Callable[[Any], dict[str, Any]], wait: bool,
                shown: Callable[[dict[str, Any]], None] | None = None) -> Any:
        with self._lock:
            self._next_id += 1
            job = ExperimentJob(kind, self._next_id, {"id": self._next_id, **request}, work, publish, self._execute,
                                shown)
            self._latest[kind] = job.id
            self._set_job(job, "queued")
        self._runner.submit(job, preempt=True)
        if not wait:
            return job
        try:
            return job.result()
        except KeyboardInterrupt:  # the kernel was interrupted: stop the run too
            job.cancel()
            raise

    def _set_job(self, job: ExperimentJob, state: str, done: int = 0, total: int = 0, message: str = "",
                 keep_progress: bool = False) -> None:
        """Show ``job``'s state in ``jobs`` if it is its kind's latest run (an older run's news is nobody's)."""
        with self._lock:
            if self._latest.get(job.kind) != job.id:
                return
            jobs = self.host.jobs
            old = jobs.get(job.kind, {})
            if keep_progress and old.get("id") == job.id:
                done, total = old.get("done", 0), old.get("total", 0)
                if old.get("state") not in _ACTIVE:
                    return
            self.host.jobs = {**jobs, job.kind: {"id": job.id, "state": state, "done": done, "total": total,
                                                 "message": message}}

    def _dropped(self, job: Job) -> None:
        """A queued job replaced or cancelled before it started."""
        if not isinstance(job, ExperimentJob):
            return
        self._set_job(job, "cancelled")
        if not job.done():
            job.future.set_exception(Cancelled(f"{job.kind} was cancelled before it started"))

    def _on_job_error(self, job: Job, exc: BaseException) -> None:
        self.host.error = f"{job.kind}: {type(exc).__name__}: {exc}"

    def _execute(self, job: ExperimentJob) -> None:
        if job.done():
            return
        if job.cancelled():
            self._dropped(job)
            return
        last = [-float("inf")]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= _PROGRESS_EVERY or done >= total:
                last[0] = now
                self._set_job(job, "cancelling" if job.cancelled() else "running", done, total)

        self._set_job(job, "running")
        try:
            result = job.work(progress, job.cancel_event)
            if job.cancelled():
                raise Cancelled(f"{job.kind} was cancelled")
            with self._lock:
                latest = self._latest.get(job.kind) == job.id
            if latest:
                state = {"request": job.request, **job.publish(result)}
                # The answer first, then the end of the run (hold_sync is not safe across threads): the front end
                # paints an answer stamped with the run in progress.
                with self._lock:
                    if self._latest.get(job.kind) == job.id:
                        self.results[job.kind] = result
                        self.host.set_trait(f"{job.kind}_result", state)
                        self._set_job(job, "done", *self._progress_of(job))
                        if job.shown is not None:
                            job.shown(state)
        except Cancelled as exc:
            self._set_job(job, "cancelled", *self._progress_of(job))
            job.future.set_exception(exc)
            return
        except Exception as exc:  # shown in the banner; the panel keeps its last result
            message = str(exc) if isinstance(exc, CNNVizError) else f"{type(exc).__name__}: {exc}"
            self._set_job(job, "failed", *self._progress_of(job), message=message)
            with self._lock:
                if self._latest.get(job.kind) == job.id:
                    self.host.error = f"{job.kind}: {message}"
            job.future.set_exception(exc)
            return
        job.future.set_result(result)

    def _progress_of(self, job: ExperimentJob) -> tuple[int, int]:
        old = self.host.jobs.get(job.kind, {})
        return (old.get("done", 0), old.get("total", 0)) if old.get("id") == job.id else (0, 0)

    # ------------------------------------------------------------------------------------------ commands
    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("kind")
        if kind not in KINDS:
            raise CNNVizError(f"unknown experiment {kind!r}; the widget runs {', '.join(KINDS)}")
        action = content.get("action")
        if action == "cancel":
            self.cancel(kind)
        elif action == "run":
            self._run_from_panel(kind, content.get("params") or {})

    def _run_from_panel(self, kind: str, params: dict[str, Any]) -> None:
        def number(name: str) -> int | None:
            value = params.get(name)
            if value is None or value == "":
                return None
            try:
                return int(value)
            except (TypeError, ValueError):
                raise CNNVizError(f"{name} must be a whole number, not {value!r}") from None

        if kind == "occlusion":
            self.occlusion(size=number("size"), stride=number("stride"), target=number("target"), wait=False)
        elif kind == "invariance":
            self.invariance(target=number("target"), wait=False)
        elif kind == "synthesis":
            settings = self._synthesis_settings
            self.synthesize(position=settings["position"], params=settings["params"],
                            cache_dir=settings["cache_dir"], seed=number("seed") or 0, wait=False)
        elif kind == "evolution":
            if self.evolution_args is None:
                raise CNNVizError("feature evolution needs checkpoints and images: run w.evolution(checkpoints, data) "
                                  "in Python first")
            if self.host.checkpoint:
                raise CNNVizError("close the open checkpoint first (the back button): feature evolution runs on the "
                                  "original model's architecture with every checkpoint")
            args = self.evolution_args
            self.evolution(args["checkpoints"], args["data"], rule=args["rule"], batch_size=args["batch_size"],
                           wait=False)
