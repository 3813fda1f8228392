"""Mining the top-k dataset exemplars of every unit (Zeiler & Fergus 2013, Figure 2) in one streaming pass.

For every chosen layer and channel the pass keeps the ``k`` images whose strongest response in that channel is
largest, each with the location of that response — **one entry per image per channel**, as the paper's exemplars
are distinct images. Ties are broken by dataset position, so the answer is one well-defined set whatever the batch
size, the order of the batches, or how the dataset is split across processes.

How it stays at forward-pass speed with memory that does not grow with the dataset:

* each layer's output is reduced inside its forward hook (:func:`~.capture.run_to` ``keep=``): a per-channel
  maximum per image, merged at once into a running ``[C, k]`` table; the location (an argmax over the map) is
  computed only for the few (image, channel) pairs that enter the table; the forward stops after the deepest layer;
* per-unit statistics come from the same maxima: a histogram over fixed log-spaced bins (so histograms of two
  shards add up exactly), how many images the unit fires on (maximum > 0), the smallest maximum seen;
* images are read, decoded and preprocessed by reader threads on every core that take turns with the forward on
  the CPU (and run ahead of it beside a GPU) — a large JPEG at a reduced size where the model allows — straight
  into the layout the forward runs in (:mod:`.loading`).

Checkpoints go to disk atomically (see :mod:`.cache`) every ``checkpoint_every`` seconds, after whole batches;
a process killed at any moment resumes after its last checkpoint and, since a batch's arithmetic does not depend
on what ran before it, ends with exactly the result of an uninterrupted run (the same bytes on disk). A disk that
fills up during a checkpoint stops the pass with an error that says so; the previous checkpoint stays whole. A
damaged (cut short) checkpoint or result is noticed with a warning and recomputed. Under ``torch.distributed`` (e.g.
``torchrun``) the batches are dealt round-robin to the processes — each process computes exactly the batches a
single process would — and the tables are merged at the end to exactly the single-process result.

Patches and projections of the exemplars are made afterwards, in batches, by :class:`~.exemplars.Exemplars`.
"""

from __future__ import annotations

import errno
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import CNNVizError, LayerError
from ..cache import atomic_save, entry_dir, load_checked, remove_stale_temporaries
from ..explorer import Explorer
from ..model.capture import eval_mode, run_to
from ..model.layers import LayerInfo
from ..model.models import ModelSpec
from .datasets import ImageDataset, open_dataset
from .loading import BatchReader, reduces_jpegs
from .passes import MERGE_EVERY, MiningProgress, PassState, PendingBatch, rank_and_size
from .results import Exemplars
from .topk import (
    EMPTY,
    HIST_OCTAVES,
    HIST_PER_OCTAVE,
    batch_peaks,
    empty_table,
    histogram_edges,
    merge_states,
)

__all__ = ["MINING_VERSION", "Miner", "MiningProgress", "PassState", "PendingBatch", "mine"]

#: Bump whenever a change to this module could change a mined result: it is part of every cache key.
MINING_VERSION = 2  # 2: batches run channels-last on the CPU (engine/capture.py), which can round differently
#: The layers mined by default: those whose units a unit card is about. Activations and pools repeat the layer
#: before them (a ReLU or a max-pool keeps which image excites a unit most).
MINED_KINDS = ("conv", "block", "linear")
def _warn_if_damaged(path: Path, loaded: dict[str, Any] | None, what: str) -> None:
    """Warn when a cache file exists but could not be used (cut short by a full disk, a copy, a crash elsewhere)."""
    if loaded is None and path.is_file():
        warnings.warn(f"the mining {what} {path} is damaged or unreadable (cut short?) — it is ignored and its work "
                      "done again", RuntimeWarning, stacklevel=3)


class Miner:
    """One mining pass: the top-``k`` exemplars and statistics of every unit of ``layers`` over a dataset.

    Example::

        miner = Miner(load_model("squeezenet1_1"), "demo", cache_dir="~/.cache/cnnviz")
        result = miner.run()                           # blocking; tqdm bar in a console
        result.top("features.3.expand3x3", 12)         # [Exemplar(value, id, position, label, ...), ...]

    In a widget, run it in the background and read partial results while it runs::

        miner.start(progress=lambda done, total: ...)  # a thread
        miner.snapshot()                               # Exemplars so far (.complete is False until the end)
        miner.cancel()                                 # stops after the current batch (checkpointed: resumable)
        result = miner.wait()

    Args:
        model: an :class:`~.explorer.Explorer`, a :class:`~.models.ModelSpec`, an ``nn.Module`` or a model name.
        data: anything :func:`~.datasets.open_dataset` takes (a folder, ``"demo"``, a list, a ``Dataset``).
        layers: layer names (default: every convolution, block and linear layer, :data:`MINED_KINDS`).
        k: exemplars per unit.
        batch_size: images per forward pass (a resumed pass keeps the one it started with).
        cache_dir: a folder for checkpoints and results (see :mod:`.cache`); ``None`` keeps everything in memory.
        checkpoint_every: seconds between checkpoints (0: after every batch).
        workers: threads that read and decode images (default: one per core, at most 8; on the CPU they work
            while the forward waits for its batch, see :mod:`.loading`).
        reduced_decode: decode a JPEG at 1/2, 1/4 or 1/8 of its size when the part the model sees stays at least
            twice the model's input (far faster for large photos; the input then differs slightly from a full
            decode — see :mod:`.loading`); ``False`` decodes every image in full. Part of the cache key.

    Warnings:
        Results are exact for a given batch size, device and number of CPU threads. With another batch size, device
        or thread count a backend may pick another convolution algorithm and round the last bit of an activation
        differently, which can swap two near-tied exemplars. A resumed or distributed run computes the very batches
        of an uninterrupted one, so it is bitwise equal to it — under ``torchrun`` each process has
        ``OMP_NUM_THREADS=1`` unless told otherwise, so compare with a one-process run on one thread.

        While a pass runs in the background the model stays usable from other threads (the pass's hooks ignore
        their forward passes); a ``DataParallel`` model, whose replicas run in worker threads, cannot be mined.
    """

    def __init__(
        self,
        model: Explorer | ModelSpec | nn.Module | str,
        data: Any,
        *,
        layers: Sequence[str] | None = None,
        k: int = 9,
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        checkpoint_every: float = 60.0,
        workers: int | None = None,
        reduced_decode: bool = True,
    ) -> None:
        self.explorer = model if isinstance(model, Explorer) else Explorer(model)
        self.spec = self.explorer.spec
        self.dataset: ImageDataset = open_dataset(data)
        if not isinstance(k, int) or k < 1:
            raise CNNVizError(f"k must be a positive whole number of exemplars per unit, not {k!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CNNVizError(f"batch_size must be a positive whole number, not {batch_size!r}")
        names = list(layers) if layers is not None else [i.name for i in self.explorer.layers if i.kind in MINED_KINDS]
        if not names:
            raise LayerError("no layers to mine — pass layers=[...] (see Explorer.layer_names)")
        self.layers: list[LayerInfo] = [self.explorer.layer(n) for n in dict.fromkeys(names)]
        self.k = k
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.checkpoint_every = checkpoint_every
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise CNNVizError(f"workers must be a positive whole number of reader threads, not {workers!r}")
        self.workers = workers
        self.reduced_decode = bool(reduced_decode)
        self._saved: int | None = None  # images in the last checkpoint written or resumed from
        self._lock = threading.Lock()
        self._state: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome: Exemplars | BaseException | None = None
        self._key: dict[str, Any] | None = None
        self.progress = MiningProgress(0, len(self.dataset), 0, 0, 0.0)

    # ------------------------------------------------------------------------------------------ cache key
    @property
    def key(self) -> dict[str, Any]:
        """Everything that changes the answer; its hash names the cache entry. The weights are hashed afresh at
        every :meth:`run` (a model trained further in place gets a new key)."""
        if self._key is None:
            self._key = self._make_key()
        return self._key

    def _make_key(self) -> dict[str, Any]:
        from ... import __version__

        describe = getattr(self.spec.preprocess, "describe", None)
        self.spec.invalidate_fingerprint()
        return {
            "what": "top-k exemplars",
            "code": f"cnnviz-widget {__version__} / mining {MINING_VERSION}",
            "model": self.spec.fingerprint(),
            "preprocess": describe() if callable(describe) else repr(self.spec.preprocess),
            "input_shape": list(self.spec.input_shape),
            "dtype": str(self.spec.dtype),
            "device": self.spec.device.type,
            "dataset": self.dataset.fingerprint(),
            "preprocessed": self.dataset.preprocessed,
            "decode": "jpeg-dct-reduced" if reduces_jpegs(self.spec.preprocess, self.spec.input_shape,
                                                          self.reduced_decode) else "full",
            "layers": [[info.name, list(info.shape)] for info in self.layers],
            "k": self.k,
            "histogram": [HIST_OCTAVES, HIST_PER_OCTAVE],
        }

    def _meta(self) -> dict[str, Any]:
        """What a viewer needs besides the tables: names, not part of the key."""
        return {
            "model_name": self.spec.name,
            "dataset_name": self.dataset.name,
            "dataset_source": self.dataset.source,
            "class_names": self.dataset.class_names,
        }

    @property
    def entry(self) -> Path | None:
        """The cache folder of this pass (``None`` without ``cache_dir``)."""
        if self.cache_dir is None:
            return None
        return entry_dir(self.cache_dir, self.key, prefix=self.spec.name)

    # ---------------------------------------------------------------------------------------- running
    def run(self, *, progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
            bar: bool | None = None) -> Exemplars:
        """Mine (or resume, or load a finished result from the cache) and return the :class:`Exemplars`.

        Args:
            progress: called as ``progress(done, total)`` after every batch.
            cancel: when set, the pass stops after the current batch, checkpoints, and returns the partial result
                (``.complete`` is ``False``); running again resumes it.
            bar: show a tqdm bar on stderr (default: when stderr is a terminal; only the first process).
        """
        self._cancel = cancel if cancel is not None else threading.Event()
        rank, world = rank_and_size()
        self._key = self._make_key()
        key = self._key
        entry = self.entry
        if entry is not None:
            final = load_checked(entry / "result.pt", key)
            if final is not None and final.get("complete"):
                return self._result(final)
            _warn_if_damaged(entry / "result.pt", final, "result")
        state = self._resume(entry, key, rank, world)
        self._saved = int(state["images"]) if entry is not None and state["next"] else None
        with self._lock:
            self._state = state
        self._pass(state, entry, key, rank, world, progress, bar)
        if not state["complete"]:
            return self._result(state)
        if world > 1:
            import torch.distributed as dist

            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, state)
            merged = merge_states(gathered, self.k)
        else:
            merged = merge_states([state], self.k)
        if merged["images"] == 0:
            first = merged["skipped_items"][0][2] if merged["skipped_items"] else "no items"
            raise CNNVizError(
                f"none of the {len(self.dataset)} items of {self.dataset.name} could be read (first failure: "
                f"{first}) — check the files, or the dataset's transform"
            )
        merged["ids"] = self._ids(merged)
        if entry is not None and rank == 0:
            self._save(entry / "result.pt", merged, key, "result")
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
        if entry is not None and rank == 0:
            for old in (entry / "progress").glob("*.pt"):
                old.unlink(missing_ok=True)
            remove_stale_temporaries(entry)
            remove_stale_temporaries(entry / "progress")
        return self._result(merged)

    def _resume(self, entry: Path | None, key: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
        if entry is not None:
            path = entry / "progress" / f"rank{rank}-of-{world}.pt"
            saved = load_checked(path, key)
            if saved is not None:
                return saved
            _warn_if_damaged(path, saved, "checkpoint")
        edges = histogram_edges()
        device = torch.device("cpu")
        return {
            "format": MINING_VERSION, "k": self.k, "batch_size": self.batch_size, "rank": rank, "world": world,
            "next": 0, "complete": False, "images": 0, "skipped": 0, "skipped_items": [], "total": len(self.dataset),
            "ids": [], **self._meta(),
            "layers": {info.name: empty_table(info.channels, self.k, max(len(info.shape) - 1, 0), edges.numel() + 1,
                                              device) for info in self.layers},
        }

    def _pass(self, state: dict[str, Any], entry: Path | None, key: dict[str, Any], rank: int, world: int,
              progress: Callable[[int, int], None] | None, bar: bool | None) -> None:
        batch_size = int(state["batch_size"])
        n = len(self.dataset)

        def size(chunk: int) -> int:
            return min(batch_size, n - chunk * batch_size)

        chunks = list(range(rank, math.ceil(n / batch_size), world))
        todo = chunks[int(state["next"]):]
        device, dtype = self.spec.device, self.spec.dtype
        edges = histogram_edges().to(device)
        tables = {name: {k: v.to(device) for k, v in table.items()} for name, table in state["layers"].items()}
        total = sum(size(c) for c in chunks)
        run = PassState(chunks=chunks, total=total, done=total - sum(size(c) for c in todo), tables=tables,
                        pending={name: [] for name in tables})
        with self._lock:
            state["layers"] = tables
        started = last_save = time.monotonic()
        show = bar if bar is not None else sys.stderr.isatty()
        tqdm_bar = None
        if show and rank == 0:
            try:
                from tqdm import tqdm

                tqdm_bar = tqdm(total=total, initial=run.done, unit="img", desc=f"mining {len(self.layers)} layers"
                                + (f" (rank 0 of {world})" if world > 1 else ""), dynamic_ncols=True)
            except ImportError:
                tqdm_bar = None
        state["complete"] = int(state["next"]) >= len(chunks)
        self._report(state, run.done, total, started, False, progress)
        reader = BatchReader(self.dataset, self.spec.preprocess, self.spec.input_shape, model=self.explorer.model,
                             device=device, dtype=dtype, batch_size=batch_size, workers=self.workers,
                             reduced_decode=self.reduced_decode)
        batches = reader.batches(todo)
        try:
            # Each hook keeps only its maps' maxima and their places (a PendingBatch); the pass state merges them
            # into the tables, and advances the counts with them, under the lock: a snapshot or a checkpoint
            # always sees whole batches.
            with eval_mode(self.explorer.model), torch.no_grad():
                for batch in batches:
                    if batch.inputs is not None:
                        x = batch.inputs.to(device, dtype, non_blocking=True)
                        index = torch.tensor(batch.indices, dtype=torch.int64, device=device)
                        label = torch.tensor(batch.labels, dtype=torch.int64, device=device)

                        def keep(info: LayerInfo, output: torch.Tensor, index=index, label=label) -> None:
                            peak, where = batch_peaks(output)
                            run.pending[info.name].append(
                                PendingBatch(peak, where, tuple(output.shape[2:]), index, label))

                        run_to(self.explorer.model, x, self.layers, keep=keep)
                    run.hold(batch)
                    run.done += size(batch.chunk)
                    if tqdm_bar is not None:
                        tqdm_bar.update(size(batch.chunk))
                        tqdm_bar.set_postfix(skipped=state["skipped"] + run.skipped, refresh=False)
                    self._report(state, run.done, total, started, False, progress)  # (it may ask to cancel)
                    now = time.monotonic()
                    due = entry is not None and now - last_save >= self.checkpoint_every
                    last = int(state["next"]) + run.batches == len(chunks)
                    if run.batches >= MERGE_EVERY or last or due or self._cancel.is_set():
                        with self._lock:
                            run.merge(state, edges)
                    if entry is not None and (state["complete"] or due or self._cancel.is_set()):
                        self._checkpoint(state, entry, key, rank, world)
                        last_save = now
                    if self._cancel.is_set():
                        break
        finally:
            batches.close()
            if tqdm_bar is not None:
                tqdm_bar.close()
        with self._lock:
            state["layers"] = {name: {k: v.to("cpu") for k, v in t.items()} for name, t in tables.items()}
        self._report(state, run.done, total, started, True, progress)

    def _save(self, path: Path, obj: dict[str, Any], key: dict[str, Any], what: str) -> None:
        """``atomic_save``, with a disk that fills up turned into an error that says what is left and what to do."""
        try:
            atomic_save(path, obj, key)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            kept = (f"the previous checkpoint ({self._saved} images mined) is intact" if self._saved is not None
                    else "no checkpoint had been written yet")
            raise CNNVizError(
                f"the disk is full ({exc.strerror}): writing the {what} {path} failed, and {kept} — free some space "
                f"on the disk holding {path.parent} (or mine into another cache folder: --out / cache_dir=), then "
                "run again to resume"
            ) from exc

    def _checkpoint(self, state: dict[str, Any], entry: Path, key: dict[str, Any], rank: int, world: int) -> None:
        cpu = dict(state)
        cpu["layers"] = {name: {k: v.to("cpu") for k, v in t.items()} for name, t in state["layers"].items()}
        cpu["ids"] = self._ids(cpu)
        self._save(entry / "progress" / f"rank{rank}-of-{world}.pt", cpu, key, "checkpoint")
        self._saved = int(cpu["images"])

    def _ids(self, state: dict[str, Any]) -> list[list[Any]]:
        """``[[index, id], ...]`` for the images in the tables (so a result can be shown without the dataset)."""
        used: set[int] = set()
        for table in state["layers"].values():
            used.update(int(i) for i in table["indices"].flatten().tolist() if i != EMPTY)
        return [[i, self.dataset.id(i)] for i in sorted(used)]

    def _report(self, state: dict[str, Any], done: int, total: int, started: float, finished: bool,
                progress: Callable[[int, int], None] | None) -> None:
        self.progress = MiningProgress(done, total, int(state["images"]), int(state["skipped"]),
                                       time.monotonic() - started, finished)
        if progress is not None:
            progress(done, total)

    def _result(self, state: dict[str, Any]) -> Exemplars:
        state = dict(state)
        state["ids"] = self._ids(state)
        return Exemplars(state, key=self.key, explorer=self.explorer, dataset=self.dataset, entry=self.entry)

    # ------------------------------------------------------------------------------------ in the background
    def start(self, *, progress: Callable[[int, int], None] | None = None) -> threading.Thread:
        """Run in a background thread (no tqdm bar); see :meth:`snapshot`, :meth:`cancel`, :meth:`wait`."""
        if self._thread is not None and self._thread.is_alive():
            raise CNNVizError("this miner is already running — call wait() or cancel() first")
        self._cancel = threading.Event()
        self._outcome = None

        def work() -> None:
            try:
                self._outcome = self.run(progress=progress, cancel=self._cancel, bar=False)
            except BaseException as exc:  # handed to wait()
                self._outcome = exc

        self._thread = threading.Thread(target=work, name="cnnviz-miner", daemon=True)
        self._thread.start()
        return self._thread

    def cancel(self) -> None:
        """Stop after the current batch; the checkpoint is kept, so running again resumes."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> Exemplars | None:
        """Wait for :meth:`start` 's thread; its result (``None`` if still running after ``timeout``)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return None
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Exemplars | None:
        """The result so far (``None`` before the pass starts): safe to call from any thread while it runs.

        It may already hold some layers' share of the batch in flight (the counts say which batches are done)."""
        with self._lock:
            if self._state is None:
                return None
            state = dict(self._state)
            state["layers"] = {name: {k: v.to("cpu", copy=True) for k, v in t.items()}
                               for name, t in self._state["layers"].items()}
        return self._result(state)


def mine(
    model: Explorer | ModelSpec | nn.Module | str,
    data: Any,
    *,
    layers: Sequence[str] | None = None,
    k: int = 9,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    checkpoint_every: float = 60.0,
    workers: int | None = None,
    reduced_decode: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    bar: bool | None = None,
) -> Exemplars:
    """Mine the top-``k`` exemplars of every unit of ``layers`` over ``data``: ``Miner(...).run(...)``.

    See :class:`Miner` for the arguments and :class:`~.exemplars.Exemplars` for what comes back. With a
    ``cache_dir`` a finished result is loaded instead of recomputed, and an interrupted pass resumes.
    """
    miner = Miner(model, data, layers=layers, k=k, batch_size=batch_size, cache_dir=cache_dir,
                  checkpoint_every=checkpoint_every, workers=workers, reduced_decode=reduced_decode)
    return miner.run(progress=progress, cancel=cancel, bar=bar)
