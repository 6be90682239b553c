"""How far a partition's read may run ahead of its consumer group's commit, and of its sinks.
No Beam, no I/O.

Offsets are committed only once every sink has written the records below them, so
``next offset to read - committed offset`` is what the pipeline holds in flight: read and not
yet durable everywhere. Bounding it (``limit``) bounds what a crash makes the next run read
(and write) again. Before the group has ever committed, the offset this read started at
counts as committed; a commit below it (an old one, from before a ``start_from="latest"``)
counts as that start too.

In flight is not the same as held in memory: the file sink puts each bundle's records in a part
file at once, and they then wait on disk for the file period (up to a period's worth of
records at the input rate). What memory holds is the **backlog**: records the partition's
watermark has already passed (nothing upstream holds them back) that no sink has yet staged
(in a part file, or acknowledged by an output topic). The commit step says how far the sinks
have staged in the commit's metadata (``staged=<offset>``); ``backlog_limit`` pauses the read
while the backlog is that large, so a step slower than the input slows the read instead of
queueing without bound. Records younger than the watermark are not backlog: they wait for
newer records, which only reading brings, so pausing for them would stall the read for good.

Example::

    bound = InFlight(limit=20_000, floor=500)       # this read started at offset 500
    bound.room(18_000)                             # 2500: read at most that many now
    bound.answer(committed=10_000, now=time.monotonic())
    bound.check(30_000)                            # (0, True): pause until the group commits
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["ASK_EVERY_S", "STAGED", "InFlight", "staged_metadata", "staged_offset"]

#: How often the committed offset of a partition is asked of the broker, at most.
ASK_EVERY_S = 1.0
#: The commit metadata's key for the offset below which every sink has staged every record.
STAGED = "staged"


def staged_metadata(offset: int) -> str:
    """The commit metadata that says every record below ``offset`` is staged."""
    return f"{STAGED}={offset}"


def staged_offset(metadata: str | None) -> int | None:
    """The staged offset in a commit's metadata (None: not there, e.g. another committer)."""
    key, sep, value = (metadata or "").partition("=")
    return int(value) if sep and key == STAGED and value.isdigit() else None


@dataclass
class InFlight:
    """One partition's bounds: at most ``limit`` offsets past the committed one (or ``floor``,
    where this read started, while nothing higher is committed), and at most
    ``backlog_limit`` records (None: no such bound) past the watermark and not yet staged."""

    limit: int
    floor: int
    backlog_limit: int | None = None
    committed: int | None = None
    staged: int | None = None
    asked_at: float | None = None
    paused: bool = False
    _read: deque = field(default_factory=deque)  # (offset, timestamp ms) read, not staged

    def due(self, now: float) -> bool:
        """Time to ask the broker for the committed offset again."""
        return self.asked_at is None or now - self.asked_at >= ASK_EVERY_S

    def answer(self, committed: int | None, now: float, staged: int | None = None) -> None:
        """The group's committed offset (None: never) and staged offset (None: unknown) as the
        broker gave them at ``now``."""
        self.asked_at = now
        if committed is not None:
            self.committed = committed
        if staged is not None:
            self.staged = staged

    def read(self, offsets: list[int], timestamps_ms: list[int]) -> None:
        """Records just read (only kept with a ``backlog_limit``)."""
        if self.backlog_limit is not None:
            self._read.extend(zip(offsets, timestamps_ms, strict=True))

    def _base(self) -> int:
        return self.floor if self.committed is None else max(self.committed, self.floor)

    def backlog(self, watermark_ms: int | None) -> int:
        """Records read and not yet staged whose timestamp the watermark has passed."""
        staged = max(self._base(), self.staged or 0)
        while self._read and self._read[0][0] < staged:
            self._read.popleft()
        if watermark_ms is None:
            return 0
        count = 0
        for _, timestamp_ms in self._read:  # in offset order, so nearly in time order
            if timestamp_ms >= watermark_ms:
                break
            count += 1
        return count

    def room(self, next_offset: int, watermark_ms: int | None = None) -> int:
        """How many more offsets may be read from ``next_offset`` now (0: pause)."""
        if self.backlog_limit is not None and self.backlog(watermark_ms) >= self.backlog_limit:
            return 0
        return max(0, min(self.limit, self.limit - (next_offset - self._base())))

    def check(self, next_offset: int, watermark_ms: int | None = None) -> tuple[int, bool]:
        """``(room(next_offset, watermark_ms), flipped)``: ``flipped`` when the read pauses
        (room 0) or resumes with this call, so each pause and resume is reported once;
        ``paused`` says which."""
        room = self.room(next_offset, watermark_ms)
        flipped = (room == 0) != self.paused
        self.paused = room == 0
        return room, flipped
