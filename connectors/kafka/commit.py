"""Committing what a Kafka read consumed, only once it is written.

``CommitWritten`` (streaming) commits a read's offsets as every sink writes them;
``CommitOffsets`` (bounded) commits a read's end offsets once every sink has finished.

``CommitWritten``:

In: ``Offsets`` records, from the reader (``ReadFromKafka(...)[OFFSETS_READ]``) and from each
sink (``[OFFSETS_WRITTEN]``). Per partition a :class:`~wirewatch.connectors.offsets.Ledger`
folds them into "everything below offset N is written by every sink", and N is committed for the
consumer group whenever it moves. A second ledger folds what the sinks have *staged* (``staged``
reports, the file sink's part files, and everything written) into "everything below offset S is
out of memory"; S goes with each commit as its metadata (``staged=S``, committed again when
only S moved), for the read's ``max_backlog``. Out: the committed ``(topic, partition,
offset)``.

Why here and not in the reader's bundle finalizer: a finalizer runs when the runner has the
read bundle, while the articles still wait in Dedupe for the watermark and in the file sink for
the next file. A crash then lost them, and a restart never read them again. Here a restart
resumes at what is written, and re-reads the rest.

Once a second per partition, not per report: the reports wait in the runner's GroupByKey
(global window, a processing-time trigger, like the file sink's periods), and each pane is
folded into the ledgers at once, so the ledgers' state is read and saved once per pane, and the
broker gets at most one commit a second per partition. A ledger holds runs of offsets, not
offsets, so that costs the same however many records are in flight (``python
benchmarks/bench_streaming.py --commit-step`` measures it).

The ledgers live in keyed state, so on Flink they move with checkpoints; on Prism they live as
long as the job, which is all they need: a restarted job starts again from the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms import trigger, userstate, window
from kafka import TopicPartition
from kafka.errors import KafkaError

from wirewatch.connectors.kafka import admin
from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.backpressure import staged_metadata
from wirewatch.connectors.kafka.errors import KafkaConnectorError
from wirewatch.connectors.offsets import READ, Ledger, Offsets
from wirewatch.pipelines.metrics import (
    OFFSETS_COMMITTED,
    OFFSETS_IN_FLIGHT,
    counter,
    distribution,
)

__all__ = ["CommitOffsets", "CommitWritten"]

log = logging.getLogger(__name__)

#: Seconds a partition's reports wait to be folded into its ledger and committed together.
PANE_S = 1


class _CommitFn(beam.DoFn):
    """((topic, partition), [Offsets, ...]) in; the newly committed (topic, partition, offset)
    out."""

    LEDGER = userstate.ReadModifyWriteStateSpec("ledger", PickleCoder())  # written, staged
    COMMITTED = userstate.ReadModifyWriteStateSpec("committed", PickleCoder())

    def __init__(self, config: KafkaConfig, group_id: str, sinks: int) -> None:
        self._config = config
        self._group_id = group_id
        self._sinks = sinks

    def setup(self) -> None:
        self._client = None
        self._committed = counter(OFFSETS_COMMITTED)
        self._in_flight = distribution(OFFSETS_IN_FLIGHT)

    def teardown(self) -> None:
        if self._client is not None:
            self._client.close()

    def process(self, element: tuple[tuple[str, int], Iterable[Offsets]],
                ledger_state=beam.DoFn.StateParam(LEDGER),
                committed_state=beam.DoFn.StateParam(COMMITTED)) -> Iterator:
        (topic, partition), pane = element
        written, staged = ledger_state.read() or (Ledger(self._sinks), Ledger(self._sinks))
        # Reads first, in the reader's order (a pane's order is the runner's): a ledger takes a
        # read below its commit point for a read again, so an earlier read must not come last.
        for offsets in sorted(pane, key=lambda o: (o.sink != READ, o.bounds[:1])):
            if not offsets.staged:
                written.add(offsets)
            staged.add(offsets._replace(staged=False))
        ledger_state.write((written, staged))
        self._in_flight.update(written.in_flight())
        to, done = written.committable(), committed_state.read() or (None, None)
        if to is None or (done[0] is not None and to < done[0]):
            return
        staged_to = max(to, staged.committable() or to)
        if (to, staged_to) == done:
            return
        if self._commit(TopicPartition(topic, partition), to, staged_to):
            committed_state.write((to, staged_to))
            if to != done[0]:
                self._committed.inc()
                yield topic, partition, to

    def _commit(self, tp: TopicPartition, offset: int, staged: int) -> bool:
        try:
            if self._client is None:
                self._client = admin.consumer(self._config, group_id=self._group_id)
            admin.commit(self._client, {tp: offset}, staged_metadata(staged))
            return True
        except (KafkaError, KafkaConnectorError) as e:
            # Not fatal: the next Offsets of this partition commits again, from further on;
            # until then a restart re-reads a little more (at-least-once, never a loss).
            log.warning("could not commit offset %d of %s:%d yet: %s", offset, tp.topic,
                        tp.partition, e)
            return False


class CommitWritten(beam.PTransform):
    """Commit, per partition, the offset below which every sink has written every record.

    ``sinks``: how many sinks each record goes to (files, a Kafka topic: each counts once, and
    article events and dead letters of one destination are one sink); sink numbers in the
    ``Offsets`` they report are 0 .. sinks - 1.
    """

    def __init__(self, config: KafkaConfig, group_id: str, sinks: int) -> None:
        super().__init__()
        if not group_id:
            raise ValueError("CommitWritten needs a group_id")
        if sinks < 1:
            raise ValueError(f"CommitWritten needs at least one sink, not {sinks}")
        self._fn = _CommitFn(config, group_id, sinks)

    def expand(self, offsets: beam.PCollection) -> beam.PCollection:
        # Bounded input (tests) has one pane, at the end: batch runners have no clock for a
        # processing-time trigger.
        panes = {} if offsets.is_bounded else {
            "trigger": trigger.Repeatedly(trigger.AfterProcessingTime(PANE_S)),
            "accumulation_mode": trigger.AccumulationMode.DISCARDING}
        return (offsets
                | "ByPartition" >> beam.Map(lambda o: ((o.topic, o.partition), o))
                .with_output_types(tuple[tuple[str, int], Offsets])
                | "EverySecond" >> beam.WindowInto(window.GlobalWindows(), **panes)
                | "PerPartition" >> beam.GroupByKey()
                | "Commit" >> beam.ParDo(self._fn).with_output_types(tuple[str, int, int]))


class _CommitAtEndFn(beam.DoFn):
    """(topic, partition, end offset) in, once the sinks' side input is ready; the same out,
    committed."""

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
        counter(OFFSETS_COMMITTED).inc()
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
            _CommitAtEndFn(self._config, self._group_id), beam.pvalue.AsSingleton(done))
