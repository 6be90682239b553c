"""A real single-node Kafka broker for tests, driven by ``deploy/local/kafka.sh``.

``KafkaBroker`` starts one broker in its own directory on a free port; ``kill()`` is a
SIGKILL (no clean shutdown) and ``start()`` again brings the same broker back on the same
port with its data; ``produce`` and ``read_topic`` write and read a topic. The
``kafka_broker`` fixture (re-exported by ``conftest.py``) is one broker for the whole session.
If the broker cannot start, the test fails with the script's reason.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.local_service import LocalService


class KafkaBroker(LocalService):
    """One broker: ``start()``, ``stop()``, ``kill()``; ``bootstrap`` is ``host:port``."""

    script, what = "kafka.sh", "Kafka broker"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.bootstrap = ""

    def start(self) -> str:
        self.bootstrap = super().start()
        return self.bootstrap

    def kill(self) -> None:
        """SIGKILL the broker: no flush, no controlled shutdown."""
        pid_file = self.directory / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        pid_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One real Kafka broker for the whole session, in a temp dir on a free port."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def produce(bootstrap: str, topic: str, values: Iterable[bytes],
            timestamp_ms: int | None = None) -> None:
    """Send ``values`` to ``topic`` and wait until every replica has them (acks=all)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, value, timestamp_ms=timestamp_ms)
        producer.flush()
    finally:
        producer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list:
    """Every record of ``topic`` now (all partitions, up to their end offsets), in fetch order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_bytes=64 * 1024 * 1024)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
