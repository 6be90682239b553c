"""Decide in a shard: ``(shard, Probes)`` in, ``(batch id, Part)`` verdicts out.

A shard of the LSH index decides its probes in (event time, id) order against its residents,
the earlier probes within the horizon: the verdict is the earliest verified match.

- **Stream** (:class:`DecideInShard`): a GroupByKey in windows of one tick (1 s) of element
  time holds a shard's probes until the watermark has passed the tick, then hands them over as
  one pane; panes are decided in the order they come, each in event-time order. A probe whose
  event time is behind what the shard already decided (read late) is decided too, and marked
  late. Residents older than the horizon leave as panes go by, so state is bounded by the
  horizon, not by the age of the stream. No user timers: with a timer per shard (and with a
  stateful join) Prism lost 1-3 % of the batches under load, each time the state one bundle
  of a key had written (seen with debug counters; the cause in Prism is not pinned down);
  the runner's own GroupByKey does the waiting and lost none.
- **Bounded input** (:class:`DecideGrouped`): one watermark step, at its end; a GroupByKey per
  shard gives all probes at once, decided in the same order in chunks, without state or timers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.neardup import NearDupConfig, NearDupIndex
from wirewatch.pipelines.dedupe.records import Part, Probes, gather, verdicts

__all__ = ["DECIDE_CHUNK", "DecideGrouped", "DecideInShard"]

#: Probes per ``NearDupIndex.add`` on bounded input: residents past the horizon leave between
#: chunks, so memory follows the horizon, not the input.
DECIDE_CHUNK = 4096


def _decide(index: NearDupIndex, parts: Sequence[Probes], late_before: int | None
            ) -> list[tuple[str, Part]]:
    """Decide ``parts`` against ``index`` and keep them as residents. A probe earlier than
    ``late_before`` (the shard had already decided past it) is marked late."""
    decision = gather(parts, index.config.bins)
    matches = index.add(decision.ids, decision.times, decision.fingerprints, decision.keys,
                        decision.owner, decision.methods)
    late = (np.zeros(len(decision.ids), bool) if late_before is None
            else decision.times < late_before)
    return verdicts(decision, matches, late)


def _out(verdict: tuple[str, Part]) -> WindowedValue:
    """Stamped where the batch meets its other parts in the join."""
    return WindowedValue(verdict, Timestamp(micros=verdict[1].until * 1000), (GlobalWindow(),))


class DecideInShard(beam.DoFn):
    """A stream: one shard's probes of one tick of event time at a time (a GroupByKey pane, once
    the watermark has passed the tick), decided against the shard's residents in state."""

    RESIDENTS = userstate.BagStateSpec("residents", PickleCoder())
    VERSION = userstate.ReadModifyWriteStateSpec("version", VarIntCoder())
    DECIDED_UP_TO = userstate.ReadModifyWriteStateSpec("decided_up_to", VarIntCoder())

    def __init__(self, config: NearDupConfig, horizon_ms: int) -> None:
        self._config = config
        self._horizon_ms = horizon_ms

    def setup(self) -> None:
        # State is the truth; this keeps the decoded index between panes of a shard while the
        # stored version says it is still current.
        self._cache: dict[str, tuple[int, NearDupIndex]] = {}

    def process(self, element: tuple[str, Iterable[Probes]],
                residents=beam.DoFn.StateParam(RESIDENTS),
                version=beam.DoFn.StateParam(VERSION),
                decided=beam.DoFn.StateParam(DECIDED_UP_TO)) -> Iterator[WindowedValue]:
        shard, parts = element
        parts = list(parts)
        times = np.concatenate([p.event_times() for p in parts])
        index = self._index(shard, residents, version)
        # Residents older than the horizon of this pane's earliest probe can match nothing
        # any more (a late pane keeps what it needs: its probes are the earliest).
        compacted = index.expire(int(times.min()) - self._horizon_ms)
        start = 0 if compacted else index.slots
        before = decided.read()
        out = _decide(index, parts, before)
        if compacted:
            residents.clear()
        residents.add(index.snapshot(start))
        self._saved(shard, index, version)
        up_to = int(times.max())
        decided.write(max(up_to, before or up_to))
        for verdict in out:
            yield _out(verdict)

    def _index(self, shard: str, residents, version) -> NearDupIndex:
        current = version.read() or 0
        cached = self._cache.get(shard)
        if cached and cached[0] == current:
            return cached[1]
        index = NearDupIndex.restore(self._config, self._horizon_ms, residents.read())
        self._cache[shard] = (current, index)
        return index

    def _saved(self, shard: str, index: NearDupIndex, version) -> None:
        current = (version.read() or 0) + 1
        version.write(current)
        self._cache[shard] = (current, index)


class DecideGrouped(beam.DoFn):
    """Bounded input: one shard's probes, all at once after a GroupByKey, decided in (event
    time, id) order in chunks of about ``chunk`` probes. The same verdicts as the stream (whose
    watermark, for bounded input, only moves at the end), without state, timers and the expiry
    rounds that replay the horizon at the end of the input. Residents older than the horizon
    are dropped between chunks: no later probe can match them."""

    def __init__(self, config: NearDupConfig, horizon_ms: int, chunk: int | None = None
                 ) -> None:
        self._config = config
        self._horizon_ms = horizon_ms
        self._chunk = chunk or DECIDE_CHUNK

    def process(self, keyed: tuple[int, Iterable[Probes]]) -> Iterator[WindowedValue]:
        _, parts = keyed
        rows = [(t, i, part, j) for part in parts
                for j, (t, i) in enumerate(zip(part.event_times().tolist(), part.ids,
                                               strict=True))]
        rows.sort(key=lambda r: (r[0], r[1]))
        index = NearDupIndex(self._config, self._horizon_ms)
        start = 0
        while start < len(rows):
            # Probes of one event time stay in one chunk, as they do in one timer firing.
            end = min(start + self._chunk, len(rows))
            while end < len(rows) and rows[end][0] == rows[end - 1][0]:
                end += 1
            chunk, start = rows[start:end], end
            index.expire(chunk[0][0] - self._horizon_ms)
            for verdict in _decide(index, _chunk_parts(chunk), None):
                yield _out(verdict)


def _chunk_parts(chunk: list[tuple[int, str, Probes, int]]) -> list[Probes]:
    """The rows of a chunk as one ``Probes`` selection per batch they came from."""
    picked: dict[int, tuple[Probes, list[int]]] = {}
    for _, _, part, j in chunk:
        picked.setdefault(id(part), (part, []))[1].append(j)
    out = []
    for part, js in picked.values():
        mask = np.zeros(len(part.ids), bool)
        mask[js] = True
        out.append(part if mask.all() else part.select(mask))
    return out
