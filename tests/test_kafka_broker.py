"""The local broker script answers (its SIGKILL and restart: test_kafka_pipeline.py)."""

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
