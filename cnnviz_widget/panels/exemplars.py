"""Dataset exemplars in the widget (Zeiler & Fergus's Figure 2): the unit card's top-9 panel, the layer atlas, mining.

Its share of the protocol with the front end (``js/src/panels/top9.js``, ``layer-atlas.js``, ``mining-status.js``):

* **Selection** — synced both ways: ``layer_atlas_open`` (bool; the layer atlas is computed only while open) and
  ``layer_atlas_page`` (int; back to 0 on a new layer), with the widget's ``layer``, ``channel``, ``rule``,
  ``display``, ``crop`` and ``sort_by``.
* **Results** — written by Python only; ``top9`` and ``layer_atlas`` are stamped with the request they answer:

  - ``mining``: ``{state, dataset, images, skipped, done, total, k, layers, version, message, entry}``: where the
    exemplars come from; ``{}`` before any. ``state`` is ``"running"``, ``"cancelling"``, ``"complete"``,
    ``"cancelled"`` (a partial result, resumed by mining again), ``"partial"`` (an unfinished cache) or
    ``"failed"``; ``layers`` the mined layers; ``version`` grows with every new (partial) result.
  - ``top9``: ``{request: {layer, channel, rule, display, crop}, version, complete, view, state, message, k, count,
    cols, tile, box, patches, projections, exemplars: [{rank, value, index, id, label, label_name, position}],
    stats: {images, fired, firing_rate, dead, class_mix: [[label, name, count], ...]}}``: the selected unit's top-k
    images, shown as the unit card shows the unit (``view``: the rule, display and crop, the ``"auto"`` ones
    resolved for the layer, :func:`~cnnviz_widget.views.view_state`). ``patches`` and ``projections`` are PNG
    sheets of ``count`` tiles of ``tile`` px, ``cols`` a row, strongest first (``box``: the size of what they show
    — the receptive field or its central half — before shrinking). ``state``: ``"ready"``, ``"dead"`` (the unit
    never fired: no pictures), ``"empty"`` (no image mined yet), ``"not-mined"`` or ``"error"`` (``message`` says
    why); ``{}`` while there are no exemplars.
  - ``layer_atlas``: ``{request: {layer, page, rule, display, crop, sort_by}, version, complete, view, state,
    message, count, page, pages, page_size, channels, k, tile, box, images, patches, projections, values, stats,
    stats_columns, top_class}``: one page of the layer's units, shown as ``top9`` is. Row ``i`` of the PNG sheets holds unit ``channels[i]``'s exemplars, strongest first;
    ``values`` is little-endian float32 ``[len(channels), k]`` (NaN: no exemplar), ``stats`` float32 rows of
    ``stats_columns`` (``firing_rate``, ``fired``, ``top``), ``top_class`` the commonest label of each unit's top-k
    (``[name, count]`` or ``None``).
* **Commands** — ``{"type": "exemplar", "layer", "channel", "index"}``: make dataset image ``index`` (one of the
  unit's exemplars) the current image, with the unit selected at the exemplar's position; ``{"type": "mining",
  "action": "cancel"}``: stop the pass after its current batch (checkpointed: mining again resumes it).

Threads: patches and projections are computed in the panel's background :class:`~cnnviz_widget.jobs.JobRunner`,
newest request first (a burst of clicks computes the last unit only), so the unit card keeps answering clicks at its
usual speed. A mining pass runs in its own thread (:meth:`~cnnviz_widget.engine.exemplars.mining.Miner.start`); the
panels fill in from snapshots taken at most once a second. The engine's hooks ignore other threads' forward passes,
so the widget stays usable while it mines. :meth:`ExemplarsPanel.wait` waits for all of it.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import Exemplars, Miner
from ..errors import CNNVizError
from ..jobs import Job, JobRunner, Refresh
from ..session import Session
from ..state import exemplars as states
from ..state.exemplars import ExemplarTiles
from ..views import View

if TYPE_CHECKING:
    from ..widget import CNNViz

__all__ = ["FOLLOW_EVERY", "ExemplarsPanel"]

_PROGRESS_EVERY = 0.25  # seconds between progress updates sent to the front end
_SNAPSHOT_EVERY = 1.0  # seconds between snapshots of a running pass (a snapshot copies every table)
#: Seconds between looks at an unfinished cache folder the widget shows (a `cnnviz mine` still writing it).
FOLLOW_EVERY = 2.0
#: The panel jobs, in the order they run when several wait: a new snapshot first, then the panels that show it.
_PRIORITY = {"snapshot": 0, "top9": 1, "layer_atlas": 2}


class ExemplarsPanel:
    """The dataset-exemplar panels (see the module docstring for the protocol).

    Verbs: :meth:`mine` (in the background, with a progress bar and a cancel button in the widget),
    :meth:`load` (a cache written by ``cnnviz mine``, or a mined result), :meth:`wait`; :attr:`exemplars` is the
    result behind the panels; :attr:`tiles` the encoded pictures of its units (the HTML export reuses them).
    """

    writes = ("top9", "layer_atlas", "mining")
    observes = ("layer", "channel", "rule", "display", "crop", "layer_atlas_open", "layer_atlas_page", "sort_by")
    commands = ("exemplar", "mining")

    def __init__(self, session: Session, host: CNNViz) -> None:
        self.session = session
        self.host = host
        self.tiles = ExemplarTiles()
        self._exemplars: Exemplars | None = None
        self._version = 0
        self._miner: Miner | None = None
        self._follow = 0  # bumped to stop following an unfinished cache folder (see _follow_cache)
        self._watcher: threading.Thread | None = None
        self._mining_over = True
        self._cancel_asked = False
        self._kept_entry = False
        self._progress_at = self._snapshot_at = -math.inf
        self._session_dir: tempfile.TemporaryDirectory | None = None
        self._hidden: tuple[Exemplars | None, dict[str, Any]] | None = None
        self._runner = JobRunner("cnnviz-panels", self._on_job_error)

    # ------------------------------------------------------------------------------------------ public
    @property
    def exemplars(self) -> Exemplars | None:
        """The mined result behind the panels (a snapshot while a pass runs), or ``None``."""
        return self._exemplars

    @property
    def mining_running(self) -> bool:
        """Whether a mining pass is running."""
        return self._miner is not None and self._miner.running

    def current(self) -> tuple[Exemplars | None, int]:
        """The result behind the panels and its version (grows with every new result), read together."""
        with self.session.lock:
            return self._exemplars, self._version

    def mine(self, data: Any = "demo", *, layers: Sequence[str] | None = None, k: int = 9, batch_size: int = 32,
             cache_dir: str | Path | None = None, checkpoint_every: float = 60.0) -> Miner:
        """Mine every unit's top-``k`` dataset exemplars in the background; the panels fill in as results arrive.

        The widget stays usable meanwhile, shows a progress bar with a cancel button, and its top-9 panel and layer
        atlas update from partial results about once a second.

        Args:
            data: anything :func:`~cnnviz_widget.engine.exemplars.datasets.open_dataset` reads: a folder of images,
                ``"demo"`` (the photos that ship with the installed packages), a list, a torch ``Dataset``.
            layers: layer names (default: every convolution, block and linear layer —
                :data:`~cnnviz_widget.engine.exemplars.mining.MINED_KINDS`).
            k: exemplars per unit.
            batch_size: images per forward pass.
            cache_dir: where checkpoints and the result go. Default: a temporary folder kept while the widget
                lives, so a cancelled pass resumes when mined again. Pass a folder to keep the result across
                sessions (and open it with :meth:`load_exemplars` or ``CNNViz(exemplars=...)``).
            checkpoint_every: seconds between checkpoints.

        Returns:
            The :class:`~cnnviz_widget.engine.exemplars.mining.Miner`, already started (``.wait()`` returns its
            result, ``.cancel()`` stops it).

        Raises:
            CNNVizError: a pass is already running, a checkpoint is open, or the dataset is empty or unreadable.
        """
        if self.mining_running:
            raise CNNVizError("a mining pass is already running — cancel it first (the widget's cancel button, or "
                              "w.mine(...).cancel() on the miner it returned)")
        if cache_dir is None:
            if self._session_dir is None:
                self._session_dir = tempfile.TemporaryDirectory(prefix="cnnviz-mining-")
            cache_dir = self._session_dir.name
        miner = Miner(self.session.explorer, data, layers=layers, k=k, batch_size=batch_size, cache_dir=cache_dir,
                      checkpoint_every=checkpoint_every)
        with self.session.lock:
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

    def load(self, source: str | Path | Exemplars, *, data: Any = None) -> Exemplars:
        """Show exemplars mined before: a cache folder (``cnnviz mine --out``, ``w.mine(cache_dir=...)``) or a result.

        Args:
            source: the cache folder, or an :class:`~cnnviz_widget.engine.Exemplars`.
            data: the dataset that was mined, if it cannot be reopened from where it was (a folder moved
                elsewhere, a list of images, a torch ``Dataset``).

        Raises:
            CNNVizError: the folder holds nothing mined with this model's weights, the dataset changed, a pass is
                running or a checkpoint is open.
        """
        if self.mining_running:
            raise CNNVizError("a mining pass is running — cancel it (or wait for it) before loading other exemplars")
        explorer = self.session.explorer
        if isinstance(source, Exemplars):
            result = source.attach(model=explorer, data=data)
        else:
            result = Exemplars.load(source, model=explorer, data=data, partial=True)
        with self.session.lock:
            self._miner = None
            self._follow += 1
            self._install(result)
            self.host.mining = states.mined_info_state(result, "complete" if result.complete else "partial",
                                                       self._version, shown_entry=True)
            if not result.complete and not isinstance(source, Exemplars) and result.entry is not None:
                threading.Thread(target=self._follow_cache, args=(source, data, result, self._follow),
                                 name="cnnviz-cache-follow", daemon=True).start()
        return result

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a running mining pass has ended and the panels answer the current selection; ``False`` if
        ``timeout`` (seconds) passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout)
            if watcher.is_alive():
                return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._runner.wait(left)

    def stop(self) -> None:
        """Stop the background work: a mining pass after its batch; following a cache folder."""
        miner = self._miner
        if miner is not None and miner.running:
            miner.cancel()
        self._follow += 1

    def hide(self) -> None:
        """Set the exemplars aside (a checkpoint of other weights is shown); :meth:`restore` brings them back."""
        self._runner.wait()
        with self.session.lock:
            self._hidden = (self._exemplars, dict(self.host.mining))
            self._exemplars = None
            self._follow += 1  # an unfinished cache is no longer followed
            self.host.top9, self.host.layer_atlas, self.host.mining = {}, {}, {}

    def restore(self) -> None:
        """Show the exemplars set aside by :meth:`hide` again."""
        hidden, self._hidden = self._hidden, None
        if hidden is None or hidden[0] is None:
            return
        result, mining = hidden
        self.host.mining = mining
        self._install(result)

    def selected_tiles(self) -> tuple[np.ndarray, np.ndarray, str] | None:
        """The selected unit's exemplars for the unit card: ``(projections, patches, caption)``, when its top-9 panel
        shows them."""
        host = self.host
        top9 = host.top9
        result = self._exemplars
        request = self._top9_request()
        if result is None or top9.get("state") != "ready" or top9.get("request") != request:
            return None
        tiles = self.tiles.get(result, host.layer, [host.channel], self._view(request), self.session.channel_order)
        unit = tiles[host.channel]
        return (unit.projections, unit.patches,
                f"top-{top9['k']} of {top9['stats']['images']} dataset images · {top9['view']['text']}")

    # ------------------------------------------------------------------------------------------ changes
    def on_change(self, name: str, new: Any) -> None:
        if name == "layer":
            self.host.layer_atlas_page = 0
        if name in ("layer", "channel", "rule", "display", "crop"):
            self._poke("top9", "layer_atlas")
        else:
            self._poke("layer_atlas")

    def _poke(self, *jobs: str) -> None:
        if self._exemplars is None:
            return
        for name in jobs:
            self._submit(name)

    def _submit(self, name: str) -> None:
        work = {"snapshot": self._take_snapshot, "top9": self._refresh_top9,
                "layer_atlas": self._refresh_layer_atlas}[name]
        self._runner.submit(Refresh(name, work), priority=_PRIORITY[name])

    def _on_job_error(self, _job: Job, exc: BaseException) -> None:
        self.host.error = f"exemplar panels: {type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------------------------------ commands
    def on_command(self, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        if content.get("type") == "exemplar":
            self._open_exemplar(str(content.get("layer")), int(content.get("channel", -1)),
                                int(content.get("index", -1)))
        elif content.get("action") == "cancel":
            miner = self._miner
            if miner is not None and miner.running:
                with self.session.lock:
                    self._cancel_asked = True
                    miner.cancel()
                    self._set_mining(miner, "cancelling")

    def _open_exemplar(self, layer: str, channel: int, index: int) -> None:
        result = self._exemplars
        if result is None or layer not in result.layer_names:
            raise CNNVizError(f"there are no exemplars of layer {layer!r} to open — mine it first (w.mine())")
        exemplar = next((e for e in result.top(layer, channel) if e.index == index), None)
        if exemplar is None:
            raise CNNVizError(f"image {index} is no longer among the top {result.k} of {layer} channel {channel} "
                              "(the mining pass moved on) — click one of those shown now")
        image = result.image(index)
        info = self.session.explorer.layer(layer)
        spatial = len(info.shape) > 1 and len(exemplar.position) == 2
        host = self.host
        with host.hold_trait_notifications():
            host.layer, host.channel = layer, channel
            if spatial:
                host.position = list(exemplar.position)
        host.set_image(image, name=exemplar.id)

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
            self._submit("snapshot")

    def _take_snapshot(self) -> None:
        miner = self._miner
        if miner is None or self._mining_over:
            return
        snapshot = miner.snapshot()
        with self.session.lock:
            if snapshot is not None and miner is self._miner and not self._mining_over:
                self._install(snapshot)

    def _watch(self, miner: Miner) -> None:
        """Install a pass's final (or partial, if cancelled) result when it ends."""
        failure: BaseException | None = None
        try:
            result = miner.wait()
        except BaseException as exc:  # shown in the widget, not raised in a thread nobody reads
            result, failure = None, exc
        with self.session.lock:
            if miner is not self._miner:
                return
            self._mining_over = True
            if result is None:
                self._set_mining(miner, "failed", message=f"{type(failure).__name__}: {failure}")
            else:
                self._install(result)
                self.host.mining = states.mined_info_state(
                    result, "complete" if result.complete else "cancelled", self._version, self._kept_entry)
        if failure is not None:
            self.host.error = f"mining failed: {failure}"

    def _follow_cache(self, source: str | Path, data: Any, shown: Exemplars, token: int) -> None:
        """Keep an unfinished cache folder's panels up to date while another process (``cnnviz mine``) fills it:
        look every :data:`FOLLOW_EVERY` seconds, re-read it when its files changed; stop once it is complete, or
        when the widget mines, loads something else or closes."""
        entry = Path(str(shown.entry))

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
                fresh = Exemplars.load(source, model=self.session.explorer, data=data, partial=True)
            except Exception:  # a file caught mid-write, say: look again next time
                continue
            with self.session.lock:
                if token != self._follow:
                    return
                if fresh.images + fresh.skipped > shown.images + shown.skipped or fresh.complete:
                    shown = fresh
                    self._install(fresh)
                    self.host.mining = states.mined_info_state(
                        fresh, "complete" if fresh.complete else "partial", self._version, shown_entry=True)
            if fresh.complete:
                return

    def _install(self, result: Exemplars) -> None:
        with self.session.lock:
            self._exemplars = result
            self._version += 1
        self._poke("top9", "layer_atlas")

    def _set_mining(self, miner: Miner, state: str, message: str = "") -> None:
        with self.session.lock:  # a progress report from the mining thread never undoes a cancel asked for meanwhile
            if state == "running" and self._cancel_asked:
                state = "cancelling"
            self.host.mining = states.mining_progress_state(miner, state, self._version, self._kept_entry, message)

    # ------------------------------------------------------------------------------------------ the panels
    def _refresh(self, trait: str, request_of: Callable[[], dict[str, Any]],
                 compute: Callable[[Exemplars, int, dict[str, Any]], dict[str, Any]]) -> None:
        """Compute panel ``trait`` for the current selection (``request_of()``) and set it, unless the selection
        moved on meanwhile (its own refresh is then queued); an error becomes the panel's error state."""
        result, version = self.current()
        request = request_of()
        if result is None:
            state: dict[str, Any] = {}
        else:
            try:
                state = compute(result, version, request)
            except CNNVizError as exc:
                state = states.error_state(request, version, exc)
        if request == request_of():
            self.host.set_trait(trait, state)

    def _top9_request(self) -> dict[str, Any]:
        host = self.host
        return {"layer": host.layer, "channel": host.channel, "rule": host.rule, "display": host.display,
                "crop": host.crop}

    def _view(self, request: dict[str, Any]) -> View:
        return self.session.view(request["layer"], request["rule"], request["display"], request["crop"])

    def _refresh_top9(self) -> None:
        self._refresh("top9", self._top9_request, lambda result, version, request: states.top9_state(
            result, version, request, self.tiles, self.session.channel_order, self._view(request)))

    def _refresh_layer_atlas(self) -> None:
        host = self.host
        if not host.layer_atlas_open:
            return
        self._refresh("layer_atlas", lambda: {"layer": host.layer, "page": host.layer_atlas_page, "rule": host.rule,
                                              "display": host.display, "crop": host.crop, "sort_by": host.sort_by},
                      lambda result, version, request: states.layer_atlas_state(
                          result, version, request, self.tiles, self.session.channel_order, self._view(request)))
