"""How far a partition's read may run ahead of its consumer group's commit. No Beam, no I/O.

Offsets are committed only once every sink has written the records below them, so
``next offset to read - committed offset`` is what the pipeline holds in flight: read and not
yet durable everywhere. Bounding it bounds the memory a slow sink or step can fill, and the
records a crash makes the next run read (and write) again. Before the group has ever
committed, the offset this read started at counts as committed; a commit below it (an old
one, from before a ``start_from="latest"``) counts as that start too.

Example::

    bound = InFlight(limit=20_000, floor=500)       # this read started at offset 500
    bound.room(18_000)                             # 2500: read at most that many now
    bound.answer(committed=10_000, now=time.monotonic())
    bound.check(30_000)                            # (0, True): pause until the group commits
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ASK_EVERY_S", "InFlight"]

#: How often the committed offset of a partition is asked of the broker, at most.
ASK_EVERY_S = 1.0


@dataclass
class InFlight:
    """One partition's bound: at most ``limit`` offsets past the committed one (or ``floor``,
    where this read started, while nothing higher is committed)."""

    limit: int
    floor: int
    committed: int | None = None
    asked_at: float | None = None
    paused: bool = False

    def due(self, now: float) -> bool:
        """Time to ask the broker for the committed offset again."""
        return self.asked_at is None or now - self.asked_at >= ASK_EVERY_S

    def answer(self, committed: int | None, now: float) -> None:
        """The group's committed offset as the broker gave it at ``now`` (None: never)."""
        self.asked_at = now
        if committed is not None:
            self.committed = committed

    def room(self, next_offset: int) -> int:
        """How many more offsets may be read from ``next_offset`` now (0: pause)."""
        base = self.floor if self.committed is None else max(self.committed, self.floor)
        return max(0, min(self.limit, self.limit - (next_offset - base)))

    def check(self, next_offset: int) -> tuple[int, bool]:
        """``(room(next_offset), flipped)``: ``flipped`` when the read pauses (room 0) or
        resumes with this call, so each pause and resume is reported once; ``paused`` says
        which."""
        room = self.room(next_offset)
        flipped = (room == 0) != self.paused
        self.paused = room == 0
        return room, flipped
