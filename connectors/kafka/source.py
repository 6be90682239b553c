"""``ReadFromKafka``: Kafka topics in, ``RawArticle`` out, as a splittable DoFn.

How it reads (after ``apache_beam/transforms/periodicsequence.py``):

- **One restriction per partition**: the element is a topic; its restriction lists offset
  ranges [start, stop) per partition and ``split`` gives one restriction per partition.
  Bounded mode stops at the end offsets taken when the pipeline is built ("at launch");
  unbounded mode uses ``stop = 2**63 - 1`` and checkpoints with ``defer_remainder`` after
  each slice (at most ``max_records_per_call`` records or about 1 s). Runner-initiated
  splits inside a partition are refused: a partition is read by one restriction at a time.
- **Start**: ``start_from`` is ``"committed"`` (the group's committed offset, else the
  earliest), ``"earliest"``, ``"latest"``, or a time (epoch millis) meaning the first offset
  whose record timestamp is at or after it. Partitions found after launch start at the group's
  committed offset, else the earliest, so nothing written to them before discovery is missed.
- **Discovery** (unbounded): one more restriction per topic, with no partitions of its own,
  lists the topic's partitions every ``discovery_interval_s`` and takes on each new one
  (a claim that adds the range to it; its next checkpoint hands it on in the residual).
  Discovery lives inside the same SDF, not in a ``Watch`` upstream, because FnApiRunner runs
  stages one after the other: reads behind a never-ending ``Watch`` would never start.
- **Commits**: the reader never auto-commits. Unbounded: a bundle finalizer commits the next
  offset of each partition once the runner has made the bundle durable (Portable Flink calls
  finalizers only in streaming, which is the only mode that uses them here, and only after a
  checkpoint: run Flink with ``--checkpointing_interval``). Bounded: the
  output ``read_to`` carries (topic, partition, end offset) per finished partition and
  :class:`CommitOffsets` commits them behind a side input on the sinks' results, i.e. only
  after every sink has flushed; a failed run commits nothing.
- **Watermark**, per partition (a ``ManualWatermarkEstimator`` per restriction): the largest
  record timestamp seen minus ``max_out_of_orderness_s``, never backwards. A partition that has
  been caught up (confirmed by the broker) for ``idle_after_s`` moves its watermark to wall
  time minus ``max_out_of_orderness_s``, so an idle partition does not hold windows open.
- **Consumers**: one kafka-python consumer per partition, kept by the DoFn across bundles.
- **Stopping an unbounded read** (tests, demos; FnApiRunner never ends one by itself):
  ``stop_after_idle_s`` ends a partition once it has been caught up, confirmed by the broker,
  for that long, and ends discovery once no new partition appeared for that long. While the
  broker is down, nothing counts as idle.

Messages are decoded by ``serde`` (JSON articles or Avro article events); every bad message
becomes a dead letter (stage ``read``) with topic, partition and offset in its ``source``.
"""

from __future__ import annotations

import logging
import threading
import time
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.coders import coders
from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.utils.timestamp import Duration, Timestamp
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.kafka import admin
from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.errors import BadMessage, KafkaConnectorError
from wirewatch.connectors.kafka.serde import (
    INPUT_FORMATS,
    article_from_avro,
    article_from_json,
)
from wirewatch.pipelines.metrics import ARTICLES_READ, counter
from wirewatch.schemas.records import dead_letter, source

__all__ = ["READ_TO", "UNBOUNDED", "CommitOffsets", "PartitionSpec", "ReadFromKafka"]

log = logging.getLogger(__name__)

#: Output tag of ``ReadFromKafka`` in bounded mode: (topic, partition, end offset) per partition.
READ_TO = "read_to"
#: ``stop`` of an unbounded partition restriction.
UNBOUNDED = 2**63 - 1
_POLL_MS = 200
_SLICE_S = 1.0
_BROKER_CHECK_S = 1.0


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


@dataclass(frozen=True)
class _Ranges:
    """A restriction: offsets [start, stop) per partition of one topic; ``discover``: this
    restriction also looks for partitions not in ``known`` and takes them on.

    ``split`` makes one restriction per partition (plus one empty discovering restriction in
    unbounded mode), so the runner moves partitions independently.
    """

    ranges: tuple[tuple[int, int, int], ...]  # (partition, start, stop)
    discover: bool = False
    known: frozenset = frozenset()


class _RangesTracker(RestrictionTracker):
    """Claims ``("read", partition, offset)``, ``("end", partition)`` (nothing left below the
    stop), ``("add", partition, start)`` (a discovered partition) and ``("stop",)`` (end the
    whole restriction, for ``stop_after_idle_s``). Splits only at checkpoints."""

    def __init__(self, restriction: _Ranges) -> None:
        self._start = {p: start for p, start, _ in restriction.ranges}
        self._next = dict(self._start)
        self._stop = {p: stop for p, _, stop in restriction.ranges}
        self._ended: set[int] = set()
        self._discover = restriction.discover
        self._known = set(restriction.known)
        self._stopped = False
        self._checkpointed = False

    def current_restriction(self) -> _Ranges:
        return _Ranges(tuple((p, self._start[p], self._stop[p]) for p in self._start),
                       self._discover, frozenset(self._known))

    def current_progress(self) -> RestrictionProgress:
        done = sum(self._next[p] - self._start[p] for p in self._start)
        left = sum(min(self._stop[p] - self._next[p], 2**31) for p in self._start
                   if p not in self._ended)
        return RestrictionProgress(completed=done, remaining=left)

    def try_claim(self, position: tuple) -> bool:
        if self._checkpointed or self._stopped:
            return False
        kind, *args = position
        if kind == "read":
            partition, offset = args
            if offset >= self._stop[partition]:
                self._ended.add(partition)
                return False
            if offset < self._next[partition]:
                raise ValueError(f"offset {offset} of partition {partition} claimed twice")
            self._next[partition] = offset + 1
            return True
        if kind == "end":
            self._ended.add(args[0])
            return False
        if kind == "add":
            partition, start = args
            if not self._discover or partition in self._known:
                return False
            self._known.add(partition)
            self._start[partition] = self._next[partition] = start
            self._stop[partition] = UNBOUNDED
            return True
        if kind == "stop":
            self._stopped = True
            self._discover = False
            return False
        raise ValueError(f"unknown claim {position!r}")

    def try_split(self, fraction_of_remainder: float) -> tuple[_Ranges, _Ranges] | None:
        if fraction_of_remainder != 0 or self._checkpointed or self._stopped:
            return None  # partitions move as whole restrictions; no dynamic splitting
        self._checkpointed = True
        primary = _Ranges(tuple((p, self._start[p], self._next[p]) for p in self._start))
        residual = _Ranges(
            tuple((p, self._next[p], self._stop[p]) for p in self._start
                  if p not in self._ended),
            self._discover, frozenset(self._known))
        self._stop = dict(self._next)
        self._discover = False
        return primary, residual

    def check_done(self) -> None:
        if self._checkpointed or self._stopped:
            return
        left = set(self._start) - self._ended
        if left or self._discover:
            raise ValueError(f"partitions {sorted(left)} not read to their end")

    def is_bounded(self) -> bool:
        return not self._discover and all(stop < UNBOUNDED for stop in self._stop.values())


class _PartitionWatermark(WatermarkEstimatorProvider):
    def initial_estimator_state(self, element: _Topic, restriction: _Ranges) -> None:
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


class _ReadPartitionsFn(beam.DoFn, RestrictionProvider):
    """``_Topic`` + ``_Ranges`` in; ``RawArticle``, dead letters and ``read_to`` out.

    The DoFn is its own ``RestrictionProvider`` (as in ``apache_beam/io/watch.py``), so the
    provider sees the settings given to ``__init__``.
    """

    def __init__(self, config: KafkaConfig, group_id: str | None, input_format: str,
                 bounded: bool, max_out_of_orderness_s: float, idle_after_s: float,
                 discovery_interval_s: float, stop_after_idle_s: float | None,
                 max_records_per_call: int) -> None:
        self._config = config
        self._group_id = group_id
        self._input_format = input_format
        self._bounded = bounded
        self._out_of_orderness = Duration(seconds=max_out_of_orderness_s)
        self._idle_after_s = idle_after_s
        self._discovery_interval_s = discovery_interval_s
        self._stop_after_idle_s = stop_after_idle_s
        self._max_records = max_records_per_call

    # -- restrictions
    def initial_restriction(self, topic: _Topic) -> _Ranges:
        return _Ranges(tuple((s.partition, s.start, s.stop) for s in topic.partitions),
                       discover=not self._bounded,
                       known=frozenset(s.partition for s in topic.partitions))

    def split(self, topic: _Topic, restriction: _Ranges) -> Iterator[_Ranges]:
        for one in restriction.ranges:
            yield _Ranges((one,))
        if restriction.discover:
            yield _Ranges((), True, restriction.known)

    def create_tracker(self, restriction: _Ranges) -> _RangesTracker:
        return _RangesTracker(restriction)

    def restriction_size(self, topic: _Topic, restriction: _Ranges) -> int:
        return 1 + sum(min(stop - start, 2**31) for _, start, stop in restriction.ranges)

    # -- lifecycle
    def setup(self) -> None:
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._clients: dict[str, KafkaConsumer] = {}  # "lookup" and "commit"
        self._lock = threading.Lock()
        self._discovered: dict[str, tuple[float, float]] = {}  # topic: (asked, last new)
        self._read = counter(ARTICLES_READ, source="kafka")
        self._bad = counter("dead_letters_read")

    def teardown(self) -> None:
        for state in self._partitions.values():
            state.consumer.close()
        for client in self._clients.values():
            client.close()

    def _client(self, role: str) -> KafkaConsumer:
        if role not in self._clients:
            self._clients[role] = admin.consumer(
                self._config, group_id=self._group_id if role == "commit" else None)
        return self._clients[role]

    def _partition(self, tp: TopicPartition) -> _PartitionState:
        state = self._partitions.get(tp)
        if state is None:
            client = admin.consumer(self._config, group_id=None, max_poll_records=2000,
                                    fetch_max_bytes=64 * 1024 * 1024)
            client.assign([tp])
            state = self._partitions[tp] = _PartitionState(client)
        return state

    def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Bundle finalizer: the bundle that read up to ``offsets`` is durable."""
        if not offsets or not self._group_id:
            return
        try:
            with self._lock:
                admin.commit(self._client("commit"), offsets)
        except (KafkaError, KafkaConnectorError) as e:
            # A later finalizer commits later offsets; a restart re-reads (at-least-once).
            log.warning("could not commit offsets %s: %s", offsets, e)

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
                                            record.timestamp)
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
        try:
            client = self._client("lookup")
            client.topics()  # refreshes the metadata cache from the cluster
            new = [p for p in admin.partitions(client, topic, self._config) if p not in known]
            if not new:
                return
            tps = [TopicPartition(topic, p) for p in new]
            policy = "committed" if self._group_id else "earliest"
            with self._lock:
                starts = _start_offsets(self._client("commit" if self._group_id else "lookup"),
                                        tps, policy)
        except (KafkaError, KafkaConnectorError) as e:
            log.warning("partition discovery for %s failed, will retry: %s", topic, e)
            return
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
            end = state.consumer.end_offsets([tp], timeout_ms=2000)[tp]
        except KafkaError:
            return False  # broker unreachable: not idle, just waiting
        return position >= end

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
        finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=_TRACKER,
        watermark=_WATERMARK,
    ) -> Iterator:
        if tracker.current_restriction().discover:
            self._discover(topic.name, tracker)
        restriction = tracker.current_restriction()
        budget = max(1, self._max_records // max(1, len(restriction.ranges)))
        poll_ms = _POLL_MS // max(1, len(restriction.ranges))
        read_to: dict[TopicPartition, int] = {}
        marks: list[Timestamp | None] = []
        all_idle, unfinished = True, 0
        for partition, start, stop in restriction.ranges:
            tp = TopicPartition(topic.name, partition)
            try:
                state = self._partition(tp)
            except KafkaConnectorError as e:
                if self._bounded:
                    raise
                log.warning("cannot read %s:%d yet: %s", tp.topic, tp.partition, e)
                marks.append(None)
                all_idle = False
                continue
            position, claimed, ended = yield from self._read_slice(
                state, tp, start, stop, budget, poll_ms, tracker)
            if claimed:
                read_to[tp] = position
                all_idle = False
            elif ended:
                pass
            elif self._caught_up(state, tp, position):
                state.idle_since = state.idle_since or time.monotonic()
                all_idle = all_idle and self._idle_long_enough(state.idle_since)
            else:
                state.idle_since = None
                all_idle = False
            if ended and self._bounded:
                yield beam.pvalue.TaggedOutput(READ_TO, (topic.name, partition, stop))
            if not ended:
                unfinished += 1
                marks.append(self._partition_watermark(state))
        if restriction.discover and not restriction.ranges:
            marks.append(Timestamp.now() - self._out_of_orderness)  # nothing to hold back
        if marks and None not in marks:
            _advance(watermark, min(marks))
        if not self._bounded:
            # Registered even with nothing to commit: Prism finalizes every bundle of this
            # stage, and the SDK worker answers a bundle that asked for nothing with an error
            # and a traceback (two a second in a live job).
            finalizer.register(lambda: self._commit(read_to))
        if self._bounded:
            if unfinished:
                tracker.defer_remainder()
            return
        discovery_idle = (not restriction.discover or self._idle_long_enough(
            self._discovered.get(topic.name, (0.0, time.monotonic()))[1]))
        if all_idle and discovery_idle and self._stop_after_idle_s is not None:
            tracker.try_claim(("stop",))
            return
        tracker.defer_remainder(Duration(seconds=0 if read_to else 0.5))

    def _idle_long_enough(self, since: float) -> bool:
        return (self._stop_after_idle_s is not None
                and time.monotonic() - since >= self._stop_after_idle_s)

    def _read_slice(self, state: _PartitionState, tp: TopicPartition, start: int, stop: int,
                    budget: int, poll_ms: int, tracker) -> Iterator:
        """Read one partition for a while; returns (next offset, records claimed, ended)."""
        consumer = state.consumer
        position, claimed, started = start, 0, time.monotonic()
        try:
            if consumer.position(tp, timeout_ms=5000) != start:
                consumer.seek(tp, start)
        except KafkaError as e:  # broker away: try again in the next call
            log.warning("cannot position %s:%d at %d yet: %s", tp.topic, tp.partition, start, e)
            return position, claimed, False
        while claimed < budget and time.monotonic() - started < _SLICE_S:
            try:
                batch = consumer.poll(timeout_ms=poll_ms,
                                      max_records=budget - claimed).get(tp, ())
            except KafkaError as e:
                log.warning("reading %s:%d failed, will retry: %s", tp.topic, tp.partition, e)
                break
            if not batch:
                break
            for record in batch:
                if not tracker.try_claim(("read", tp.partition, record.offset)):
                    return position, claimed, record.offset >= stop
                position, claimed = record.offset + 1, claimed + 1
                state.max_timestamp_ms = max(state.max_timestamp_ms or 0, record.timestamp)
                yield from self._decoded(record)
        if claimed:
            state.idle_since = None
        if self._bounded and consumer.position(tp) >= stop:
            # Nothing left below the end offset (what is left may be a transaction marker).
            tracker.try_claim(("end", tp.partition))
            return position, claimed, True
        return position, claimed, False


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
    with the Kafka record timestamp), ``dead_letters`` (stage ``read``), and in bounded mode
    ``read_to`` for :class:`CommitOffsets`. See the module docstring for how it reads.

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
        max_out_of_orderness_s: float = 30.0,
        idle_after_s: float = 10.0,
        discovery_interval_s: float = 10.0,
        stop_after_idle_s: float | None = None,
        max_records_per_call: int = 5000,
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
        self._config = config
        self._topics = list(topics)
        self._group_id = group_id
        self._start_from = start_from
        self._bounded = bounded
        fn = _ReadPartitionsFn if bounded else _ReadPartitionsUnboundedFn
        self._fn = fn(config, group_id, input_format, bounded, max_out_of_orderness_s,
                      idle_after_s, discovery_interval_s, stop_after_idle_s,
                      max_records_per_call)

    def expand(self, root: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        launch = partitions_at_launch(self._config, self._topics, self._group_id,
                                      self._start_from, self._bounded)
        topics = [_Topic(t, tuple(s for s in launch if s.topic == t)) for t in self._topics]
        return (root
                | "Topics" >> beam.Create(topics)
                | "Read" >> beam.ParDo(self._fn).with_outputs(DEAD_LETTERS, READ_TO,
                                                               main="events"))


class _CommitFn(beam.DoFn):
    def __init__(self, config: KafkaConfig, group_id: str) -> None:
        self._config = config
        self._group_id = group_id

    def process(self, read_to: tuple[str, int, int], written) -> Iterator:
        topic, partition, offset = read_to
        client = admin.consumer(self._config, group_id=self._group_id)
        try:
            admin.commit(client, {TopicPartition(topic, partition): offset})
        finally:
            client.close()
        counter("offsets_committed").inc()
        yield read_to


class CommitOffsets(beam.PTransform):
    """Commit a bounded read's end offsets once the sinks are done.

    In: ``ReadFromKafka(...)[READ_TO]``. ``after``: the PCollections the sinks return; they are
    a side input of the commit, so no offset is committed before every sink has finished (and
    none if the run fails). Out: the committed (topic, partition, offset).
    """

    def __init__(self, config: KafkaConfig, group_id: str,
                 after: Sequence[beam.PCollection]) -> None:
        super().__init__()
        if not group_id:
            raise ValueError("CommitOffsets needs a group_id")
        if not after:
            raise ValueError("CommitOffsets needs the sinks' outputs to wait for")
        self._config = config
        self._group_id = group_id
        self._after = list(after)

    def expand(self, read_to: beam.PCollection) -> beam.PCollection:
        done = (tuple(self._after)
                | "SinksDone" >> beam.Flatten()
                | "Count" >> beam.combiners.Count.Globally())
        return read_to | "Commit" >> beam.ParDo(
            _CommitFn(self._config, self._group_id), beam.pvalue.AsSingleton(done))
