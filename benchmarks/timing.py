"""Timing shared by the benchmarks: the median wall time of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_seconds"]


def median_seconds(run: Callable[[], object], repeats: int, *, warm_up: bool = False) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``run``; with ``warm_up``, one untimed
    call first (imports, caches, worker start-up paths)."""
    if warm_up:
        run()
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        took.append(time.perf_counter() - started)
    return statistics.median(took)
