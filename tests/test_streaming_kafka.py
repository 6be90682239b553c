"""Local streaming on Prism over Kafka: a live job writes the topic's articles as Avro article
events while it runs, on the cached Prism, and stops cleanly on SIGTERM.

What it does not assert, and why: articles produced while the job is live came out within the
file period + the watermark's lateness + a few seconds in most runs (2.8-4.8 s), but in about
one run in three a batch never came out at all (read by the source, not written, no dead
letter). That is an open bug (issue 7), so a check here would be a coin toss, not a test.

The job is ``tests/kafka_to_avro_job.py`` (``wirewatch run --streaming``'s graph without Dedupe
and Tag; see there why) in a child process, against the session's Kafka broker.
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
def test_live_kafka_job_writes_avro_on_prism_then_stops(kafka_broker, tmp_path):
    if prism_binary() is None:
        pytest.fail("Prism is not provisioned: run deploy/local/prism.sh (make provision)",
                    pytrace=False)
    topic, out = f"live-{time.monotonic_ns()}", tmp_path / "out"
    _produce(kafka_broker.bootstrap, topic, "warmup", 1)  # creates the topic
    args = [kafka_broker.bootstrap, topic, str(out), str(PERIOD_S), str(LATENESS_S)]
    with LiveJob("tests.kafka_to_avro_job", args) as job:
        events = _wait_for(out, {"Probe warmup 0"}, 120)
        assert "Probe warmup 0" in events, "job never wrote"
        event = events["Probe warmup 0"]
        assert is_valid(event, ARTICLE_EVENT)
        assert event["source"]["kind"] == "kafka" and event["source"]["topic"] == topic
        prism = [pid for pid, cmd in job.children() if cmd.startswith(f"{prism_binary()} ")]
        assert prism, "the job does not run on the cached Prism"
        assert job.running(), "the streaming job ended by itself"
        output = job.stop("sigterm")
    assert job.process.returncode == 0, output[-3000:]
    assert "stopped_by=SIGTERM state=CANCELLED" in output, output[-3000:]
    assert not any(Path(f"/proc/{pid}").exists() for pid in prism), "Prism left running"
