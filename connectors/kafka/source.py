"""``ReadFromKafka``: Kafka topics in, ``RawArticle`` out, as a splittable DoFn.

How it reads (after ``apache_beam/transforms/periodicsequence.py``):

- **One restriction per partition**: an ``OffsetRange`` [start, stop) of offsets, tracked by
  ``OffsetRestrictionTracker``. Bounded mode stops at the end offsets taken when the pipeline
  is built ("at launch"); unbounded mode uses ``stop = 2**63 - 1`` and checkpoints with
  ``defer_remainder`` after each slice (at most ``max_records_per_call`` records or 1 s).
- **Start**: ``start_from`` is ``"committed"`` (the group's committed offset, else the
  earliest), ``"earliest"``, ``"latest"``, or a time (epoch millis) meaning the first offset
  whose record timestamp is at or after it. Partitions found after launch start at the group's
  committed offset, else the earliest, so nothing written to them before discovery is missed.
- **Discovery** (unbounded): Beam's ``Watch`` polls the topics' partitions every
  ``discovery_interval_s`` and starts a restriction for each partition it has not seen.
- **Commits**: the reader never auto-commits. Unbounded: a bundle finalizer commits the next
  offset of each partition once the runner has made the bundle durable (Portable Flink calls
  finalizers only in streaming, which is the only mode that uses them here). Bounded: the
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.coders import coders
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watch import PollResult, TerminationCondition, Watch
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.utils.timestamp import Duration, Timestamp
from kafka import TopicPartition
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
from wirewatch.pipelines.metrics import counter
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


class _PartitionWatermark(WatermarkEstimatorProvider):
    def initial_estimator_state(self, spec: PartitionSpec, restriction: OffsetRange) -> None:
        return None

    def create_watermark_estimator(self, state: Timestamp | None) -> ManualWatermarkEstimator:
        return ManualWatermarkEstimator(state)

    def estimator_state_coder(self) -> coders.Coder:
        return coders.NullableCoder(coders.TimestampCoder())


# The DoFn is its own RestrictionProvider: RestrictionParam() without a provider means "self".
_TRACKER = beam.DoFn.RestrictionParam()
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(_PartitionWatermark())


def _advance(estimator: ManualWatermarkEstimator, to: Timestamp) -> None:
    current = estimator.current_watermark()
    if current is None or to > current:
        estimator.set_watermark(to)


@dataclass
class _PartitionState:
    """What a DoFn instance remembers about a partition between calls (not durable)."""

    consumer: object
    last_record_at: float
    idle_since: float | None = None
    broker_checked_at: float = 0.0


class _ReadPartitionsFn(beam.DoFn, RestrictionProvider):
    """``PartitionSpec`` + offset restriction in; ``RawArticle``, dead letters, ``read_to`` out.

    The DoFn is its own ``RestrictionProvider`` (as in ``apache_beam/io/watch.py``), so the
    provider sees the connection settings given to ``__init__``.
    """

    def __init__(self, config: KafkaConfig, group_id: str | None, input_format: str,
                 bounded: bool, max_out_of_orderness_s: float, idle_after_s: float,
                 stop_after_idle_s: float | None, max_records_per_call: int) -> None:
        self._config = config
        self._group_id = group_id
        self._input_format = input_format
        self._bounded = bounded
        self._out_of_orderness = Duration(seconds=max_out_of_orderness_s)
        self._idle_after_s = idle_after_s
        self._stop_after_idle_s = stop_after_idle_s
        self._max_records = max_records_per_call

    def initial_restriction(self, spec: PartitionSpec) -> OffsetRange:
        if spec.start is not None:
            return OffsetRange(spec.start, spec.stop)
        client = admin.consumer(self._config, group_id=self._group_id)
        try:
            tp = TopicPartition(spec.topic, spec.partition)
            return OffsetRange(_start_offsets(client, [tp], "committed")[tp], spec.stop)
        finally:
            client.close()

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, spec: PartitionSpec, restriction: OffsetRange) -> int:
        return min(restriction.size(), 2**31)

    def setup(self) -> None:
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._committer = None
        self._commit_lock = threading.Lock()
        self._read = counter("articles_read_kafka")
        self._bad = counter("dead_letters_read")

    def teardown(self) -> None:
        for state in self._partitions.values():
            state.consumer.close()
        if self._committer is not None:
            self._committer.close()

    def _partition(self, tp: TopicPartition) -> _PartitionState:
        state = self._partitions.get(tp)
        if state is None:
            client = admin.consumer(self._config, group_id=None, max_poll_records=2000,
                                    fetch_max_bytes=64 * 1024 * 1024)
            client.assign([tp])
            state = self._partitions[tp] = _PartitionState(client, time.monotonic())
        return state

    def _commit(self, tp: TopicPartition, offset: int) -> None:
        """Bundle finalizer: the bundle that read up to ``offset`` is durable."""
        try:
            with self._commit_lock:
                if self._committer is None:
                    self._committer = admin.consumer(self._config, group_id=self._group_id)
                admin.commit(self._committer, {tp: offset})
        except (KafkaError, KafkaConnectorError) as e:
            # A later finalizer commits a later offset; a restart re-reads (at-least-once).
            log.warning("could not commit %s:%d offset %d: %s", tp.topic, tp.partition, offset, e)

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

    def _caught_up(self, state: _PartitionState, tp: TopicPartition, position: int) -> bool:
        """True if the broker confirms there is nothing after ``position`` (at most 1/s)."""
        now = time.monotonic()
        if now - state.broker_checked_at < _BROKER_CHECK_S:
            return state.idle_since is not None
        state.broker_checked_at = now
        try:
            end = state.consumer.end_offsets([tp], timeout_ms=2000)[tp]
        except KafkaError:
            return False  # broker unreachable: not idle, just waiting
        return position >= end

    def process(
        self,
        spec: PartitionSpec,
        finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=_TRACKER,
        watermark=_WATERMARK,
    ) -> Iterator:
        restriction = tracker.current_restriction()
        tp = TopicPartition(spec.topic, spec.partition)
        try:
            state = self._partition(tp)
        except KafkaConnectorError as e:
            if self._bounded:
                raise
            log.warning("cannot read %s:%d yet: %s", tp.topic, tp.partition, e)
            tracker.defer_remainder(Duration(seconds=5))
            return
        consumer = state.consumer
        if consumer.position(tp, timeout_ms=5000) != restriction.start:
            consumer.seek(tp, restriction.start)
        started = time.monotonic()
        position, claimed, max_ts, finished = restriction.start, 0, None, False
        while (not finished and claimed < self._max_records
               and time.monotonic() - started < _SLICE_S):
            batch = consumer.poll(timeout_ms=_POLL_MS,
                                  max_records=self._max_records - claimed).get(tp, ())
            if not batch:
                break
            for record in batch:
                if not tracker.try_claim(record.offset):
                    finished = True
                    break
                position, claimed = record.offset + 1, claimed + 1
                max_ts = record.timestamp if max_ts is None else max(max_ts, record.timestamp)
                yield from self._decoded(record)
        now = time.monotonic()
        if max_ts is not None:
            state.last_record_at, state.idle_since = now, None
            _advance(watermark, Timestamp(micros=max_ts * 1000) - self._out_of_orderness)
        stop = tracker.current_restriction().stop
        if self._bounded:
            if not finished and consumer.position(tp) >= stop:
                # Nothing left below the end offset (it may be a transaction marker).
                finished = not tracker.try_claim(stop)
            if finished and stop == spec.stop:
                yield beam.pvalue.TaggedOutput(READ_TO, (spec.topic, spec.partition, spec.stop))
            if not finished:
                tracker.defer_remainder()
            return
        if claimed:
            finalizer.register(lambda: self._commit(tp, position))
        elif not finished:
            finished = self._idle(state, tp, position, watermark) and not tracker.try_claim(stop)
        if not finished:
            tracker.defer_remainder(Duration(seconds=0 if claimed else 0.5))

    def _idle(self, state: _PartitionState, tp: TopicPartition, position: int,
              watermark: ManualWatermarkEstimator) -> bool:
        """Advance the watermark of an idle partition; True if the read should stop."""
        if not self._caught_up(state, tp, position):
            state.idle_since = None
            return False
        now = time.monotonic()
        state.idle_since = state.idle_since or now
        if now - state.idle_since >= self._idle_after_s:
            _advance(watermark, Timestamp.now() - self._out_of_orderness)
        return (self._stop_after_idle_s is not None
                and now - state.idle_since >= self._stop_after_idle_s)


class _ReadPartitionsUnboundedFn(_ReadPartitionsFn):
    """The same reader, declared unbounded so the runner treats its output as a stream."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        spec: PartitionSpec,
        finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=_TRACKER,
        watermark=_WATERMARK,
    ) -> Iterator:
        return super().process(spec, finalizer, tracker, watermark)


class _NewPartitions(TerminationCondition):
    """Watch's stop rule: never, or once no new partition appeared for ``idle_s`` seconds."""

    def __init__(self, idle_s: float | None) -> None:
        self._idle_micros = None if idle_s is None else int(idle_s * 1e6)

    def for_new_input(self, now: Timestamp, element) -> Timestamp:
        return now

    def on_seen_new_output(self, now: Timestamp, state: Timestamp) -> Timestamp:
        return now

    def can_stop_polling(self, now: Timestamp, state: Timestamp) -> bool:
        return self._idle_micros is not None and (now - state).micros > self._idle_micros

    def state_coder(self) -> coders.Coder:
        return coders.TimestampCoder()


class _ListPartitions:
    """Watch's poll function: every partition of a topic, asked at most every ``interval_s``.

    On FnApiRunner the Watch polls as fast as it can (it ignores ``defer_remainder`` delays),
    so between real look-ups the last answer is returned again; Watch drops what it has seen.
    """

    def __init__(self, config: KafkaConfig, interval_s: float) -> None:
        self._config = config
        self._interval_s = interval_s
        self._client = None
        self._last: dict[str, tuple[float, list]] = {}

    def __call__(self, topic: str) -> PollResult:
        asked, found = self._last.get(topic, (0.0, []))
        if time.monotonic() - asked >= self._interval_s:
            try:
                if self._client is None:
                    self._client = admin.consumer(self._config)
                self._client.topics()  # refreshes the metadata cache from the cluster
                numbers = admin.partitions(self._client, topic, self._config)
            except (KafkaError, KafkaConnectorError) as e:
                log.warning("partition discovery for %s failed, will retry: %s", topic, e)
            else:
                now = Timestamp.now()
                found = [beam.window.TimestampedValue(
                    PartitionSpec(topic, n, None, UNBOUNDED), now) for n in numbers]
            self._last[topic] = (time.monotonic(), found)
        return PollResult.incomplete(found)

    def default_output_coder(self) -> coders.Coder:
        return coders.PickleCoder()


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
        self._stop_after_idle_s = stop_after_idle_s
        self._discovery_interval_s = discovery_interval_s
        fn = _ReadPartitionsFn if bounded else _ReadPartitionsUnboundedFn
        self._fn = fn(config, group_id, input_format, bounded, max_out_of_orderness_s,
                      idle_after_s, stop_after_idle_s, max_records_per_call)

    def expand(self, root: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        launch = partitions_at_launch(self._config, self._topics, self._group_id,
                                      self._start_from, self._bounded)
        specs = root | "PartitionsAtLaunch" >> beam.Create(launch)
        if not self._bounded:
            known = {(s.topic, s.partition) for s in launch}
            found = (root
                     | "Topics" >> beam.Create(self._topics)
                     | "WatchPartitions" >> Watch(
                         _ListPartitions(self._config, self._discovery_interval_s),
                         poll_interval=Duration(seconds=self._discovery_interval_s),
                         termination=_NewPartitions(self._stop_after_idle_s),
                         output_key_fn=lambda s: (s.topic, s.partition))
                     | "Partition" >> beam.Values()
                     | "AddedAfterLaunch" >> beam.Filter(
                         lambda s: (s.topic, s.partition) not in known))
            specs = (specs, found) | "AllPartitions" >> beam.Flatten()
        return specs | "Read" >> beam.ParDo(self._fn).with_outputs(
            DEAD_LETTERS, READ_TO, main="events")


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
        self._config = config
        self._group_id = group_id
        self._after = list(after)

    def expand(self, read_to: beam.PCollection) -> beam.PCollection:
        done = (tuple(self._after)
                | "SinksDone" >> beam.Flatten()
                | "Count" >> beam.combiners.Count.Globally())
        return read_to | "Commit" >> beam.ParDo(
            _CommitFn(self._config, self._group_id), beam.pvalue.AsSingleton(done))
