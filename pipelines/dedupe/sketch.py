"""Sketch: article events in batches -> one ``Probes`` per shard touched, and the batch itself.

In: article event dicts. Out: ``(shard, Probes)`` on the main output and ``(batch id,
Sketched)`` on ``SKETCHED``, both in the global window. An event too malformed to compare
becomes a dead letter inside its batch's ``Sketched``, so the join is the one step that emits
both kinds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.neardup import NearDupConfig, entries, fingerprint, shard_of
from wirewatch.core.text import compared_text
from wirewatch.pipelines.dedupe.records import Probes, Sketched
from wirewatch.pipelines.metrics import distribution
from wirewatch.schemas.records import dead_letter

__all__ = ["SKETCHED", "SketchFn"]

#: Output tag of the sketched batches, keyed by batch id.
SKETCHED = "sketched"


def problem(event: object) -> str | None:
    """Why ``event`` cannot be compared, or None."""
    if not isinstance(event, dict):
        return f"not an article event dict: {type(event).__name__}"
    for name, kind in (("event_id", str), ("event_time", int), ("canonical_url", str),
                       ("title", str), ("summary", str), ("body", str), ("dedup", dict)):
        if not isinstance(event.get(name), kind):
            return f"field {name!r} missing or not {kind.__name__}"
    if not isinstance(event["dedup"].get("content_hash"), str):
        return "field 'dedup.content_hash' missing or not str"
    return None


def _letter(event: object, reason: str) -> dict:
    where = event.get("source") if isinstance(event, dict) else None
    return dead_letter(
        "dedupe", reason, "InvalidEvent", repr(event),
        where if isinstance(where, dict) else {"kind": "rss", "outlet": ""},
        event_id=event.get("event_id") if isinstance(event, dict) else None)


class SketchFn(beam.DoFn):
    """Buffers a bundle's events (at most ``batch_size``), then sketches them as one batch."""

    def __init__(self, config: NearDupConfig, shards: int, batch_size: int) -> None:
        self._config = config
        self._shards = shards
        self._batch_size = batch_size

    def start_bundle(self) -> None:
        self._events: list[dict] = []
        self._letters: list[dict] = []

    def process(self, event: dict) -> Iterator[WindowedValue]:
        reason = problem(event)
        if reason:  # counted with every dead letter, in dead_letters_by_reason{stage=dedupe}
            self._letters.append(_letter(event, reason))
        else:
            self._events.append(event)
        if len(self._events) + len(self._letters) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        events, letters = self._events, self._letters
        self._events, self._letters = [], []
        if not events and not letters:
            return
        started = time.perf_counter()
        batch = uuid.uuid4().hex
        probes = 0
        for shard, part in self._probes(batch, events):
            probes += len(part.ids)
            yield _global((shard, part), int(part.event_times().min()))
        first = min((e["event_time"] for e in events), default=int(time.time() * 1000))
        yield beam.pvalue.TaggedOutput(SKETCHED, _global(
            (batch, Sketched(tuple(events), probes, tuple(letters))), first))
        if events:
            distribution("dedupe_sketch_us_per_article").update(
                int((time.perf_counter() - started) * 1e6 / len(events)))

    def _probes(self, batch: str, events: list[dict]) -> Iterator[tuple[int, Probes]]:
        if not events:
            return
        fps = fingerprint([compared_text(e["title"], e["summary"], e["body"]) for e in events],
                          self._config)
        keys, owner, methods = entries(fps, [e["canonical_url"] for e in events],
                                       [e["dedup"]["content_hash"] for e in events])
        shard = shard_of(keys, self._shards)
        ids = [e["event_id"] for e in events]
        times = np.array([e["event_time"] for e in events], np.int64)
        for s in np.unique(shard).tolist():
            mine = shard == s
            # Stable sort by owner: a probe's keys stay together, probes in batch order.
            order = np.argsort(owner[mine], kind="stable")
            k_owner = owner[mine][order]
            rows, counts = np.unique(k_owner, return_counts=True)
            yield s, Probes(
                batch, rows.astype(np.int32).tobytes(), tuple(ids[r] for r in rows.tolist()),
                times[rows].tobytes(), fps.signatures[rows].tobytes(),
                fps.sizes[rows].astype(np.uint32).tobytes(),
                counts.astype(np.uint32).tobytes(), keys[mine][order].tobytes(),
                methods[mine][order].tobytes())


def _global(value: object, time_ms: int) -> WindowedValue:
    return WindowedValue(value, Timestamp(micros=time_ms * 1000), (GlobalWindow(),))
