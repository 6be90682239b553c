"""Which Kafka offsets were read, and which every sink has made durable.

Nothing is acknowledged before it is durable: a streaming read commits an offset only once every
record below it has been written by every sink (Kafka Connect's sinks work the same way). The
reader says what it read, each sink says what it wrote, and :class:`Ledger` folds both into
"everything below offset N of this partition is written", which is what gets committed. On a
restart the read resumes at the commit and re-reads the rest: a record may be written twice
across a crash (consumers drop repeats by ``event_id``), never lost.

Example::

    ledger = Ledger(sinks=1)
    ledger.add(Offsets("articles", 0, READ, (0, 3)))      # offsets 0, 1, 2 read
    ledger.add(Offsets("articles", 0, 0, (0, 1, 2, 3)))   # sink 0 wrote 0 and 2
    ledger.committable()                                   # 1: offset 1 is not written yet

No Beam import. The Beam step that feeds a ledger per partition is
``wirewatch.connectors.kafka.commit.CommitWritten``. This module sits beside the sinks, not in
``kafka/``, because every sink (the file sink too) reports to it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

__all__ = [
    "OFFSETS_READ",
    "OFFSETS_WRITTEN",
    "READ",
    "Ledger",
    "Offsets",
    "OldLedgerError",
    "offsets_of",
    "runs",
]

#: Output tag of ``ReadFromKafka`` (unbounded): an ``Offsets`` with ``sink=READ`` per
#: partition and slice read.
OFFSETS_READ = "offsets_read"
#: Output tag of the sinks: an ``Offsets`` per partition for what one write made durable.
OFFSETS_WRITTEN = "offsets_written"
#: ``Offsets.sink`` of what the reader read (sinks are numbered from 0).
READ = -1


class Offsets(NamedTuple):
    """Offsets of one partition, as runs ``[start, stop)`` flattened into ``bounds``
    (start0, stop0, start1, stop1, ...): read (``sink == READ``) or made durable by sink
    number ``sink``; ``staged``: not yet durable, only out of memory (the file sink's part
    files, which wait for the file period), for the read's backpressure."""

    topic: str
    partition: int
    sink: int
    bounds: tuple[int, ...]
    staged: bool = False

    def each(self) -> Iterator[int]:
        """Every offset in the runs, in order."""
        for i in range(0, len(self.bounds), 2):
            yield from range(self.bounds[i], self.bounds[i + 1])

    def size(self) -> int:
        """How many offsets the runs hold."""
        return sum(self.bounds[i + 1] - self.bounds[i] for i in range(0, len(self.bounds), 2))


def runs(offsets: Iterable[int]) -> tuple[int, ...]:
    """Sorted, distinct ``offsets`` as flattened runs ``(start0, stop0, start1, stop1, ...)``."""
    bounds: list[int] = []
    for offset in sorted(set(offsets)):
        if bounds and bounds[-1] == offset:
            bounds[-1] = offset + 1
        else:
            bounds += [offset, offset + 1]
    return tuple(bounds)


def offsets_of(records: Iterable[Mapping], sink: int) -> list[Offsets]:
    """What writing ``records`` (article events or dead letters) made durable, per partition:
    the Kafka origin of each record that came from Kafka (``source.topic/partition/offset``)."""
    found: dict[tuple[str, int], list[int]] = {}
    for record in records:
        where = record.get("source") or {}
        if where.get("topic") is not None and where.get("offset") is not None:
            found.setdefault((where["topic"], where["partition"]), []).append(where["offset"])
    return [Offsets(topic, partition, sink, runs(offsets))
            for (topic, partition), offsets in sorted(found.items())]


class OldLedgerError(ValueError):
    """Saved state holds a ledger this version cannot read (one saved by an older version)."""


class Ledger:
    """One partition's offsets: read, and written by each of ``sinks`` sinks, as runs.

    Every record read reaches every sink once as an article event or a dead letter, so an
    offset is done when each sink has reported it. Everything below the commit point is
    forgotten; above it the ledger holds runs ``[start, stop)`` (what was read, what each sink
    wrote), not offsets, so its size follows how scattered the writes are, not how many records
    are in flight, and saving it costs the same at 100 or 20,000 records in flight. What a sink
    reports twice (a retried bundle) counts once; what it reports before the read is known waits
    for it; offsets never read (transaction markers, compaction) do not hold the commit back.
    Reads must come in the order they were read: a read below the commit point is taken for a
    read again.
    """

    def __init__(self, sinks: int) -> None:
        if sinks < 1:
            raise ValueError(f"sinks must be >= 1, not {sinks}")
        self._read: list[int] = []  # flattened runs read, at or above the commit point
        self._written: list[list[int]] = [[] for _ in range(sinks)]  # the same, per sink
        self._done: int | None = None  # the commit point: below it everything read is written
        self._read_to: int | None = None  # one past the highest offset read

    def __setstate__(self, state: dict) -> None:
        # Runner state (a Flink savepoint, a Dataflow update) can outlive the version that
        # saved it. wirewatch before runs of offsets saved one entry per offset in flight
        # (``_pending``); folded into this ledger it failed later, with an AttributeError.
        if set(state) != set(vars(Ledger(1))):
            raise OldLedgerError(
                "the commit step's state holds a Kafka offset ledger saved by an older "
                f"wirewatch (fields {', '.join(sorted(state))}), which this version cannot "
                "read. Drain the old job before upgrading (stop it with drain, so nothing is "
                "in flight), or start this version without the old job's state (not from its "
                "savepoint, not as an update) with the same --group_id: the group's commits "
                "are in Kafka, so it reads again what the old job had not written; or start "
                "with a new --group_id and --start_from to choose where to read from.")
        self.__dict__.update(state)

    def add(self, offsets: Offsets) -> None:
        if offsets.sink == READ:
            _merge(self._read, offsets.bounds)
            if offsets.bounds:
                top = offsets.bounds[-1]
                self._read_to = top if self._read_to is None else max(self._read_to, top)
        else:
            _merge(self._written[offsets.sink], offsets.bounds)
        self._advance()

    def _advance(self) -> None:
        """Move the commit point over every read run that each sink has written, and forget
        what lies below it."""
        done = self._done
        while self._read:
            start = self._read[0] if done is None else max(self._read[0], done)
            if start >= self._read[1]:  # the first run lies below the commit point
                del self._read[:2]
                continue
            stop = self._read[1]
            for written in self._written:
                covered = _run_stop(written, start)
                if covered is None:
                    self._done = start
                    self._forget(start)
                    return
                stop = min(stop, covered)
            done = stop
        self._done = done
        if done is not None:
            self._forget(done)

    def _forget(self, below: int) -> None:
        for bounds in (self._read, *self._written):
            _cut(bounds, below)

    def committable(self) -> int | None:
        """The offset to commit: below it everything read is written (None: nothing read)."""
        if self._read:
            return self._done if self._done is not None else self._read[0]
        return self._read_to

    def in_flight(self) -> int:
        """Offsets read and not yet written by every sink."""
        done = self._read
        for written in self._written:
            done = _intersection(done, written)
        return _size(self._read) - _size(done)


def _merge(bounds: list[int], new: tuple[int, ...]) -> None:
    """Add the flattened runs ``new`` to the sorted, disjoint flattened runs ``bounds``,
    joining runs that overlap or touch."""
    for k in range(0, len(new), 2):
        start, stop = new[k], new[k + 1]
        if start >= stop:
            continue
        i, j = bisect.bisect_left(bounds, start), bisect.bisect_right(bounds, stop)
        lo, start = (i - 1, bounds[i - 1]) if i % 2 else (i, start)  # start inside a run
        hi, stop = (j + 1, bounds[j]) if j % 2 else (j, stop)  # stop inside a run
        bounds[lo:hi] = [start, stop]


def _cut(bounds: list[int], below: int) -> None:
    """Drop what lies below ``below`` from the flattened runs ``bounds``."""
    i = bisect.bisect_right(bounds, below)
    if i % 2:  # ``below`` inside a run: keep its upper part
        del bounds[:i - 1]
        bounds[0] = below
    else:
        del bounds[:i]


def _run_stop(bounds: list[int], offset: int) -> int | None:
    """The end of the run of ``bounds`` holding ``offset``; None if none holds it."""
    i = bisect.bisect_right(bounds, offset)
    return bounds[i] if i % 2 else None


def _size(bounds: list[int]) -> int:
    return sum(bounds[i + 1] - bounds[i] for i in range(0, len(bounds), 2))


def _intersection(a: list[int], b: list[int]) -> list[int]:
    """The offsets in both flattened runs ``a`` and ``b``, as flattened runs."""
    out: list[int] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, stop = max(a[i], b[j]), min(a[i + 1], b[j + 1])
        if start < stop:
            out += [start, stop]
        if a[i + 1] < b[j + 1]:
            i += 2
        else:
            j += 2
    return out
