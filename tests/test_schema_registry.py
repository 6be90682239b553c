"""Confluent framing against a real Schema Registry (``schema_registry`` fixture): schemas
registered on write, read back by id, evolved compatibly and read by resolution, and changes the
subject's compatibility rule forbids refused with a clear error."""

from __future__ import annotations

import copy
import json
import re
import struct
import time
import urllib.request
import uuid

import pytest

from tests.counting_server import CountingServer
from tests.made_records import article_event_schema, confluent_framed
from wirewatch.connectors.kafka.errors import BadMessage, SchemaRegistryError
from wirewatch.connectors.kafka.serde import (
    Framing,
    SchemaRegistry,
    article_from_avro,
    article_from_json,
)
from wirewatch.core.article import build_event
from wirewatch.schemas.records import ARTICLE_EVENT, source

WHERE = source("kafka", "articles", topic="articles", partition=0, offset=7, guid="key-1")
FETCHED = 1_795_000_000_000


def _event() -> dict:
    raw = article_from_json(json.dumps({
        "url": "https://e.org/a/1", "outlet": "O", "guid": "g1", "title": "T",
        "content": "Body", "language": "sv"}).encode(), WHERE, FETCHED)
    return build_event(raw)


def _topic() -> str:
    """A topic (and so a subject, ``<topic>-value``) of the test's own in the session's registry."""
    return f"t-{uuid.uuid4().hex[:12]}"


def _ask(url: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_writing_registers_the_schema_under_topic_value_once(schema_registry):
    topic = _topic()
    framing = Framing.for_topic(ARTICLE_EVENT, topic, schema_registry.url)
    again = Framing.for_topic(ARTICLE_EVENT, topic, schema_registry.url)
    assert again.schema_id == framing.schema_id
    latest = _ask(f"{schema_registry.url}/subjects/{topic}-value/versions/latest")
    assert (latest["id"], latest["version"]) == (framing.schema_id, 1)
    assert json.loads(latest["schema"]) == article_event_schema()
    value = framing.frame(_event())
    assert value[:5] == struct.pack(">bI", 0, framing.schema_id) and framing.headers == []


def test_reading_fetches_the_writer_schema_by_id(schema_registry):
    framing = Framing.for_topic(ARTICLE_EVENT, _topic(), schema_registry.url)
    event = _event()
    registry = SchemaRegistry(schema_registry.url)
    raw = article_from_avro(framing.frame(event), [], WHERE, FETCHED, registry)
    assert build_event(raw)["event_id"] == event["event_id"]
    assert (raw.title, raw.content, raw.source["guid"]) == ("T", "Body", "g1")
    stored = _ask(f"{schema_registry.url}/schemas/ids/{framing.schema_id}")
    assert json.loads(stored["schema"]) == article_event_schema()


def test_an_id_the_registry_does_not_know_is_a_dead_letter(schema_registry):
    value = confluent_framed(987_654, article_event_schema(), _event())
    with pytest.raises(BadMessage) as caught:
        article_from_avro(value, [], WHERE, FETCHED, SchemaRegistry(schema_registry.url))
    assert caught.value.error_type == "unknown_schema"
    assert "schema id 987654 is not in the Schema Registry" in caught.value.reason


def test_a_compatible_newer_schema_is_read_by_resolution(schema_registry):
    """A newer writer adds a field with a default: a BACKWARD subject takes it under a new id,
    and today's reader reads its messages, skipping the field."""
    topic = _topic()
    framing = Framing.for_topic(ARTICLE_EVENT, topic, schema_registry.url)
    _ask(f"{schema_registry.url}/config/{topic}-value", "PUT", {"compatibility": "BACKWARD"})
    newer = article_event_schema()
    newer["fields"].append({"name": "reading_minutes", "type": "int", "default": 0})
    registry = SchemaRegistry(schema_registry.url)
    newer_id = registry.register(f"{topic}-value", newer)
    assert newer_id != framing.schema_id
    event = _event()
    value = confluent_framed(newer_id, newer, {**event, "reading_minutes": 4})
    raw = article_from_avro(value, [], WHERE, FETCHED, registry)
    assert build_event(raw)["event_id"] == event["event_id"]
    assert (raw.title, raw.content) == ("T", "Body")
    # Without the registry the newer writer's bytes cannot be told apart from ours: the reader
    # then assumes its own schema, which reads only what both schemas share.
    assert article_from_avro(framing.frame(event), [], WHERE, FETCHED).title == "T"


def test_an_incompatible_change_is_refused_with_a_clear_error(schema_registry):
    topic = _topic()
    Framing.for_topic(ARTICLE_EVENT, topic, schema_registry.url)
    _ask(f"{schema_registry.url}/config/{topic}-value", "PUT", {"compatibility": "BACKWARD"})
    breaking = article_event_schema()
    breaking["fields"].append({"name": "reading_minutes", "type": "int"})  # no default
    with pytest.raises(SchemaRegistryError) as caught:
        SchemaRegistry(schema_registry.url).register(f"{topic}-value", breaking)
    message = str(caught.value)
    assert f"refused ArticleEvent under {topic}-value: HTTP 409" in message
    assert "compatibility rule forbids this change" in message
    versions = _ask(f"{schema_registry.url}/subjects/{topic}-value/versions")
    assert versions == [1]


def test_a_writer_schema_that_cannot_be_resolved_is_a_dead_letter(schema_registry):
    """A subject without a compatibility rule takes any schema; a reader that cannot resolve
    the writer's (here: ``title`` became an int) dead-letters the message."""
    topic = _topic()
    changed = copy.deepcopy(article_event_schema())
    title = next(f for f in changed["fields"] if f["name"] == "title")
    title["type"] = "int"
    registry = SchemaRegistry(schema_registry.url)
    changed_id = registry.register(f"{topic}-value", changed)
    value = confluent_framed(changed_id, changed, {**_event(), "title": 5})
    with pytest.raises(BadMessage) as caught:
        article_from_avro(value, [], WHERE, FETCHED, registry)
    assert caught.value.error_type == "incompatible_schema"
    assert f"schema id {changed_id} cannot be read as wirewatch's article_event" in (
        caught.value.reason)


def test_an_unreachable_registry_fails_the_read_instead_of_dead_lettering():
    value = confluent_framed(1, article_event_schema(), _event())
    with pytest.raises(SchemaRegistryError, match=r"127\.0\.0\.1:9"):
        article_from_avro(value, [], WHERE, FETCHED, SchemaRegistry("http://127.0.0.1:9"))


def test_an_unknown_id_is_remembered_per_id_only_with_a_failure_ttl(schema_registry):
    """By default (the Kafka source, whose runner retries) every read asks again; with
    ``failure_ttl_s`` (the monitor) an id the registry does not know is asked once per TTL."""
    with CountingServer(schema_registry.url) as relay:
        asks_each_time = SchemaRegistry(relay.url)
        remembers = SchemaRegistry(relay.url, failure_ttl_s=0.5)
        for registry, reads, asked in ((asks_each_time, 3, 3), (remembers, 3, 4)):
            for _ in range(reads):
                with pytest.raises(BadMessage, match="schema id 987655 is not in"):
                    registry.writer_schema(987_655)
            assert relay.connections == asked
        with pytest.raises(BadMessage):  # another id is asked
            remembers.writer_schema(987_656)
        assert relay.connections == 5
        time.sleep(0.6)
        with pytest.raises(BadMessage):  # asked again once the TTL is over
            remembers.writer_schema(987_655)
        assert relay.connections == 6


def test_a_registry_that_failed_is_not_asked_again_for_any_id_within_the_ttl():
    """A silent registry: one timeout, then every id fails at once, its error naming that id
    and the failure remembered; without a TTL every read waits out the timeout again."""
    with CountingServer() as silent:
        remembers = SchemaRegistry(silent.url, timeout_s=0.3, failure_ttl_s=60)
        with pytest.raises(SchemaRegistryError, match=r"could not be asked for "
                                                      r"/schemas/ids/1: .*timed out") as first:
            remembers.writer_schema(1)
        for schema_id in (7, 2, 1):
            with pytest.raises(SchemaRegistryError) as caught:
                remembers.writer_schema(schema_id)
            said = re.fullmatch(rf"schema id {schema_id}: the Schema Registry failed (\d+) s "
                                rf"ago \({re.escape(str(first.value))}\); not asked again for "
                                rf"(\d+) s", str(caught.value))
            assert said, caught.value
            assert int(said[1]) + int(said[2]) == 60  # since the failure, and left of the TTL
        assert silent.connections == 1
        asks_each_time = SchemaRegistry(silent.url, timeout_s=0.3)
        for schema_id in (1, 1):
            with pytest.raises(SchemaRegistryError):
                asks_each_time.writer_schema(schema_id)
        assert silent.connections == 3
