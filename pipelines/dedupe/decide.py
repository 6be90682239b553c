"""Decide in a shard: ``(shard, Probes)`` in, ``(batch id, Verdicts)`` out.

A shard of the LSH index decides its probes in (event time, id) order against its residents,
the earlier probes within the horizon: the verdict is the earliest verified match.

- **Stream** (:func:`decide_in_shard`): probes wait in state until the watermark passes their
  event time, rounded up to a ``tick`` (1 s): one timer firing decides every probe of a tick,
  so firings follow time, not articles, and each reads back only what is still waiting.
  Residents leave by an event-time timer ``horizon`` after their event time, so state is
  bounded by the horizon, not by the age of the stream.
- **Bounded input** (:class:`DecideGrouped`): one watermark step, at its end; a GroupByKey per
  shard gives all probes at once, decided in the same order in chunks, without state or timers.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.core.neardup import NearDupConfig, NearDupIndex
from wirewatch.pipelines.dedupe.records import Probes, Verdicts, gather, verdicts

__all__ = ["DECIDE_CHUNK", "DecideGrouped", "decide_in_shard"]

#: Probes per ``NearDupIndex.add`` on bounded input: residents past the horizon leave between
#: chunks, so memory follows the horizon, not the input.
DECIDE_CHUNK = 4096


def _decide(index: NearDupIndex, parts: Sequence[Probes], late_before: int | None
            ) -> list[Verdicts]:
    """Decide ``parts`` against ``index`` and keep them as residents. A probe earlier than
    ``late_before`` (the shard had already decided past it) is marked late."""
    decision = gather(parts, index.config.bins)
    matches = index.add(decision.ids, decision.times, decision.fingerprints, decision.keys,
                        decision.owner, decision.methods)
    late = (np.zeros(len(decision.ids), bool) if late_before is None
            else decision.times < late_before)
    return verdicts(decision, matches, late)


def _at(ms: int) -> Timestamp:
    return Timestamp(micros=ms * 1000)


def _out(verdict: Verdicts, ms: int) -> WindowedValue:
    return WindowedValue((verdict.batch, verdict), _at(ms), (GlobalWindow(),))


class _DecideInShard(beam.DoFn):
    """One shard of the index in a stream (made by :func:`decide_in_shard`, which gives each
    instance timers of its own)."""

    PENDING = userstate.BagStateSpec("pending", PickleCoder())
    RESIDENTS = userstate.BagStateSpec("residents", PickleCoder())
    VERSION = userstate.ReadModifyWriteStateSpec("version", VarIntCoder())
    NEXT_AT = userstate.ReadModifyWriteStateSpec("next_at", VarIntCoder())
    DECIDED_UP_TO = userstate.ReadModifyWriteStateSpec("decided_up_to", VarIntCoder())
    DECIDE = userstate.TimerSpec("decide", TimeDomain.WATERMARK)
    EXPIRE = userstate.TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, config: NearDupConfig, horizon_ms: int, tick_ms: int) -> None:
        self._config = config
        self._horizon_ms = horizon_ms
        self._tick_ms = tick_ms

    def setup(self) -> None:
        # State is the truth; this keeps the decoded index between firings of a shard while
        # the stored version says it is still current.
        self._cache: dict[int, tuple[int, NearDupIndex]] = {}

    def _tick(self, ms: int) -> int:
        return -(-ms // self._tick_ms) * self._tick_ms

    def process(self, element: tuple[int, Probes], pending=beam.DoFn.StateParam(PENDING),
                next_at=beam.DoFn.StateParam(NEXT_AT), decide=beam.DoFn.TimerParam(DECIDE)
                ) -> None:
        _, probes = element
        pending.add(probes)
        at, current = self._tick(int(probes.event_times().min())), next_at.read()
        if current is None or at < current:
            decide.set(_at(at))
            next_at.write(at)

    def on_decide(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam,
                  pending=beam.DoFn.StateParam(PENDING),
                  residents=beam.DoFn.StateParam(RESIDENTS),
                  version=beam.DoFn.StateParam(VERSION), next_at=beam.DoFn.StateParam(NEXT_AT),
                  decided=beam.DoFn.StateParam(DECIDED_UP_TO),
                  decide=beam.DoFn.TimerParam(DECIDE), expire=beam.DoFn.TimerParam(EXPIRE)
                  ) -> Iterator[WindowedValue]:
        up_to = fired.micros // 1000
        ready, rest = [], []
        for probes in pending.read():
            due = probes.event_times() <= up_to
            if due.all():
                ready.append(probes)
            elif due.any():
                ready.append(probes.select(due))
                rest.append(probes.select(~due))
            else:
                rest.append(probes)
        pending.clear()
        for probes in rest:
            pending.add(probes)
        if rest:
            at = self._tick(min(int(p.event_times().min()) for p in rest))
            decide.set(_at(at))
            next_at.write(at)
        else:
            next_at.clear()
        if not ready:
            return
        index = self._index(key, residents, version)
        start = index.slots
        before = decided.read()
        out = _decide(index, ready, before)
        residents.add(index.snapshot(start))
        self._saved(key, index, version)
        decided.write(max(up_to, before or up_to))
        for verdict in out:
            yield _out(verdict, up_to)
        self._expire(key, index, up_to, residents, version, expire)

    def on_expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam,
                  residents=beam.DoFn.StateParam(RESIDENTS),
                  version=beam.DoFn.StateParam(VERSION), next_at=beam.DoFn.StateParam(NEXT_AT),
                  expire=beam.DoFn.TimerParam(EXPIRE)) -> None:
        waiting = next_at.read()
        if waiting is not None and waiting * 1000 < fired.micros:
            # When the watermark jumps past several timers, runners need not fire them in time
            # order (Prism fired this one first): a resident must stay until every probe before
            # its expiry is decided. That decision expires residents and sets this timer again.
            return
        index = self._index(key, residents, version)
        self._expire(key, index, fired.micros // 1000, residents, version, expire)

    def _index(self, key: int, residents, version) -> NearDupIndex:
        current = version.read() or 0
        cached = self._cache.get(key)
        if cached and cached[0] == current:
            return cached[1]
        index = NearDupIndex.restore(self._config, self._horizon_ms, residents.read())
        self._cache[key] = (current, index)
        return index

    def _saved(self, key: int, index: NearDupIndex, version) -> None:
        current = (version.read() or 0) + 1
        version.write(current)
        self._cache[key] = (current, index)

    def _expire(self, key: int, index: NearDupIndex, now_ms: int, residents, version,
                expire) -> None:
        if index.expire(now_ms - self._horizon_ms):
            residents.clear()
            residents.add(index.snapshot())
            self._saved(key, index, version)
        oldest = index.oldest()
        if oldest is not None:
            expire.set(_at(self._tick(max(oldest + self._horizon_ms, now_ms) + 1)))


_instances = itertools.count()


def decide_in_shard(config: NearDupConfig, horizon_ms: int, tick_ms: int = 1000
                    ) -> _DecideInShard:
    """A :class:`_DecideInShard` whose timers have names of its own.

    The FnApiRunner keeps timers in buffers named by timer family only: two Dedupe steps in one
    pipeline, fused into one stage, would fire each other's timers and lose events. Beam binds
    callbacks to timer specs by decorators on the class, so each instance gets a subclass.
    """
    n = next(_instances)
    base = _DecideInShard
    specs = {old: userstate.TimerSpec(f"{old.name}_{n}", TimeDomain.WATERMARK)
             for old in (base.DECIDE, base.EXPIRE)}

    def rebind(method, name: str):
        defaults = tuple(beam.DoFn.TimerParam(specs[d.timer_spec])
                         if getattr(d, "timer_spec", None) in specs else d
                         for d in method.__defaults__)
        return types.FunctionType(method.__code__, method.__globals__, name, defaults)

    cls = type(f"_DecideInShard{n}", (base,), {
        "process": rebind(base.process, "process"),
        "on_decide": userstate.on_timer(specs[base.DECIDE])(rebind(base.on_decide, "on_decide")),
        "on_expire": userstate.on_timer(specs[base.EXPIRE])(rebind(base.on_expire, "on_expire")),
    })
    return cls(config, horizon_ms, tick_ms)


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
                yield _out(verdict, chunk[-1][0])


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
