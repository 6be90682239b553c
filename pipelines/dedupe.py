"""Dedupe: marks articles that repeat an earlier one, exactly or nearly, in event time.

Input: article event dicts (``schemas/article_event.avsc`` shape) timestamped with their event
time. Output ``events``: the same dicts with ``dedup`` filled (``is_duplicate``,
``duplicate_of``, ``similarity``, ``method`` = exact_url | exact_content | near), in the
windows they came in; ``dead_letters``: events too malformed to compare.

How (the sentence is ``sketch | route to shards | decide in event time | join verdicts``):

1. **Sketch** batches of events with :mod:`wirewatch.core.neardup` (array work per batch, not
   per word). Each event gets index keys: its LSH band keys, its canonical URL, its content hash.
2. Keys are **sharded** by value over ``shards`` keys; an event goes once to each shard its keys
   touch, with its signature.
3. Each **shard** buffers arrivals in state until the watermark passes their event time, then
   decides them in (event time, id) order against its residents: the verdict is the earliest
   verified earlier resident. Residents leave by an event-time timer ``horizon`` after their
   event time, so state is bounded by the horizon, not by the age of the stream. Bounded input
   has one watermark step, at its end: there a GroupByKey per shard decides everything in the
   same order, with no state or timers.
4. The **join** takes, per event, the earliest verdict over its shards (a commutative choice, so
   shard order and runner do not matter) and emits the event: a GroupByKey for bounded input,
   per-event state (emit once every shard has answered) for unbounded input.

The earliest record of a group (ties: smallest ``event_id``) is canonical on every runner and
rerun. A record that arrives after the watermark passed its event time (late) is still decided
against the residents earlier than it, but records after it were decided without it: it gets a
note saying so. Records sharing an ``event_id`` are one article read twice: the first to arrive
is kept, the others are ``exact_url`` copies of it.
"""

from __future__ import annotations

import itertools
import time
import types
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta

import apache_beam as beam
import numpy as np
from apache_beam.coders import FastPrimitivesCoder, PickleCoder, VarIntCoder
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindows, TimestampedValue
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.neardup import (
    METHODS,
    Fingerprints,
    Match,
    NearDupConfig,
    NearDupIndex,
    entries,
    fingerprint,
    shard_of,
)
from wirewatch.core.text import compared_text
from wirewatch.pipelines.metrics import distribution
from wirewatch.schemas.records import dead_letter

__all__ = ["LATE_NOTE", "Dedupe"]

#: Note added to an event decided after later events were (it arrived behind the watermark).
LATE_NOTE = "dedup: arrived late; later records were decided without it"

_EVENT, _VERDICT, _DEAD = 0, 1, 2
# A probe: (join key, event_id, event time ms, signature, shingle count, keys, methods).
_Probe = tuple[str, str, int, bytes, int, bytes, bytes]
# A verdict: (join key, event_id or None, event time, similarity, method, late).
_Verdict = tuple[str, str | None, int, float, int, bool]
# Probes per NearDupIndex.add on bounded input: residents past the horizon leave between chunks.
_DECIDE_CHUNK = 4096


def _problem(event: object) -> str | None:
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


class _Sketch(beam.DoFn):
    """Events in batches -> (shard, probe) for each shard touched, and (join key, event)."""

    def __init__(self, config: NearDupConfig, shards: int, batch_size: int) -> None:
        self._config = config
        self._shards = shards
        self._batch_size = batch_size

    def start_bundle(self) -> None:
        self._batch: list[tuple[dict, Timestamp, object]] = []

    def process(self, event: dict, timestamp=beam.DoFn.TimestampParam,
                window=beam.DoFn.WindowParam) -> Iterator:
        problem = _problem(event)
        if problem:  # counted with every dead letter, in dead_letters_by_reason{stage=dedupe}
            source = event.get("source") if isinstance(event, dict) else None
            letter = dead_letter(
                "dedupe", problem, "InvalidEvent", repr(event),
                source if isinstance(source, dict) else {"kind": "rss", "outlet": ""},
                event_id=event.get("event_id") if isinstance(event, dict) else None)
            # Through the join, so that it is the one step with both outputs.
            yield beam.pvalue.TaggedOutput("events", (str(letter["event_id"]), (_DEAD, letter)))
            return
        self._batch.append((event, timestamp, window))
        if len(self._batch) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator:
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        batch, self._batch = self._batch, []
        if not batch:
            return
        started = time.perf_counter()
        events = [e for e, _, _ in batch]
        fps = fingerprint([compared_text(e["title"], e["summary"], e["body"]) for e in events],
                          self._config)
        keys, owner, methods = entries(fps, [e["canonical_url"] for e in events],
                                       [e["dedup"]["content_hash"] for e in events])
        shard = shard_of(keys, self._shards)
        order = np.lexsort((shard, owner))
        keys, owner, methods, shard = keys[order], owner[order], methods[order], shard[order]
        cut = np.flatnonzero((owner[1:] != owner[:-1]) | (shard[1:] != shard[:-1])) + 1
        groups = np.split(np.arange(len(keys)), cut)
        per_event: list[list[tuple[int, np.ndarray]]] = [[] for _ in events]
        for g in groups:
            per_event[owner[g[0]]].append((int(shard[g[0]]), g))
        for i, (event, ts, window) in enumerate(batch):
            join = f"{event['event_id']}/{uuid.uuid4().hex}"
            sig, size = fps.signatures[i].tobytes(), int(fps.sizes[i])
            for s, g in per_event[i]:
                probe = (join, event["event_id"], event["event_time"], sig, size,
                         keys[g].tobytes(), methods[g].tobytes())
                yield WindowedValue((s, probe), ts, (window,))
            yield beam.pvalue.TaggedOutput(
                "events", WindowedValue((join, (_EVENT, (event, len(per_event[i])))), ts,
                                        (window,)))
        distribution("dedupe_sketch_us_per_article").update(
            int((time.perf_counter() - started) * 1e6 / len(batch)))


def _fingerprints(probes: list[_Probe], bins: int) -> tuple[Fingerprints, tuple]:
    sigs = np.frombuffer(b"".join(p[3] for p in probes), dtype=np.uint8).reshape(-1, bins)
    sizes = np.array([p[4] for p in probes], dtype=np.uint32)
    keys = [np.frombuffer(p[5], dtype=np.uint64) for p in probes]
    methods = np.frombuffer(b"".join(p[6] for p in probes), dtype=np.uint8)
    owner = np.repeat(np.arange(len(probes)), [len(k) for k in keys])
    fps = Fingerprints(signatures=sigs, sizes=sizes, keys=np.zeros((len(probes), 0), np.uint64))
    return fps, (np.concatenate(keys), owner, methods)


# State and timers of a shard (module level: Beam needs the same objects in every signature).
_PENDING = userstate.BagStateSpec("pending", FastPrimitivesCoder())
_RESIDENTS = userstate.BagStateSpec("residents", PickleCoder())
_VERSION = userstate.ReadModifyWriteStateSpec("version", VarIntCoder())
_SOON_AT = userstate.ReadModifyWriteStateSpec("soon_at", VarIntCoder())
_ALL_AT = userstate.ReadModifyWriteStateSpec("all_at", VarIntCoder())
_DECIDED_UP_TO = userstate.ReadModifyWriteStateSpec("decided_up_to", VarIntCoder())
_SOON = userstate.TimerSpec("soon", TimeDomain.WATERMARK)
_ALL = userstate.TimerSpec("all", TimeDomain.WATERMARK)
_EXPIRE = userstate.TimerSpec("expire", TimeDomain.WATERMARK)
_KEY, _FIRED = beam.DoFn.KeyParam, beam.DoFn.TimestampParam
_P_PENDING = beam.DoFn.StateParam(_PENDING)
_P_RESIDENTS = beam.DoFn.StateParam(_RESIDENTS)
_P_VERSION = beam.DoFn.StateParam(_VERSION)
_P_SOON_AT = beam.DoFn.StateParam(_SOON_AT)
_P_ALL_AT = beam.DoFn.StateParam(_ALL_AT)
_P_DECIDED = beam.DoFn.StateParam(_DECIDED_UP_TO)
_T_SOON = beam.DoFn.TimerParam(_SOON)
_T_ALL = beam.DoFn.TimerParam(_ALL)
_T_EXPIRE = beam.DoFn.TimerParam(_EXPIRE)
# State of the join.
_EVENT_STATE = userstate.ReadModifyWriteStateSpec("event", PickleCoder())
_VERDICTS = userstate.BagStateSpec("verdicts", FastPrimitivesCoder())
_P_EVENT = beam.DoFn.StateParam(_EVENT_STATE)
_P_VERDICTS = beam.DoFn.StateParam(_VERDICTS)


class _DecideInShard(beam.DoFn):
    """One shard of the index (made by :func:`_decide_in_shard`): buffers probes
    until the watermark passes them, decides them in event-time order, keeps them as residents
    until ``horizon`` after their event time.

    Two decide timers: ``soon`` at the earliest buffered time (latency = watermark lag) and
    ``all`` at the latest (when the watermark jumps, e.g. at the end of bounded input, everything
    is decided in one go instead of one firing per timestamp).
    """

    def __init__(self, config: NearDupConfig, horizon_ms: int) -> None:
        self._config = config
        self._horizon_ms = horizon_ms

    def setup(self) -> None:
        # State is the truth; this keeps the decoded index between firings of a shard while the
        # stored version says it is still current.
        self._cache: dict[int, tuple[int, NearDupIndex]] = {}

    def process(self, element: tuple[int, _Probe], pending=_P_PENDING, soon_at=_P_SOON_AT,
                all_at=_P_ALL_AT, soon=_T_SOON, all_=_T_ALL) -> None:
        _, probe = element
        pending.add(probe)
        at = probe[2]
        first, last = soon_at.read(), all_at.read()
        if first is None or at < first:
            soon.set(Timestamp(micros=at * 1000))
            soon_at.write(at)
        if last is None or at > last:
            all_.set(Timestamp(micros=at * 1000))
            all_at.write(at)

    @userstate.on_timer(_SOON)
    def on_soon(self, key=_KEY, fired=_FIRED, pending=_P_PENDING, residents=_P_RESIDENTS,
                version=_P_VERSION, soon_at=_P_SOON_AT, all_at=_P_ALL_AT, decided=_P_DECIDED,
                soon=_T_SOON, expire=_T_EXPIRE) -> Iterator[TimestampedValue]:
        up_to = fired.micros // 1000
        waiting = list(pending.read())
        ready = sorted((p for p in waiting if p[2] <= up_to), key=lambda p: (p[2], p[1]))
        rest = [p for p in waiting if p[2] > up_to]
        if not ready:
            return
        pending.clear()
        for p in rest:
            pending.add(p)
        if rest:
            first = min(p[2] for p in rest)
            soon.set(Timestamp(micros=first * 1000))
            soon_at.write(first)
        else:
            soon_at.clear()
            all_at.clear()

        index = self._index(key, residents, version)
        start = index.slots
        fps, (keys, owner, methods) = _fingerprints(ready, self._config.bins)
        verdicts = index.add([p[1] for p in ready], np.array([p[2] for p in ready]), fps,
                             keys, owner, methods)
        residents.add(index.snapshot(start))
        self._saved(key, index, version)
        before = decided.read()
        decided.write(max(up_to, before or up_to))
        for probe, match in zip(ready, verdicts, strict=True):
            yield _verdict(probe, match, late=before is not None and probe[2] < before)
        self._expire(key, index, up_to, residents, version, expire)

    @userstate.on_timer(_EXPIRE)
    def on_expire(self, key=_KEY, fired=_FIRED, residents=_P_RESIDENTS, version=_P_VERSION,
                  soon_at=_P_SOON_AT, expire=_T_EXPIRE) -> None:
        waiting = soon_at.read()
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

    def _expire(self, key, index: NearDupIndex, now_ms: int, residents, version, expire) -> None:
        if index.expire(now_ms - self._horizon_ms):
            residents.clear()
            residents.add(index.snapshot())
            self._saved(key, index, version)
        oldest = index.oldest()
        if oldest is not None:
            expire.set(Timestamp(micros=(max(oldest + self._horizon_ms, now_ms) + 1) * 1000))


def _verdict(probe: _Probe, match: Match | None, late: bool) -> TimestampedValue:
    """A verdict keyed by its join key, ready for the join."""
    verdict = ((probe[0], match.event_id, match.event_time, match.similarity, match.method, late)
               if match else (probe[0], None, 0, 0.0, 0, late))
    return TimestampedValue((probe[0], (_VERDICT, verdict)), probe[2] / 1000)


class _DecideGrouped(beam.DoFn):
    """Bounded input: one shard's probes, all at once after a GroupByKey, decided in (event
    time, id) order in chunks. The same verdicts as :class:`_DecideInShard` (the watermark of
    bounded input only moves at the end, where that decides everything in one go too), without
    its state, timers and the expiry rounds that replay the horizon at the end of the input.
    Residents older than the horizon are dropped between chunks: no later probe can match them.
    """

    def __init__(self, config: NearDupConfig, horizon_ms: int, chunk: int) -> None:
        self._config = config
        self._horizon_ms = horizon_ms
        self._chunk = chunk

    def process(self, keyed: tuple[int, Iterable[_Probe]]) -> Iterator[TimestampedValue]:
        _, probes = keyed
        ordered = sorted(probes, key=lambda p: (p[2], p[1]))
        index = NearDupIndex(self._config, self._horizon_ms)
        start = 0
        while start < len(ordered):
            # Probes of one event time stay in one chunk, as they do in one timer firing.
            end = min(start + self._chunk, len(ordered))
            while end < len(ordered) and ordered[end][2] == ordered[end - 1][2]:
                end += 1
            chunk, start = ordered[start:end], end
            index.expire(chunk[0][2] - self._horizon_ms)
            fps, (keys, owner, methods) = _fingerprints(chunk, self._config.bins)
            verdicts = index.add([p[1] for p in chunk], np.array([p[2] for p in chunk]), fps,
                                 keys, owner, methods)
            for probe, match in zip(chunk, verdicts, strict=True):
                yield _verdict(probe, match, late=False)


_instances = itertools.count()


def _decide_in_shard(config: NearDupConfig, horizon_ms: int) -> _DecideInShard:
    """A :class:`_DecideInShard` whose timers have names of its own.

    The FnApiRunner keeps timers in buffers named by timer family only: two Dedupe steps in one
    pipeline, fused into one stage, would fire each other's timers and lose events. Unique names
    per step avoid that; the ``all`` timer gets its callback (the ``soon`` code) here too, as
    Beam binds one callback per timer.
    """
    n = next(_instances)
    specs = {old: userstate.TimerSpec(f"{old.name}_{n}", TimeDomain.WATERMARK)
             for old in (_SOON, _ALL, _EXPIRE)}
    params = [(param, beam.DoFn.TimerParam(specs[spec]))
              for param, spec in ((_T_SOON, _SOON), (_T_ALL, _ALL), (_T_EXPIRE, _EXPIRE))]

    def rebind(method, name: str):
        defaults = tuple(next((new for old, new in params if d is old), d)
                         for d in method.__defaults__)
        return types.FunctionType(method.__code__, method.__globals__, name, defaults)

    base = _DecideInShard
    cls = type(f"_DecideInShard{n}", (base,), {
        "process": rebind(base.process, "process"),
        "on_soon": userstate.on_timer(specs[_SOON])(rebind(base.on_soon, "on_soon")),
        "on_all": userstate.on_timer(specs[_ALL])(rebind(base.on_soon, "on_all")),
        "on_expire": userstate.on_timer(specs[_EXPIRE])(rebind(base.on_expire, "on_expire")),
    })
    return cls(config, horizon_ms)


class _Join(beam.DoFn):
    """Per event: waits for the verdicts of all shards it visited, then emits it once with the
    earliest verified match among them."""

    def process(self, element, event_state=_P_EVENT, verdicts=_P_VERDICTS) -> Iterator:
        _, (kind, payload) = element
        if kind == _DEAD:
            yield TimestampedValue((_DEAD, payload), payload["time"] / 1000)
            return
        if kind == _EVENT:
            event_state.write(payload)
            stored = payload
        else:
            verdicts.add(payload)
            stored = event_state.read()
        if stored is None:
            return
        event, expected = stored
        got = list(verdicts.read())
        if len(got) < expected:
            return
        event_state.clear()
        verdicts.clear()
        yield TimestampedValue((_EVENT, _decided(event, got)), event["event_time"] / 1000)


def _join_grouped(keyed: tuple[str, Iterable[tuple[int, object]]]) -> Iterator:
    """Bounded input: the same join after a GroupByKey (no per-event state to keep)."""
    _, items = keyed
    event, verdicts = None, []
    for kind, payload in items:
        if kind == _DEAD:
            yield TimestampedValue((_DEAD, payload), payload["time"] / 1000)
        elif kind == _EVENT:
            event = payload[0]
        else:
            verdicts.append(payload)
    if event is not None:
        yield TimestampedValue((_EVENT, _decided(event, verdicts)), event["event_time"] / 1000)


def _decided(event: dict, verdicts: Iterable[_Verdict]) -> dict:
    best: Match | None = None
    late = False
    for _, match_id, match_time, similarity, method, was_late in verdicts:
        late = late or was_late
        if match_id is not None:
            found = Match(match_id, match_time, similarity, method)
            if found.before(best):
                best = found
    notes = [*event.get("notes", []), LATE_NOTE] if late else event.get("notes", [])
    if best is None:
        dedup = {**event["dedup"], "is_duplicate": False, "duplicate_of": None,
                 "similarity": None, "method": None}
    else:
        dedup = {**event["dedup"], "is_duplicate": True, "duplicate_of": best.event_id,
                 "similarity": best.similarity, "method": METHODS[best.method]}
    return {**event, "dedup": dedup, "notes": notes}


def _split(item: tuple[int, dict]) -> Iterator:
    kind, record = item
    yield record if kind == _EVENT else beam.pvalue.TaggedOutput(DEAD_LETTERS, record)


class Dedupe(beam.PTransform):
    """Article events in; the same events with ``dedup`` filled out (see the module docstring).

    ``horizon``: how far back (event time) an earlier record can be the original; residents
    older than that are forgotten. ``shards``: keys the LSH index is spread over, i.e. the
    parallelism of the decide step. Each shard an event touches keeps its 173-byte row (id, time,
    signature), so state per event in the horizon is ~640 B with 1 shard, ~810 B with 2, ~1.2 KB
    with 4 (``benchmarks/bench_dedup.py``).
    ``config``: sketch and threshold settings of :class:`wirewatch.core.neardup.NearDupConfig`.
    """

    def __init__(self, horizon: timedelta = timedelta(hours=48), *, shards: int = 2,
                 config: NearDupConfig | None = None, batch_size: int = 256) -> None:
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

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        windowing = events.windowing
        in_global = windowing.is_default()
        if not in_global:  # decided in the global window, default trigger: see BackToWindows
            events = events | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
        sketched = (events
                    | "Sketch" >> beam.ParDo(_Sketch(self._config, self._shards,
                                                     self._batch_size)
                                             ).with_output_types(tuple[int, tuple],
                                                                events=tuple[str, tuple])
                                             .with_outputs("events", main="probes"))
        if events.is_bounded:
            # Bounded input is decided once, at its end: a GroupByKey per shard and per event
            # does it without the state and timers (and their cost) that a stream needs.
            decide = beam.ParDo(_DecideGrouped(self._config, self._horizon_ms, _DECIDE_CHUNK))
            verdicts = (sketched.probes
                        | "ShardGroups" >> beam.GroupByKey()
                        | "DecideInShards" >> decide.with_output_types(tuple[str, tuple]))
        else:
            decide = beam.ParDo(_decide_in_shard(self._config, self._horizon_ms))
            verdicts = (sketched.probes
                        | "DecideInShards" >> decide.with_output_types(tuple[str, tuple]))
        together = (sketched.events, verdicts) | "Together" >> beam.Flatten()
        if events.is_bounded:
            joined = (together
                      | "JoinGroups" >> beam.GroupByKey()
                      | "Join" >> beam.FlatMap(_join_grouped).with_output_types(tuple[int, dict]))
        else:
            joined = (together
                      | "Join" >> beam.ParDo(_Join()).with_input_types(tuple[str, tuple])
                      .with_output_types(tuple[int, dict]))
        if not in_global:
            # Decided in the global window (a copy's original may sit in an earlier window of
            # the caller's); back into the caller's windows now.
            joined = joined | "BackToWindows" >> beam.WindowInto(
                windowing.windowfn, trigger=windowing.triggerfn,
                accumulation_mode=windowing.accumulation_mode,
                allowed_lateness=windowing.allowed_lateness)
        return joined | "Split" >> beam.ParDo(_split).with_outputs(DEAD_LETTERS, main="events")
