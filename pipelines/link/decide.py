"""Decide: ``(DECIDER, Profiles)`` in, ``(batch id, Part)`` (verdicts) out.

One :class:`wirewatch.core.stories.StoryLinker` sees every profile in (event time, event_id)
order and puts each in a story: the story's first article opened it, later ones join by the
names they share, a duplicate joins its original's. Stories whose last article is older than
the horizon are forgotten as event time goes on, so state is bounded by the horizon (and by
the rate of stories in it), not by the age of the stream.

- **Stream** (:class:`DecideInOrder`): a GroupByKey in windows of one tick (1 s) of element
  time holds the profiles until the watermark has passed the tick, then hands them over as one
  pane, decided in event-time order; the linker lives in state between panes (a snapshot and
  the panes fed to it since, see :class:`DecideInOrder`). A profile whose
  event time is behind what was already decided (it was read late) is decided too, against
  the stories as they are then, and noted (:data:`LATE_NOTE`). No user timers, for the reason
  Dedupe has none (``pipelines/dedupe/decide.py``: on Prism they lost batches under load).
- **Bounded input** (:class:`DecideAll`): one GroupByKey gives every profile at once, decided
  in the same order in chunks, forgetting stories past the horizon between chunks.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, TypeVar

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.stories import StoryLinker, StoryProfile
from wirewatch.pipelines.link.records import Part, Profiles

__all__ = ["DECIDE_CHUNK", "DEFAULTS", "LATE_NOTE", "SNAPSHOT_EVERY", "DecideAll",
           "DecideInOrder", "LinkerSettings", "without_gc"]

#: The linker's own defaults (horizon_ms, threshold, max_size), for options and their --help.
DEFAULTS = {name: p.default for name, p in inspect.signature(StoryLinker).parameters.items()}

#: Profiles decided between two expiry rounds on bounded input.
DECIDE_CHUNK = 4096
#: A stream's decider writes its whole linker to state once in this many panes (ticks with
#: articles), and only the panes' profiles in between.
SNAPSHOT_EVERY = 60
#: Note on an article decided after later articles were (it arrived behind the watermark).
LATE_NOTE = "story: arrived late; later articles were linked without it"

T = TypeVar("T")


def without_gc(read: Callable[[], T]) -> T:
    """``read()`` with Python's cyclic garbage collector paused. Unpickling a snapshot builds
    a few hundred thousand containers, and each few hundred new ones start a collection that
    walks them (and, in a worker, the live heap): ~40 % of the read. A snapshot has no cycles
    for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return read()
    finally:
        if enabled:
            gc.enable()


#: One profile to decide: (event time, event_id, its Profiles record, its index in it, the
#: profile).
_Row = tuple[int, str, Profiles, int, StoryProfile]


class LinkerSettings(NamedTuple):
    """What a decider builds its :class:`StoryLinker` from (``Link``'s options)."""

    horizon_ms: int = DEFAULTS["horizon_ms"]
    threshold: float = DEFAULTS["threshold"]
    max_size: int = DEFAULTS["max_size"]

    def linker(self) -> StoryLinker:
        return StoryLinker(self.horizon_ms, self.threshold, self.max_size)


def _rows(parts: Iterable[Profiles]) -> list[_Row]:
    """Every profile of ``parts`` in decision order: event time, then event_id."""
    rows = [(p.event_time_ms, p.event_id, part, i, p) for part in parts
            for i, p in enumerate(part.each())]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


#: What the linker is fed for one pane, in decision order: when to expire before it, and
#: (profile, duplicate_of or "") per article. Replaying these rebuilds the linker exactly.
_Pane = tuple[int, tuple[tuple[StoryProfile, str], ...]]


def _apply(linker: StoryLinker, pane: _Pane) -> list[tuple[str, str, float, str, str]]:
    """Feed ``pane`` to ``linker``: (story_id, linked_by, similarity, note, failure) per
    article. Deterministic, so that a replay of the same panes rebuilds the same linker."""
    expire_at, items = pane
    # Stories older than the horizon of the pane's earliest article can take no one.
    linker.expire(expire_at)
    out = []
    for profile, duplicate_of in items:
        # An event_id delivered again (at-least-once input, in this pane or an earlier one)
        # gets its first verdict from the linker, which counts it once.
        try:
            v = linker.link(profile, duplicate_of or None)
            out.append((v.story_id, v.linked_by, v.similarity, v.note or "", ""))
        except Exception as e:  # a bug or an input nobody foresaw: its own story
            out.append((profile.event_id, "first", 1.0, "", f"linking failed: {e!r}"))
    return out


def _decide(linker: StoryLinker, rows: Sequence[_Row], late_before: int | None
            ) -> tuple[_Pane, list[tuple[str, Part]]]:
    """Link ``rows`` (in decision order) with ``linker``: what was fed to it, and (batch id,
    verdicts) per batch. A row earlier than ``late_before`` (the decider had already gone past
    it) is noted late."""
    pane = (rows[0][0], tuple((profile, part.duplicate_of[i] or "")
                              for _, _, part, i, profile in rows))
    by_batch: dict[str, tuple[Profiles, list]] = {}
    for (time_ms, _, part, i, _), (story_id, linked_by, similarity, note, failure) in zip(
            rows, _apply(linker, pane), strict=True):
        if late_before is not None and time_ms < late_before:
            note = f"{note}; {LATE_NOTE}" if note else LATE_NOTE
        by_batch.setdefault(part.batch, (part, []))[1].append(
            (part.rows[i], story_id, linked_by, similarity, note, failure))
    return pane, [(part.batch, _verdicts(part.until, found))
                  for part, found in by_batch.values()]


def _verdicts(until: int, found: list[tuple]) -> Part:
    rows, story_ids, linked_by, similarities, notes, failures = (
        tuple(c) for c in zip(*found, strict=True))
    return Part(until, rows=rows, story_ids=story_ids, linked_by=linked_by,
                similarities=similarities, notes=notes, failures=failures)


def _out(verdict: tuple[str, Part]) -> WindowedValue:
    """Stamped where the batch meets its articles in the join."""
    return WindowedValue(verdict, Timestamp(micros=verdict[1].until * 1000), (GlobalWindow(),))


class DecideInOrder(beam.DoFn):
    """A stream: the profiles of one tick of element time at a time (a GroupByKey pane, once
    the watermark has passed the tick), linked by one linker.

    State is a snapshot of the linker plus a log of what it was fed since (one entry per pane):
    writing the whole linker after every pane cost ~1 s per 7,000 live stories
    (``benchmarks/bench_link.py``), more than a tick; appending a pane's profiles costs what
    they weigh. Every :data:`SNAPSHOT_EVERY` panes the linker is written whole and the log
    cleared. A worker that does not hold the current linker (a restart, another worker)
    rebuilds it from the snapshot and replays the log: the same linker, so the same stories.
    """

    SNAPSHOT = userstate.ReadModifyWriteStateSpec("snapshot", PickleCoder())
    LOG = userstate.BagStateSpec("log", PickleCoder())
    PANES = userstate.ReadModifyWriteStateSpec("panes", VarIntCoder())
    DECIDED_UP_TO = userstate.ReadModifyWriteStateSpec("decided_up_to", VarIntCoder())

    def __init__(self, settings: LinkerSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        # State is the truth; this keeps the linker between panes while the stored pane count
        # says it is still current.
        self._cache: tuple[int, StoryLinker] | None = None

    def process(self, element: tuple[str, Iterable[Profiles]],
                snapshot=beam.DoFn.StateParam(SNAPSHOT),
                log=beam.DoFn.StateParam(LOG),
                panes=beam.DoFn.StateParam(PANES),
                decided=beam.DoFn.StateParam(DECIDED_UP_TO)) -> Iterator[WindowedValue]:
        rows = _rows(element[1])
        if not rows:
            return
        done = panes.read() or 0
        if self._cache and self._cache[0] == done:
            linker = self._cache[1]
        else:
            linker = without_gc(snapshot.read) or self._settings.linker()
            for pane in log.read():
                _apply(linker, pane)
        before = decided.read()
        pane, out = _decide(linker, rows, before)
        if (done + 1) % SNAPSHOT_EVERY:
            log.add(pane)
        else:
            snapshot.write(linker)
            log.clear()
        panes.write(done + 1)
        self._cache = (done + 1, linker)
        decided.write(max(rows[-1][0], before or 0))
        for verdict in out:
            yield _out(verdict)


class DecideAll(beam.DoFn):
    """Bounded input: every profile at once after a GroupByKey, linked in (event time,
    event_id) order in chunks of ``chunk``, stories past the horizon forgotten between chunks.
    The same verdicts as the stream, whose watermark for bounded input only moves at its end."""

    def __init__(self, settings: LinkerSettings, chunk: int | None = None) -> None:
        self._settings = settings
        self._chunk = chunk or DECIDE_CHUNK

    def process(self, element: tuple[str, Iterable[Profiles]]) -> Iterator[WindowedValue]:
        rows = _rows(element[1])
        linker = self._settings.linker()
        for start in range(0, len(rows), self._chunk):
            chunk = rows[start:start + self._chunk]
            for verdict in _decide(linker, chunk, None)[1]:
                yield _out(verdict)
