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

import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

__all__ = ["OFFSETS_READ", "OFFSETS_WRITTEN", "READ", "Ledger", "Offsets", "offsets_of",
           "runs"]

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


class Ledger:
    """One partition's offsets: read, and written by how many of ``sinks`` sinks.

    Every record read reaches every sink once as an article event or a dead letter, so an
    offset is done when each sink has reported it. What a sink reports twice (a retried bundle)
    counts once; what it reports before the read is known waits for it.
    """

    def __init__(self, sinks: int) -> None:
        if sinks < 1:
            raise ValueError(f"sinks must be >= 1, not {sinks}")
        self._full = (1 << sinks) - 1
        self._pending: dict[int, int] = {}  # offset read: mask of the sinks that wrote it
        self._early: dict[int, int] = {}  # offset written before its read was known: mask
        self._heap: list[int] = []  # pending offsets, lazily cleaned
        self._read_to: int | None = None  # one past the highest offset read

    def add(self, offsets: Offsets) -> None:
        if offsets.sink == READ:
            for offset in offsets.each():
                if self._read_to is not None and offset < self._read_to:
                    continue  # read again (a retried bundle): already known
                mask = self._early.pop(offset, 0)
                if mask != self._full:
                    self._pending[offset] = mask
                    heapq.heappush(self._heap, offset)
                self._read_to = offset + 1 if self._read_to is None else max(self._read_to,
                                                                             offset + 1)
            return
        bit = 1 << offsets.sink
        for offset in offsets.each():
            if offset in self._pending:
                mask = self._pending[offset] | bit
                if mask == self._full:
                    del self._pending[offset]
                else:
                    self._pending[offset] = mask
            elif self._read_to is None or offset >= self._read_to:
                self._early[offset] = self._early.get(offset, 0) | bit

    def committable(self) -> int | None:
        """The offset to commit: below it everything read is written (None: nothing read)."""
        while self._heap and self._heap[0] not in self._pending:
            heapq.heappop(self._heap)
        if self._heap:
            return self._heap[0]
        return self._read_to

    def in_flight(self) -> int:
        """Offsets read and not yet written by every sink."""
        return len(self._pending)
