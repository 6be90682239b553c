"""Tag: fills ``language`` (and, once a topic tagger exists, ``topics``) of article events."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.language import make_detector
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import dead_letter

__all__ = ["Tag"]


class _TagFn(beam.DoFn):
    def setup(self) -> None:
        self._detector = make_detector("langdetect")

    def process(self, event: dict) -> Iterator:
        try:
            guess = self._detector.detect_batch(
                [f"{event['title']}\n{event['summary'] or event['body']}"])[0]
        except Exception as e:  # keep the article: untagged is better than lost
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, dead_letter(
                "tag", f"language detection failed: {e}", type(e).__name__,
                event["event_id"], event["source"], event_id=event["event_id"]))
            yield event
            return
        counter(f"language_{guess.code}").inc()
        yield {**event, "language": {"code": guess.code, "confidence": guess.confidence,
                                     "method": guess.method}}


class Tag(beam.PTransform):
    """Article events in, the same events with ``language`` filled out.

    Topics stay empty with ``topics_tagger`` null: no topic tagger runs yet, and the record says
    so rather than pretending nothing matched.
    """

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return events | "Language" >> beam.ParDo(_TagFn()).with_outputs(
            DEAD_LETTERS, main="events")
