"""Commit after write: the ledger (pure), what the file sink reports, and ``CommitWritten``
committing on a real broker only what every sink has written."""

from __future__ import annotations

import pickle
import random

import apache_beam as beam
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.made_records import article_event
from tests.test_files import roll, write_parts
from wirewatch.connectors.files import DEFAULT_CODEC, output_prefix
from wirewatch.connectors.kafka.admin import KafkaConfig, create_topic
from wirewatch.connectors.kafka.backpressure import staged_offset
from wirewatch.connectors.kafka.commit import CommitWritten
from wirewatch.connectors.offsets import (
    OFFSETS_WRITTEN,
    READ,
    Ledger,
    Offsets,
    OldLedgerError,
    offsets_of,
    runs,
)
from wirewatch.schemas.records import ARTICLE_EVENT, read_records, source


def read(*offsets: int) -> Offsets:
    return Offsets("t", 0, READ, runs(offsets))


def wrote(sink: int, *offsets: int) -> Offsets:
    return Offsets("t", 0, sink, runs(offsets))


def test_runs_pack_sorted_distinct_offsets():
    assert runs([5, 1, 2, 3, 3, 9]) == (1, 4, 5, 6, 9, 10)
    assert list(Offsets("t", 0, READ, (1, 4, 9, 10)).each()) == [1, 2, 3, 9]
    assert runs([]) == ()


def test_commit_point_is_the_first_offset_not_yet_written():
    ledger = Ledger(sinks=1)
    assert ledger.committable() is None  # nothing read: nothing to commit
    ledger.add(read(10, 11, 12, 13))
    assert ledger.committable() == 10
    ledger.add(wrote(0, 11, 13))
    assert (ledger.committable(), ledger.in_flight()) == (10, 2)
    ledger.add(wrote(0, 10))
    assert ledger.committable() == 12
    ledger.add(wrote(0, 12))
    assert (ledger.committable(), ledger.in_flight()) == (14, 0)


def test_gaps_in_the_offsets_do_not_hold_the_commit_back():
    # Transaction markers and compaction leave offsets that are never records.
    ledger = Ledger(sinks=1)
    ledger.add(read(3, 4, 7, 9))
    ledger.add(wrote(0, 3, 4, 7, 9))
    assert ledger.committable() == 10


def test_every_sink_must_have_written_an_offset_and_a_repeat_counts_once():
    ledger = Ledger(sinks=2)
    ledger.add(read(0, 1))
    ledger.add(wrote(0, 0, 1))
    ledger.add(wrote(0, 0, 1))  # a retried bundle of the same sink: not the other sink
    assert ledger.committable() == 0
    ledger.add(wrote(1, 0))
    assert ledger.committable() == 1
    ledger.add(wrote(1, 1))
    assert ledger.committable() == 2


def test_a_write_reported_before_its_read_waits_for_it():
    ledger = Ledger(sinks=1)
    ledger.add(read(0))
    ledger.add(wrote(0, 1))  # the sink was faster than the reader's report
    assert ledger.committable() == 0
    ledger.add(wrote(0, 0))
    ledger.add(read(1))
    assert ledger.committable() == 2
    ledger.add(read(0, 1))  # read again (a retried read bundle): nothing new to wait for
    assert ledger.committable() == 2


def test_offsets_of_records_groups_kafka_origins_and_skips_the_rest():
    records = [{"source": {"topic": "a", "partition": 1, "offset": 7}},
               {"source": {"topic": "a", "partition": 0, "offset": 3}},
               {"source": {"topic": "a", "partition": 1, "offset": 8}},
               {"source": {"kind": "rss", "feed_url": "https://x.example/feed"}}]
    assert offsets_of(records, sink=1) == [Offsets("a", 0, 1, (3, 4)),
                                           Offsets("a", 1, 1, (7, 9))]


def test_a_rolled_file_reports_its_offsets_only_after_it_has_its_final_name(tmp_path):
    records = [article_event(f"k{i}") for i in range(3)]
    for i, record in enumerate(records):
        record["source"] = source("kafka", "Probe", topic="in", partition=0, offset=100 + i)
    prefix = output_prefix(str(tmp_path), ARTICLE_EVENT)
    parts = write_parts(prefix, ARTICLE_EVENT, [records[:2], records[2:]], DEFAULT_CODEC)
    path, reported = roll(prefix, ARTICLE_EVENT, parts, DEFAULT_CODEC)
    assert reported.tag == OFFSETS_WRITTEN
    assert reported.value == Offsets("in", 0, 0, (100, 103))
    # By the time the offsets are out, the file is complete under its final name.
    assert [r["event_id"] for _, r in read_records([path])] == [r["event_id"] for r in records]
    assert not list(tmp_path.rglob(".*.inprogress"))


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close()


@pytest.mark.kafka
def test_commit_written_commits_what_every_sink_wrote_and_no_further(kafka_broker):
    config = KafkaConfig(kafka_broker.bootstrap)
    create_topic(config, "committed-in")
    marks = [Offsets("committed-in", 0, READ, runs(range(0, 10))),
             Offsets("committed-in", 0, 0, runs(range(0, 10))),
             Offsets("committed-in", 0, 1, runs([*range(0, 6), 7, 8]))]  # 6 and 9 missing
    with beam.Pipeline() as p:
        _ = (p | beam.Create(marks) | CommitWritten(config, "committed-group", sinks=2))
    assert _committed(kafka_broker.bootstrap, "committed-group", "committed-in") == 6


@pytest.mark.kafka
def test_what_the_sinks_staged_goes_with_the_commit_and_is_not_committed(kafka_broker):
    """Part files (staged) are not durable: only their offset for the read's backpressure
    travels, as the commit's metadata; the committed offset stays at what was written."""
    config = KafkaConfig(kafka_broker.bootstrap)
    create_topic(config, "staged-in")
    marks = [Offsets("staged-in", 0, READ, runs(range(0, 10))),
             Offsets("staged-in", 0, 0, runs(range(0, 8)), staged=True),
             Offsets("staged-in", 0, 0, runs(range(0, 4)))]
    with beam.Pipeline() as p:
        _ = (p | beam.Create(marks) | CommitWritten(config, "staged-group", sinks=1))
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id="staged-group",
                             enable_auto_commit=False)
    try:
        committed = consumer.committed(TopicPartition("staged-in", 0), metadata=True)
    finally:
        consumer.close()
    assert (committed.offset, staged_offset(committed.metadata)) == (4, 8)


def test_commit_written_refuses_bad_settings():
    with pytest.raises(ValueError, match="group_id"):
        CommitWritten(KafkaConfig("127.0.0.1:1"), "", sinks=1)
    with pytest.raises(ValueError, match="at least one sink"):
        CommitWritten(KafkaConfig("127.0.0.1:1"), "g", sinks=0)


def test_the_ledger_agrees_with_counting_offset_by_offset():
    """Random reports (scattered writes, repeats, writes before their read, gaps never read;
    reads in the order the reader made them, as ``CommitWritten`` folds them) against the
    definition: the first offset read and not written by every sink."""
    rng = random.Random(5)
    for _ in range(200):
        sinks = rng.randint(1, 3)
        ledger, read_so_far, written = Ledger(sinks), set(), [set() for _ in range(sinks)]
        offsets = [o for o in range(120) if rng.random() > 0.05]  # gaps: markers, compaction
        reads = [Offsets("t", 0, READ, runs(offsets[i:i + 10]))
                 for i in range(0, len(offsets), 10)]
        writes = [Offsets("t", 0, sink, runs(rng.sample(offsets, rng.randint(1, 30))))
                  for sink in range(sinks) for _ in range(12)]
        writes += [Offsets("t", 0, sink, runs(offsets)) for sink in range(sinks)]
        rng.shuffle(writes)
        reports = []
        while reads or writes:
            source = reads if reads and (not writes or rng.random() < 0.3) else writes
            reports.append(source.pop(0))
        for report in reports:
            ledger.add(report)
            (read_so_far if report.sink == READ else written[report.sink]).update(report.each())
            pending = read_so_far - set.intersection(*written)
            expected = min(pending) if pending else (max(read_so_far) + 1 if read_so_far
                                                     else None)
            assert ledger.committable() == expected
            assert ledger.in_flight() == len(pending)


def test_the_ledger_stays_small_however_many_records_are_in_flight():
    ledger = Ledger(sinks=1)
    ledger.add(Offsets("t", 0, READ, (0, 20_000)))
    ledger.add(Offsets("t", 0, 0, (5, 10_000)))  # offsets 0-4 still in a slow step
    assert (ledger.committable(), ledger.in_flight()) == (0, 10_005)
    assert len(pickle.dumps(ledger)) < 300


def test_a_ledger_saved_by_the_per_offset_version_is_refused_with_what_to_do():
    """State saved before ledgers held runs (a Flink savepoint, a Dataflow update) is read
    back by the commit step's state coder: it must fail there, saying what to do, not later
    with an AttributeError."""
    old = Ledger.__new__(Ledger)
    old.__dict__.update({"_full": 1, "_pending": {7: 0}, "_early": {}, "_heap": [7],
                         "_read_to": 8})  # the per-offset ledger's fields, offset 7 in flight
    saved = beam.coders.PickleCoder().encode((old, old))  # the state coder of CommitWritten
    with pytest.raises(OldLedgerError, match="older wirewatch") as raised:
        beam.coders.PickleCoder().decode(saved)
    assert "Drain the old job" in str(raised.value) and "--group_id" in str(raised.value)
    current = Ledger(sinks=2)
    current.add(Offsets("t", 0, READ, (0, 5)))
    current.add(Offsets("t", 0, 0, (0, 3)))
    current.add(Offsets("t", 0, 1, (0, 2)))
    (back,) = beam.coders.PickleCoder().decode(beam.coders.PickleCoder().encode((current,)))
    assert (back.committable(), back.in_flight()) == (2, 3)
