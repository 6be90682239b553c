"""Decide: ``(DECIDER, Profiles)`` in, ``(batch id, StoryVerdicts)`` out.

One :class:`wirewatch.core.stories.StoryLinker` sees every profile in (event time, event_id)
order and puts each in a story: the story's first article opened it, later ones join by the
names they share, a duplicate joins its original's. Stories whose last article is older than
the horizon are forgotten as event time goes on, so state is bounded by the horizon (and by
the rate of stories in it), not by the age of the stream.

- **Stream** (:class:`DecideInOrder`): a GroupByKey in windows of one tick (1 s) of element
  time holds the profiles until the watermark has passed the tick, then hands them over as one
  pane, decided in event-time order; the linker lives in state between panes. A profile whose
  event time is behind what was already decided (it was read late) is decided too, against
  the stories as they are then, and noted (:data:`LATE_NOTE`). No user timers, for the reason
  Dedupe has none (``pipelines/dedupe/decide.py``: on Prism they lost batches under load).
- **Bounded input** (:class:`DecideAll`): one GroupByKey gives every profile at once, decided
  in the same order in chunks, forgetting stories past the horizon between chunks.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.stories import StoryLinker
from wirewatch.pipelines.link.records import Profiles, StoryVerdicts

__all__ = ["DECIDE_CHUNK", "DEFAULTS", "LATE_NOTE", "DecideAll", "DecideInOrder",
           "LinkerSettings"]

#: The linker's own defaults (horizon_ms, threshold, max_size), for options and their --help.
DEFAULTS = {name: p.default for name, p in inspect.signature(StoryLinker).parameters.items()}

#: Profiles decided between two expiry rounds on bounded input.
DECIDE_CHUNK = 4096
#: Note on an article decided after later articles were (it arrived behind the watermark).
LATE_NOTE = "story: arrived late; later articles were linked without it"

#: One profile to decide: (event time, event_id, its Profiles record, its index in it).
_Row = tuple[int, str, Profiles, int]


class LinkerSettings(NamedTuple):
    """What a decider builds its :class:`StoryLinker` from (``Link``'s options)."""

    horizon_ms: int = DEFAULTS["horizon_ms"]
    threshold: float = DEFAULTS["threshold"]
    max_size: int = DEFAULTS["max_size"]

    def linker(self) -> StoryLinker:
        return StoryLinker(self.horizon_ms, self.threshold, self.max_size)


def _rows(parts: Iterable[Profiles]) -> list[_Row]:
    """Every profile of ``parts`` in decision order: event time, then event_id."""
    rows = [(p.event_time_ms, p.event_id, part, i) for part in parts
            for i, p in enumerate(part.profiles)]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _decide(linker: StoryLinker, rows: Sequence[_Row], late_before: int | None
            ) -> list[StoryVerdicts]:
    """Link ``rows`` (in decision order) with ``linker``, one verdict record per batch. A row
    earlier than ``late_before`` (the decider had already gone past it) is noted late."""
    by_batch: dict[str, tuple[Profiles, list]] = {}
    first: dict[str, tuple] = {}  # event_id -> its verdict, for a second delivery of it
    for time_ms, event_id, part, i in rows:
        failure = ""
        if event_id in first:  # the same article delivered twice (Kafka's at-least-once)
            story_id, linked_by, similarity, note = first[event_id]
        else:
            try:
                verdict = linker.link(part.profiles[i], part.duplicate_of[i] or None)
                story_id, linked_by, similarity, note = (
                    verdict.story_id, verdict.linked_by, verdict.similarity, verdict.note or "")
            except Exception as e:  # a bug or an input nobody foresaw: its own story
                story_id, linked_by, similarity, note = event_id, "first", 1.0, ""
                failure = f"linking failed: {e!r}"
            first[event_id] = (story_id, linked_by, similarity, note)
        if late_before is not None and time_ms < late_before:
            note = f"{note}; {LATE_NOTE}" if note else LATE_NOTE
        by_batch.setdefault(part.batch, (part, []))[1].append(
            (part.rows[i], story_id, linked_by, similarity, note, failure))
    return [StoryVerdicts(part.batch, part.until, *(tuple(c) for c in zip(*found, strict=True)))
            for part, found in by_batch.values()]


def _out(verdict: StoryVerdicts) -> WindowedValue:
    """Stamped where the batch meets its articles in the join."""
    return WindowedValue((verdict.batch, verdict), Timestamp(micros=verdict.until * 1000),
                         (GlobalWindow(),))


class DecideInOrder(beam.DoFn):
    """A stream: the profiles of one tick of element time at a time (a GroupByKey pane, once
    the watermark has passed the tick), linked by the linker kept in state."""

    LINKER = userstate.ReadModifyWriteStateSpec("linker", PickleCoder())
    VERSION = userstate.ReadModifyWriteStateSpec("version", VarIntCoder())
    DECIDED_UP_TO = userstate.ReadModifyWriteStateSpec("decided_up_to", VarIntCoder())

    def __init__(self, settings: LinkerSettings) -> None:
        self._settings = settings

    def setup(self) -> None:
        # State is the truth; this keeps the linker between panes while the stored version
        # says it is still current (unpickling it each second would cost more than linking).
        self._cache: tuple[int, StoryLinker] | None = None

    def process(self, element: tuple[str, Iterable[Profiles]],
                stored=beam.DoFn.StateParam(LINKER),
                version=beam.DoFn.StateParam(VERSION),
                decided=beam.DoFn.StateParam(DECIDED_UP_TO)) -> Iterator[WindowedValue]:
        rows = _rows(element[1])
        if not rows:
            return
        current = version.read() or 0
        if self._cache and self._cache[0] == current:
            linker = self._cache[1]
        else:
            linker = stored.read() or self._settings.linker()
        # Stories older than the horizon of this pane's earliest article can take no one.
        linker.expire(rows[0][0])
        before = decided.read()
        out = _decide(linker, rows, before)
        stored.write(linker)
        version.write(current + 1)
        self._cache = (current + 1, linker)
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
            linker.expire(chunk[0][0])
            for verdict in _decide(linker, chunk, None):
                yield _out(verdict)
