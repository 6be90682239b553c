"""``wirewatch monitor`` against a real broker: an exact ``--once --json`` snapshot of known
records (lag, and how far the output written trails the input), the live view drawn under a
pseudo-terminal, and clear errors."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from fcntl import ioctl
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata
from rich.console import Console

from tests.counting_server import CountingServer
from tests.kafka_broker import KafkaBroker, produce
from tests.made_records import article_event, article_event_schema, confluent_framed, failed
from wirewatch.connectors.kafka.serde import Framing, SchemaRegistry
from wirewatch.pipelines import monitor
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, source

pytestmark = pytest.mark.kafka

GROUP = "wirewatch-test"
SPORT = ("medtop:15000000", "sport")
POLITICS = ("medtop:11000000", "politics")


@pytest.fixture(scope="module")
def topics(kafka_broker) -> dict:
    """Topics holding known records; their names and the time they were written around.

    The input has 3 partitions: 0 holds offsets 0-4, 1 holds 0-2, 2 is empty. Output records
    came from input offsets 0, 2 and 3 of partition 0 and 1 of partition 1 (an event older than
    every window), and from other sources (feeds, another topic)."""
    suffix = uuid.uuid4().hex[:8]
    names = {"input": f"articles-{suffix}", "events": f"events-{suffix}",
             "dead": f"dead-letters-{suffix}"}
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    admin.create_topics([NewTopic(names["input"], 3, 1), NewTopic(names["events"], 1, 1),
                         NewTopic(names["dead"], 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    t0 = int(time.time() * 1000) - 10_000

    for partition, count in ((0, 5), (1, 3)):
        for i in range(count):
            producer.send(names["input"], b'{"url": "https://x.example/%d"}' % i,
                          partition=partition, timestamp_ms=t0)

    def event(at: int, guid: str, language: str, lag_ms: int | None, duplicate: bool = False,
              tags: tuple = (), origin: tuple | None = None) -> dict:
        # e1 opens a story that e2 (its copy) and e3 join; e4 opens one, e5 is its copy
        story_of = {"e1": ("e1", "first"), "e2": ("e1", "duplicate"), "e3": ("e1", "names"),
                    "e4": ("e4", "first"), "e5": ("e4", "duplicate")}.get(guid)
        made = article_event(guid, language=language, topics=tags,
                             published_ms=None if lag_ms is None else at - lag_ms,
                             duplicate_of="e1" * 16 if duplicate else None, story_of=story_of)
        if origin:
            made["source"] = source("kafka", "Wire", topic=origin[0], partition=origin[1],
                                    offset=origin[2])
        return made

    old = t0 - 3_600_000  # an hour old: in the offsets, outside every window
    framing = Framing(ARTICLE_EVENT)  # wirewatch's schema headers
    producer.send(names["events"], framing.frame(event(old, "e0", "sv", 1000,
                                                       origin=(names["input"], 1, 1))),
                  headers=framing.headers, timestamp_ms=old)
    for i, (guid, language, lag_ms, duplicate, tags, origin) in enumerate([
            ("e1", "en", 1000, False, (SPORT,), (names["input"], 0, 2)),
            ("e2", "en", 2000, True, (SPORT,), (names["input"], 0, 0)),
            ("e3", "de", 3000, False, (POLITICS,), (f"elsewhere-{suffix}", 2, 50)),
            ("e4", "fr", 4000, False, (), None),
            ("e5", "de", 5000, True, (SPORT, POLITICS), None),
    ], start=1):
        at = t0 + i * 100
        producer.send(names["events"], framing.frame(event(at, guid, language, lag_ms,
                                                           duplicate, tags, origin)),
                      headers=framing.headers, timestamp_ms=at)
    # Confluent's wire format (magic byte, schema id 7), no published time
    producer.send(names["events"],
                  Framing(ARTICLE_EVENT, schema_id=7).frame(event(t0 + 600, "e6", "en", None)),
                  timestamp_ms=t0 + 600)
    producer.send(names["events"], None, key=b"e7", headers=framing.headers,
                  timestamp_ms=t0 + 700)  # a tombstone: no value

    for i, (stage, error_type) in enumerate([("parse", "not_a_feed"),
                                             ("normalise", "invalid_link"),
                                             ("parse", "not_a_feed")], start=1):
        letter = failed(stage, error_type)
        if i == 1:  # the oldest, not among the latest shown: a message of the input
            letter["source"] = source("kafka", "Wire", topic=names["input"], partition=0,
                                      offset=3)
        letters = Framing(DEAD_LETTER)
        producer.send(names["dead"], letters.frame(letter),
                      headers=letters.headers, timestamp_ms=t0 + i * 100)
    producer.flush()
    producer.close()

    committer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=GROUP,
                              enable_auto_commit=False)
    committer.commit({TopicPartition(names["input"], 0): OffsetAndMetadata(4, "", -1),
                      TopicPartition(names["input"], 1): OffsetAndMetadata(1, "", -1)})
    committer.close()
    return {**names, "t0": t0, "bootstrap": kafka_broker.bootstrap}


def _args(topics: dict) -> list[str]:
    return ["monitor", "--bootstrap_servers", topics["bootstrap"], "--group_id", GROUP,
            "--input_topic", topics["input"], "--output_topic", topics["events"],
            "--dead_letter_topic", topics["dead"], "--latest", "2"]


def test_once_json_snapshot_is_exact(topics, capsys):
    assert main([*_args(topics), "--once", "--json"]) == 0
    snapshot = json.loads(capsys.readouterr().out)
    assert abs(snapshot.pop("time_ms") - time.time() * 1000) < 60_000
    events = snapshot["topics"][topics["events"]]["window"]
    assert events.pop("last_undecodable") == "ValueError: message has no value"
    t0 = topics["t0"]

    def partition(n, end, committed, lag, recent, **written):
        return {"partition": n, "start": 0, "end": end, "committed": committed, "lag": lag,
                **written, "in_rate_window": recent, "messages_per_s": round(recent / 60, 3)}

    def share(name, count, of):
        return {"name": name, "count": count, "share": round(count / of, 4)}

    assert snapshot == {
        "bootstrap_servers": topics["bootstrap"], "group_id": GROUP,
        "window_s": 300, "rate_window_s": 60,
        "topics": {
            topics["input"]: {
                "kind": "raw",
                # p0: 0, 2 (events) and 3 (a dead letter) written; 4 is not, nor maybe 1.
                # p1: 1 written, by an event older than the window; p2: nothing yet.
                "partitions": [partition(0, 5, 4, 1, 5, written_offset=3, unwritten=1),
                               partition(1, 3, 1, 2, 3, written_offset=1, unwritten=1),
                               partition(2, 0, None, None, 0, written_offset=None,
                                         unwritten=None)],
                "end": 8, "lag": 3, "unwritten": 2, "in_rate_window": 8,
                "messages_per_s": 0.133},
            topics["events"]: {
                "kind": "article_event",
                "partitions": [partition(0, 8, None, None, 7)],
                "end": 8, "lag": None, "in_rate_window": 7, "messages_per_s": 0.117,
                "window": {
                    "events": 6, "duplicates": 2, "duplicate_ratio": 0.3333,
                    "languages": [share("en", 3, 6), share("de", 2, 6), share("fr", 1, 6)],
                    "topics": [share("medtop:15000000 sport", 3, 6),
                               share("medtop:11000000 politics", 2, 6)],
                    "stories": {"stories": 2, "opened": 2, "joined": 3},  # e6 has none
                    "event_time_lag_ms": {"count": 5, "p50": 3000, "p99": 5000},
                    "undecodable": 1}},
            topics["dead"]: {
                "kind": "dead_letter",
                "partitions": [partition(0, 3, None, None, 3)],
                "end": 3, "lag": None, "in_rate_window": 3, "messages_per_s": 0.05,
                "window": {
                    "dead_letters": 3,
                    "by_error_type": [share("not_a_feed", 2, 3), share("invalid_link", 1, 3)],
                    "by_stage": [share("parse", 2, 3), share("normalise", 1, 3)],
                    "latest": [
                        {"timestamp_ms": t0 + 300, "stage": "parse", "error_type": "not_a_feed",
                         "reason": "not_a_feed happened",
                         "origin": "Broken Feed https://broken.example/rss"},
                        {"timestamp_ms": t0 + 200, "stage": "normalise",
                         "error_type": "invalid_link", "reason": "invalid_link happened",
                         "origin": "Broken Feed https://broken.example/rss"}],
                    "undecodable": 0}},
        },
    }


def test_registry_reads_a_newer_writer_schema(kafka_broker, schema_registry, capsys):
    """With ``--schema_registry_url`` an event a newer writer framed (its schema registered
    with the fields in another order, which Avro resolves) is decoded; without it the monitor
    reads the bytes as wirewatch's schema and cannot."""
    topic = f"events-{uuid.uuid4().hex[:8]}"
    schema = article_event_schema()
    schema["fields"].reverse()
    schema_id = SchemaRegistry(schema_registry.url).register(f"{topic}-value", schema)
    bootstrap = kafka_broker.bootstrap
    produce(bootstrap, topic,
            [confluent_framed(schema_id, schema, article_event("r1", language="sv"))])

    read = _window(bootstrap, topic, capsys, "--schema_registry_url", schema_registry.url)
    assert (read["events"], read["undecodable"]) == (1, 0)
    assert read["languages"] == [{"name": "sv", "count": 1, "share": 1.0}]
    misread = _window(bootstrap, topic, capsys)
    assert misread.get("languages") != read["languages"]


def _window(bootstrap: str, topic: str, capsys, *extra: str) -> dict:
    """The window of article-event topic ``topic`` in ``monitor --once --json`` (with ``extra``
    arguments); nothing on stderr may be a traceback."""
    assert main(["monitor", "--bootstrap_servers", bootstrap, "--output_topic", topic,
                 "--once", "--json", *extra]) == 0
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err, printed.err
    return json.loads(printed.out)["topics"][topic]["window"]


def _registry_window(bootstrap: str, registry_url: str, values: list[bytes], capsys) -> dict:
    """:func:`_window` of a new topic holding ``values``, read with ``--schema_registry_url
    registry_url``."""
    topic = f"events-{uuid.uuid4().hex[:8]}"
    produce(bootstrap, topic, values)
    return _window(bootstrap, topic, capsys, "--schema_registry_url", registry_url)


def test_a_schema_id_the_registry_does_not_know_is_undecodable(kafka_broker, schema_registry,
                                                               capsys):
    unknown_id = 987_654_321
    window = _registry_window(
        kafka_broker.bootstrap, schema_registry.url,
        [confluent_framed(unknown_id, article_event_schema(), article_event("u1"))], capsys)
    assert (window["events"], window["undecodable"]) == (0, 1)
    assert window["last_undecodable"] == (f"BadMessage: schema id {unknown_id} is not in the "
                                          f"Schema Registry {schema_registry.url}")


def test_an_unreachable_registry_makes_messages_undecodable_not_a_crash(kafka_broker, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    window = _registry_window(kafka_broker.bootstrap, url,
                              [confluent_framed(1, article_event_schema(), article_event("u2"))],
                              capsys)
    assert (window["events"], window["undecodable"]) == (0, 1)
    assert window["last_undecodable"].startswith(
        f"SchemaRegistryError: Schema Registry {url} could not be asked for /schemas/ids/1: ")


def test_the_registry_is_asked_once_per_schema_id_found_or_unknown(kafka_broker,
                                                                    schema_registry, capsys):
    """Four events of a registered schema and four of an id the registry does not know cost
    two requests to the real registry (counted by a relay in front of it), not eight."""
    schema = article_event_schema()
    known_id = SchemaRegistry(schema_registry.url).register(
        f"ask-once-{uuid.uuid4().hex[:8]}-value", schema)
    values = [confluent_framed(schema_id, schema, article_event(f"k{i}"))
              for schema_id in (known_id, 987_654_322) for i in range(4)]
    with CountingServer(schema_registry.url) as relay:
        window = _registry_window(kafka_broker.bootstrap, relay.url, values, capsys)
    assert (window["events"], window["undecodable"]) == (4, 4)
    assert window["last_undecodable"] == (f"BadMessage: schema id 987654322 is not in the "
                                          f"Schema Registry {relay.url}")
    assert relay.connections == 2


def test_a_silent_registry_costs_one_timeout_per_snapshot_not_one_per_message(kafka_broker,
                                                                             capsys):
    """A registry that takes connections and never answers: each request waits out the 10 s
    timeout. Eight events of four schema ids cost one request; all eight are undecodable, the
    last (id 4, written last) with an error naming its own id and the remembered failure."""
    values = [confluent_framed(1 + i % 4, article_event_schema(), article_event(f"s{i}"))
              for i in range(8)]
    topic, now_ms = f"events-{uuid.uuid4().hex[:8]}", int(time.time() * 1000)
    produce(kafka_broker.bootstrap, topic, values[:-1], timestamp_ms=now_ms - 1000)
    produce(kafka_broker.bootstrap, topic, values[-1:], timestamp_ms=now_ms)
    with CountingServer() as silent:
        started = time.monotonic()
        window = _window(kafka_broker.bootstrap, topic, capsys,
                         "--schema_registry_url", silent.url)
        took_s = time.monotonic() - started
    assert (window["events"], window["undecodable"]) == (0, 8)
    assert re.fullmatch(
        rf"SchemaRegistryError: schema id 4: the Schema Registry failed \d+ s ago \(Schema "
        rf"Registry {re.escape(silent.url)} could not be asked for /schemas/ids/1: .*timed out\); "
        rf"not asked again for \d+ s", window["last_undecodable"]), window["last_undecodable"]
    assert silent.connections == 1
    assert took_s < 30


def test_json_lines_one_per_refresh(topics, capsys):
    assert main([*_args(topics), "--json", "--iterations", "2", "--refresh_s", "0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        summary = json.loads(line)["topics"][topics["input"]]
        assert (summary["lag"], summary["unwritten"]) == (3, 2)


class _Terminal:
    """``wirewatch`` running on a 160x50 pseudo-terminal, and what it has drawn so far."""

    def __init__(self, args: list[str]) -> None:
        self._leader, follower = pty.openpty()
        ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}
        self.process = subprocess.Popen([sys.executable, "-m", "wirewatch", *args],
                                        stdin=follower, stdout=follower, stderr=follower,
                                        env=env, close_fds=True)
        os.close(follower)
        self.drawn = bytearray()

    @property
    def text(self) -> str:
        """What it drew, without the control sequences."""
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.drawn.decode("utf-8", "replace"))

    def _read(self, timeout_s: float) -> bool:
        """Read what comes within ``timeout_s``; False once the terminal is closed."""
        ready, _, _ = select.select([self._leader], [], [], timeout_s)
        if not ready:
            return self.process.poll() is None
        try:
            chunk = os.read(self._leader, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.drawn += chunk
        return bool(chunk)

    def wait_for(self, pattern: str, since: int = 0, timeout_s: float = 60) -> int:
        """Read until ``pattern`` appears in the text after position ``since``; its end."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.compile(pattern).search(self.text, since)
            if found:
                return found.end()
            if not self._read(0.2):
                break
        raise AssertionError(f"{pattern!r} not drawn; drew:\n{self.text[since:][-3000:]}")

    def finish(self, timeout_s: float = 60, interrupt: bool = False) -> int:
        """Read to the end (after a Ctrl-C if ``interrupt``); the exit code."""
        if interrupt:
            self.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline and self._read(0.2):
                pass
            return self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            os.close(self._leader)


def test_live_view_redraws_under_a_terminal(topics):
    terminal = _Terminal([*_args(topics), "--iterations", "3", "--refresh_s", "0.3"])
    code = terminal.finish()
    text = terminal.text
    assert code == 0, text
    assert b"\x1b[" in terminal.drawn  # drawn with control sequences (cursor moves, colour)
    # three refreshes in order (Live draws the last one again as it stops), each a full view
    drawn_refreshes = re.findall(r"group wirewatch-test\s+\S+ UTC\s+#(\d)", text)
    assert list(dict.fromkeys(drawn_refreshes)) == ["1", "2", "3"]
    assert text.count("Offsets and lag") == len(drawn_refreshes)
    assert re.search(r"committed\W+lag\W+written\W+unwritten", text)
    assert "unwritten = end - (written + 1)" in text  # the caption says what they mean
    for row in (f"{topics['input']} (all)", "en 50%", "de 33%", "fr 17%",
                "2 (33.3%)", "2 (2 opened, 3 joined an earlier one)", "p50 3.0 s  p99 5.0 s",
                "not_a_feed", "invalid_link happened"):
        assert row in text, row


def _broker_with_articles_topic(tmp_path: Path) -> tuple[KafkaBroker, str]:
    """A broker of the test's own, started, with an empty one-partition topic ``articles``."""
    broker = KafkaBroker(tmp_path / "kafka")
    bootstrap = broker.start()
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic("articles", 1, 1)])
        admin.close()
    except BaseException:
        broker.stop()
        raise
    return broker, bootstrap


@pytest.fixture
def fresh_broker(tmp_path) -> Iterator[str]:
    """A broker of the test's own, just started, with topic ``articles`` (2 messages). Nothing
    has asked it about a group yet, and it creates its group coordinator (the offsets topic)
    only on the first such request: the monitor is the first to ask, as for a user who starts
    the broker and the monitor together. Nothing here waits for the coordinator."""
    broker, bootstrap = _broker_with_articles_topic(tmp_path)
    try:
        produce(bootstrap, "articles", [b'{"url": "https://x.example/%d"}' % i for i in range(2)])
        yield bootstrap
    finally:
        broker.stop()


def _once_json(bootstrap: str, capsys) -> dict:
    """``--once --json`` of topic ``articles`` for group GROUP: it exits 0, no traceback."""
    code = main(["monitor", "--bootstrap_servers", bootstrap, "--group_id", GROUP,
                 "--input_topic", "articles", "--once", "--json"])
    printed = capsys.readouterr()
    assert code == 0 and "Traceback" not in printed.err, printed.err
    return json.loads(printed.out)


def test_once_on_a_fresh_broker_waits_briefly_for_the_group_coordinator(fresh_broker, capsys):
    """The first group request finds no coordinator (CoordinatorNotAvailableError); the
    monitor asks again until it answers (within a second here), not exit 1."""
    snapshot = _once_json(fresh_broker, capsys)
    assert "committed_unknown" not in snapshot
    (row,) = snapshot["topics"]["articles"]["partitions"]
    assert (row["end"], row["committed"], row["lag"]) == (2, None, None)


def test_once_without_a_group_coordinator_says_committed_offsets_are_unknown(
        fresh_broker, monkeypatch, capsys):
    """A coordinator still not there once the monitor's wait is over (here: no wait, so the
    fresh broker's first answer) makes the committed offsets unknown, said in --json and in
    the view --once prints; the rest of the snapshot is there."""
    monkeypatch.setattr(monitor, "COORDINATOR_WAIT_S", 0.0)
    snapshot = _once_json(fresh_broker, capsys)
    assert snapshot["committed_unknown"].startswith(
        "the group coordinator is not available yet (CoordinatorNotAvailableError, ")
    (row,) = snapshot["topics"]["articles"]["partitions"]
    assert (row["end"], row["committed"], row["lag"]) == (2, None, None)
    console = Console(record=True, width=160)
    console.print(monitor.render(snapshot))
    assert ("committed offsets and lag unknown: the group coordinator is not available yet"
            in console.export_text())


def test_live_view_survives_a_broker_restart(tmp_path):
    broker, bootstrap = _broker_with_articles_topic(tmp_path)
    try:
        terminal = _Terminal(["monitor", "--bootstrap_servers", bootstrap,
                              "--input_topic", "articles", "--refresh_s", "0.5"])
        seen = terminal.wait_for(r"#2\s")
        broker.kill()
        seen = terminal.wait_for(rf"#\d+ \S+ UTC  Kafka at {bootstrap}: \w+", seen)
        assert broker.start() == bootstrap
        terminal.wait_for(r"articles \(all\)", seen)
        code = terminal.finish(interrupt=True)
    finally:
        broker.stop()
    assert code == 0 and "Traceback" not in terminal.text, terminal.text


def test_unreachable_broker_is_a_quick_clear_error(capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    assert main(["monitor", "--bootstrap_servers", f"127.0.0.1:{port}",
                 "--output_topic", "x", "--once", "--json"]) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert f"no Kafka broker answers at 127.0.0.1:{port}" in err and "Traceback" not in err


def test_unknown_topic_is_a_clear_error(topics, capsys):
    assert main(["monitor", "--bootstrap_servers", topics["bootstrap"],
                 "--input_topic", "no-such-topic", "--once"]) == 1
    err = capsys.readouterr().err
    assert "unknown topic no-such-topic" in err and topics["events"] in err


def test_help_says_what_lag_and_unwritten_mean(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["monitor", "--help"])
    assert exited.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for meaning in ("lag end - the group's committed offset",
                    "only once every sink has made the records below it durable",
                    "unwritten end - (written_offset + 1)", "An independent check",
                    "topics.<input>.partitions[i].<name>"):
        assert meaning in shown, meaning


def test_nothing_to_watch_and_bad_windows_are_usage_errors(capsys):
    assert main(["monitor", "--bootstrap_servers", "127.0.0.1:1", "--once"]) == 2
    assert "nothing to watch" in capsys.readouterr().err
    assert main(["monitor", "--bootstrap_servers", "127.0.0.1:1", "--output_topic", "x",
                 "--window_s", "0"]) == 2
    assert "--window_s must be positive" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--feeds", "samples/feeds.yaml"], "unrecognized arguments: --feeds"),
    (["--kafka_nonsense", "1"], "unrecognized arguments: --kafka_nonsense"),
    (["--kafka_config", "novalue"], "--kafka_config wants KEY=VALUE"),
])
def test_connection_options_are_those_of_run(args, message, capsys):
    assert main(["monitor", "--bootstrap_servers", "127.0.0.1:1", "--output_topic", "x",
                 *args]) == 2
    assert message in capsys.readouterr().err


def test_security_options_reach_the_client():
    from wirewatch.pipelines.monitor import _kafka

    config = _kafka("b1:9093,b2:9093", ["--kafka_security_protocol", "SASL_SSL",
                                        "--kafka_sasl_mechanism", "PLAIN",
                                        "--kafka_config", "ssl_check_hostname=false"])
    kwargs = config.client_kwargs()
    assert kwargs["bootstrap_servers"] == ["b1:9093", "b2:9093"]
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "PLAIN"
    assert kwargs["ssl_check_hostname"] is False
