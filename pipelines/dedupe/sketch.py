"""Sketch: article events in batches -> one ``Probes`` per shard (and, in a stream, per tick of
element timestamps) touched, and the batch itself.

In: article event dicts. Out: ``("shard<n>", Probes)`` on the main output and ``(batch id,
Part)`` (the batch) on ``SKETCHED``, both in the global window. An event too malformed to
compare becomes a dead letter inside its batch's part, so the join is the one step that emits
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
from wirewatch.pipelines.dedupe.records import Part, Probes
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
    """Buffers a bundle's events (at most ``batch_size``), then sketches them as one batch.

    ``tick_ms``: a stream's probes are cut by tick of element time, the unit its shards decide
    in. ``None`` (bounded input, decided once at its end): one ``Probes`` per shard and batch.
    """

    def __init__(self, config: NearDupConfig, shards: int, batch_size: int,
                 tick_ms: int | None) -> None:
        self._config = config
        self._shards = shards
        self._batch_size = batch_size
        self._tick_ms = tick_ms

    def start_bundle(self) -> None:
        self._events: list[dict] = []
        self._stamps: list[int] = []  # the events' element timestamps (ms)
        self._letters: list[dict] = []

    def process(self, event: dict, timestamp=beam.DoFn.TimestampParam
                ) -> Iterator[WindowedValue]:
        reason = problem(event)
        if reason:  # counted with every dead letter, in dead_letters_by_reason{stage=dedupe}
            self._letters.append(_letter(event, reason))
        else:
            self._events.append(event)
            # Never before the event time: input from ``Create`` has no timestamp at all.
            self._stamps.append(max(timestamp.micros // 1000, event["event_time"]))
        if len(self._events) + len(self._letters) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        events, stamps, letters = self._events, self._stamps, self._letters
        self._events, self._stamps, self._letters = [], [], []
        if not events and not letters:
            return
        started = time.perf_counter()
        batch = uuid.uuid4().hex
        # Where the batch's parts meet again in the join: the end of its last tick, so that no
        # part is stamped before the tick pane it is decided in (and none is late there).
        last = max(stamps, default=int(time.time() * 1000))
        tick = self._tick_ms
        until = (last // tick + 1) * tick - 1 if tick else last
        probes = 0
        for shard, stamp, part in self._probes(batch, until, events, stamps):
            probes += len(part.ids)
            # Dedupe windows probes by tick of their element timestamps (never behind the
            # watermark), and orders them by event time within and across ticks.
            yield _global((shard, part), stamp)
        yield beam.pvalue.TaggedOutput(SKETCHED, _global(
            (batch, Part.batch(until, events, letters, probes)), until))
        if events:
            distribution("dedupe_sketch_us_per_article").update(
                int((time.perf_counter() - started) * 1e6 / len(events)))

    def _probes(self, batch: str, until: int, events: list[dict], stamps: list[int]
                ) -> Iterator[tuple[str, int, Probes]]:
        """One ``Probes`` per shard (and tick, in a stream) that the batch touches, with the
        latest element timestamp of its rows."""
        if not events:
            return
        fps = fingerprint([compared_text(e["title"], e["summary"], e["body"]) for e in events],
                          self._config)
        keys, owner, methods = entries(fps, [e["canonical_url"] for e in events],
                                       [e["dedup"]["content_hash"] for e in events])
        ids = [e["event_id"] for e in events]
        times = np.array([e["event_time"] for e in events], np.int64)
        # Stable sort by owner: a probe's keys stay together, probes in batch order.
        order = np.argsort(owner, kind="stable")
        keys, owner, methods = keys[order], owner[order], methods[order]
        stamps = np.array(stamps, np.int64)
        cell = shard_of(keys, self._shards) * (1 << 48)
        if self._tick_ms:
            cell += stamps[owner] // self._tick_ms
        for c in np.unique(cell).tolist():
            mine = cell == c
            rows, counts = np.unique(owner[mine], return_counts=True)
            yield f"shard{c >> 48}", int(stamps[rows].max()), Probes(
                batch, until, rows.astype(np.int32).tobytes(), tuple(ids[r] for r in rows.tolist()),
                times[rows].tobytes(), fps.signatures[rows].tobytes(),
                fps.sizes[rows].astype(np.uint32).tobytes(),
                counts.astype(np.uint32).tobytes(), keys[mine].tobytes(),
                methods[mine].tobytes())


def _global(value: object, time_ms: int) -> WindowedValue:
    return WindowedValue(value, Timestamp(micros=time_ms * 1000), (GlobalWindow(),))
