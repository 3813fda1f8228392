"""Timing shared by the bench scripts (imported from beside them: ``python bench/<script>.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeat: int = 3, warmup: bool = True) -> tuple[float, Any]:
    """Best wall-clock seconds of ``repeat`` runs — the least disturbed by other work on a shared machine — after
    one warm-up run (allocator, oneDNN kernels) unless ``warmup`` is false, and the last run's result."""
    if warmup:
        fn()
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out
