"""Dedupe: marks articles that repeat an earlier one, exactly or nearly, in event time.

Input: article event dicts (``schemas/article_event.avsc`` shape), timestamped as ``Normalise``
does: with their event time, or the later time they were read (never behind the watermark).
Output (:class:`Deduped`): ``events``, the same dicts with ``dedup`` filled
(``is_duplicate``, ``duplicate_of``, ``similarity``, ``method`` = exact_url | exact_content |
near), in the windows they came in; ``dead_letters``: events too malformed to compare.

The sentence is ``sketch | decide in shards | join``, one module each:

1. **Sketch** (``sketch.py``) a bundle's events as one batch with
   :mod:`wirewatch.core.neardup` (array work per batch, not per word). Each event gets index
   keys: its LSH band keys, its canonical URL, its content hash. Keys are sharded by value over
   ``shards``; each shard a batch touches gets one ``Probes`` record with its rows.
2. **Decide in shards** (``decide.py``): a GroupByKey holds a shard's probes of each tick (1 s
   of element timestamps) until the watermark has passed it; the shard decides them in (event
   time, id) order against its residents: the verdict is the earliest verified earlier resident
   within the horizon.
3. **Join** (``join.py``) per batch, after a GroupByKey: each article gets the earliest match
   over its shards.

Batches, not articles, cross the shuffles (``records.py``): a runner moves a few elements a
second per shard and tick, not one per article. The waiting is done by the runner's
GroupByKeys, not by user state and timers: on Prism a stateful step with timers lost 1-3 % of
its batches under load (see ``decide.py``).

The earliest record of a group (ties: smallest ``event_id``) is canonical on every runner and
rerun. An article is never its own duplicate: the same ``event_id`` delivered again (Kafka's
at-least-once) gets the verdict of its first delivery. A record read after later records
were decided (its event time is behind what its shard decided) is still decided against the
residents earlier than it, but the later ones were decided without it: it gets ``LATE_NOTE``.
A batch whose verdicts were not all in when its pane fired goes out with ``INCOMPLETE_NOTE``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.neardup import NearDupConfig
from wirewatch.pipelines.dedupe.decide import DecideGrouped, DecideInShard
from wirewatch.pipelines.dedupe.join import INCOMPLETE_NOTE, LATE_NOTE, join
from wirewatch.pipelines.dedupe.records import Part, Probes, RecordCoder
from wirewatch.pipelines.dedupe.sketch import SKETCHED, SketchFn
from wirewatch.pipelines.ticks import TICK_MS, ticks

__all__ = ["INCOMPLETE_NOTE", "LATE_NOTE", "Dedupe", "Deduped"]

for _record in (Part, Probes):
    beam.coders.registry.register_coder(_record, RecordCoder)



class Deduped(NamedTuple):
    """What :class:`Dedupe` returns."""

    events: beam.PCollection
    dead_letters: beam.PCollection


class Dedupe(beam.PTransform):
    """Article events in; the same events with ``dedup`` filled out (see the module docstring).

    ``horizon``: how far back (event time) an earlier record can be the original; residents
    older than that are forgotten. ``shards``: keys the LSH index is spread over, i.e. the
    parallelism of the decide step. Each shard an event touches keeps its 173-byte row (id, time,
    signature), so state per event in the horizon is ~765 B with 1 shard, ~940 B with 2, ~1.3 KB
    with 4 (``benchmarks/bench_dedup.py``). ``batch_size``: most events sketched as one batch
    (a bundle is cut into batches of at most this many).
    ``config``: sketch and threshold settings of :class:`wirewatch.core.neardup.NearDupConfig`.
    """

    def __init__(self, horizon: timedelta = timedelta(hours=48), *, shards: int = 2,
                 config: NearDupConfig | None = None, batch_size: int = 1000) -> None:
        super().__init__()
        if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
            raise ValueError(f"horizon must be a positive timedelta, got {horizon!r}")
        if not isinstance(shards, int) or shards < 1:
            raise ValueError(f"shards must be an int >= 1, got {shards!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self._horizon_ms = int(horizon.total_seconds() * 1000)
        self._shards = shards
        self._config = config or NearDupConfig()
        self._batch_size = batch_size

    def expand(self, events: beam.PCollection) -> Deduped:
        windowing = events.windowing
        in_global = windowing.is_default()
        if not in_global:  # decided in the global window: a copy's original may sit in an
            # earlier window of the caller's; back into the caller's windows at the end
            events = events | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
        sketched = (events
                    | "Sketch" >> beam.ParDo(SketchFn(
                        self._config, self._shards, self._batch_size,
                        None if events.is_bounded else TICK_MS))
                    .with_output_types(tuple[str, Probes], sketched=tuple[str, Part])
                    .with_outputs(SKETCHED, main="probes"))
        if events.is_bounded:
            # Bounded input is decided once, at its end: a GroupByKey per shard and per batch
            # does it without the windows (and their cost) that a stream needs.
            verdicts = (sketched.probes
                        | "ShardGroups" >> beam.GroupByKey()
                        | "DecideInShards" >> beam.ParDo(
                            DecideGrouped(self._config, self._horizon_ms))
                        .with_output_types(tuple[str, Part]))
            parts = (sketched[SKETCHED], verdicts) | "Together" >> beam.Flatten()
        else:
            # The runner holds each shard's probes of a tick until the watermark has passed
            # it; a late probe gets a pane of its own (nothing is ever dropped as late).
            verdicts = (sketched.probes
                        | "Ticks" >> ticks()
                        | "ShardTicks" >> beam.GroupByKey()
                        | "Decided" >> beam.WindowInto(GlobalWindows())
                        | "DecideInShards" >> beam.ParDo(
                            DecideInShard(self._config, self._horizon_ms))
                        .with_output_types(tuple[str, Part]))
            # A batch's parts all carry the end of its last tick: its pane fires once every
            # tick up to it is decided. The join needs no late pane: Prism (Beam 2.77) fired
            # none before the window closed, so the join goes on without a late part instead.
            parts = ((sketched[SKETCHED], verdicts) | "Together" >> beam.Flatten()
                     | "BatchTicks" >> ticks())
        joined = (parts
                  | "JoinGroups" >> beam.GroupByKey()
                  | "Join" >> beam.FlatMap(join).with_outputs(DEAD_LETTERS, main="events"))
        outputs = [joined.events, joined[DEAD_LETTERS]]
        if not (in_global and events.is_bounded):
            # Back into the caller's windows (a stream's join left them in ticks; a copy's
            # original may sit in an earlier window of the caller's than the copy).
            outputs = [pc | f"BackToWindows{name}" >> beam.WindowInto(
                windowing.windowfn, trigger=windowing.triggerfn,
                accumulation_mode=windowing.accumulation_mode,
                allowed_lateness=windowing.allowed_lateness)
                for name, pc in zip(("Events", "DeadLetters"), outputs, strict=True)]
        return Deduped(*outputs)
