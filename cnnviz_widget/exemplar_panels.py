"""Dataset exemplars in the widget (Zeiler & Fergus's Figure 2): the unit card's top-9 panel, the layer atlas, mining.

:class:`ExemplarPanels` is part of :class:`~cnnviz_widget.CNNViz` (a mixin: its traits, verbs and commands are the
widget's). Its share of the protocol with the front end (``js/src/panels/top9.js``, ``js/src/panels/layer-atlas.js``,
``js/src/panels/mining-status.js``):

* **Selection** — synced both ways: ``layer_atlas_open`` (bool; the layer atlas is computed only while open) and
  ``layer_atlas_page`` (int; back to 0 on a new layer), with the widget's ``layer``, ``channel``, ``rule`` and
  ``sort_by``.
* **Results** — written by Python only; ``top9`` and ``layer_atlas`` are stamped with the request they answer:

  - ``mining``: ``{state, dataset, images, skipped, done, total, k, layers, version, message, entry}``: where the
    exemplars come from; ``{}`` before any. ``state`` is ``"running"``, ``"cancelling"``, ``"complete"``,
    ``"cancelled"`` (a partial result, resumed by mining again), ``"partial"`` (an unfinished cache) or
    ``"failed"``; ``layers`` the mined layers; ``version`` grows with every new (partial) result.
  - ``top9``: ``{request: {layer, channel, rule}, version, complete, state, message, k, count, cols, tile, box,
    patches, projections, exemplars: [{rank, value, index, id, label, label_name, position}], stats: {images,
    fired, firing_rate, dead, class_mix: [[label, name, count], ...]}}``: the selected unit's top-k images.
    ``patches`` and ``projections`` are PNG sheets of ``count`` tiles of ``tile`` px, ``cols`` a row, strongest
    first (``box``: the receptive field's size before shrinking). ``state``: ``"ready"``, ``"dead"`` (the unit
    never fired: no pictures), ``"empty"`` (no image mined yet), ``"not-mined"`` or ``"error"`` (``message`` says
    why); ``{}`` while there are no exemplars.
  - ``layer_atlas``: ``{request: {layer, page, rule, sort_by}, version, complete, state, message, count, page, pages,
    page_size, channels, k, tile, box, images, patches, projections, values, stats, stats_columns, top_class}``: one
    page of the layer's units. Row ``i`` of the PNG sheets holds unit ``channels[i]``'s exemplars, strongest first;
    ``values`` is little-endian float32 ``[len(channels), k]`` (NaN: no exemplar), ``stats`` float32 rows of
    ``stats_columns`` (``firing_rate``, ``fired``, ``top``), ``top_class`` the commonest label of each unit's top-k
    (``[name, count]`` or ``None``).
* **Commands** — ``{"type": "exemplar", "layer", "channel", "index"}``: make dataset image ``index`` (one of the
  unit's exemplars) the current image, with the unit selected at the exemplar's position; ``{"type": "mining",
  "action": "cancel"}``: stop the pass after its current batch (checkpointed: mining again resumes it).

Threads: patches and projections are computed in one background thread per widget, newest request first (a burst
of clicks computes the last unit only), so the unit card keeps answering clicks at its usual speed. A mining pass
runs in its own thread (:meth:`~.engine.exemplars.mining.Miner.start`); the panels fill in from snapshots taken at most once a
second. The engine's hooks ignore other threads' forward passes, so the widget stays usable while it mines.
:meth:`ExemplarPanels.wait_exemplars` waits for all of it.
"""

from __future__ import annotations

import collections
import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import traitlets

from . import encode
from .engine.exemplars.mining import Miner
from .engine.exemplars.results import Exemplars
from .errors import CNNVizError

__all__ = ["ExemplarPanels"]

#: Units on one page of the layer atlas.
LAYER_ATLAS_PAGE = 16
_PROGRESS_EVERY = 0.25  # seconds between progress updates sent to the front end
_SNAPSHOT_EVERY = 1.0  # seconds between snapshots of a running pass (a snapshot copies every table)
#: Seconds between looks at an unfinished cache folder the widget shows (a `cnnviz mine` still writing it).
FOLLOW_EVERY = 2.0
_TILE_BYTES = 64 * 2**20  # encoded exemplar tiles kept for reuse (paging back, toggling the rule)
_IDLE_S = 30.0  # the panel thread ends after this long without work (it starts again when needed)


class _PanelWorker:
    """A background thread running refresh jobs by name, in the order of ``jobs``; a job asked for again before it
    starts runs once — so a burst of requests computes only the state at the end of the burst."""

    def __init__(self, jobs: dict[str, Callable[[], None]], on_error: Callable[[BaseException], None]) -> None:
        self._jobs = jobs
        self._on_error = on_error
        self._pending: set[str] = set()
        self._running = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def poke(self, *names: str) -> None:
        with self._cond:
            self._pending.update(names)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cnnviz-panels", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is pending or running; ``False`` if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._running, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    if not self._cond.wait(_IDLE_S) and not self._pending:
                        self._thread = None
                        return
                name = next(n for n in self._jobs if n in self._pending)
                self._pending.discard(name)
                self._running = True
            try:
                self._jobs[name]()
            except Exception as exc:  # reported in the widget; the thread carries on
                self._on_error(exc)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()


@dataclass(frozen=True)
class _Tiles:
    """One unit's exemplars encoded for display: for the top-9 panel and (smaller) for the layer atlas."""

    box: tuple[int, int]
    patches: np.ndarray
    projections: np.ndarray
    small_patches: np.ndarray
    small_projections: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.patches, self.projections, self.small_patches, self.small_projections))


def _sheet(tiles: np.ndarray, cols: int) -> bytes:
    return encode.png(encode.tile_sheet(tiles, cols))


class ExemplarPanels(traitlets.HasTraits):
    """The dataset-exemplar part of :class:`~cnnviz_widget.CNNViz` (see the module docstring for the protocol).

    Verbs: :meth:`mine` (in the background, with a progress bar and a cancel button in the widget),
    :meth:`load_exemplars` (a cache written by ``cnnviz mine``, or a mined result), :meth:`wait_exemplars`;
    :attr:`exemplars` is the result behind the panels.
    """

    top9 = traitlets.Dict().tag(sync=True)
    layer_atlas = traitlets.Dict().tag(sync=True)
    layer_atlas_open = traitlets.Bool(False).tag(sync=True)
    layer_atlas_page = traitlets.Int(0).tag(sync=True)
    mining = traitlets.Dict().tag(sync=True)

    _exemplars: Exemplars | None = None
    _worker: _PanelWorker | None = None

    # ------------------------------------------------------------------------------------------ public
    @property
    def exemplars(self) -> Exemplars | None:
        """The mined result behind the panels (a snapshot while a pass runs), or ``None``."""
        return self._exemplars

    def mine(self, data: Any = "demo", *, layers: Sequence[str] | None = None, k: int = 9, batch_size: int = 32,
             cache_dir: str | Path | None = None, checkpoint_every: float = 60.0) -> Miner:
        """Mine every unit's top-``k`` dataset exemplars in the background; the panels fill in as results arrive.

        The widget stays usable meanwhile, shows a progress bar with a cancel button, and its top-9 panel and layer
        atlas update from partial results about once a second.

        Args:
            data: anything :func:`~cnnviz_widget.engine.exemplars.datasets.open_dataset` reads: a folder of images,
                ``"demo"`` (the photos that ship with the installed packages), a list, a torch ``Dataset``.
            layers: layer names (default: every convolution, block and linear layer — :data:`~.engine.exemplars.mining.MINED_KINDS`).
            k: exemplars per unit.
            batch_size: images per forward pass.
            cache_dir: where checkpoints and the result go. Default: a temporary folder kept while the widget
                lives, so a cancelled pass resumes when mined again. Pass a folder to keep the result across
                sessions (and open it with :meth:`load_exemplars` or ``CNNViz(exemplars=...)``).
            checkpoint_every: seconds between checkpoints.

        Returns:
            The :class:`~cnnviz_widget.engine.exemplars.mining.Miner`, already started (``.wait()`` returns its result,
            ``.cancel()`` stops it).

        Raises:
            CNNVizError: a pass is already running, or the dataset is empty or unreadable as a whole.
        """
        self._start_exemplar_panels()
        if self._miner is not None and self._miner.running:
            raise CNNVizError("a mining pass is already running — cancel it first (the widget's cancel button, or "
                              "w.mine(...).cancel() on the miner it returned)")
        ex = self.explorer  # type: ignore[attr-defined]
        if cache_dir is None:
            if self._session_dir is None:
                self._session_dir = tempfile.TemporaryDirectory(prefix="cnnviz-mining-")
            cache_dir = self._session_dir.name
        miner = Miner(ex, data, layers=layers, k=k, batch_size=batch_size, cache_dir=cache_dir,
                      checkpoint_every=checkpoint_every)
        with self._lock:
            self._follow += 1
            self._miner = miner
            self._mining_over = False
            self._cancel_asked = False
            self._progress_at = self._snapshot_at = -math.inf
            self._kept_entry = self._session_dir is None or str(cache_dir) != self._session_dir.name
        self._set_mining(miner, "running")
        miner.start(progress=lambda done, total: self._on_progress(miner, done, total))
        self._watcher = threading.Thread(target=self._watch, args=(miner,), name="cnnviz-mining-watch", daemon=True)
        self._watcher.start()
        return miner

    def load_exemplars(self, source: str | Path | Exemplars, *, data: Any = None) -> Exemplars:
        """Show exemplars mined before: a cache folder (``cnnviz mine --out``, ``w.mine(cache_dir=...)``) or a result.

        Args:
            source: the cache folder, or an :class:`~cnnviz_widget.engine.exemplars.results.Exemplars`.
            data: the dataset that was mined, if it cannot be reopened from where it was (a folder moved
                elsewhere, a list of images, a torch ``Dataset``).

        Raises:
            CNNVizError: the folder holds nothing mined with this model's weights, the dataset changed, or a
                pass is running.
        """
        self._start_exemplar_panels()
        if self._miner is not None and self._miner.running:
            raise CNNVizError("a mining pass is running — cancel it (or wait for it) before loading other exemplars")
        if isinstance(source, Exemplars):
            result = source.attach(model=self.explorer, data=data)  # type: ignore[attr-defined]
        else:
            result = Exemplars.load(source, model=self.explorer, data=data, partial=True)  # type: ignore[attr-defined]
        with self._lock:
            self._miner = None
            self._follow += 1
            self._install(result)
            self.mining = self._result_info(result, "complete" if result.complete else "partial", shown=True)
            if not result.complete and not isinstance(source, Exemplars) and result.entry is not None:
                threading.Thread(target=self._follow_cache, args=(source, data, result, self._follow),
                                 name="cnnviz-cache-follow", daemon=True).start()
        return result

    def _follow_cache(self, source: str | Path, data: Any, shown: Exemplars, token: int) -> None:
        """Keep an unfinished cache folder's panels up to date while another process (``cnnviz mine``) fills it:
        look every :data:`FOLLOW_EVERY` seconds, re-read it when its files changed; stop once it is complete, or
        when the widget mines, loads something else or closes."""
        entry = Path(shown.entry)  # type: ignore[arg-type]

        def stamp() -> float:
            try:
                return max((f.stat().st_mtime for f in entry.rglob("*") if f.is_file()), default=0.0)
            except OSError:
                return 0.0

        seen = stamp()
        while True:
            time.sleep(FOLLOW_EVERY)
            if token != self._follow:
                return
            now = stamp()
            if now == seen:
                continue
            seen = now
            try:
                fresh = Exemplars.load(source, model=self.explorer, data=data, partial=True)  # type: ignore[attr-defined]
            except Exception:  # a file caught mid-write, say: look again next time
                continue
            with self._lock:
                if token != self._follow:
                    return
                if fresh.images + fresh.skipped > shown.images + shown.skipped or fresh.complete:
                    shown = fresh
                    self._install(fresh)
                    self.mining = self._result_info(fresh, "complete" if fresh.complete else "partial", shown=True)
            if fresh.complete:
                return

    def wait_exemplars(self, timeout: float | None = None) -> bool:
        """Wait until a running mining pass has ended and the panels answer the current selection.

        Returns ``False`` if ``timeout`` (seconds) passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout)
            if watcher.is_alive():
                return False
        if self._worker is None:
            return True
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._worker.wait(left)

    def _stop_background(self) -> None:
        """Ask the background work to stop (a mining pass after its batch; following a cache folder)."""
        miner = getattr(self, "_miner", None)
        if miner is not None and miner.running:
            miner.cancel()
        self._follow = getattr(self, "_follow", 0) + 1

    def _wait_background(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the mining pass and the panel jobs to end."""
        deadline = time.monotonic() + timeout
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.join(timeout)
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Close the widget; a running mining pass stops after its current batch (mining again resumes it)."""
        miner = getattr(self, "_miner", None)
        if miner is not None and miner.running:
            miner.cancel()
        self._follow = getattr(self, "_follow", 0) + 1  # an unfinished cache is no longer followed
        super().close()  # type: ignore[misc]

    # ------------------------------------------------------------------------------------------ setup
    def _start_exemplar_panels(self) -> None:
        """Set up once (from ``CNNViz.__init__``, or the first verb called)."""
        if self._worker is not None:
            return
        self._lock = threading.RLock()
        self._miner: Miner | None = None
        self._follow = 0  # bumped to stop following an unfinished cache folder (see _follow_cache)
        self._watcher: threading.Thread | None = None
        self._mining_over = True
        self._cancel_asked = False
        self._kept_entry = False
        self._progress_at = self._snapshot_at = -math.inf
        self._session_dir: tempfile.TemporaryDirectory | None = None
        self._version = 0
        self._tiles: collections.OrderedDict[tuple, _Tiles] = collections.OrderedDict()
        self._worker = _PanelWorker({"snapshot": self._take_snapshot, "top9": self._refresh_top9,
                                     "layer_atlas": self._refresh_layer_atlas}, self._on_panel_error)
        self.on_msg(self._on_exemplar_message)  # type: ignore[attr-defined]

    def _on_panel_error(self, exc: BaseException) -> None:
        self.error = f"exemplar panels: {type(exc).__name__}: {exc}"  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------------ observers
    @traitlets.observe("layer", "channel", "rule")
    def _exemplars_on_selection(self, change: dict[str, Any]) -> None:
        if change["name"] == "layer":
            self.layer_atlas_page = 0
        self._poke("top9", "layer_atlas")

    @traitlets.observe("layer_atlas_open", "layer_atlas_page", "sort_by")
    def _exemplars_on_atlas(self, change: dict[str, Any]) -> None:
        self._poke("layer_atlas")

    def _poke(self, *jobs: str) -> None:
        if self._exemplars is not None and self._worker is not None:
            self._worker.poke(*jobs)

    # ------------------------------------------------------------------------------------------ commands
    def _on_exemplar_message(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "exemplar":
                self._open_exemplar(str(content.get("layer")), int(content.get("channel", -1)),
                                    int(content.get("index", -1)))
            elif kind == "mining" and content.get("action") == "cancel":
                miner = self._miner
                if miner is not None and miner.running:
                    with self._lock:
                        self._cancel_asked = True
                        miner.cancel()
                        self._set_mining(miner, "cancelling")
        except CNNVizError as exc:
            self.error = str(exc)  # type: ignore[attr-defined]

    def _open_exemplar(self, layer: str, channel: int, index: int) -> None:
        result = self._exemplars
        if result is None or layer not in result.layer_names:
            raise CNNVizError(f"there are no exemplars of layer {layer!r} to open — mine it first (w.mine())")
        exemplar = next((e for e in result.top(layer, channel) if e.index == index), None)
        if exemplar is None:
            raise CNNVizError(f"image {index} is no longer among the top {result.k} of {layer} channel {channel} "
                              "(the mining pass moved on) — click one of those shown now")
        image = result.image(index)
        info = self.explorer.layer(layer)  # type: ignore[attr-defined]
        spatial = len(info.shape) > 1 and len(exemplar.position) == 2
        with self.hold_trait_notifications():
            self.layer, self.channel = layer, channel  # type: ignore[attr-defined]
            if spatial:
                self.position = list(exemplar.position)  # type: ignore[attr-defined]
        self.set_image(image, name=exemplar.id)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------------ mining
    def _on_progress(self, miner: Miner, done: int, total: int) -> None:
        """Called in the mining thread after every batch."""
        if miner is not self._miner:
            return
        now = time.monotonic()
        if now - self._progress_at >= _PROGRESS_EVERY or done >= total:
            self._progress_at = now
            self._set_mining(miner, "running")
        if now - self._snapshot_at >= _SNAPSHOT_EVERY:
            self._snapshot_at = now
            self._worker.poke("snapshot")

    def _take_snapshot(self) -> None:
        miner = self._miner
        if miner is None or self._mining_over:
            return
        snapshot = miner.snapshot()
        with self._lock:
            if snapshot is not None and miner is self._miner and not self._mining_over:
                self._install(snapshot)

    def _watch(self, miner: Miner) -> None:
        """Install a pass's final (or partial, if cancelled) result when it ends."""
        failure: BaseException | None = None
        try:
            result = miner.wait()
        except BaseException as exc:  # shown in the widget, not raised in a thread nobody reads
            result, failure = None, exc
        with self._lock:
            if miner is not self._miner:
                return
            self._mining_over = True
            if result is None:
                self._set_mining(miner, "failed", message=f"{type(failure).__name__}: {failure}")
            else:
                self._install(result)
                self.mining = self._result_info(result, "complete" if result.complete else "cancelled",
                                                shown=self._kept_entry)
        if failure is not None:
            self.error = f"mining failed: {failure}"  # type: ignore[attr-defined]

    def _install(self, result: Exemplars) -> None:
        with self._lock:
            self._exemplars = result
            self._version += 1
        self._poke("top9", "layer_atlas")

    def _set_mining(self, miner: Miner, state: str, message: str = "") -> None:
        with self._lock:  # a progress report from the mining thread never undoes a cancel asked for meanwhile
            if state == "running" and self._cancel_asked:
                state = "cancelling"
            p = miner.progress
            self.mining = {"state": state, "dataset": miner.dataset.name, "images": p.images, "skipped": p.skipped,
                           "done": p.done, "total": p.total, "k": miner.k, "layers": [i.name for i in miner.layers],
                           "version": self._version, "message": message,
                           "entry": str(miner.entry) if self._kept_entry and miner.entry is not None else None}

    def _result_info(self, result: Exemplars, state: str, shown: bool) -> dict[str, Any]:
        return {"state": state, "dataset": result.dataset_name, "images": result.images, "skipped": result.skipped,
                "done": result.images + result.skipped, "total": result.total, "k": result.k,
                "layers": result.layer_names, "version": self._version, "message": "",
                "entry": str(result.entry) if shown and result.entry is not None else None}

    # ------------------------------------------------------------------------------------------ the panels
    def _current(self) -> tuple[Exemplars | None, int]:
        with self._lock:
            return self._exemplars, self._version

    def _not_mined(self, base: dict[str, Any], result: Exemplars, layer: str) -> dict[str, Any]:
        mined = ", ".join(result.layer_names[:6]) + (" …" if len(result.layer_names) > 6 else "")
        return {**base, "state": "not-mined", "message": f"layer {layer} was not mined (mined: {mined}) — mine it "
                f"with w.mine(layers=[{layer!r}, ...])"}

    def _refresh_panel(self, trait: str, request_of: Callable[[], dict[str, Any]],
                       compute: Callable[[Exemplars, int, dict[str, Any]], dict[str, Any]]) -> None:
        """Compute panel ``trait`` for the current selection (``request_of()``) and set it, unless the selection
        moved on meanwhile (its own refresh is then queued); an error becomes the panel's error state."""
        result, version = self._current()
        request = request_of()
        if result is None:
            state: dict[str, Any] = {}
        else:
            try:
                state = compute(result, version, request)
            except CNNVizError as exc:
                state = {"request": request, "version": version, "state": "error", "message": str(exc)}
        if request == request_of():
            setattr(self, trait, state)

    def _refresh_top9(self) -> None:
        self._refresh_panel("top9", lambda: {"layer": self.layer, "channel": self.channel,  # type: ignore[attr-defined]
                                             "rule": self.rule}, self._top9_state)  # type: ignore[attr-defined]

    def _top9_state(self, result: Exemplars, version: int, request: dict[str, Any]) -> dict[str, Any]:
        layer, channel, rule = request["layer"], request["channel"], request["rule"]
        base = {"request": request, "version": version, "complete": result.complete, "k": result.k}
        if layer not in result.layer_names:
            return self._not_mined(base, result, layer)
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
            tiles = self._unit_tiles(result, layer, [channel], rule)[channel]
            state.update(tile=list(tiles.patches.shape[1:3]), box=list(tiles.box),
                         patches=_sheet(tiles.patches, state["cols"]),
                         projections=_sheet(tiles.projections, state["cols"]))
        return state

    def _refresh_layer_atlas(self) -> None:
        if not self.layer_atlas_open:
            return
        self._refresh_panel("layer_atlas", lambda: {"layer": self.layer, "page": self.layer_atlas_page,  # type: ignore[attr-defined]
                                                    "rule": self.rule, "sort_by": self.sort_by},  # type: ignore[attr-defined]
                            self._layer_atlas_state)

    def _layer_atlas_state(self, result: Exemplars, version: int, request: dict[str, Any]) -> dict[str, Any]:
        layer, rule = request["layer"], request["rule"]
        base = {"request": request, "version": version, "complete": result.complete, "k": result.k}
        if layer not in result.layer_names:
            return self._not_mined(base, result, layer)
        table = result.table(layer)
        stats = result.stats(layer)
        values = table["values"].numpy()
        counts = (table["indices"].numpy() >= 0).sum(axis=1)
        count, k = values.shape
        top = np.where(counts > 0, values[:, 0], -np.inf)
        order = list(range(count))
        if request["sort_by"] == "strength":
            order.sort(key=lambda c: (-top[c], c))
        pages = max(1, math.ceil(count / LAYER_ATLAS_PAGE))
        page = min(max(int(request["page"]), 0), pages - 1)
        channels = order[page * LAYER_ATLAS_PAGE:(page + 1) * LAYER_ATLAS_PAGE]
        live = [c for c in channels if counts[c] > 0 and not stats.dead[c]]
        tiles = self._unit_tiles(result, layer, live, rule)
        sample = next(iter(tiles.values()), None)
        tile = sample.small_patches.shape[1:3] if sample is not None else (1, 1)
        patches = np.zeros((len(channels), k, *tile, 3), np.uint8)
        projections = np.zeros_like(patches)
        shown = np.full((len(channels), k), np.nan, np.float32)
        rows = np.zeros((len(channels), 3), np.float32)
        top_class = []
        for i, c in enumerate(channels):
            shown[i, :counts[c]] = values[c, :counts[c]]
            rows[i] = (stats.firing_rate[c], stats.fired[c], top[c] if counts[c] else np.nan)
            if c in tiles:
                n = len(tiles[c].small_patches)
                patches[i, :n], projections[i, :n] = tiles[c].small_patches, tiles[c].small_projections
            mix = result.class_mix(layer, c)
            top_class.append([mix[0][1], mix[0][2]] if mix else None)
        flat = (len(channels) * k, *tile, 3)
        return {
            **base, "state": "ready", "message": "", "count": count, "page": page, "pages": pages,
            "page_size": LAYER_ATLAS_PAGE, "channels": channels, "images": stats.images, "tile": list(tile),
            "box": list(sample.box) if sample is not None else None,
            "patches": _sheet(patches.reshape(flat), k), "projections": _sheet(projections.reshape(flat), k),
            "values": shown.astype("<f4").tobytes(), "stats": rows.astype("<f4").tobytes(),
            "stats_columns": ["firing_rate", "fired", "top"], "top_class": top_class,
        }

    def _unit_tiles(self, result: Exemplars, layer: str, channels: Sequence[int], rule: str) -> dict[int, _Tiles]:
        """Display tiles of units with exemplars, computed in one batch for those not encoded before.

        Tiles are kept for reuse (paging back, toggling the rule, the next snapshot of a pass): a unit of the same
        model and dataset whose top-k images and positions did not change has the same patches and projections.
        Only the panel thread touches them."""
        source = (result.key["model"], result.key["dataset"])
        keys = {c: (*source, layer, c, rule, tuple((e.index, e.position) for e in result.top(layer, c)))
                for c in channels}
        todo = [c for c, key in keys.items() if key not in self._tiles]
        if todo:
            order = getattr(self.explorer.spec.preprocess, "channel_order", "RGB")  # type: ignore[attr-defined]
            computed = result.atlas(layer, todo, rule=rule)
            for c in todo:
                patches = [e.patch for e in computed[c]]
                projections = [e.projection for e in computed[c]]
                big = encode.exemplar_tiles(patches, projections, order, encode.TOP9_TILE)
                small = encode.exemplar_tiles(patches, projections, order, encode.LAYER_ATLAS_TILE)
                self._tiles[keys[c]] = _Tiles(tuple(patches[0].shape[:2]), *big, *small)
        out = {}
        for c, key in keys.items():
            self._tiles.move_to_end(key)
            out[c] = self._tiles[key]
        while len(self._tiles) > len(out) and sum(t.nbytes for t in self._tiles.values()) > _TILE_BYTES:
            self._tiles.popitem(last=False)
        return out
