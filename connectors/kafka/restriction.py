"""The Kafka read's restriction (offset ranges per partition) and its tracker. No I/O here.

A restriction lists offsets [start, stop) per partition of one topic (``stop = UNBOUNDED`` for
a stream); the partition-discovery restriction may list none and adds partitions as it finds
them. The tracker claims offsets, hands the rest on at a checkpoint (``try_split(0)``) and
refuses every other split: a partition is read by one restriction at a time.

Progress must stay usable by the runner's split arithmetic whatever the restriction holds.
Beam's SDK replaces the tracker's ``completed`` with the bytes the bundle has output so far,
and that estimate is NaN at times: the SDK resets its byte counters between bundles but not
its sampling schedule, so the first outputs of a later bundle are counted and not measured,
and their mean size is 0 / 0 (``SdfProcessSizedElements.current_element_progress``,
``opcounters.OperationCounters``). ``fraction_completed`` is then NaN and the split request
fails in ``bundle_processor._compute_split`` ("cannot convert float NaN to integer"). The
tracker therefore states ``fraction`` itself, which Beam keeps and prefers, from finite,
non-negative ``completed`` and ``remaining`` whose sum is never zero.

Example::

    tracker = RangesTracker(Ranges(((0, 10, UNBOUNDED),)))
    tracker.try_claim(("read", 0, 10))                  # True
    primary, residual = tracker.try_split(0)           # [10, 11) done; [11, ...) deferred
"""

from __future__ import annotations

from dataclasses import dataclass

from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker

__all__ = ["BACKLOG_ESTIMATE", "UNBOUNDED", "Ranges", "RangesTracker", "size"]

#: ``stop`` of an unbounded partition range.
UNBOUNDED = 2**63 - 1
#: Work left in a range whose end is not known (or further away than this), in offsets: large
#: enough that a stream never looks nearly done, small enough for exact float arithmetic.
BACKLOG_ESTIMATE = 2**31


@dataclass(frozen=True)
class Ranges:
    """A restriction: offsets [start, stop) per partition of one topic; ``discover``: this
    restriction also looks for partitions not in ``known`` and takes them on.

    ``split`` makes one restriction per partition (plus one empty discovering restriction in
    unbounded mode), so the runner moves partitions independently.
    """

    ranges: tuple[tuple[int, int, int], ...]  # (partition, start, stop)
    discover: bool = False
    known: frozenset = frozenset()


def size(restriction: Ranges) -> int:
    """The restriction's size for the runner: offsets left (capped), at least 1."""
    return 1 + sum(min(stop - start, BACKLOG_ESTIMATE) for _, start, stop in restriction.ranges)


class RangesTracker(RestrictionTracker):
    """Claims ``("read", partition, offset)``, ``("end", partition)`` (nothing left below the
    stop), ``("add", partition, start)`` (a discovered partition) and ``("stop",)`` (end the
    whole restriction, for ``stop_after_idle_s``). Splits only at checkpoints."""

    def __init__(self, restriction: Ranges) -> None:
        self._start = {p: start for p, start, _ in restriction.ranges}
        self._next = dict(self._start)
        self._stop = {p: stop for p, _, stop in restriction.ranges}
        self._ended: set[int] = set()
        self._discover = restriction.discover
        self._known = set(restriction.known)
        self._stopped = False
        self._checkpointed = False

    def current_restriction(self) -> Ranges:
        return Ranges(tuple((p, self._start[p], self._stop[p]) for p in self._start),
                      self._discover, frozenset(self._known))

    def current_progress(self) -> RestrictionProgress:
        done = sum(self._next[p] - self._start[p] for p in self._start)
        left = 0
        if not (self._checkpointed or self._stopped):
            left = sum(min(self._stop[p] - self._next[p], BACKLOG_ESTIMATE)
                       for p in self._start if p not in self._ended)
            left += 1 if self._discover else 0  # partitions yet to be found
        if done + left == 0:
            done = 1  # nothing was here and nothing is left: complete, not 0 / 0
        return RestrictionProgress(fraction=done / (done + left), completed=done,
                                   remaining=left)

    def try_claim(self, position: tuple) -> bool:
        if self._checkpointed or self._stopped:
            return False
        kind, *args = position
        if kind == "read":
            partition, offset = args
            if offset >= self._stop[partition]:
                self._ended.add(partition)
                return False
            if offset < self._next[partition]:
                raise ValueError(f"offset {offset} of partition {partition} claimed twice")
            self._next[partition] = offset + 1
            return True
        if kind == "end":
            self._ended.add(args[0])
            return False
        if kind == "add":
            partition, start = args
            if not self._discover or partition in self._known:
                return False
            self._known.add(partition)
            self._start[partition] = self._next[partition] = start
            self._stop[partition] = UNBOUNDED
            return True
        if kind == "stop":
            self._stopped = True
            self._discover = False
            return False
        raise ValueError(f"unknown claim {position!r}")

    def try_split(self, fraction_of_remainder: float) -> tuple[Ranges, Ranges] | None:
        if fraction_of_remainder != 0 or self._checkpointed or self._stopped:
            return None  # partitions move as whole restrictions; no dynamic splitting
        self._checkpointed = True
        primary = Ranges(tuple((p, self._start[p], self._next[p]) for p in self._start))
        residual = Ranges(
            tuple((p, self._next[p], self._stop[p]) for p in self._start
                  if p not in self._ended),
            self._discover, frozenset(self._known))
        self._stop = dict(self._next)
        self._discover = False
        return primary, residual

    def check_done(self) -> None:
        if self._checkpointed or self._stopped:
            return
        left = set(self._start) - self._ended
        if left or self._discover:
            raise ValueError(f"partitions {sorted(left)} not read to their end")

    def is_bounded(self) -> bool:
        return not self._discover and all(stop < UNBOUNDED for stop in self._stop.values())
