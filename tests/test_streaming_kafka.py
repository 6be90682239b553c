"""Local streaming on Prism over Kafka: articles produced while the job is live come out as Avro
article events within the file period + the watermark's lateness + a few seconds; the job then
stops cleanly on SIGTERM.

The job is ``tests/kafka_to_avro_job.py`` (``wirewatch run --streaming``'s graph without Dedupe
and Tag: see there why) in a child process, against the session's Kafka broker.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from tests.live_job import LiveJob
from wirewatch.pipelines.runners import prism_binary
from wirewatch.schemas.records import ARTICLE_EVENT, is_valid, read_records

PERIOD_S = 5  # Avro files closed this often (the window)
LATENESS_S = 2.0  # the source's watermark trails the newest record by this much
SLACK_S = 5.0  # runner and file-system delays on a shared 2-core machine


def _produce(bootstrap: str, topic: str, tag: str, n: int) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for i in range(n):
            article = {"url": f"https://probe.example/{tag}/{i}", "outlet": "Probe",
                       "title": f"Probe {tag} {i}",
                       "content": f"<p>Dock workers in Rotterdam strike again, day {i}.</p>"}
            producer.send(topic, json.dumps(article).encode(), key=f"{tag}-{i}".encode())
        producer.flush()
    finally:
        producer.close()
    return time.time()


def _events(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(out.rglob("*.avro")):
        try:
            found.update({r["title"]: r for kind, r in read_records([path])
                          if kind == ARTICLE_EVENT})
        except (OSError, ValueError, EOFError):  # a file still being written
            continue
    return found


def _wait_for(out: Path, titles: set[str], timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        events = _events(out)
        if titles <= set(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.25)


@pytest.mark.kafka
@pytest.mark.slow
def test_live_kafka_articles_come_out_as_avro_within_the_window_then_stop(kafka_broker, tmp_path):
    if prism_binary() is None:
        pytest.fail("Prism is not provisioned: run deploy/local/prism.sh (make provision)",
                    pytrace=False)
    topic, out = f"live-{time.monotonic_ns()}", tmp_path / "out"
    _produce(kafka_broker.bootstrap, topic, "warmup", 1)  # creates the topic
    args = [kafka_broker.bootstrap, topic, str(out), str(PERIOD_S), str(LATENESS_S)]
    with LiveJob("tests.kafka_to_avro_job", args) as job:
        assert "Probe warmup 0" in _wait_for(out, {"Probe warmup 0"}, 120), "job never wrote"
        prism = [pid for pid, cmd in job.children() if cmd.startswith(f"{prism_binary()} ")]
        assert prism, "the job does not run on the cached Prism"
        # the file window waits for the watermark (LATENESS_S behind) to pass its end
        budget = PERIOD_S + 2 * LATENESS_S + SLACK_S
        for batch in ("a", "b"):
            titles = {f"Probe {batch} {i}" for i in range(3)}
            sent = _produce(kafka_broker.bootstrap, topic, batch, 3)
            events = _wait_for(out, titles, 60)
            latency = time.time() - sent
            assert titles <= set(events), f"batch {batch} not written within 60 s"
            assert latency <= budget, f"batch {batch} took {latency:.1f} s (> {budget} s)"
            for title in titles:
                event = events[title]
                assert is_valid(event, ARTICLE_EVENT)
                assert event["source"]["kind"] == "kafka"
                assert event["source"]["topic"] == topic
                assert event["url"].startswith("https://probe.example/")
        assert job.running(), "the streaming job ended by itself"
        output = job.stop("sigterm")
    assert job.process.returncode == 0, output[-3000:]
    assert "stopped_by=SIGTERM state=CANCELLED" in output, output[-3000:]
    assert not any(Path(f"/proc/{pid}").exists() for pid in prism), "Prism left running"
