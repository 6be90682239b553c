"""The Kafka source and sink against a real broker: nothing lost, bad input dead-lettered.

Unbounded reads stop through ``stop_after_idle_s`` (a partition caught up, as the broker
confirms, for that long; discovery with no new partition for that long): FnApiRunner would
otherwise never finish them.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult
from kafka import KafkaConsumer, TopicPartition

from tests.kafka_broker import KafkaBroker, read_topic
from tests.live_job import stop_problems
from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.kafka import (
    READ_TO,
    BrokerUnreachable,
    CommitOffsets,
    KafkaConfig,
    ReadFromKafka,
    WriteToKafka,
)
from wirewatch.connectors.kafka.admin import add_partitions, create_topic
from wirewatch.connectors.kafka.serde import FINGERPRINT_HEADER, Framing
from wirewatch.connectors.kafka.sink import producer
from wirewatch.connectors.offsets import OFFSETS_READ, Offsets
from wirewatch.core.ids import event_id
from wirewatch.pipelines.cli import main
from wirewatch.pipelines.metrics import mirror_to
from wirewatch.pipelines.normalise import Normalise
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, decode

pytestmark = pytest.mark.kafka
OUTLET = "Test Wire"


def _article(n: int) -> bytes:
    return json.dumps({"url": f"https://example.org/news/{n}", "outlet": OUTLET,
                       "guid": f"guid-{n}", "title": f"Story {n}",
                       "content": f"<p>Body of story {n}.</p>"}).encode()


def _expected_ids(numbers: Iterable[int]) -> set[str]:
    return {event_id(OUTLET, f"guid-{n}") for n in numbers}


def _produce(config: KafkaConfig, topic: str, messages: Iterable[bytes | None],
             partition: int | None = None) -> None:
    publisher = producer(config)
    for i, value in enumerate(messages):
        publisher.send(topic, value=value, key=f"k{i}".encode(), partition=partition)
    publisher.flush()
    publisher.close()


def _topics(config: KafkaConfig, name: str, partitions: int = 1) -> tuple[str, str, str]:
    topic = f"{name}-{time.monotonic_ns()}"
    create_topic(config, topic, partitions)
    create_topic(config, f"{topic}.out", 1)
    create_topic(config, f"{topic}.dlq", 1)
    return topic, f"{topic}.out", f"{topic}.dlq"


#: What unbounded reads reported on ``offsets_read``, per topic (the runner is in this process).
REPORTED: dict[str, list[Offsets]] = defaultdict(list)


def _report(offsets: Offsets) -> None:
    REPORTED[offsets.topic].append(offsets)


def _connector_pipeline(config: KafkaConfig, topic: str, **read: object) -> PipelineResult:
    """ReadFromKafka | Normalise | WriteToKafka (events and dead letters), as the CLI wires it;
    an unbounded read's ``offsets_read`` goes to ``REPORTED``."""
    p = beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"]))
    read_ = p | ReadFromKafka(config, [topic], group_id=f"{topic}.group", **read)
    normalised = read_.events | Normalise()
    written = [
        (normalised.events | "Events" >> WriteToKafka(config, f"{topic}.out")).written,
        ((read_[DEAD_LETTERS], normalised[DEAD_LETTERS])
         | beam.Flatten()
         | "Letters" >> WriteToKafka(config, f"{topic}.dlq", DEAD_LETTER)).written,
    ]
    if read.get("bounded"):
        read_[READ_TO] | CommitOffsets(config, f"{topic}.group", written)
    else:
        read_[OFFSETS_READ] | "Reported" >> beam.Map(_report)
    result = p.run()
    result.wait_until_finish()
    return result


class Counts:
    """wirewatch's counters as updated in this process (FnApiRunner runs here). The runner's
    own ``metrics()`` recurses once per bundle and overflows after a long unbounded read."""

    def __init__(self) -> None:
        self.of: Counter[str] = Counter()

    def inc(self, name: str, n: int) -> None:
        self.of[name] += n

    def observe(self, name: str, value: int) -> None:
        pass


@contextmanager
def counted() -> Iterator[Counts]:
    """Counts every wirewatch counter update made in this process meanwhile."""
    mirror = Counts()
    mirror_to(mirror)
    try:
        yield mirror
    finally:
        mirror_to(None)


def _covers_every_offset(reported: list[Offsets], ends: dict) -> bool:
    """The reported runs hold each offset below the partition's end once, and nothing else."""
    seen = defaultdict(list)
    for offsets in reported:
        seen[offsets.partition].extend(offsets.each())
    return {p: sorted(o) for p, o in seen.items()} == \
        {tp.partition: list(range(end)) for tp, end in ends.items()}


def _events(records: list) -> list[dict]:
    for record in records:
        assert dict(record.headers)[FINGERPRINT_HEADER] == \
            Framing(ARTICLE_EVENT).headers[1][1]
    return [decode(r.value, ARTICLE_EVENT) for r in records]


def _committed(bootstrap: str, topic: str, group: str) -> tuple[dict, dict]:
    client = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in client.partitions_for_topic(topic)]
        return {tp: client.committed(tp) for tp in tps}, client.end_offsets(tps)
    finally:
        client.close()


def test_bounded_read_of_10000_articles_writes_each_once_and_commits_the_end(kafka_broker):
    config = KafkaConfig(kafka_broker.bootstrap)
    topic, out, dlq = _topics(config, "bulk", partitions=4)
    _produce(config, topic, (_article(n) for n in range(10_000)))

    _connector_pipeline(config, topic, bounded=True)

    events = _events(read_topic(kafka_broker.bootstrap, out))
    assert len(events) == 10_000
    assert {e["event_id"] for e in events} == _expected_ids(range(10_000))
    assert read_topic(kafka_broker.bootstrap, dlq) == []
    committed, ends = _committed(kafka_broker.bootstrap, topic, f"{topic}.group")
    assert committed == ends and sum(ends.values()) == 10_000

    # The output, read back as Avro article events, gives the same articles again.
    again = f"{out}.again"
    with beam.Pipeline() as p:
        articles = p | ReadFromKafka(config, [out], input_format="avro", start_from="earliest",
                                     bounded=True)
        (articles.events | Normalise()).events | WriteToKafka(config, again)
    assert {e["event_id"] for e in _events(read_topic(kafka_broker.bootstrap, again))} == \
        _expected_ids(range(10_000))


POISON = {
    "invalid_json": b'{"url": "https://example.org/broken"',
    "wrong_schema": b'["not", "an", "article"]',
    "missing_field": json.dumps({"outlet": OUTLET, "title": "no url"}).encode(),
    "wrong_type": json.dumps({"url": "https://e.org/1", "outlet": OUTLET, "title": 7}).encode(),
    "message_too_large": json.dumps({"url": "https://e.org/big", "outlet": OUTLET,
                                     "content": "x" * (5 * 1024 * 1024)}).encode(),
    "null_value": None,
    "RecursionError": b"[" * 100_000,
    "ValueError": b'{"url": "https://e.org/v", "outlet": "O", "updated": 1' + b"0" * 5000 + b"}",
    "UnicodeEncodeError": json.dumps({"url": "https://e.org/u", "outlet": OUTLET,
                                      "title": "\ud800"}).encode(),
}


def test_poison_messages_go_to_the_dead_letter_topic_and_good_ones_through(kafka_broker,
                                                                           tmp_path, capsys):
    config = KafkaConfig(kafka_broker.bootstrap)
    topic, out, dlq = _topics(config, "poison", partitions=2)
    messages, poison_at = [], {}
    for n in range(300):
        messages.append(_article(n))
        if n % 30 == 7:
            kind = list(POISON)[len(poison_at) % len(POISON)]
            poison_at[len(messages)] = kind
            messages.append(POISON[kind])
    _produce(config, topic, messages, partition=0)
    _produce(config, topic, (_article(n) for n in range(300, 400)), partition=1)

    assert main(["run", "--bootstrap_servers", kafka_broker.bootstrap, "--input_topic", topic,
                 "--output_topic", out, "--dead_letter_topic", dlq, "--bounded",
                 "--group_id", f"{topic}.group"]) == 0
    assert "400 article events" in capsys.readouterr().out

    assert {e["event_id"] for e in _events(read_topic(kafka_broker.bootstrap, out))} == \
        _expected_ids(range(400))
    letters = [decode(r.value, DEAD_LETTER) for r in read_topic(kafka_broker.bootstrap, dlq)]
    assert {(d["source"]["topic"], d["source"]["partition"], d["source"]["offset"]):
            d["error_type"] for d in letters} == \
        {(topic, 0, offset): kind for offset, kind in poison_at.items()}
    assert all(d["stage"] == "read" and d["reason"] for d in letters)
    big = next(d for d in letters if d["error_type"] == "message_too_large")
    assert big["payload_truncated"]
    committed, ends = _committed(kafka_broker.bootstrap, topic, f"{topic}.group")
    assert committed == ends


def test_a_run_that_creates_its_output_topics_logs_no_error(kafka_broker, capfd):
    # A user reads ERROR as failure: the producer's "Topic ... not found in cluster metadata"
    # while the broker auto-created the topics was one. The CLI logs to stderr (its handler
    # replaces pytest's), so stderr is what is checked, as a user would see it.
    config = KafkaConfig(kafka_broker.bootstrap)
    topic = f"quiet-{time.monotonic_ns()}"
    create_topic(config, topic)
    _produce(config, topic, [*(_article(n) for n in range(20)), POISON["invalid_json"]])
    out = f"{topic}.events"  # neither it nor its dead-letter topic exists yet
    assert main(["run", "--bootstrap_servers", kafka_broker.bootstrap, "--input_topic", topic,
                 "--output_topic", out, "--bounded", "--group_id", f"{topic}.group"]) == 0
    printed = capfd.readouterr()
    problems = stop_problems(f"{printed.err}\n{printed.out}", any_error=True)
    assert not problems, "\n---\n".join(problems[:5])
    assert len(read_topic(kafka_broker.bootstrap, out)) == 20
    assert len(read_topic(kafka_broker.bootstrap, f"{out}.dead_letters")) == 1


def _in_thread(target, **kwargs) -> tuple[threading.Thread, list]:
    """Runs ``target`` in a thread; the list gets its exception, or else its result."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(target(**kwargs))
        except BaseException as e:  # reported by the test, not lost in the thread
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _result(outcome: list) -> PipelineResult:
    assert outcome and not isinstance(outcome[0], BaseException), outcome
    return outcome[0]


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.2)


def _count(bootstrap: str, topic: str) -> int:
    client = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in client.partitions_for_topic(topic)]
        return sum(client.end_offsets(tps).values())
    finally:
        client.close()


def test_sigkill_of_the_broker_during_an_unbounded_read_loses_nothing(tmp_path, caplog):
    """The read waits for the broker and reconnects: a WARNING and a count per outage, an INFO
    when it is back, every record read, no failed job."""
    caplog.set_level(logging.INFO, logger="wirewatch.connectors.kafka")
    broker = KafkaBroker(tmp_path / "kafka")
    bootstrap = broker.start()
    try:
        config = KafkaConfig(bootstrap)
        topic, out, _ = _topics(config, "kill", partitions=2)
        _produce(config, topic, (_article(n) for n in range(3000)))
        with counted() as counts:
            thread, outcome = _in_thread(_connector_pipeline, config=config, topic=topic,
                                         start_from="earliest", stop_after_idle_s=6,
                                         discovery_interval_s=2)
            _wait_for(lambda: _count(bootstrap, out) > 0, 60, "first output")
            broker.kill()
            time.sleep(3)
            assert broker.start() == bootstrap  # same port, same data
            _produce(config, topic, (_article(n) for n in range(3000, 5000)))
            thread.join(timeout=180)
        assert not thread.is_alive(), "the unbounded read did not stop after going idle"
        _result(outcome)
        ids = [e["event_id"] for e in _events(read_topic(bootstrap, out))]
        assert set(ids) == _expected_ids(range(5000))  # at-least-once: repeats allowed
    finally:
        broker.stop()
    outages = counts.of["kafka_broker_unavailable"]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.endswith("broker")]
    assert outages >= 1 and len([m for m in said if m[0] == "WARNING"]) == outages, said
    assert said[-1][0] == "INFO" and "answers again" in said[-1][1]


def test_partitions_keep_their_order_and_a_partition_added_while_running_is_read(kafka_broker):
    config = KafkaConfig(kafka_broker.bootstrap)
    topic, out, _ = _topics(config, "grow", partitions=2)
    _produce(config, topic, (_article(n) for n in range(0, 500)), partition=0)
    _produce(config, topic, (_article(n) for n in range(500, 1000)), partition=1)
    thread, outcome = _in_thread(_connector_pipeline, config=config, topic=topic,
                                 start_from="earliest", stop_after_idle_s=8,
                                 discovery_interval_s=1)
    _wait_for(lambda: _count(kafka_broker.bootstrap, out) > 0, 60, "the first output")
    add_partitions(config, topic, 3)
    _produce(config, topic, (_article(n) for n in range(1000, 1300)), partition=2)
    thread.join(timeout=120)
    assert not thread.is_alive()
    _result(outcome)

    events = _events(read_topic(kafka_broker.bootstrap, out))  # one output partition
    assert {e["event_id"] for e in events} == _expected_ids(range(1300))
    offsets = defaultdict(list)
    for event in events:
        offsets[event["source"]["partition"]].append(event["source"]["offset"])
    assert sorted(offsets) == [0, 1, 2]
    for partition, seen in offsets.items():
        assert seen == sorted(seen), f"partition {partition} out of order"
    # Unbounded: nothing committed by the read itself; every offset read was reported once,
    # the added partition's included, for the commit step.
    committed, ends = _committed(kafka_broker.bootstrap, topic, f"{topic}.group")
    assert set(committed.values()) == {None} and len(ends) == 3
    assert _covers_every_offset(REPORTED[topic], ends)


def test_unreachable_broker_fails_fast_and_names_the_servers():
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable, match=r"127\.0\.0\.1:9"):
        beam.Pipeline() | ReadFromKafka(KafkaConfig("127.0.0.1:9"), ["articles"],
                                        start_from="earliest")
    assert time.monotonic() - started < 10


def _read_ids(config: KafkaConfig, topic: str, start_from: str | int,
              input_format: str = "json", registry_url: str | None = None) -> set[str]:
    out = f"{topic}.from-{start_from}"
    create_topic(config, out)
    with beam.Pipeline() as p:
        articles = p | ReadFromKafka(config, [topic], bounded=True, start_from=start_from,
                                     input_format=input_format, registry_url=registry_url)
        (articles.events | Normalise()).events | WriteToKafka(config, out)
    return {e["event_id"] for e in _events(read_topic(config.bootstrap_servers, out))}


def test_start_positions_earliest_latest_and_a_time(kafka_broker):
    config = KafkaConfig(kafka_broker.bootstrap)
    topic, _, _ = _topics(config, "start", partitions=2)
    publisher = producer(config)
    base = 1_795_000_000_000
    for n in range(20):
        publisher.send(topic, value=_article(n), key=f"k{n}".encode(),
                       timestamp_ms=base + n * 1000)
    publisher.flush()
    publisher.close()
    assert _read_ids(config, topic, "earliest") == _expected_ids(range(20))
    assert _read_ids(config, topic, base + 15_000) == _expected_ids(range(15, 20))
    assert _read_ids(config, topic, "latest") == set()


def test_confluent_framed_output_reads_back_as_avro_input(kafka_broker, schema_registry):
    config = KafkaConfig(kafka_broker.bootstrap)
    topic, out, _ = _topics(config, "registry")
    _produce(config, topic, (_article(n) for n in range(50)))
    with beam.Pipeline() as p:
        articles = p | ReadFromKafka(config, [topic], bounded=True, start_from="earliest")
        (articles.events | Normalise()).events | WriteToKafka(
            config, out, registry_url=schema_registry.url)
    with urllib.request.urlopen(f"{schema_registry.url}/subjects/{out}-value/versions/1") as r:
        schema_id = json.load(r)["id"]  # registered by the write
    records = read_topic(kafka_broker.bootstrap, out)
    assert records and all(r.value[:5] == struct.pack(">bI", 0, schema_id) and not r.headers
                           for r in records)
    assert _read_ids(config, out, "earliest", input_format="avro",
                     registry_url=schema_registry.url) == _expected_ids(range(50))
