"""``ReadFromKafka``: Kafka topics in, ``RawArticle`` out, as a splittable DoFn.

How it reads (after ``apache_beam/transforms/periodicsequence.py``):

- **One restriction per partition**: the element is a topic; its restriction lists offset
  ranges [start, stop) per partition and ``split`` gives one restriction per partition
  (``restriction.py``). Bounded mode stops at the end offsets taken when the pipeline is built
  ("at launch"); unbounded mode uses ``stop = 2**63 - 1`` and checkpoints with
  ``defer_remainder`` after each slice (at most ``max_records_per_call`` records or about
  1 s). Runner-initiated splits inside a partition are refused: a partition is read by one
  restriction at a time. Progress is always finite with a non-zero total (see
  ``restriction.py`` for why the tracker states its own fraction).
- **Start**: ``start_from`` is ``"committed"`` (the group's committed offset, else the
  earliest), ``"earliest"``, ``"latest"``, or a time (epoch millis) meaning the first offset
  whose record timestamp is at or after it. Partitions found after launch start at the group's
  committed offset, else the earliest, so nothing written to them before discovery is missed.
- **Discovery** (unbounded): one more restriction per topic, with no partitions of its own,
  lists the topic's partitions every ``discovery_interval_s`` and takes on each new one
  (a claim that adds the range to it; its next checkpoint hands it on in the residual).
  Discovery lives inside the same SDF, not in a ``Watch`` upstream, because FnApiRunner runs
  stages one after the other: reads behind a never-ending ``Watch`` would never start.
- **Commits**: the reader never commits in unbounded mode. Each ``process()`` call that read
  records of a partition also outputs, on ``offsets_read``, a ``connectors.offsets.Offsets`` with
  ``sink=READ`` and the runs of offsets it read, in the global window; the sinks report what
  they made durable and ``commit.CommitWritten`` commits, per partition, the offset below which
  every record read is written (commit after write: a crash re-reads what was in flight).
  Bounded: the output ``read_to`` carries (topic, partition, end offset) per finished
  partition and ``commit.CommitOffsets`` commits them behind a side input on the sinks' results,
  i.e. only after every sink has flushed; a failed run commits nothing.
- **Backpressure** (``max_in_flight``, with a ``group_id``): a partition whose next offset is
  ``max_in_flight`` or more past the group's committed offset (asked of the broker at most
  once a second; before the first commit, the offset this read started at) is not polled
  until the group commits more (``backpressure.py``). Since commits follow writes, this bounds
  what the pipeline holds in flight, and what a crash makes the next run read and write again.
  ``max_backlog`` bounds what memory holds: a partition with that many records past its
  watermark and not yet staged by the sinks (the commit's metadata says how far they staged) is
  not polled either, so a step slower than the input slows the read instead of queueing.
- **Watermark**, per partition (a ``ManualWatermarkEstimator`` per restriction): the largest
  record timestamp seen minus ``max_out_of_orderness_s``, never backwards. A partition that has
  been caught up (confirmed by the broker) for ``idle_after_s`` moves its watermark to wall
  time minus ``max_out_of_orderness_s``, so an idle partition does not hold windows open.
- **Consumers**: one kafka-python consumer per partition, kept by the DoFn across bundles.
  Every call to the cluster is bounded (``broker.py``): a broker that goes away is waited for
  and reconnected (WARNING once per outage, INFO when back, counter
  ``kafka_broker_unavailable``), and the read defers instead of blocking or failing.
- **Stopping an unbounded read** (tests, demos; FnApiRunner never ends one by itself):
  ``stop_after_idle_s`` ends a partition once it has been caught up, confirmed by the broker,
  for that long, and ends discovery once no new partition appeared for that long. While the
  broker is down, or a partition waits for commits, nothing counts as idle.

Messages are decoded by ``serde`` (JSON articles or Avro article events; with
``registry_url``, Confluent-framed events written with another version of the schema are read
by resolving it, fetched by id, against wirewatch's); every bad message becomes a dead letter
(stage ``read``) with topic, partition and offset in its ``source``.
"""

from __future__ import annotations

import logging
import time
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.coders import coders
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Duration, Timestamp
from apache_beam.utils.windowed_value import WindowedValue
from kafka import KafkaConsumer, TopicPartition

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.kafka import admin
from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.backpressure import InFlight, staged_offset
from wirewatch.connectors.kafka.broker import Calls, Unavailable
from wirewatch.connectors.kafka.errors import BadMessage
from wirewatch.connectors.kafka.restriction import UNBOUNDED, Ranges, RangesTracker, size
from wirewatch.connectors.kafka.serde import (
    INPUT_FORMATS,
    SchemaRegistry,
    article_from_avro,
    article_from_json,
)
from wirewatch.connectors.offsets import OFFSETS_READ, READ, Offsets, runs
from wirewatch.pipelines.metrics import (
    ARTICLES_READ,
    KAFKA_BROKER_UNAVAILABLE,
    KAFKA_READ_PAUSED,
    counter,
)
from wirewatch.schemas.records import dead_letter, source

__all__ = ["MAX_BACKLOG", "MAX_IN_FLIGHT", "MAX_OUT_OF_ORDERNESS_S", "OFFSETS_READ", "READ_TO",
           "UNBOUNDED", "PartitionSpec", "ReadFromKafka"]

log = logging.getLogger(__name__)

#: Output tag of ``ReadFromKafka`` in bounded mode: (topic, partition, end offset) per partition.
READ_TO = "read_to"
#: Default of ``ReadFromKafka(max_in_flight=...)``: records per partition read and not committed.
MAX_IN_FLIGHT = 50_000
#: Default of ``ReadFromKafka(max_backlog=...)``: records per partition past the watermark and
#: not yet staged by every sink (``backpressure.py``). At 500 records/s per partition, 10 s of
#: processing behind the input before the read slows.
MAX_BACKLOG = 5_000
#: Default of ``ReadFromKafka(max_out_of_orderness_s=...)``: how far the watermark trails the
#: newest record timestamp of a partition. Producers stamp records as they send them, so a
#: partition is near ordered; what is later than this is late data, still written (noted by
#: dedupe), and every second of it is a second of end-to-end latency.
MAX_OUT_OF_ORDERNESS_S = 5.0
_POLL_MS = 200
_SLICE_S = 1.0
_BROKER_CHECK_S = 1.0
_TIMEOUT_MS = 1000  # kafka-python's own bound on a request, inside broker.CALL_TIMEOUT_S


@dataclass(frozen=True)
class PartitionSpec:
    """One partition to read: offsets [start, stop); ``start=None``: committed, else earliest."""

    topic: str
    partition: int
    start: int | None
    stop: int


def _start_offsets(client, tps: list[TopicPartition], start_from: str | int) -> dict:
    if start_from == "earliest":
        return client.beginning_offsets(tps)
    if start_from == "latest":
        return client.end_offsets(tps)
    if start_from == "committed":
        earliest = client.beginning_offsets(tps)
        return {tp: client.committed(tp) or earliest[tp] for tp in tps}
    found = client.offsets_for_times({tp: int(start_from) for tp in tps})
    ends = client.end_offsets(tps)
    return {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in tps}


def partitions_at_launch(config: KafkaConfig, topics: Sequence[str], group_id: str | None,
                         start_from: str | int, bounded: bool) -> list[PartitionSpec]:
    """Every partition of ``topics`` now, with its start (and, if ``bounded``, end) offset."""
    client = admin.consumer(config, group_id=group_id)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in admin.partitions(client, t, config)]
        starts = _start_offsets(client, tps, start_from)
        stops = client.end_offsets(tps) if bounded else dict.fromkeys(tps, UNBOUNDED)
    finally:
        client.close()
    return [PartitionSpec(tp.topic, tp.partition, min(starts[tp], stops[tp]), stops[tp])
            for tp in tps]


@dataclass(frozen=True)
class _Topic:
    """The SDF's element: a topic and its partitions at launch."""

    name: str
    partitions: tuple[PartitionSpec, ...]


class _PartitionWatermark(WatermarkEstimatorProvider):
    def initial_estimator_state(self, element: _Topic, restriction: Ranges) -> None:
        return None

    def create_watermark_estimator(self, state: Timestamp | None) -> ManualWatermarkEstimator:
        return ManualWatermarkEstimator(state)

    def estimator_state_coder(self) -> coders.Coder:
        return coders.NullableCoder(coders.TimestampCoder())


# The DoFn is its own RestrictionProvider: RestrictionParam() without a provider means "self".
_TRACKER = beam.DoFn.RestrictionParam()
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(_PartitionWatermark())


def _advance(estimator: ManualWatermarkEstimator, to: Timestamp | None) -> None:
    current = estimator.current_watermark()
    if to is not None and (current is None or to > current):
        estimator.set_watermark(to)


@dataclass
class _PartitionState:
    """What a DoFn instance remembers about a partition between calls (not durable)."""

    consumer: KafkaConsumer
    max_timestamp_ms: int | None = None
    idle_since: float | None = None
    broker_checked_at: float = 0.0
    in_flight: InFlight | None = None  # with a group and max_in_flight


@dataclass
class _Slice:
    """What one call read of a partition: the offsets claimed (in order), the next offset,
    whether the range ended, and whether the cluster stopped answering."""

    next: int
    offsets: list[int] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    min_timestamp_ms: int | None = None
    ended: bool = False
    unavailable: bool = False


def _seek(consumer: KafkaConsumer, tp: TopicPartition, offset: int) -> None:
    if consumer.position(tp, timeout_ms=_TIMEOUT_MS) != offset:
        consumer.seek(tp, offset)


class _ReadPartitionsFn(beam.DoFn, RestrictionProvider):
    """``_Topic`` + ``Ranges`` in; ``RawArticle``, dead letters and ``read_to`` (bounded) or
    ``offsets_read`` (unbounded) out.

    The DoFn is its own ``RestrictionProvider`` (as in ``apache_beam/io/watch.py``), so the
    provider sees the settings given to ``__init__``.
    """

    def __init__(self, config: KafkaConfig, group_id: str | None, input_format: str,
                 bounded: bool, max_out_of_orderness_s: float, idle_after_s: float,
                 discovery_interval_s: float, stop_after_idle_s: float | None,
                 max_records_per_call: int, max_in_flight: int | None = None,
                 registry_url: str | None = None, max_backlog: int | None = None) -> None:
        self._config = config
        self._group_id = group_id
        self._input_format = input_format
        self._bounded = bounded
        self._out_of_orderness = Duration(seconds=max_out_of_orderness_s)
        self._idle_after_s = idle_after_s
        self._discovery_interval_s = discovery_interval_s
        self._stop_after_idle_s = stop_after_idle_s
        self._max_records = max_records_per_call
        # Bounded reads commit at the end anyway: nothing to wait for before that.
        self._max_in_flight = max_in_flight if group_id and not bounded else None
        self._max_backlog = max_backlog
        self._registry_url = registry_url

    # -- restrictions
    def initial_restriction(self, topic: _Topic) -> Ranges:
        return Ranges(tuple((s.partition, s.start, s.stop) for s in topic.partitions),
                      discover=not self._bounded,
                      known=frozenset(s.partition for s in topic.partitions))

    def split(self, topic: _Topic, restriction: Ranges) -> Iterator[Ranges]:
        for one in restriction.ranges:
            yield Ranges((one,))
        if restriction.discover:
            yield Ranges((), True, restriction.known)

    def create_tracker(self, restriction: Ranges) -> RangesTracker:
        return RangesTracker(restriction)

    def restriction_size(self, topic: _Topic, restriction: Ranges) -> int:
        return size(restriction)

    # -- lifecycle
    def setup(self) -> None:
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._clients: dict[str, KafkaConsumer] = {}  # "lookup" and "commit"
        self._calls = Calls(self._config.bootstrap_servers, counter(KAFKA_BROKER_UNAVAILABLE))
        self._discovered: dict[str, tuple[float, float]] = {}  # topic: (asked, last new)
        self._read = counter(ARTICLES_READ, source="kafka")
        self._bad = counter("dead_letters_read")
        self._paused = counter(KAFKA_READ_PAUSED)
        self._registry = SchemaRegistry(self._registry_url) if self._registry_url else None

    def teardown(self) -> None:
        self._calls.close()
        for state in self._partitions.values():
            state.consumer.close()
        for client in self._clients.values():
            client.close()

    def _client(self, role: str) -> KafkaConsumer:
        """The ``lookup`` or ``commit`` (with the group) client; only on its helper thread."""
        if role not in self._clients:
            self._clients[role] = admin.consumer(
                self._config, group_id=self._group_id if role == "commit" else None)
        return self._clients[role]

    def _partition(self, tp: TopicPartition, began: int) -> _PartitionState:
        """The partition's consumer and memory, connecting first if need be (on the
        partition's helper thread: kafka-python's constructor waits for a broker). ``began``:
        where this read of the partition started, the in-flight floor until the group
        commits."""
        def connect() -> None:
            if tp in self._partitions:  # connected by an earlier call that timed out
                return
            client = admin.consumer(self._config, group_id=None, max_poll_records=2000,
                                    fetch_max_bytes=64 * 1024 * 1024)
            client.assign([tp])
            self._partitions[tp] = _PartitionState(client)

        if tp not in self._partitions:
            self._calls.ask(tp, "connect", connect)
        state = self._partitions[tp]
        if self._max_in_flight is not None and state.in_flight is None:
            state.in_flight = InFlight(self._max_in_flight, floor=began,
                                       backlog_limit=self._max_backlog)
        return state

    # -- reading
    def _decoded(self, record) -> Iterator:
        where = source("kafka", record.topic, topic=record.topic, partition=record.partition,
                       offset=record.offset,
                       guid=record.key.decode("utf-8", "replace") if record.key else None)
        try:
            if self._input_format == "json":
                article = article_from_json(record.value, where, record.timestamp)
            else:
                article = article_from_avro(record.value, record.headers, where,
                                            record.timestamp, self._registry)
        except BadMessage as e:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, dead_letter(
                "read", e.reason, e.error_type, record.value or b"", where))
            return
        self._read.inc()
        yield beam.window.TimestampedValue(article, record.timestamp / 1000)

    def _discover(self, topic: str, tracker) -> None:
        """Take on partitions of ``topic`` added since launch (at most every interval)."""
        now = time.monotonic()
        asked, last_new = self._discovered.get(topic, (0.0, now))
        if now - asked < self._discovery_interval_s:
            return
        self._discovered[topic] = (now, last_new)
        known = tracker.current_restriction().known

        def partitions() -> list[int]:
            client = self._client("lookup")
            client.topics()  # refreshes the metadata cache from the cluster
            return admin.partitions(client, topic, self._config)

        policy = "committed" if self._group_id else "earliest"
        role = "commit" if self._group_id else "lookup"
        try:
            tps = [TopicPartition(topic, p) for p in self._calls.ask(
                "lookup", "list partitions", partitions) if p not in known]
            if not tps:
                return
            starts = self._calls.ask(role, "start offsets", lambda: _start_offsets(
                self._client(role), tps, policy))
        except Unavailable:
            return  # asked again after the interval
        for tp in tps:
            log.info("found new partition %s:%d, reading from offset %d", topic, tp.partition,
                     starts[tp])
            tracker.try_claim(("add", tp.partition, starts[tp]))
        self._discovered[topic] = (now, now)

    def _caught_up(self, state: _PartitionState, tp: TopicPartition, position: int) -> bool:
        """True if the broker confirms there is nothing after ``position`` (asked at most 1/s)."""
        now = time.monotonic()
        if now - state.broker_checked_at < _BROKER_CHECK_S:
            return state.idle_since is not None
        state.broker_checked_at = now
        try:
            end = self._calls.ask(tp, "end offset", state.consumer.end_offsets, [tp],
                                  timeout_ms=_TIMEOUT_MS)[tp]
        except Unavailable:
            return False  # broker unreachable: not idle, just waiting
        return position >= end

    def _room(self, state: _PartitionState, tp: TopicPartition, position: int) -> int | None:
        """How many records the partition may read now under ``max_in_flight`` (None: no
        bound); asks the group's committed offset at most once a second."""
        bound = state.in_flight
        if bound is None:
            return None
        now = time.monotonic()
        if bound.due(now):
            try:
                committed = self._calls.ask("commit", "committed offset", lambda: self._client(
                    "commit").committed(tp, metadata=True, timeout_ms=_TIMEOUT_MS))
                bound.answer(committed and committed.offset, now,
                             staged_offset(committed and committed.metadata))
            except Unavailable:
                bound.answer(None, now)  # keep the last answer; ask again in a second
        watermark = self._partition_watermark(state)
        room, flipped = bound.check(position, None if watermark is None
                                    else watermark.micros // 1000)
        if flipped and bound.paused:
            self._paused.inc()
            log.info("pausing %s:%d at offset %d: max_in_flight (%d) records read and not yet "
                     "committed by group %s (committed %s), or max_backlog (%s) past the "
                     "watermark and not yet staged by the sinks (staged %s)", tp.topic,
                     tp.partition, position, self._max_in_flight, self._group_id,
                     bound.committed, self._max_backlog, bound.staged)
        elif flipped:
            log.info("resuming %s:%d at offset %d: group %s committed %s", tp.topic,
                     tp.partition, position, self._group_id, bound.committed)
        return room

    def _partition_watermark(self, state: _PartitionState) -> Timestamp | None:
        now = time.monotonic()
        if state.idle_since is not None and now - state.idle_since >= self._idle_after_s:
            return Timestamp.now() - self._out_of_orderness
        if state.max_timestamp_ms is None:
            return None
        return Timestamp(micros=state.max_timestamp_ms * 1000) - self._out_of_orderness

    def process(
        self,
        topic: _Topic,
        tracker=_TRACKER,
        watermark=_WATERMARK,
    ) -> Iterator:
        if tracker.current_restriction().discover:
            self._discover(topic.name, tracker)
        restriction = tracker.current_restriction()
        budget = max(1, self._max_records // max(1, len(restriction.ranges)))
        poll_ms = _POLL_MS // max(1, len(restriction.ranges))
        marks: list[Timestamp | None] = []
        all_idle, unfinished, read_any = True, 0, False
        # Where the read began: at launch (whichever DoFn instance reads on), else (a partition
        # discovered later) the first offset this instance was given.
        began = {spec.partition: spec.start for spec in topic.partitions}
        for partition, start, stop in restriction.ranges:
            tp = TopicPartition(topic.name, partition)
            try:
                state = self._partition(tp, began.get(partition, start))
            except Unavailable:
                marks.append(None)
                all_idle, unfinished = False, unfinished + 1
                continue
            room = self._room(state, tp, start)
            if room == 0:  # waits for the group to commit; not idle, nothing polled
                state.idle_since = None
                all_idle, unfinished = False, unfinished + 1
                marks.append(self._partition_watermark(state))
                continue
            read = yield from self._read_slice(
                state, tp, start, stop, budget if room is None else min(budget, room),
                poll_ms, tracker)
            if read.offsets:
                read_any, all_idle = True, False
                if state.in_flight is not None:
                    state.in_flight.read(read.offsets, read.timestamps_ms)
                if not self._bounded:
                    yield self._offsets_read(tp, read)
            elif read.ended:
                pass
            elif not read.unavailable and self._caught_up(state, tp, read.next):
                state.idle_since = state.idle_since or time.monotonic()
                all_idle = all_idle and self._idle_long_enough(state.idle_since)
            else:
                state.idle_since = None
                all_idle = False
            if read.ended and self._bounded:
                yield beam.pvalue.TaggedOutput(READ_TO, (topic.name, partition, stop))
            if not read.ended:
                unfinished += 1
                marks.append(None if read.unavailable else self._partition_watermark(state))
        if restriction.discover and not restriction.ranges:
            marks.append(Timestamp.now() - self._out_of_orderness)  # nothing to hold back
        if marks and None not in marks:
            _advance(watermark, min(marks))
        if self._bounded:
            if unfinished:
                tracker.defer_remainder()
            return
        discovery_idle = (not restriction.discover or self._idle_long_enough(
            self._discovered.get(topic.name, (0.0, time.monotonic()))[1]))
        if all_idle and discovery_idle and self._stop_after_idle_s is not None:
            tracker.try_claim(("stop",))
            return
        tracker.defer_remainder(Duration(seconds=0 if read_any else 0.5))

    @staticmethod
    def _offsets_read(tp: TopicPartition, read: _Slice) -> beam.pvalue.TaggedOutput:
        """What this call read of ``tp``, for the commit step: in the global window, at the
        earliest record timestamp of the slice, so it is never ahead of the records it
        covers (and, being in the global window, never dropped as late downstream)."""
        return beam.pvalue.TaggedOutput(OFFSETS_READ, WindowedValue(
            Offsets(tp.topic, tp.partition, READ, runs(read.offsets)),
            Timestamp(micros=read.min_timestamp_ms * 1000), (GlobalWindow(),)))

    def _idle_long_enough(self, since: float) -> bool:
        return (self._stop_after_idle_s is not None
                and time.monotonic() - since >= self._stop_after_idle_s)

    def _read_slice(self, state: _PartitionState, tp: TopicPartition, start: int, stop: int,
                    budget: int, poll_ms: int, tracker) -> Iterator:
        """Read one partition for a while; returns the :class:`_Slice` read."""
        consumer = state.consumer
        read, started = _Slice(start), time.monotonic()
        try:
            self._calls.run(tp, "position", _seek, consumer, tp, start)
            while len(read.offsets) < budget and time.monotonic() - started < _SLICE_S:
                batch = self._calls.run(tp, "poll", consumer.poll, timeout_ms=poll_ms,
                                        max_records=budget - len(read.offsets)).get(tp, ())
                if not batch:
                    break
                self._calls.answered()
                for record in batch:
                    if not tracker.try_claim(("read", tp.partition, record.offset)):
                        read.ended = record.offset >= stop
                        return read
                    read.next = record.offset + 1
                    read.offsets.append(record.offset)
                    read.timestamps_ms.append(record.timestamp)
                    if read.min_timestamp_ms is None or record.timestamp < read.min_timestamp_ms:
                        read.min_timestamp_ms = record.timestamp
                    state.max_timestamp_ms = max(state.max_timestamp_ms or 0, record.timestamp)
                    yield from self._decoded(record)
            if read.offsets:
                state.idle_since = None
            if self._bounded and self._calls.run(tp, "position", consumer.position, tp,
                                                 timeout_ms=_TIMEOUT_MS) >= stop:
                # Nothing left below the end offset (what is left may be a transaction marker).
                tracker.try_claim(("end", tp.partition))
                read.ended = True
        except Unavailable:  # what was claimed stays claimed; the rest waits for the next call
            read.unavailable = True
        return read


def _copy(fn: types.FunctionType) -> types.FunctionType:
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__, copy.__annotations__ = fn.__kwdefaults__, fn.__annotations__
    return copy


class _ReadPartitionsUnboundedFn(_ReadPartitionsFn):
    """The same reader, declared unbounded so the runner treats its output as a stream."""

    # Beam reads the marker off the process function itself: mark a copy, not the base's.
    process = beam.DoFn.unbounded_per_element()(_copy(_ReadPartitionsFn.process))


class ReadFromKafka(beam.PTransform):
    """Read articles from Kafka topics.

    In: the pipeline root. Out (``DoOutputsTuple``): ``events`` (``RawArticle``, timestamped
    with the Kafka record timestamp), ``dead_letters`` (stage ``read``), in bounded mode
    ``read_to`` for :class:`CommitOffsets`, and in unbounded mode ``offsets_read``
    (``connectors.offsets.Offsets`` with ``sink=READ``, in the global window) for the commit
    step. See the module docstring for how it reads.

    ``max_in_flight`` (unbounded, with a ``group_id``; None: no bound): records per partition
    that may be read and not yet committed by the group before the partition pauses.
    ``max_backlog`` (with ``max_in_flight``; None: no bound): records per partition past its
    watermark and not yet staged by every sink before the partition pauses.

    ``registry_url`` (Avro input): the Schema Registry to fetch the writer schemas of
    Confluent-framed messages from (``serde``); an unreachable registry fails the bundle.

    The brokers are contacted when the transform is applied: unreachable brokers or a missing
    topic fail there, naming the servers, within seconds.
    """

    def __init__(
        self,
        config: KafkaConfig,
        topics: Sequence[str],
        *,
        group_id: str | None = None,
        start_from: str | int = "committed",
        bounded: bool = False,
        input_format: str = "json",
        max_out_of_orderness_s: float = MAX_OUT_OF_ORDERNESS_S,
        idle_after_s: float = 10.0,
        discovery_interval_s: float = 10.0,
        stop_after_idle_s: float | None = None,
        max_records_per_call: int = 5000,
        max_in_flight: int | None = MAX_IN_FLIGHT,
        registry_url: str | None = None,
        max_backlog: int | None = MAX_BACKLOG,
    ) -> None:
        super().__init__()
        if not topics:
            raise ValueError("ReadFromKafka needs at least one topic")
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, not {input_format!r}")
        if isinstance(start_from, str) and start_from not in ("committed", "earliest", "latest"):
            raise ValueError("start_from must be 'committed', 'earliest', 'latest' or epoch "
                             f"millis, not {start_from!r}")
        if start_from == "committed" and not group_id:
            raise ValueError("start_from='committed' needs a group_id")
        if max_out_of_orderness_s < 0 or idle_after_s < 0 or discovery_interval_s <= 0:
            raise ValueError("durations must be positive")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1 (or None), not {max_in_flight}")
        if max_backlog is not None and max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1 (or None), not {max_backlog}")
        self._config = config
        self._topics = list(topics)
        self._group_id = group_id
        self._start_from = start_from
        self._bounded = bounded
        fn = _ReadPartitionsFn if bounded else _ReadPartitionsUnboundedFn
        self._fn = fn(config, group_id, input_format, bounded, max_out_of_orderness_s,
                      idle_after_s, discovery_interval_s, stop_after_idle_s,
                      max_records_per_call, max_in_flight, registry_url, max_backlog)

    def expand(self, root: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        launch = partitions_at_launch(self._config, self._topics, self._group_id,
                                      self._start_from, self._bounded)
        topics = [_Topic(t, tuple(s for s in launch if s.topic == t)) for t in self._topics]
        return (root
                | "Topics" >> beam.Create(topics)
                | "Read" >> beam.ParDo(self._fn).with_outputs(
                    DEAD_LETTERS, READ_TO, OFFSETS_READ, main="events"))
