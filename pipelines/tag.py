"""Tag: fills ``language``, ``topics`` and ``topics_tagger`` of article events, in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator

import apache_beam as beam

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.language import (
    BACKENDS,
    DEFAULT_BACKEND,
    LanguageDetector,
    detection_text,
    make_detector,
)
from wirewatch.core.topics import KeywordTopicTagger, TopicTagger, topic_text
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import dead_letter

__all__ = ["Tag"]


def _tag(events: list[dict], detector: LanguageDetector, tagger: TopicTagger) -> list[dict]:
    """The events with language and topics filled; one detector and one tagger call each."""
    guesses = detector.detect_batch(
        [detection_text(e["title"], e["summary"] or e["body"]) for e in events],
        [e.get("language_hint") for e in events],
    )
    codes = [g.code for g in guesses]
    topics = tagger.tag_batch(
        [topic_text(e["title"], e["summary"], e["body"]) for e in events], codes)
    out = []
    for event, guess, found in zip(events, guesses, topics, strict=True):
        supported = tagger.supports(guess.code)
        out.append({
            **event,
            "language": {"code": guess.code, "confidence": guess.confidence,
                         "method": guess.method},
            "topics": [{"code": t.code, "label": t.label, "score": t.score} for t in found],
            # null says "not computed": a language without topic definitions gets no tagger
            "topics_tagger": tagger.name if supported else None,
        })
    return out


class _TagBatchFn(beam.DoFn):
    def __init__(self, language_backend: str) -> None:
        self._backend = language_backend

    def setup(self) -> None:
        self._detector = make_detector(self._backend)
        self._tagger = KeywordTopicTagger()

    def process(self, batch: list[dict]) -> Iterator:
        try:
            tagged = _tag(batch, self._detector, self._tagger)
        except Exception:  # one bad event must not cost its batch: find it one by one
            yield from self._one_by_one(batch)
            return
        yield from self._counted(tagged)

    def _one_by_one(self, batch: list[dict]) -> Iterator:
        for event in batch:
            try:
                tagged = _tag([event], self._detector, self._tagger)
            except Exception as e:  # keep the article: untagged is better than lost
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, dead_letter(
                    "tag", f"tagging failed: {e!r}", type(e).__name__,
                    json.dumps(event, default=repr), event["source"],
                    event_id=event["event_id"]))
                yield event
                continue
            yield from self._counted(tagged)

    @staticmethod
    def _counted(events: list[dict]) -> Iterator:
        for event in events:
            if event["topics_tagger"] and not event["topics"]:
                counter("articles_without_topic").inc()
            yield event


class Tag(beam.PTransform):
    """Article events in, the same events with ``language``, ``topics`` and ``topics_tagger``.

    The language comes from title + lead through the chosen backend of
    ``wirewatch.core.language`` (the feed's declared ``language_hint`` as a prior); topics from
    title, lead and the start of the body through ``KeywordTopicTagger`` in that language.
    Events travel in batches (``BatchElements``) so the models are called once per batch.
    An event that cannot be tagged goes on untagged, with a dead letter saying why.
    """

    def __init__(self, language_backend: str = DEFAULT_BACKEND, max_batch_size: int = 256):
        super().__init__()
        if language_backend not in BACKENDS:
            raise ValueError(
                f"unknown language backend {language_backend!r}; one of {sorted(BACKENDS)}")
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.language_backend = language_backend
        self.max_batch_size = max_batch_size

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            events
            | "Batch" >> beam.BatchElements(min_batch_size=1,
                                            max_batch_size=self.max_batch_size)
            | "LanguageAndTopics" >> beam.ParDo(_TagBatchFn(self.language_backend))
            .with_outputs(DEAD_LETTERS, main="events")
        )
