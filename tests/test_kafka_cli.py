"""``wirewatch run`` with Kafka options, and ``wirewatch replay``."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import SAMPLES
from tests.kafka_broker import read_topic
from wirewatch.connectors.kafka.serde import article_from_json
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import source


@pytest.mark.parametrize(("args", "message"), [
    (["--input_topic", "a", "--output_topic", "b"], "need --bootstrap_servers"),
    (["--input_topic", "a"], "--output is required"),
])
def test_kafka_options_are_checked_before_anything_runs(args, message, capsys):
    assert main(["run", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--input_topic", "articles", "--output_topic", "events"],
    ["--feeds", str(SAMPLES / "feeds.yaml"), "--output_topic", "events"],
])
def test_unreachable_broker_is_a_quick_error_naming_it(args, capsys):
    started = time.monotonic()
    assert main(["run", "--bootstrap_servers", "127.0.0.1:9", *args]) == 1
    assert "no Kafka broker answers at 127.0.0.1:9" in capsys.readouterr().err
    assert time.monotonic() - started < 10


@pytest.mark.kafka
def test_replay_publishes_the_sample_articles_and_json_lines(kafka_broker, tmp_path, capsys):
    topic = f"replay-{time.monotonic_ns()}"
    assert main(["replay", "--bootstrap_servers", kafka_broker.bootstrap, "--topic", topic,
                 "--feeds", str(SAMPLES / "feeds.yaml"), "--partitions", "2"]) == 0
    records = read_topic(kafka_broker.bootstrap, topic)
    assert f"published {len(records)} messages" in capsys.readouterr().out
    where = source("kafka", topic, topic=topic, partition=0, offset=0)
    articles = [article_from_json(r.value, where, r.timestamp) for r in records]
    assert len(articles) > 10 and all(a.url and a.source["outlet"] for a in articles)

    lines = tmp_path / "articles.jsonl"
    lines.write_text('{"url": "https://e.org/1", "outlet": "O"}\n\nnot json\n')
    assert main(["replay", "--bootstrap_servers", kafka_broker.bootstrap, "--topic",
                 f"{topic}.file", "--file", str(lines), "--rate", "50"]) == 0
    values = [r.value for r in read_topic(kafka_broker.bootstrap, f"{topic}.file")]
    assert values == [json.dumps({"url": "https://e.org/1", "outlet": "O"},
                                 separators=(", ", ": ")).encode(), b"not json"]
