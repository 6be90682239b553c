"""Local streaming on Prism over Kafka: ``wirewatch run --streaming`` (read, normalise, dedupe,
tag, write) in a child process against the session's broker. Articles produced while the job is
live come out as Avro article events within the file period + the watermark's lateness + a few
seconds, an article published yesterday and a record whose Kafka timestamp is an hour old (both
behind the watermark when read) come out too,
a bad message comes out as a dead letter, and the job then stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.kafka_broker import produce
from tests.live_job import LiveJob, stop_problems
from wirewatch.pipelines import link
from wirewatch.pipelines.dedupe import INCOMPLETE_NOTE
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, is_valid, read_records

PERIOD_S = 5  # a new Avro file this often
LATENESS_S = 2.0  # the source's watermark trails the newest record by this much
SLACK_S = 5.0  # runner and file-system delays on a shared 2-core machine


def _article(tag: str, i: int, **extra: object) -> bytes:
    return json.dumps({"url": f"https://probe.example/{tag}/{i}", "outlet": "Probe",
                       "title": f"Probe {tag} {i}",
                       "content": f"<p>Dock workers in Rotterdam strike again, day {i}.</p>",
                       **extra}).encode()


def _produce(bootstrap: str, topic: str, values: list[bytes],
             timestamp_ms: int | None = None) -> float:
    produce(bootstrap, topic, values, timestamp_ms)
    return time.time()


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat()


def _records(out: Path) -> tuple[dict[str, dict], list[dict]]:
    """Article events by title, and dead letters, in the complete files under ``out``."""
    events, letters = {}, []
    for kind, record in read_records(sorted(out.rglob("*.avro"))):
        if kind == ARTICLE_EVENT:
            events[record["title"]] = record
        elif kind == DEAD_LETTER:
            letters.append(record)
    return events, letters


def _wait_for(out: Path, titles: set[str], timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        events, _ = _records(out)
        if titles <= set(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.25)


@pytest.mark.kafka
@pytest.mark.slow
def test_live_kafka_articles_come_out_as_avro_within_the_period_then_stop(
        kafka_broker, provisioned_prism, tmp_path):
    topic, out = f"live-{time.monotonic_ns()}", tmp_path / "out"
    _produce(kafka_broker.bootstrap, topic, [_article("warmup", 0)])  # creates the topic
    args = ["run", "--streaming", f"--bootstrap_servers={kafka_broker.bootstrap}",
            f"--input_topic={topic}", f"--output={out}", f"--file_period_s={PERIOD_S}",
            f"--max_out_of_orderness_s={LATENESS_S}", "--idle_after_s=1",
            "--start_from=earliest", "--group_id=streaming-test"]
    with LiveJob("wirewatch", args) as job:
        assert "Probe warmup 0" in _wait_for(out, {"Probe warmup 0"}, 120), "job never wrote"
        prism = [pid for pid, cmd in job.children() if cmd.startswith(f"{provisioned_prism} ")]
        assert prism, "the job does not run on the cached Prism"
        budget = PERIOD_S + LATENESS_S + SLACK_S
        for batch in ("a", "b", "c"):
            titles = {f"Probe {batch} {i}" for i in range(3)}
            sent = _produce(kafka_broker.bootstrap, topic, [_article(batch, i) for i in range(3)])
            events = _wait_for(out, titles, 60)
            latency = time.time() - sent
            print(f"batch {batch}: written {latency:.1f} s after the produce")  # pytest -s
            assert titles <= set(events), (f"batch {batch} not written within 60 s; job output:\n"
                                           f"{job.output()[-3000:]}")
            assert latency <= budget, f"batch {batch} took {latency:.1f} s (> {budget} s)"
            for title in titles:
                event = events[title]
                assert is_valid(event, ARTICLE_EVENT)
                assert event["source"]["kind"] == "kafka"
                assert event["source"]["topic"] == topic
                assert event["language"]["code"] == "en"  # tagged on the way
                assert event["dedup"]["content_hash"]  # and through dedupe
        # Published yesterday: far behind the watermark when read, and still written.
        yesterday = "2026-11-20T08:00:00+00:00"
        _produce(kafka_broker.bootstrap, topic,
                 [_article("old", 0, published=yesterday), b"{not json"])
        events = _wait_for(out, {"Probe old 0"}, 60)
        assert "Probe old 0" in events, "an article behind the watermark was dropped"
        assert events["Probe old 0"]["event_time"] == 1795161600000
        # Published an hour ago and a Kafka timestamp from then too (a producer that sat on
        # it): late for the read's watermark, still written within the usual budget.
        hour_ago = time.time() - 3600
        sent = _produce(kafka_broker.bootstrap, topic,
                        [_article("stale", 0, published=_iso(hour_ago))],
                        timestamp_ms=int(hour_ago * 1000))
        events = _wait_for(out, {"Probe stale 0"}, 60)
        assert "Probe stale 0" in events, "a record with an old Kafka timestamp was held"
        # Late data is decided on what the index (and the stories) hold when its pane fires,
        # and says so.
        notes = events["Probe stale 0"]["notes"]
        assert set(notes) <= {INCOMPLETE_NOTE, link.INCOMPLETE_NOTE, link.decide.LATE_NOTE}, notes
        assert time.time() - sent <= budget, f"the stale record took {time.time() - sent:.1f} s"
        deadline = time.monotonic() + 30
        while not (letters := _records(out)[1]) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert [(d["stage"], d["error_type"]) for d in letters] == [("read", "invalid_json")]
        assert job.running(), "the streaming job ended by itself"
        output = job.stop("sigterm")
    assert job.process.returncode == 0, output[-3000:]
    assert "stopped on SIGTERM; job CANCELLED" in output, output[-3000:]
    assert not stop_problems(output), "\n---\n".join(stop_problems(output)[:5])
    assert not any(Path(f"/proc/{pid}").exists() for pid in prism), "Prism left running"
