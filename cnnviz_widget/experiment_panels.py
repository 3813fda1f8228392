"""The paper's experiments in the widget: occlusion (Zeiler & Fergus Fig. 7), invariance (Fig. 5), feature evolution
during training (Fig. 4) and activation maximisation (the Deep Visualization Toolbox).

:class:`ExperimentPanels` is part of :class:`~cnnviz_widget.CNNViz` (a mixin, like :mod:`.exemplar_panels`). Each
experiment is a verb — :meth:`~ExperimentPanels.occlusion`, :meth:`~ExperimentPanels.invariance`,
:meth:`~ExperimentPanels.evolution`, :meth:`~ExperimentPanels.synthesize` — that runs its engine function in the
widget's experiment thread and returns the engine's result (or, with ``wait=False``, an :class:`ExperimentJob` at
once), and a panel in the front end with a run button, a progress bar and a cancel button (in ``js/src/panels/``:
``occlusion.js``, ``invariance.js``, ``evolution.js``; ``synthesis.js`` inside the unit card).

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
    (see :meth:`~ExperimentPanels.open_checkpoint`), else ``{}``.
* **Commands** — ``{"type": "experiment", "action": "run", "kind", "params": {...}}`` runs an experiment on the
  current image / selected unit (occlusion ``params``: ``size``, ``stride``, ``target``; invariance: ``target``;
  synthesis: ``seed``; evolution: none — the checkpoints and data of the last :meth:`~ExperimentPanels.evolution`,
  the selected layer's units); ``{"type": "experiment", "action": "cancel", "kind"}``;
  ``{"type": "checkpoint", "action": "open", "column", "unit"}`` and ``{"type": "checkpoint", "action": "close"}``.

Threads: runs happen one at a time in one background thread per widget, oldest first; a new run of an experiment
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
from typing import Any

import numpy as np
import torch
import traitlets

from . import encode
from .engine.exemplars.datasets import ImageDataset, open_dataset
from .engine.experiments.common import class_label, paper_layers
from .engine.experiments.evolution import FeatureEvolution, feature_evolution
from .engine.experiments.invariance import InvarianceCurves, invariance_curves
from .engine.experiments.occlusion import OcclusionMaps, occlusion_maps
from .engine.experiments.synthesis import AscentParams, SynthesisResult, synthesize
from .engine.explorer import Explorer
from .engine.progress import Cancelled
from .errors import CNNVizError

__all__ = ["KINDS", "ExperimentJob", "ExperimentPanels"]

#: The experiments, in the order their panels appear.
KINDS = ("occlusion", "invariance", "evolution", "synthesis")
#: Units shown by default by :meth:`ExperimentPanels.evolution`: the selected one and the next ones of its layer.
EVOLUTION_UNITS = 4
_PROGRESS_EVERY = 0.25  # seconds between progress updates sent to the front end
_IDLE_S = 30.0  # the experiment thread ends after this long without work (it starts again when needed)
_SYNTHESES_KEPT = 64  # synthesis states kept per widget, to show a unit's image again when it is selected
_ACTIVE = ("queued", "running", "cancelling")


def _f32(values: Any) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


class ExperimentJob:
    """One run of an experiment in the widget's background thread (the verbs return it with ``wait=False``).

    Attributes:
        kind: ``"occlusion"``, ``"invariance"``, ``"evolution"`` or ``"synthesis"``.
        id: the run's number (the ``request.id`` its result is stamped with).
        request: what it computes (the stamp).
    """

    def __init__(self, kind: str, id: int, request: dict[str, Any], work: Callable[..., Any],
                 publish: Callable[[Any], dict[str, Any]], shown: Callable[[dict[str, Any]], None] | None = None
                 ) -> None:
        self.kind = kind
        self.id = id
        self.request = request
        self._work = work
        self._publish = publish
        self._shown = shown
        self._cancel = threading.Event()
        self._future: Future = Future()

    def __repr__(self) -> str:
        state = "done" if self.done() else "cancelling" if self._cancel.is_set() else "pending"
        return f"<ExperimentJob {self.kind} #{self.id} {state}>"

    def cancel(self) -> None:
        """Stop the run at its next step (or before it starts); :meth:`result` then raises ``Cancelled``."""
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        """Whether the run has ended (finished, failed or cancelled)."""
        return self._future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the engine's result and return it.

        Raises:
            Cancelled: the run was cancelled (or replaced by a newer run of the same experiment before it started).
            CNNVizError: the engine refused the request (its message names the fix).
            TimeoutError: ``timeout`` seconds passed first.
        """
        return self._future.result(timeout)


class _JobRunner:
    """One background thread running :class:`ExperimentJob` s oldest first; at most one queued job per kind, and a
    new job of a kind replaces that kind's queued job and cancels its running one."""

    def __init__(self, run: Callable[[ExperimentJob], None], on_drop: Callable[[ExperimentJob], None]) -> None:
        self._run = run
        self._on_drop = on_drop
        self._queue: list[ExperimentJob] = []
        self._running: ExperimentJob | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, job: ExperimentJob) -> None:
        with self._cond:
            dropped = [j for j in self._queue if j.kind == job.kind]
            self._queue = [j for j in self._queue if j.kind != job.kind] + [job]
            if self._running is not None and self._running.kind == job.kind:
                self._running.cancel()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cnnviz-experiments", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        for old in dropped:
            old.cancel()
            self._on_drop(old)

    def cancel(self, kind: str | None = None) -> list[ExperimentJob]:
        """Cancel the queued and running jobs of ``kind`` (default: all); returns them."""
        with self._cond:
            hit = [j for j in self._queue if kind in (None, j.kind)]
            self._queue = [j for j in self._queue if j not in hit]
            running = self._running if self._running is not None and kind in (None, self._running.kind) else None
            if running is not None:
                running.cancel()
            self._cond.notify_all()
        for job in hit:
            job.cancel()
            self._on_drop(job)
        return [*hit, *([running] if running is not None else [])]

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._running is None, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(_IDLE_S) and not self._queue:
                        self._thread = None
                        return
                job = self._queue.pop(0)
                self._running = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


class ExperimentPanels(traitlets.HasTraits):
    """The paper's experiments as part of :class:`~cnnviz_widget.CNNViz` (see the module docstring for the protocol).

    Verbs: :meth:`occlusion`, :meth:`invariance`, :meth:`evolution` (and :meth:`open_checkpoint` /
    :meth:`close_checkpoint`), :meth:`synthesize`, :meth:`cancel_experiments`, :meth:`wait_experiments`;
    :attr:`experiment_results` holds the engine results behind the panels.
    """

    occlusion_result = traitlets.Dict().tag(sync=True)
    invariance_result = traitlets.Dict().tag(sync=True)
    evolution_result = traitlets.Dict().tag(sync=True)
    synthesis_result = traitlets.Dict().tag(sync=True)
    jobs = traitlets.Dict().tag(sync=True)
    checkpoint = traitlets.Dict().tag(sync=True)

    _runner: _JobRunner | None = None

    # ------------------------------------------------------------------------------------------ public
    @property
    def experiment_results(self) -> dict[str, Any]:
        """The engine results the panels show now, by kind (``OcclusionMaps``, ``InvarianceCurves``,
        ``FeatureEvolution``, ``SynthesisResult``); a kind not run yet is absent."""
        return dict(self._results)

    def occlusion(self, *, size: int | None = None, stride: int | None = None, target: int | None = None,
                  layer: str | None = None, channel: int | str | None = None,
                  position: tuple[int, int] | str | None = "selected", fill: float | Sequence[float] | None = None,
                  batch_size: int = 64, wait: bool = True) -> OcclusionMaps | ExperimentJob:
        """Slide a gray square over the current image and map what the network sees (Zeiler & Fergus, Fig. 7).

        The widget's occlusion panel shows the three maps over the image: (a) the total activation of the selected
        feature map (or of the picked unit), (b) the probability of ``target``, (c) the most probable class; hover
        a map to see the occluded image there. See :func:`~.engine.experiments.occlusion.occlusion_maps`.

        Args:
            size, stride: the occluder's side and step in model-input pixels; default ``size`` ≈ a fifth of the
                input (48 on a 227-pixel input), ``stride`` a third of ``size``.
            target: the class whose probability is mapped (the correct class, if known); default: the predicted one.
            layer, channel: the feature map of map (a); default: the selected unit's (``channel="max"``: the
                strongest map).
            position: ``"selected"`` (default): the picked unit when a position is picked on ``layer``, else the
                map's total activation; ``None``, ``(y, x)`` or ``"max"`` as in the engine.
            fill, batch_size: as in the engine (``fill`` default: the dataset mean).
            wait: block until done and return the maps (default); ``False`` returns an :class:`ExperimentJob`.

        Raises:
            CNNVizError: the occluder is larger than the input, a zero stride, an unknown class (also shown in the
                widget's banner; the panel keeps its last maps).
        """
        ex, x = self._explorer_and_input()
        height, width = int(x.shape[1]), int(x.shape[2])
        if size is None:
            size = max(1, round(min(height, width) * 48 / 227))
        if stride is None:
            stride = max(1, round(size / 3))
        layer = self.layer if layer is None else layer  # type: ignore[attr-defined]
        channel = self.channel if channel is None and layer == self.layer else channel  # type: ignore[attr-defined]
        channel = "max" if channel is None else channel
        if isinstance(position, str) and position == "selected":
            picked = self.position  # type: ignore[attr-defined]
            position = tuple(picked) if isinstance(picked, list) and layer == self.layer else None  # type: ignore[attr-defined]
        picture = self.picture  # type: ignore[attr-defined]
        request = {"image": picture.get("id"), "image_name": picture.get("name"), "size": size, "stride": stride,
                   "target": target, "layer": layer, "channel": channel,
                   "position": list(position) if isinstance(position, tuple) else position}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> OcclusionMaps:
            return occlusion_maps(ex, x, size=size, stride=stride, target=target, layer=layer, channel=channel,
                                  position=position, fill=fill, batch_size=batch_size, progress=progress,
                                  cancel=cancel)

        return self._submit("occlusion", request, work, lambda maps: self._occlusion_state(ex, maps), wait)

    def invariance(self, *, transforms: Sequence[str] | Mapping[str, Sequence[float]] = ("translate", "scale", "rotate"),
                   layers: Sequence[str] | None = None, target: int | None = None,
                   fill: tuple[int, int, int] | None = None, wait: bool = True) -> InvarianceCurves | ExperimentJob:
        """Translate, scale and rotate the current image and follow its features and prediction (Fig. 5).

        The invariance panel plots, for each transform, the Euclidean distance between the feature vectors of the
        original and the transformed image at each layer, and the probability of ``target``, with the canonical
        and the transformed image side by side on a slider. See :func:`~.engine.experiments.invariance.invariance_curves`.

        Args:
            transforms: names (the paper's sweeps) or ``{name: amounts}``.
            layers: the layers compared; default: the paper's (the first convolution and the penultimate layer) and
                the selected layer.
            target: the true class, if known; default: the predicted one.
            fill: RGB colour of uncovered areas (default: the preprocessing's mean colour).
            wait: block until done and return the curves (default); ``False`` returns an :class:`ExperimentJob`.
        """
        ex, x = self._explorer_and_input()
        image = self.image  # type: ignore[attr-defined]
        selected = self.layer  # type: ignore[attr-defined]
        picture = self.picture  # type: ignore[attr-defined]
        request = {"image": picture.get("id"), "image_name": picture.get("name"), "transforms": list(transforms),
                   "layers": list(layers) if layers is not None else None, "target": target}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> InvarianceCurves:
            chosen = list(layers) if layers is not None else list(dict.fromkeys([*paper_layers(ex, x), selected]))
            return invariance_curves(ex, image, transforms=transforms, layers=chosen, target=target, fill=fill,
                                     progress=progress, cancel=cancel)

        return self._submit("invariance", request, work, lambda curves: self._invariance_state(curves), wait)

    def evolution(self, checkpoints: Sequence[Any] | Mapping[str, Any], data: Any,
                  units: Sequence[tuple[str, int]] | None = None, *, rule: str | None = None, batch_size: int = 32,
                  wait: bool = True) -> FeatureEvolution | ExperimentJob:
        """How the chosen units' favourite inputs form during training (Fig. 4): for each checkpoint, each unit's
        strongest activation over ``data`` with its projection and image patch.

        The evolution panel shows a units × checkpoints grid; **clicking a cell opens that checkpoint's unit card**:
        the widget switches to that checkpoint's weights (its name in the header shows ``@ checkpoint``), shows the
        cell's image with the unit selected at its position, and the panel's "back" button returns to the
        original model (:meth:`open_checkpoint`, :meth:`close_checkpoint`). See
        :func:`~.engine.experiments.evolution.feature_evolution`.

        Args:
            checkpoints: in training order: paths to state dicts, state dicts or modules of this architecture; or
                ``{name: checkpoint}``.
            data: the images to search (anything :func:`~.engine.exemplars.datasets.open_dataset` reads).
            units: ``[(layer, channel), ...]``; default: the selected unit and the next ones of its layer
                (:data:`EVOLUTION_UNITS` in all).
            rule: projection rule; default: the widget's.
            wait: block until done and return the result (default); ``False`` returns an :class:`ExperimentJob`.

        Raises:
            ModelError: a checkpoint of another architecture (the message names the mismatched keys).
        """
        ex = self._original_explorer()
        if units is None:
            count = ex.layer(self.layer).channels  # type: ignore[attr-defined]
            first = self.channel  # type: ignore[attr-defined]
            units = [(self.layer, (first + i) % count) for i in range(min(EVOLUTION_UNITS, count))]  # type: ignore[attr-defined]
        unit_list = [(str(layer), int(channel)) for layer, channel in units]
        rule = rule or self.rule  # type: ignore[attr-defined]
        dataset = open_dataset(data)
        self._evolution_args = {"checkpoints": checkpoints, "data": dataset, "rule": rule, "batch_size": batch_size}
        request = {"units": [list(u) for u in unit_list], "rule": rule, "dataset": dataset.name}

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> FeatureEvolution:
            return feature_evolution(ex, checkpoints, dataset, unit_list, rule=rule, batch_size=batch_size,
                                     progress=progress, cancel=cancel)

        return self._submit("evolution", request, work, lambda result: self._evolution_state(ex, dataset, result),
                            wait)

    def open_checkpoint(self, checkpoint: int | str, unit: int | None = None) -> None:
        """Switch the widget to a checkpoint of the last :meth:`evolution` result (an index or a name): its weights,
        and — with ``unit`` (a row of the result) — that unit selected on its strongest image at that checkpoint.
        The unit card, the activation grid, the filters and the experiments then show that checkpoint; the dataset
        exemplars (mined with the original weights) are hidden until :meth:`close_checkpoint`."""
        result = self._results.get("evolution")
        if result is None:
            raise CNNVizError("there is no feature-evolution result to open a checkpoint of — run w.evolution(...) first")
        column = result.checkpoints.index(checkpoint) if isinstance(checkpoint, str) else int(checkpoint)
        if not 0 <= column < len(result.checkpoints):
            raise CNNVizError(f"there is no checkpoint {checkpoint!r}; the result has {result.checkpoints}")
        if unit is not None and not 0 <= unit < len(result.units):
            raise CNNVizError(f"there is no unit row {unit}; the result has {len(result.units)}")
        miner = getattr(self, "_miner", None)
        if miner is not None and miner.running:
            raise CNNVizError("a mining pass is running on the original model — cancel it (or wait) before opening "
                              "a checkpoint")
        evolution = self.evolution_result["request"]["id"]
        explorer = self._checkpoint_explorers.get((evolution, column))
        if explorer is None:
            explorer = result.explorer(column)
            self._checkpoint_explorers = {(evolution, column): explorer}  # one checkpoint's model kept at a time
        if not self.checkpoint:
            self._before_checkpoint = (self._explorer, self.image, self._image_name)  # type: ignore[attr-defined]
            self._hide_exemplars()
        self._show_model(explorer)  # type: ignore[attr-defined]
        self.checkpoint = {"name": result.checkpoints[column], "column": column, "evolution": evolution,
                           "model": self._before_checkpoint[0].spec.name}
        cell = result.cell(unit, column) if unit is not None else None
        if unit is not None:
            layer, channel = result.units[unit]
            with self.hold_trait_notifications():
                self.layer, self.channel = layer, channel  # type: ignore[attr-defined]
                info = explorer.layer(layer)
                if cell is not None and len(info.shape) > 1 and len(cell.position) == 2:
                    self.position = list(cell.position)  # type: ignore[attr-defined]
        if cell is not None:
            self._reload_image(self._evolution_data.read(cell.index).image, cell.id)  # type: ignore[union-attr]
        else:
            self._reload_image(self.image, self._image_name)  # type: ignore[attr-defined]
        self._show_synthesis()

    def close_checkpoint(self) -> None:
        """Return from :meth:`open_checkpoint` to the original model, with the image shown before."""
        if not self.checkpoint:
            return
        explorer, image, name = self._before_checkpoint  # type: ignore[misc]
        self._show_model(explorer)  # type: ignore[attr-defined]
        self.checkpoint = {}
        self._reload_image(image, name)
        self._restore_exemplars()
        self._show_synthesis()

    def synthesize(self, layer: str | None = None, channel: int | None = None, *,
                   position: tuple[int, int] | str | None = "center", seed: int = 0,
                   params: AscentParams | None = None, cache_dir: Any = None,
                   wait: bool = True) -> SynthesisResult | ExperimentJob:
        """Synthesise the image that maximises a unit (default: the selected one) by regularised gradient ascent,
        and show it in the unit card beside its projection and top-9. Seeded (the same seed gives the same image)
        and cached per unit: selecting the unit again shows it at once. The card's button runs this with the
        ``position``, ``params`` and ``cache_dir`` of the last call. See :func:`~.engine.experiments.synthesis.synthesize`.

        Args:
            layer, channel: the unit; default: the selected one.
            position: ``"center"`` (the unit at the centre of its map), ``(y, x)`` or ``None`` (the whole channel).
            seed: seeds the starting noise and the jitter.
            params: ascent settings (:class:`~.engine.experiments.synthesis.AscentParams`).
            cache_dir: also keep results as files here (reused across sessions).
            wait: block until done and return the result (default); ``False`` returns an :class:`ExperimentJob`.

        Raises:
            SynthesisDiverged: the ascent produced NaN (nothing is cached; the banner says so too).
        """
        ex = self._explorer  # type: ignore[attr-defined]
        layer = self.layer if layer is None else layer  # type: ignore[attr-defined]
        channel = self.channel if channel is None else int(channel)  # type: ignore[attr-defined]
        self._synthesis_settings = {"position": position, "params": params, "cache_dir": cache_dir}
        model = self.model_info.get("name")  # type: ignore[attr-defined]
        request = {"model": model, "layer": layer, "channel": channel,
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

        return self._submit("synthesis", request, work, self._synthesis_state, wait, shown)

    def cancel_experiments(self, kind: str | None = None) -> None:
        """Cancel the running and queued runs of experiment ``kind`` (default: all)."""
        self._start_experiment_panels()
        for job in self._runner.cancel(kind):  # type: ignore[union-attr]
            self._set_job(job, "cancelling", keep_progress=True)

    def wait_experiments(self, timeout: float | None = None) -> bool:
        """Wait until no experiment runs or waits; ``False`` if ``timeout`` (seconds) passed first."""
        return self._runner is None or self._runner.wait(timeout)

    def _stop_background(self) -> None:
        if getattr(self, "_runner", None) is not None:
            self._runner.cancel()
        super()._stop_background()  # type: ignore[misc]

    def _wait_background(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if getattr(self, "_runner", None) is not None:
            self._runner.wait(timeout)
        super()._wait_background(max(0.0, deadline - time.monotonic()))  # type: ignore[misc]

    def close(self) -> None:
        """Close the widget; running experiments stop at their next step."""
        if self._runner is not None:
            self._runner.cancel()
        super().close()  # type: ignore[misc]

    def mine(self, *args: Any, **kwargs: Any) -> Any:
        """See :meth:`.ExemplarPanels.mine` (refused while a checkpoint is open)."""
        if self.checkpoint:
            raise CNNVizError(f"checkpoint {self.checkpoint['name']!r} is open — close it (w.close_checkpoint(), or the "
                              "evolution panel's back button) before mining, so the exemplars belong to the model")
        return super().mine(*args, **kwargs)  # type: ignore[misc]

    def load_exemplars(self, *args: Any, **kwargs: Any) -> Any:
        """See :meth:`.ExemplarPanels.load_exemplars` (refused while a checkpoint is open)."""
        if self.checkpoint:
            raise CNNVizError(f"checkpoint {self.checkpoint['name']!r} is open — close it (w.close_checkpoint()) "
                              "before loading exemplars")
        return super().load_exemplars(*args, **kwargs)  # type: ignore[misc]

    # ------------------------------------------------------------------------------------------ setup
    def _start_experiment_panels(self) -> None:
        """Set up once (from ``CNNViz.__init__``, or the first verb called)."""
        if self._runner is not None:
            return
        self._jobs_lock = threading.RLock()
        self._next_id = 0
        self._latest: dict[str, int] = {}
        self._results: dict[str, Any] = {}
        self._syntheses: collections.OrderedDict[tuple, dict[str, Any]] = collections.OrderedDict()
        self._synthesis_settings: dict[str, Any] = {"position": "center", "params": None, "cache_dir": None}
        self._evolution_args: dict[str, Any] | None = None
        self._evolution_data: ImageDataset | None = None
        self._checkpoint_explorers: dict[tuple[int, int], Explorer] = {}
        self._before_checkpoint: tuple[Explorer, Any, Any] | None = None
        self._hidden_exemplars: tuple[Any, dict[str, Any]] | None = None
        self._runner = _JobRunner(self._run_job, self._dropped)
        self.on_msg(self._on_experiment_message)  # type: ignore[attr-defined]

    def _explorer_and_input(self) -> tuple[Explorer, torch.Tensor]:
        x = self._x  # type: ignore[attr-defined]
        if x is None:
            raise CNNVizError("the widget has no image yet — set w.image first")
        return self._explorer, x  # type: ignore[attr-defined]

    def _reload_image(self, image: Any, name: str | None) -> None:
        """Show ``image`` computed afresh by the current model (also when it equals the image shown: the model
        changed, so every cached activation is stale)."""
        before = self._image_id  # type: ignore[has-type]
        self.set_image(image, name=name)  # type: ignore[attr-defined]
        if self._image_id == before:  # type: ignore[has-type]
            self._on_image({"new": self.image})  # type: ignore[attr-defined]

    def _original_explorer(self) -> Explorer:
        return self._before_checkpoint[0] if self.checkpoint else self._explorer  # type: ignore[index, attr-defined]

    # ------------------------------------------------------------------------------------------ jobs
    def _submit(self, kind: str, request: dict[str, Any], work: Callable[..., Any],
                publish: Callable[[Any], dict[str, Any]], wait: bool,
                shown: Callable[[dict[str, Any]], None] | None = None) -> Any:
        self._start_experiment_panels()
        with self._jobs_lock:
            self._next_id += 1
            job = ExperimentJob(kind, self._next_id, {"id": self._next_id, **request}, work, publish, shown)
            self._latest[kind] = job.id
            self._set_job(job, "queued")
        self._runner.submit(job)  # type: ignore[union-attr]
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
        with self._jobs_lock:
            if self._latest.get(job.kind) != job.id:
                return
            old = self.jobs.get(job.kind, {})
            if keep_progress and old.get("id") == job.id:
                done, total = old.get("done", 0), old.get("total", 0)
                if old.get("state") not in _ACTIVE:
                    return
            self.jobs = {**self.jobs, job.kind: {"id": job.id, "state": state, "done": done, "total": total,
                                                 "message": message}}

    def _dropped(self, job: ExperimentJob) -> None:
        """A queued job replaced or cancelled before it started."""
        self._set_job(job, "cancelled")
        if not job.done():
            job._future.set_exception(Cancelled(f"{job.kind} was cancelled before it started"))

    def _run_job(self, job: ExperimentJob) -> None:
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
            result = job._work(progress, job._cancel)
            if job.cancelled():
                raise Cancelled(f"{job.kind} was cancelled")
            with self._jobs_lock:
                latest = self._latest.get(job.kind) == job.id
            if latest:
                state = {"request": job.request, **job._publish(result)}
                # The answer first, then the end of the run (hold_sync is not safe across threads): the front end
                # paints an answer stamped with the run in progress.
                with self._jobs_lock:
                    if self._latest.get(job.kind) == job.id:
                        self._results[job.kind] = result
                        setattr(self, f"{job.kind}_result", state)
                        self._set_job(job, "done", *self._progress_of(job))
                        if job._shown is not None:
                            job._shown(state)
        except Cancelled as exc:
            self._set_job(job, "cancelled", *self._progress_of(job))
            job._future.set_exception(exc)
            return
        except Exception as exc:  # shown in the banner; the panel keeps its last result
            message = str(exc) if isinstance(exc, CNNVizError) else f"{type(exc).__name__}: {exc}"
            self._set_job(job, "failed", *self._progress_of(job), message=message)
            with self._jobs_lock:
                if self._latest.get(job.kind) == job.id:
                    self.error = f"{job.kind}: {message}"  # type: ignore[attr-defined]
            job._future.set_exception(exc)
            return
        job._future.set_result(result)

    def _progress_of(self, job: ExperimentJob) -> tuple[int, int]:
        old = self.jobs.get(job.kind, {})
        return (old.get("done", 0), old.get("total", 0)) if old.get("id") == job.id else (0, 0)

    # ------------------------------------------------------------------------------------------ commands
    def _on_experiment_message(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("experiment", "checkpoint"):
            return
        action = content.get("action")
        try:
            if content["type"] == "checkpoint":
                if action == "open":
                    unit = content.get("unit")
                    self.open_checkpoint(int(content.get("column", -1)), None if unit is None else int(unit))
                elif action == "close":
                    self.close_checkpoint()
                return
            kind = content.get("kind")
            if kind not in KINDS:
                raise CNNVizError(f"unknown experiment {kind!r}; the widget runs {', '.join(KINDS)}")
            if action == "cancel":
                self.cancel_experiments(kind)
            elif action == "run":
                self._run_from_panel(kind, content.get("params") or {})
        except CNNVizError as exc:
            self.error = str(exc)  # type: ignore[attr-defined]

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
            if self._evolution_args is None:
                raise CNNVizError("feature evolution needs checkpoints and images: run w.evolution(checkpoints, data) "
                                  "in Python first")
            if self.checkpoint:
                raise CNNVizError("close the open checkpoint first (the back button): feature evolution runs on the "
                                  "original model's architecture with every checkpoint")
            args = self._evolution_args
            self.evolution(args["checkpoints"], args["data"], rule=args["rule"], batch_size=args["batch_size"],
                           wait=False)

    # ------------------------------------------------------------------------------------------ observers
    @traitlets.observe("layer", "channel")
    def _experiments_on_selection(self, change: dict[str, Any]) -> None:
        self._show_synthesis()

    def _show_synthesis(self) -> None:
        """Show the selected unit's synthesised image again if it was made before (the front end paints it only
        when its stamp names the selected unit of the current model)."""
        if self._runner is None:
            return
        state = self._syntheses.get((id(self._explorer), self.layer, self.channel))  # type: ignore[attr-defined]
        if state is not None and state is not self.synthesis_result:
            self.synthesis_result = state

    # ------------------------------------------------------------------------------------------ checkpoints
    def _hide_exemplars(self) -> None:
        """Set the dataset exemplars aside while a checkpoint is open: they were mined with the original weights
        (:mod:`.exemplar_panels` shows nothing while it holds none)."""
        self._worker.wait()  # type: ignore[attr-defined]
        with self._lock:  # type: ignore[attr-defined]
            self._hidden_exemplars = (self._exemplars, dict(self.mining))  # type: ignore[has-type, attr-defined]
            self._exemplars = None
            self._follow += 1  # type: ignore[has-type]  # an unfinished cache is no longer followed
            self.top9, self.layer_atlas, self.mining = {}, {}, {}  # type: ignore[attr-defined]

    def _restore_exemplars(self) -> None:
        hidden, self._hidden_exemplars = self._hidden_exemplars, None
        if hidden is None or hidden[0] is None:
            return
        result, mining = hidden
        self.mining = mining  # type: ignore[attr-defined]
        self._install(result)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------------ states
    def _occlusion_state(self, ex: Explorer, maps: OcclusionMaps) -> dict[str, Any]:
        top, left, _, _ = maps.box(0, 0)
        fill = ex.to_pixels(maps.occluded(0, 0))[top, left]
        feature = None if maps.layer is None else {
            "layer": maps.layer, "channel": maps.channel,
            "position": list(maps.position) if maps.position is not None else None}
        return {
            "model": ex.spec.name, "size": maps.size, "stride": maps.stride, "tops": maps.tops.tolist(),
            "lefts": maps.lefts.tolist(), "input_size": list(maps.input_size),
            "image": encode.png(ex.to_pixels(maps.image)), "fill": [int(v) for v in fill],
            "target": maps.target, "target_label": maps.target_label,
            "reference": {"probability": maps.reference_probability, "top_class": maps.reference_top_class,
                          "top_label": maps.label(maps.reference_top_class), "activation": maps.reference_activation},
            "feature": feature,
            "maps": {"probability": encode.value_map(maps.probability),
                     "activation": encode.value_map(maps.activation) if maps.activation is not None else None,
                     "top_probability": encode.value_map(maps.top_probability),
                     "top_class": encode.class_map(maps.top_class, maps.label)},
        }

    def _invariance_state(self, curves: InvarianceCurves) -> dict[str, Any]:
        side = encode.INVARIANCE_TILE
        canonical = encode.shrunk(curves.canonical, side)
        found: dict[int, str] = {}
        out = []
        for curve in curves.curves.values():
            tiles = np.stack([encode.shrunk(image, side) for image in curve.images])
            cols = encode.grid_columns(len(tiles))
            for c in curve.top_class.tolist():
                found.setdefault(int(c), class_label(curves.labels, int(c)))
            out.append({"transform": curve.transform, "unit": curve.unit, "count": len(curve.values),
                        "values": _f32(curve.values), "distance": {n: _f32(d) for n, d in curve.distance.items()},
                        "probability": _f32(curve.probability), "top_class": curve.top_class.astype("<i4").tobytes(),
                        "top_probability": _f32(curve.top_probability), "cols": cols,
                        "images": encode.png(encode.tile_sheet(tiles, cols))})
        return {
            "model": self.model_info.get("name"), "layers": list(curves.layers),  # type: ignore[attr-defined]
            "target": curves.target, "target_label": curves.target_label,
            "reference_probability": curves.reference_probability, "reference_norm": dict(curves.reference_norm),
            "canonical": encode.png(canonical), "tile": list(canonical.shape[:2]), "fill": list(curves.fill),
            "classes": [[k, v] for k, v in sorted(found.items())], "curves": out,
        }

    def _evolution_state(self, ex: Explorer, dataset: ImageDataset, result: FeatureEvolution) -> dict[str, Any]:
        order = getattr(ex.spec.preprocess, "channel_order", "RGB")
        self._evolution_data = dataset
        self._checkpoint_explorers = {}
        units = []
        for u, (layer, channel) in enumerate(result.units):
            cells = result.cells[u]
            present = [c for c in cells if c is not None]
            box = present[0].patch.shape[:2] if present else (1, 1)
            patches, projections = encode.exemplar_tiles([c.patch for c in present], [c.projection for c in present],
                                                         order, encode.EVOLUTION_TILE)
            size = patches.shape[1:3] if present else (1, 1)
            sheets = [np.zeros((len(cells), *size, 3), np.uint8) for _ in range(2)]
            k = 0
            for i, cell in enumerate(cells):
                if cell is not None:
                    sheets[0][i], sheets[1][i] = patches[k], projections[k]
                    k += 1
            units.append({
                "layer": layer, "channel": channel, "tile": list(size), "box": list(box),
                "patches": encode.png(encode.tile_sheet(sheets[0], len(cells))),
                "projections": encode.png(encode.tile_sheet(sheets[1], len(cells))),
                "cells": [None if c is None else {"id": c.id, "index": c.index, "position": list(c.position),
                                                  "value": float(c.value), "label_name": c.label_name} for c in cells],
            })
        return {"model": ex.spec.name, "checkpoints": list(result.checkpoints), "rule": result.rule,
                "dataset": dataset.name, "values": _f32(result.activations), "units": units}

    def _synthesis_state(self, result: SynthesisResult) -> dict[str, Any]:
        image = result.image
        if result.field is not None:
            top, left, bottom, right = result.field
            image = image[top:bottom, left:right]
        return {"image": encode.png(np.ascontiguousarray(image)),
                "field": list(result.field) if result.field is not None else None,
                "input_size": list(result.image.shape[:2]), "activation": result.activation,
                "history": _f32(result.history), "steps": len(result.history), "from_cache": result.from_cache}

