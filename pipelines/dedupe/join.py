"""Join: ``(batch id, Sketched | Verdicts)`` in; each article with ``dedup`` filled out.

Per article the verdict is the earliest verified match over the shards it visited (a
commutative choice, so shard order and runner do not matter). Out: article events on the main
output, timestamped with their event time, and the batches' dead letters on ``DEAD_LETTERS``.
A stream keeps each batch in state until all its verdict rows are in (:class:`JoinInState`);
bounded input does the same after a GroupByKey (:func:`join_grouped`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.window import TimestampedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.neardup import METHODS, Match
from wirewatch.pipelines.dedupe.records import Sketched, Verdicts

__all__ = ["LATE_NOTE", "JoinInState", "join_grouped"]

#: Note added to an event decided after later events were (it arrived behind the watermark).
LATE_NOTE = "dedup: arrived late; later records were decided without it"


def _decided(event: dict, found: list[tuple[Match | None, bool]]) -> dict:
    best: Match | None = None
    late = False
    for match, was_late in found:
        late = late or was_late
        if match is not None and match.before(best):
            best = match
    notes = [*event.get("notes", []), LATE_NOTE] if late else event.get("notes", [])
    if best is None:
        dedup = {**event["dedup"], "is_duplicate": False, "duplicate_of": None,
                 "similarity": None, "method": None}
    else:
        dedup = {**event["dedup"], "is_duplicate": True, "duplicate_of": best.event_id,
                 "similarity": best.similarity, "method": METHODS[best.method]}
    return {**event, "dedup": dedup, "notes": notes}


def _emit(sketched: Sketched, verdicts: Iterable[Verdicts]) -> Iterator:
    found: list[list[tuple[Match | None, bool]]] = [[] for _ in sketched.events]
    for verdict in verdicts:
        for row, match, late in verdict.each():
            found[row].append((match, late))
    for event, mine in zip(sketched.events, found, strict=True):
        yield TimestampedValue(_decided(event, mine), event["event_time"] / 1000)
    for letter in sketched.letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS,
                                       TimestampedValue(letter, letter["time"] / 1000))


class JoinInState(beam.DoFn):
    """A stream: a batch waits in state until its ``probes`` verdict rows are in."""

    SKETCHED = userstate.ReadModifyWriteStateSpec("sketched", PickleCoder())
    VERDICTS = userstate.BagStateSpec("verdicts", PickleCoder())

    def process(self, element: tuple[str, Sketched | Verdicts],
                sketched_state=beam.DoFn.StateParam(SKETCHED),
                verdicts_state=beam.DoFn.StateParam(VERDICTS)) -> Iterator:
        _, item = element
        if isinstance(item, Sketched):
            if item.probes == 0:  # only dead letters, or nothing to compare: no state needed
                yield from _emit(item, ())
                return
            sketched_state.write(item)
            sketched = item
        else:
            verdicts_state.add(item)
            sketched = sketched_state.read()
        if sketched is None:
            return
        got = list(verdicts_state.read())
        if sum(len(v.rows) for v in got) < sketched.probes:
            return
        sketched_state.clear()
        verdicts_state.clear()
        yield from _emit(sketched, got)


def join_grouped(keyed: tuple[str, Iterable[Sketched | Verdicts]]) -> Iterator:
    """Bounded input: the same join after a GroupByKey."""
    _, items = keyed
    sketched, verdicts = None, []
    for item in items:
        if isinstance(item, Sketched):
            sketched = item
        else:
            verdicts.append(item)
    if sketched is not None:
        yield from _emit(sketched, verdicts)
