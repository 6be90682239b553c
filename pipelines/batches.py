"""Batches: how Dedupe's and Link's joins find a batch among its parts after their GroupByKey.

Both steps send a batch of articles one way and its verdicts another, and meet them again in a
GroupByKey on the batch id (not in user state: see ``pipelines/dedupe/join.py``). A pane holds
the batch and the verdicts that were on time; a pane of verdicts alone came late, after their
batch went out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from wirewatch.pipelines.metrics import counter

__all__ = ["batch_and_verdicts"]

T = TypeVar("T")


def batch_and_verdicts(parts: Iterable[T], is_batch: Callable[[T], bool],
                       late: str) -> tuple[T, list[T]] | None:
    """The batch among ``parts`` and its verdicts; or None when the batch is not there (late
    verdicts: counted under the counter ``late``, and dropped)."""
    batch, verdicts = None, []
    for part in parts:
        if is_batch(part):
            batch = part
        else:
            verdicts.append(part)
    if batch is None:
        counter(late).inc(len(verdicts))
        return None
    return batch, verdicts
