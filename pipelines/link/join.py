"""Join: ``(batch id, [Part, ...])`` after a GroupByKey, the batch and its verdicts; each
article with ``story`` filled out.

Out: article events on the main output, timestamped with their event time (as Dedupe hands
them on), and dead letters on ``DEAD_LETTERS``: input that was not an article, and each
article that could not be profiled or linked (that article also goes on, as its own story,
with a note: unlinked is better than lost). Both stay in the windows the batch came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.pipelines.batches import batch_and_verdicts
from wirewatch.pipelines.link.decide import without_gc
from wirewatch.pipelines.link.profile import letter
from wirewatch.pipelines.link.records import Part
from wirewatch.pipelines.metrics import LINK_BATCHES_INCOMPLETE, LINK_VERDICTS_LATE, counter
from wirewatch.schemas.records import story

__all__ = ["INCOMPLETE_NOTE", "JoinFn"]

#: Note on an article whose verdict was not in when its batch went out: its own story.
INCOMPLETE_NOTE = "story: not linked (its verdict came late); its own story"


def _link(event: dict, found: tuple | None) -> None:
    """Fill ``event``'s story in place (the join unpickled it: no one else holds it)."""
    if found is None:
        found = (event["event_id"], "first", 1.0, INCOMPLETE_NOTE, "")
    story_id, linked_by, similarity, note, failure = found
    event["story"] = story(story_id, linked_by, similarity)
    if note or failure or "notes" not in event:
        event["notes"] = [*event.get("notes", []), *([note] if note else []),
                          *([f"story: {failure}; its own story"] if failure else [])]


def _emit(batch: Part, verdicts: Iterable[Part], windows: tuple) -> Iterator:
    found: dict[int, tuple] = {}
    for v in verdicts:
        found.update(zip(v.rows, zip(v.story_ids, v.linked_by, v.similarities, v.notes,
                                     v.failures, strict=True), strict=True))
    # Unpickling a batch makes ~30 containers an article, which set off the cyclic collector
    # over them and the worker's heap; articles have no cycles.
    events, letters = without_gc(batch.events_and_letters)
    for row, reason in zip(batch.unlinked_rows, batch.unlinked_reasons, strict=True):
        found[row] = (events[row]["event_id"], "first", 1.0, "", reason)
    if len(found) < len(events):
        # A verdict missed its pane (it came behind the watermark): the articles still go on
        # rather than wait for a late pane that some runners never fire.
        counter(LINK_BATCHES_INCOMPLETE).inc()
    for row, event in enumerate(events):
        # Stamped with its event time, in the batch's windows: one WindowedValue made here,
        # no per-article work for the runner to assign a timestamp.
        at = Timestamp(micros=event["event_time"] * 1000)
        verdict = found.get(row)
        if verdict is not None and verdict[4]:  # linking failed: the article as it came in
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, WindowedValue(
                letter(event, verdict[4], "LinkFailed"), at, windows))
        _link(event, verdict)
        yield WindowedValue(event, at, windows)
    for dead in letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, WindowedValue(
            dead, Timestamp(micros=dead["time"] * 1000), windows))


class JoinFn(beam.DoFn):
    """A batch's parts, after a GroupByKey on its id: its articles, each in a story. Verdicts
    without their batch (a late pane, after the batch went out) are counted and dropped."""

    def process(self, keyed: tuple[str, Iterable[Part]],
                window=beam.DoFn.WindowParam) -> Iterator:
        found = batch_and_verdicts(keyed[1], lambda part: part.articles is not None,
                                   LINK_VERDICTS_LATE)
        if found is not None:
            yield from _emit(*found, (window,))
