"""Join: ``(batch id, [Part, ...])`` after a GroupByKey (the batch and its shards' verdicts);
each article with ``dedup`` filled out.

Per article the verdict is the earliest verified match over the shards it visited (a
commutative choice, so shard order and runner do not matter). Out: article events on the main
output, timestamped with their event time, and the batches' dead letters on ``DEAD_LETTERS``.
The parts of a batch meet in the runner's GroupByKey, not in user state: on Prism, a stateful
join lost about 2 % of its batches under load (their state writes vanished), while the
GroupByKey lost none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.neardup import METHODS, Match
from wirewatch.pipelines.dedupe.records import Part
from wirewatch.pipelines.metrics import DEDUPE_BATCHES_INCOMPLETE, DEDUPE_VERDICTS_LATE, counter

__all__ = ["INCOMPLETE_NOTE", "LATE_NOTE", "join"]

#: Note added to an event decided after later events were (it arrived behind the watermark).
LATE_NOTE = "dedup: arrived late; later records were decided without it"
#: Note added to the events of a batch whose verdicts were not all in when it went out.
INCOMPLETE_NOTE = "dedup: decided on part of the index (a verdict came late)"


def _decided(event: dict, found: list[tuple[Match | None, bool]], incomplete: bool) -> dict:
    best: Match | None = None
    late = False
    for match, was_late in found:
        late = late or was_late
        if match is not None and match.before(best):
            best = match
    notes = [*event.get("notes", []), *([LATE_NOTE] if late else []),
             *([INCOMPLETE_NOTE] if incomplete else [])]
    if best is None:
        dedup = {**event["dedup"], "is_duplicate": False, "duplicate_of": None,
                 "similarity": None, "method": None}
    else:
        dedup = {**event["dedup"], "is_duplicate": True, "duplicate_of": best.event_id,
                 "similarity": best.similarity, "method": METHODS[best.method]}
    return {**event, "dedup": dedup, "notes": notes}


def _emit(batch: Part, verdicts: Iterable[Part]) -> Iterator:
    events, letters = batch.events_and_letters()
    found: list[list[tuple[Match | None, bool]]] = [[] for _ in events]
    rows = 0
    for verdict in verdicts:
        for row, match, late in verdict.each():
            found[row].append((match, late))
            rows += 1
    if rows < batch.probes:
        # A verdict part missed its pane (it came behind the watermark): the articles still go
        # on, each with a note, rather than wait for a late pane that some runners never fire.
        counter(DEDUPE_BATCHES_INCOMPLETE).inc()
    for event, mine in zip(events, found, strict=True):
        yield TimestampedValue(_decided(event, mine, rows < batch.probes),
                               event["event_time"] / 1000)
    for letter in letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS,
                                       TimestampedValue(letter, letter["time"] / 1000))


def join(keyed: tuple[str, Iterable[Part]]) -> Iterator:
    """A batch's parts, after a GroupByKey on its id (one discarding pane, when the watermark has
    passed the batch): its articles, decided. Verdicts without their batch (a pane of parts
    that came late, after the batch went out) are counted and dropped."""
    _, parts = keyed
    batch, verdicts = None, []
    for part in parts:
        if part.articles is not None:
            batch = part
        else:
            verdicts.append(part)
    if batch is None:
        counter(DEDUPE_VERDICTS_LATE).inc(len(verdicts))
        return
    yield from _emit(batch, verdicts)
