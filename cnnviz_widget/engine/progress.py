"""Progress reports and cancellation for the engine's long-running tools (occlusion, invariance, synthesis, …).

Each such tool takes ``progress`` (a callable ``progress(done, total)``) and ``cancel`` (a
:class:`threading.Event`). A widget runs the tool in a background thread, updates a bar from ``progress`` and
sets ``cancel`` to stop it; the tool then raises :class:`Cancelled` between two steps and leaves nothing half-made
behind (no cache entry, no partial result)::

    cancel = threading.Event()
    worker = threading.Thread(target=lambda: occlusion_maps(ex, image, progress=bar.update, cancel=cancel))
    worker.start()
    ...
    cancel.set()            # the tool raises Cancelled in the worker at its next step
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Progress = Callable[[int, int], None]

__all__ = ["Cancelled", "Progress", "check_cancel", "report"]


class Cancelled(Exception):
    """The caller set the ``cancel`` event; the tool stopped between two steps and returned nothing."""


def check_cancel(cancel: threading.Event | None, what: str) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} was cancelled")


def report(progress: Progress | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if a callback was given."""
    if progress is not None:
        progress(done, total)
