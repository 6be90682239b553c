"""Kafka source and sink throughput, side by side with kafka-python's own loops.

    python benchmarks/bench_kafka.py [--records 50000] [--repeats 3] [--bootstrap_servers H:P]

Without ``--bootstrap_servers`` it starts a local broker with ``deploy/local/kafka.sh`` in a
temp dir and stops it afterwards. Each row is the median of ``--repeats`` runs in this process:

- source: ``ReadFromKafka`` (bounded, FnApiRunner, one worker) counting ``RawArticle``s, vs a
  ``KafkaConsumer`` loop that only fetches, and one that also decodes each message the same way
  (``article_from_json``);
- sink: ``WriteToKafka`` (Avro, acks=all, idempotent) of article events loaded from a file,
  vs a ``KafkaProducer`` loop with the same settings, the same file and the same encoding.

Beam's figures include pipeline start-up (about a second); records/s is records / wall time.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from kafka import KafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import median_seconds
from wirewatch.connectors.kafka import KafkaConfig, ReadFromKafka, WriteToKafka
from wirewatch.connectors.kafka.admin import create_topic
from wirewatch.connectors.kafka.serde import Framing, article_from_json
from wirewatch.connectors.kafka.sink import event_key, producer
from wirewatch.core.article import build_event
from wirewatch.schemas.records import ARTICLE_EVENT, source

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "local" / "kafka.sh"
PARTITIONS = 4


def _article(n: int) -> bytes:
    return json.dumps({"url": f"https://example.org/news/{n}", "outlet": "Bench Wire",
                       "guid": f"guid-{n}", "title": f"Story number {n}",
                       "summary": "A summary of the story, one sentence long.",
                       "content": "<p>" + "Body text of the story. " * 12 + "</p>"}).encode()


def _fill(config: KafkaConfig, topic: str, records: int) -> None:
    create_topic(config, topic, PARTITIONS)
    publisher = producer(config)
    for n in range(records):
        publisher.send(topic, value=_article(n), key=str(n).encode())
    publisher.flush()
    publisher.close()


def _consume(config: KafkaConfig, topic: str, records: int, decode: bool) -> None:
    consumer = KafkaConsumer(**config.client_kwargs(), enable_auto_commit=False,
                             max_poll_records=2000, fetch_max_bytes=64 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen = 0
    while seen < records:
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                if decode:
                    article_from_json(record.value, source(
                        "kafka", topic, topic=topic, partition=record.partition,
                        offset=record.offset, guid=None), record.timestamp)
                seen += 1
    consumer.close()


def _beam_read(config: KafkaConfig, topic: str, records: int) -> None:
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as p:
        read = p | ReadFromKafka(config, [topic], start_from="earliest", bounded=True)
        counted = read.events | beam.combiners.Count.Globally()
        assert_that(counted, equal_to([records]))


def _events(records: int) -> list[dict]:
    where = source("kafka", "bench", topic="bench", partition=0, offset=0, guid=None)
    return [build_event(article_from_json(_article(n), where, 1_795_000_000_000))
            for n in range(records)]


def _load(path: str) -> list[dict]:
    with open(path, "rb") as f:
        return pickle.load(f)


def _produce(config: KafkaConfig, topic: str, events_file: str) -> None:
    framing = Framing(ARTICLE_EVENT)
    publisher = producer(config)
    for event in _load(events_file):
        publisher.send(topic, value=framing.frame(event), key=event_key(event),
                       headers=framing.headers)
    publisher.flush()
    publisher.close()


def _beam_write(config: KafkaConfig, topic: str, events_file: str) -> None:
    # Events come from a file, not beam.Create: Create infers a type from every element and
    # pickles them into the graph, which would cost more than the writing measured here.
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as p:
        _ = (p
             | beam.Create([events_file])
             | beam.FlatMap(_load)
             | WriteToKafka(config, topic))


def bench(bootstrap: str, records: int, repeats: int) -> None:
    config = KafkaConfig(bootstrap)
    topic = f"bench-{time.time_ns()}"
    _fill(config, topic, records)
    create_topic(config, f"{topic}.empty", PARTITIONS)
    events = _events(records)
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as f:
        pickle.dump(events, f)
        events_file = f.name
    rows = [
        ("source", "kafka-python KafkaConsumer loop (fetch only)",
         median_seconds(lambda: _consume(config, topic, records, False), repeats)),
        ("source", "kafka-python KafkaConsumer loop + JSON decode",
         median_seconds(lambda: _consume(config, topic, records, True), repeats)),
        ("source", "wirewatch ReadFromKafka (bounded, FnApiRunner)",
         median_seconds(lambda: _beam_read(config, topic, records), repeats)),
        ("source", "  of which start-up: the same on an empty topic",
         median_seconds(lambda: _beam_read(config, f"{topic}.empty", 0), repeats)),
        ("sink", "kafka-python KafkaProducer loop (Avro, acks=all)",
         median_seconds(lambda: _produce(config, f"{topic}.p", events_file), repeats)),
        ("sink", "wirewatch WriteToKafka (FnApiRunner)",
         median_seconds(lambda: _beam_write(config, f"{topic}.w", events_file), repeats)),
    ]
    Path(events_file).unlink()
    print(f"\n{records} records (~{len(_article(records))} B JSON, "
          f"{len(Framing(ARTICLE_EVENT).frame(events[0]))} B Avro), {PARTITIONS} partitions, "
          f"median of {repeats}\n")
    print(f"{'side':7} {'what':50} {'seconds':>8} {'records/s':>10} {'vs kafka-python':>16}")
    baseline = {"source": rows[1][2], "sink": rows[4][2]}
    for side, what, seconds in rows:
        if what.startswith("  "):
            print(f"{side:7} {what:50} {seconds:8.2f}")
            continue
        print(f"{side:7} {what:50} {seconds:8.2f} {records / seconds:10,.0f} "
              f"{baseline[side] / seconds:15.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bootstrap_servers", help="use this broker instead of starting one")
    args = parser.parse_args()
    if args.bootstrap_servers:
        bench(args.bootstrap_servers, args.records, args.repeats)
        return 0
    with tempfile.TemporaryDirectory() as data:
        started = subprocess.run([str(SCRIPT), "start", "--data", data], capture_output=True,
                                 text=True, check=False)
        if started.returncode:
            print(started.stderr, file=sys.stderr)
            return 1
        try:
            bench(started.stdout.strip().splitlines()[-1].removeprefix("bootstrap="),
                  args.records, args.repeats)
        finally:
            subprocess.run([str(SCRIPT), "stop", "--data", data], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
