"""Measure: count what reaches the sinks into the wirewatch metrics, at the end of the graph.

Observing the final records in one place, instead of counting inside every step, keeps the
steps free of bookkeeping and makes the numbers mean "written": per source, language, topic,
duplicate method, dead-letter stage and error type, and the event-time lag
(published -> processed). Names and meanings are in :mod:`wirewatch.pipelines.metrics`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import apache_beam as beam

from wirewatch.pipelines.metrics import (
    EVENT_TIME_LAG_MS,
    counter,
    dead_letter_metric_names,
    distribution,
    event_metric_names,
)
from wirewatch.schemas.records import now_ms

__all__ = ["MeasureDeadLetters", "MeasureEvents"]


class _MeasureFn(beam.DoFn):
    """Counts per bundle and adds the counts to the counters at its end: one counter update per
    name and bundle instead of several per record."""

    def __init__(self, names: Callable[[Mapping], list[str]], lag: bool) -> None:
        self._names = names
        self._lag = lag

    def setup(self) -> None:
        self._counters: dict = {}
        self._lag_ms = distribution(EVENT_TIME_LAG_MS)

    def start_bundle(self) -> None:
        self._counts: Counter[str] = Counter()

    def process(self, record: dict) -> Iterator[dict]:
        self._counts.update(self._names(record))
        if self._lag and record["published_time"] is not None:
            # Clocks of outlets run a little ahead at times; a lag is never negative.
            self._lag_ms.update(max(0, now_ms() - record["published_time"]))
        yield record

    def finish_bundle(self) -> None:
        for name, n in self._counts.items():
            if name not in self._counters:
                self._counters[name] = counter(name)
            self._counters[name].inc(n)
        self._counts.clear()


class MeasureEvents(beam.PTransform):
    """Article events in, the same events out, counted (and their event-time lag recorded)."""

    def expand(self, events: beam.PCollection) -> beam.PCollection:
        return events | "Count" >> beam.ParDo(_MeasureFn(event_metric_names, lag=True))


class MeasureDeadLetters(beam.PTransform):
    """Dead letters in, the same dead letters out, counted per stage and error type."""

    def expand(self, letters: beam.PCollection) -> beam.PCollection:
        return letters | "Count" >> beam.ParDo(_MeasureFn(dead_letter_metric_names, lag=False))
