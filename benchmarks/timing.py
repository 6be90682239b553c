"""Timing shared by the benchmarks: the median wall time of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_seconds"]


def median_seconds(run: Callable[[], object], repeats: int, *, warm_up: bool = False,
                   clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds of ``repeats`` calls of ``run`` by ``clock`` (wall clock; pass
    ``time.process_time`` for CPU seconds of this process, i.e. per core on a busy machine);
    with ``warm_up``, one untimed call first (imports, caches, worker start-up paths)."""
    if warm_up:
        run()
    took = []
    for _ in range(repeats):
        started = clock()
        run()
        took.append(clock() - started)
    return statistics.median(took)
