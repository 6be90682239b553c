"""Normalise: ``RawArticle`` in, article event dicts out (canonical URL, clean text, event time,
stable id); items that cannot become events go out as dead letters."""

from __future__ import annotations

import dataclasses
import gc
import json
from collections.abc import Iterator

import apache_beam as beam

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.article import Rejected, build_event
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import RawArticle, dead_letter

__all__ = ["Normalise"]


def _payload(raw: RawArticle) -> bytes:
    return json.dumps(dataclasses.asdict(raw), ensure_ascii=False, default=str).encode()


#: The collector's thresholds in a worker (Python's default: 700, 10, 10). A streaming worker
#: holds bundles of thousands of article dicts at a time: with the defaults its collections
#: took ~10 % of its CPU at 1,000 articles/s (``gc.callbacks``: 26 young collections a second
#: and a full one every ~5 s, 130 ms each, over a heap of models, state and buffers).
GC_THRESHOLDS = (50_000, 20, 10)


class _NormaliseFn(beam.DoFn):
    def __init__(self) -> None:
        self._events = counter("normalised")

    def setup(self) -> None:
        # The first step of every pipeline, so every worker gets it; a process-wide setting.
        gc.set_threshold(*GC_THRESHOLDS)

    def process(self, raw: RawArticle, timestamp=beam.DoFn.TimestampParam) -> Iterator:
        try:
            event = build_event(raw)
        except Rejected as e:
            error_type, reason = e.error_type, e.reason
        except Exception as e:  # a bug or an input nobody foresaw: keep it, keep running
            error_type, reason = type(e).__name__, f"normalisation failed: {e}"
        else:
            self._events.inc()
            # Stamped with the event time unless that is before the read's own stamp (an item
            # published before it was fetched): never behind the watermark, so never late for
            # the steps that wait on it (Dedupe); the event time stays in the record.
            yield beam.window.TimestampedValue(
                event, max(event["event_time"] / 1000, float(timestamp)))
            return
        # counted where every dead letter is: dead_letters_by_reason{stage=normalise,...}
        yield beam.pvalue.TaggedOutput(
            DEAD_LETTERS, dead_letter("normalise", reason, error_type, _payload(raw), raw.source))


class Normalise(beam.PTransform):
    """``RawArticle`` -> article event dicts (``schemas/article_event.avsc`` shape).

    Outputs ``events``, timestamped with their event time (or the read's later timestamp of the
    item, when it was published before it was read), and ``dead_letters`` for items with
    no usable link or no text.
    """

    def expand(self, articles: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return articles | "Normalise" >> beam.ParDo(_NormaliseFn()).with_outputs(
            DEAD_LETTERS, main="events")
