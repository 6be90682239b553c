"""The local broker script: start, round trip, SIGKILL, restart with the data kept."""

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.kafka


def _round_trip(bootstrap: str, topic: str, values: list[bytes], expect: int) -> list[bytes]:
    """Produce ``values``, then read the topic from the start until ``expect`` records."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, value)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=20000)
    seen = []
    for record in consumer:
        seen.append(record.value)
        if len(seen) == expect:
            break
    consumer.close()
    return seen


def test_session_broker_answers(kafka_broker: KafkaBroker) -> None:
    assert _round_trip(kafka_broker.bootstrap, "smoke", [b"a", b"b"], 2) == [b"a", b"b"]


def test_broker_survives_sigkill_with_its_data(tmp_path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    bootstrap = broker.start()
    try:
        _round_trip(bootstrap, "kept", [b"before"], 1)
        broker.kill()
        assert broker.start() == bootstrap
        assert _round_trip(bootstrap, "kept", [b"after"], 2) == [b"before", b"after"]
    finally:
        broker.stop()
