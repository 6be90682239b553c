"""Dedupe: marks articles that repeat an earlier one (same canonical URL, same content)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from wirewatch.pipelines.metrics import counter

__all__ = ["Dedupe"]


def _canonical_first(keyed: tuple[str, Iterable[dict]], method: str) -> Iterator[dict]:
    """The earliest event of a group (ties: smallest id) is canonical, the rest repeat it."""
    _, events = keyed
    ordered = sorted(events, key=lambda e: (e["event_time"], e["event_id"]))
    first = ordered[0]
    yield first
    for event in ordered[1:]:
        counter("duplicates").inc()
        yield {**event, "dedup": {**event["dedup"], "is_duplicate": True,
                                  "duplicate_of": first["event_id"], "similarity": 1.0,
                                  "method": method}}


class Dedupe(beam.PTransform):
    """Article events in, the same events with the ``dedup`` block filled.

    Exact duplicates only: first by canonical URL, then by content hash among what is left.
    """

    def expand(self, events: beam.PCollection) -> beam.PCollection:
        by_url = (events
                  | "ByUrl" >> beam.GroupBy(lambda e: e["canonical_url"])
                  | "UrlCanonical" >> beam.FlatMap(_canonical_first, "exact_url"))
        fresh = by_url | "NotYetDuplicate" >> beam.Filter(lambda e: not e["dedup"]["is_duplicate"])
        repeats = by_url | "AlreadyDuplicate" >> beam.Filter(lambda e: e["dedup"]["is_duplicate"])
        by_content = (fresh
                      | "ByContent" >> beam.GroupBy(lambda e: e["dedup"]["content_hash"])
                      | "ContentCanonical" >> beam.FlatMap(_canonical_first, "exact_content"))
        return (repeats, by_content) | "Merge" >> beam.Flatten()
