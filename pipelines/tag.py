"""Tag: fills ``language``, ``topics`` and ``topics_tagger`` of article events, in batches."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.language import (
    BACKENDS,
    DEFAULT_BACKEND,
    LanguageDetector,
    detection_text,
    make_detector,
)
from wirewatch.core.topic_model import DEFAULT_TOPIC_TAGGER, TOPIC_TAGGERS
from wirewatch.core.topics import TopicTagger, topic_text
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import dead_letter

__all__ = ["Tag", "tag_events"]


def tag_events(events: list[dict], detector: LanguageDetector, tagger: TopicTagger) -> list[dict]:
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
            # null says "not computed": a language the tagger cannot read gets no tagger
            "topics_tagger": tagger.name if supported else None,
        })
    return out


class _TagBatchFn(beam.DoFn):
    """Tags events in batches of up to ``max_batch_size``, each keeping its timestamp and window.

    Not ``BatchElements``: it stamps a batch with the end of its window, which in the global
    window of a streaming run is the end of time, so no downstream window would ever close.
    """

    def __init__(self, language_backend: str, topic_tagger: str, max_batch_size: int) -> None:
        self._backend = language_backend
        self._topic_tagger = topic_tagger
        self._max_batch_size = max_batch_size

    def setup(self) -> None:
        self._detector = make_detector(self._backend)
        self._tagger = TOPIC_TAGGERS[self._topic_tagger]()
        # The models are hundreds of thousands of long-lived objects: out of the collector's
        # generations, every full collection stops rescanning them (a worker's lifetime).
        gc.freeze()

    def start_bundle(self) -> None:
        self._pending: list[WindowedValue] = []

    def process(self, event: dict, timestamp=beam.DoFn.TimestampParam,
                window=beam.DoFn.WindowParam) -> Iterator:
        self._pending.append(WindowedValue(event, timestamp, (window,)))
        if len(self._pending) >= self._max_batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator:
        yield from self._flush()

    def _flush(self) -> Iterator:
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            tagged = tag_events([p.value for p in pending], self._detector, self._tagger)
        except Exception:  # one bad event must not cost its batch: find it one by one
            for p in pending:
                yield from self._one(p)
            return
        for p, event in zip(pending, tagged, strict=True):
            yield self._counted(p.with_value(event))

    def _one(self, pending: WindowedValue) -> Iterator:
        event = pending.value
        try:
            [tagged] = tag_events([event], self._detector, self._tagger)
        except Exception as e:  # keep the article: untagged is better than lost
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, pending.with_value(dead_letter(
                "tag", f"tagging failed: {e!r}", type(e).__name__,
                json.dumps(event, default=repr), event["source"], event_id=event["event_id"])))
            yield pending
            return
        yield self._counted(pending.with_value(tagged))

    @staticmethod
    def _counted(tagged: WindowedValue) -> WindowedValue:
        if tagged.value["topics_tagger"] and not tagged.value["topics"]:
            counter("articles_without_topic").inc()
        return tagged


class Tag(beam.PTransform):
    """Article events in, the same events with ``language``, ``topics`` and ``topics_tagger``.

    The language comes from title + lead through the chosen backend of
    ``wirewatch.core.language`` (the feed's declared ``language_hint`` as a prior); topics from
    title, lead and the start of the body through the chosen topic tagger (``learned``: the
    fastText model of ``wirewatch.core.topic_model``; ``keywords``: the keyword definitions).
    Events are tagged in batches (up to ``max_batch_size`` per bundle) so the models are called
    once per batch; each keeps its own timestamp and window.
    An event that cannot be tagged goes on untagged, with a dead letter saying why.
    """

    def __init__(self, language_backend: str = DEFAULT_BACKEND, max_batch_size: int = 256,
                 topic_tagger: str = DEFAULT_TOPIC_TAGGER):
        super().__init__()
        if language_backend not in BACKENDS:
            raise ValueError(
                f"unknown language backend {language_backend!r}; one of {sorted(BACKENDS)}")
        if topic_tagger not in TOPIC_TAGGERS:
            raise ValueError(
                f"unknown topic tagger {topic_tagger!r}; one of {sorted(TOPIC_TAGGERS)}")
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.language_backend = language_backend
        self.max_batch_size = max_batch_size
        self.topic_tagger = topic_tagger

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            events
            | "LanguageAndTopics" >> beam.ParDo(
                _TagBatchFn(self.language_backend, self.topic_tagger, self.max_batch_size))
            .with_outputs(DEAD_LETTERS, main="events")
        )
