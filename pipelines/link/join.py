"""Join: ``(batch id, [Held, StoryVerdicts, ...])`` after a GroupByKey; each article with
``story`` filled out.

Out: article events on the main output, timestamped with their event time (as Dedupe hands
them on), and dead letters on ``DEAD_LETTERS``: input that was not an article, and each
article that could not be profiled or linked (that article also goes on, as its own story,
with a note: unlinked is better than lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.pipelines.link.profile import letter
from wirewatch.pipelines.link.records import Held, StoryVerdicts
from wirewatch.pipelines.metrics import LINK_BATCHES_INCOMPLETE, LINK_VERDICTS_LATE, counter
from wirewatch.schemas.records import story

__all__ = ["INCOMPLETE_NOTE", "join"]

#: Note on an article whose verdict was not in when its batch went out: its own story.
INCOMPLETE_NOTE = "story: not linked (its verdict came late); its own story"


def _linked(event: dict, found: tuple | None) -> tuple[dict, str]:
    """``event`` with its story; and why linking failed ("" if it did not)."""
    if found is None:
        found = (event["event_id"], "first", 1.0, INCOMPLETE_NOTE, "")
    story_id, linked_by, similarity, note, failure = found
    notes = [*event.get("notes", []), *([note] if note else []),
             *([f"story: {failure}; its own story"] if failure else [])]
    return {**event, "story": story(story_id, linked_by, similarity), "notes": notes}, failure


def _emit(held: Held, verdicts: Iterable[StoryVerdicts]) -> Iterator:
    found: dict[int, tuple] = {}
    for v in verdicts:
        found.update(zip(v.rows, zip(v.story_ids, v.linked_by, v.similarities, v.notes,
                                     v.failures, strict=True), strict=True))
    for row, reason in zip(held.unlinked_rows, held.unlinked_reasons, strict=True):
        event = held.events[row]
        found[row] = (event["event_id"], "first", 1.0, "", reason)
    if len(found) < len(held.events):
        # A verdict missed its pane (it came behind the watermark): the articles still go on
        # rather than wait for a late pane that some runners never fire.
        counter(LINK_BATCHES_INCOMPLETE).inc()
    for row, event in enumerate(held.events):
        linked, failure = _linked(event, found.get(row))
        yield TimestampedValue(linked, event["event_time"] / 1000)
        if failure:
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, TimestampedValue(
                letter(event, failure, "LinkFailed"), event["event_time"] / 1000))
    for dead in held.letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, TimestampedValue(dead, dead["time"] / 1000))


def join(keyed: tuple[str, Iterable[Held | StoryVerdicts]]) -> Iterator:
    """A batch's parts, after a GroupByKey on its id: its articles, each in a story. Verdicts
    without their batch (a late pane, after the batch went out) are counted and dropped."""
    held, verdicts = None, []
    for item in keyed[1]:
        if isinstance(item, Held):
            held = item
        else:
            verdicts.append(item)
    if held is None:
        counter(LINK_VERDICTS_LATE).inc(len(verdicts))
        return
    yield from _emit(held, verdicts)
