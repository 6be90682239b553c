"""max_in_flight: how far a partition's read may run ahead of its group's commit; max_backlog:
how many records past the watermark it may hold that no sink has staged. The decisions alone,
then a read against the session broker that stops at the bound while nobody commits."""

from __future__ import annotations

import logging
import time

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from tests.kafka_broker import read_topic
from tests.test_kafka_pipeline import (
    _article,
    _connector_pipeline,
    _count,
    _events,
    _expected_ids,
    _in_thread,
    _produce,
    _result,
    _topics,
    _wait_for,
    counted,
)
from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.backpressure import (
    ASK_EVERY_S,
    InFlight,
    staged_metadata,
    staged_offset,
)


def test_before_the_first_commit_the_start_of_the_read_counts_as_committed():
    bound = InFlight(limit=100, floor=500)
    assert bound.room(500) == 100 and bound.room(550) == 50
    assert bound.check(599) == (1, False)
    assert bound.check(600) == (0, True) and bound.paused  # reported once...
    assert bound.check(600) == (0, False)  # ...not on every call


def test_a_commit_makes_room_and_resumes_the_read_once():
    bound = InFlight(limit=100, floor=0)
    assert bound.check(100) == (0, True)
    bound.answer(40, now=10.0)
    assert bound.check(100) == (40, True) and not bound.paused
    assert bound.check(120) == (20, False)


def test_a_commit_older_than_the_read_does_not_pause_it():
    bound = InFlight(limit=100, floor=10_000)  # e.g. start_from="latest" after an old commit
    bound.answer(3, now=0.0)
    assert bound.room(10_000) == 100


def test_a_failed_ask_keeps_the_last_answer_and_asks_again_a_second_later():
    bound = InFlight(limit=100, floor=0)
    assert bound.due(0.0)
    bound.answer(50, now=0.0)
    bound.answer(None, now=0.5)  # the broker did not answer
    assert bound.committed == 50
    assert not bound.due(0.5 + ASK_EVERY_S / 2) and bound.due(0.5 + ASK_EVERY_S)


def test_records_past_the_watermark_not_yet_staged_pause_the_read():
    bound = InFlight(limit=1000, floor=0, backlog_limit=3)
    bound.read([0, 1, 2, 3, 4], [100, 200, 300, 400, 500])
    assert bound.check(5, watermark_ms=250) == (995, False)  # 2 past the watermark: not yet
    assert bound.check(5, watermark_ms=450) == (0, True)  # 4 past it, none staged: pause
    bound.answer(0, now=1.0, staged=2)  # the sinks staged offsets 0 and 1
    assert bound.check(5, watermark_ms=450) == (995, True)


def test_records_the_watermark_still_holds_never_pause_the_read():
    """Only reading moves the watermark: pausing for the records it holds would stall."""
    bound = InFlight(limit=1000, floor=0, backlog_limit=2)
    bound.read(list(range(100)), [1000] * 100)
    assert bound.room(100, watermark_ms=1000) == 900
    assert bound.room(100, watermark_ms=None) == 900  # no watermark yet


def test_without_a_backlog_limit_nothing_is_kept_per_record():
    bound = InFlight(limit=10, floor=0)
    bound.read([0, 1], [1, 2])
    assert bound.backlog(watermark_ms=10) == 0 and bound.room(2, watermark_ms=10) == 8


def test_the_staged_offset_travels_in_the_commit_metadata():
    assert staged_offset(staged_metadata(1234)) == 1234
    assert staged_offset("") is None and staged_offset(None) is None
    assert staged_offset("written by someone else") is None


def _commit(bootstrap: str, topic: str, group: str, offset: int) -> None:
    """What the commit step does once the sinks wrote everything below ``offset``."""
    client = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        client.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)})
    finally:
        client.close()


@pytest.mark.kafka
def test_the_read_stops_at_max_in_flight_until_the_group_commits(kafka_broker, caplog):
    caplog.set_level(logging.INFO, logger="wirewatch.connectors.kafka.source")
    bootstrap = kafka_broker.bootstrap
    config = KafkaConfig(bootstrap)
    topic, out, _ = _topics(config, "bound")
    _produce(config, topic, (_article(n) for n in range(300)))
    with counted() as counts:
        thread, outcome = _in_thread(_connector_pipeline, config=config, topic=topic,
                                     start_from="earliest", stop_after_idle_s=4,
                                     max_in_flight=50)
        _wait_for(lambda: _count(bootstrap, out) >= 50, 60, "the first 50 articles")
        time.sleep(3)  # nobody commits: the read stays at the bound
        assert _count(bootstrap, out) == 50
        _commit(bootstrap, topic, f"{topic}.group", 50)
        _wait_for(lambda: _count(bootstrap, out) >= 100, 30, "50 more after the commit")
        time.sleep(3)
        assert _count(bootstrap, out) == 100
        _commit(bootstrap, topic, f"{topic}.group", 300)
        thread.join(timeout=120)
    assert not thread.is_alive(), "the read did not finish once everything was committed"
    _result(outcome)
    assert {e["event_id"] for e in _events(read_topic(bootstrap, out))} == \
        _expected_ids(range(300))
    assert counts.of["kafka_read_paused"] == 2
    said = [r.getMessage().split(" ")[0] for r in caplog.records
            if r.getMessage().startswith(("pausing", "resuming"))]
    assert said == ["pausing", "resuming", "pausing", "resuming"]
