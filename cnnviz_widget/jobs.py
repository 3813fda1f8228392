"""The widget's background work: one job runner (a thread that starts when there is work and ends when idle).

Each panel that computes in the background owns a :class:`JobRunner`. A job has a ``kind``; the runner keeps at
most one *queued* job per kind — a job submitted while another of its kind waits replaces it (so a burst of requests
computes only the state at its end) — and with ``preempt=True`` also cancels the running job of its kind (the newest
request wins). Queued jobs run lowest ``priority`` first, oldest first among equals.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["IDLE_S", "Job", "JobRunner", "Refresh", "stop_at_exit"]

#: A runner's thread ends after this many seconds without work (it starts again when needed).
IDLE_S = 30.0
#: At interpreter exit, how long the background work of all widgets together may take to finish its current step.
EXIT_WAIT_S = 10.0


class Job(Protocol):
    """What a :class:`JobRunner` runs."""

    kind: str

    def run(self) -> None:
        """Do the work (in the runner's thread)."""

    def cancel(self) -> None:
        """Ask the job to stop: before it starts (it is dropped) or at its next step."""


@dataclass
class Refresh:
    """A job that recomputes one panel's state (nothing to cancel: it is short and its answer is stamped)."""

    kind: str
    work: Callable[[], None]

    def run(self) -> None:
        self.work()

    def cancel(self) -> None:
        pass


@dataclass
class _Queued:
    job: Job
    priority: int
    order: int


class JobRunner:
    """Runs :class:`Job` s one at a time in a background thread (see the module docstring).

    Args:
        name: the thread's name.
        on_error: called with the job and the exception when a job raises (the thread carries on).
        on_drop: called with a queued job that was replaced or cancelled before it started.
    """

    def __init__(self, name: str, on_error: Callable[[Job, BaseException], None],
                 on_drop: Callable[[Job], None] | None = None) -> None:
        self._name = name
        self._on_error = on_error
        self._on_drop = on_drop
        self._queue: list[_Queued] = []
        self._running: Job | None = None
        self._order = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, job: Job, *, priority: int = 0, preempt: bool = False) -> None:
        """Queue ``job``, replacing the queued job of its kind; ``preempt``: cancel the running one of its kind too."""
        with self._cond:
            dropped = [q.job for q in self._queue if q.job.kind == job.kind]
            self._queue = [q for q in self._queue if q.job.kind != job.kind]
            self._order += 1
            self._queue.append(_Queued(job, priority, self._order))
            if preempt and self._running is not None and self._running.kind == job.kind:
                self._running.cancel()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        self._dropped(dropped)

    def cancel(self, kind: str | None = None) -> list[Job]:
        """Cancel the queued and running jobs of ``kind`` (default: all); returns them, the running one last."""
        with self._cond:
            hit = [q.job for q in self._queue if kind in (None, q.job.kind)]
            self._queue = [q for q in self._queue if kind not in (None, q.job.kind)]
            running = self._running if self._running is not None and kind in (None, self._running.kind) else None
            if running is not None:
                running.cancel()
            self._cond.notify_all()
        self._dropped(hit)
        return [*hit, *([running] if running is not None else [])]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; ``False`` if ``timeout`` (seconds) passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._running is None, timeout)

    def _dropped(self, jobs: list[Job]) -> None:
        for job in jobs:
            job.cancel()
            if self._on_drop is not None:
                self._on_drop(job)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(IDLE_S) and not self._queue:
                        self._thread = None
                        return
                chosen = min(self._queue, key=lambda q: (q.priority, q.order))
                self._queue.remove(chosen)
                self._running = chosen.job
            try:
                chosen.job.run()
            except Exception as exc:  # reported by the owner; the thread carries on
                self._on_error(chosen.job, exc)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


class _Stoppable(Protocol):
    def stop(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


#: Groups of background workers alive in this process (a widget's panels): stopped and waited for at exit.
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def stop_at_exit(workers: Iterable[_Stoppable]) -> None:
    """Stop ``workers`` when Python exits and wait (:data:`EXIT_WAIT_S` at most) for their current step: a daemon
    thread killed inside a torch call aborts the process ("terminate called without an active exception") instead
    of exiting cleanly. ``workers`` is held weakly."""
    _LIVE.add(workers)


@atexit.register
def _quiesce() -> None:
    groups = list(_LIVE)
    for workers in groups:
        for worker in workers:
            worker.stop()
    deadline = time.monotonic() + EXIT_WAIT_S
    for workers in groups:
        for worker in workers:
            worker.wait(max(0.0, deadline - time.monotonic()))
