"""Kafka message formats: what each good and bad message becomes (no broker needed; the
Confluent framing against a real Schema Registry is in ``test_schema_registry.py``)."""

from __future__ import annotations

import json

import pytest

from wirewatch.connectors.kafka.errors import BadMessage, SchemaRegistryError
from wirewatch.connectors.kafka.serde import (
    FINGERPRINT_HEADER,
    MAX_MESSAGE_BYTES,
    SCHEMA_HEADER,
    Framing,
    article_from_avro,
    article_from_json,
    article_to_json,
    schema_fingerprint,
)
from wirewatch.connectors.kafka.sink import dead_letter_key, event_key
from wirewatch.core.article import build_event
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, dead_letter, source

WHERE = source("kafka", "articles", topic="articles", partition=3, offset=17, guid="key-1")
FETCHED = 1_795_000_000_000


def _json(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_json_article_with_every_field():
    raw = article_from_json(_json(
        url="https://example.org/a/1", outlet="Nordic Wire", guid="urn:1", title="Hi",
        summary="<b>lead</b>", content="<p>body</p>", authors=["A", "B"],
        published="2026-11-21T09:30:00Z", updated=1_795_000_000_000, language="en",
        media_urls=["https://example.org/i.jpg"], unknown_field=1), WHERE, FETCHED)
    assert raw.source == {**WHERE, "outlet": "Nordic Wire", "guid": "urn:1"}
    assert (raw.url, raw.title, raw.summary, raw.content) == (
        "https://example.org/a/1", "Hi", "<b>lead</b>", "<p>body</p>")
    assert raw.authors == ["A", "B"] and raw.media_urls == ["https://example.org/i.jpg"]
    assert raw.published_ms == 1_795_253_400_000 and raw.updated_ms == 1_795_000_000_000
    assert raw.fetched_ms == FETCHED and raw.language_hint == "en" and raw.date_note is None


def test_json_article_minimal_uses_the_message_key_as_guid():
    raw = article_from_json(_json(url="https://e.org/x", outlet="O", authors="Solo"),
                            WHERE, FETCHED)
    assert raw.source["guid"] == "key-1" and raw.authors == ["Solo"] and raw.title == ""


def test_unreadable_date_is_dropped_with_a_note_not_rejected():
    raw = article_from_json(_json(url="https://e.org/x", outlet="O", published="yesterday"),
                            WHERE, FETCHED)
    assert raw.published_ms is None and "unreadable published date" in raw.date_note


@pytest.mark.parametrize(("value", "error_type"), [
    (None, "null_value"),
    (b"{not json", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b"[1, 2]", "wrong_schema"),
    (_json(outlet="O"), "missing_field"),
    (_json(url="https://e.org/x"), "missing_field"),
    (_json(url="", outlet="O"), "wrong_type"),
    (_json(url="https://e.org/x", outlet="O", title=5), "wrong_type"),
    (_json(url="https://e.org/x", outlet="O", authors=[1]), "wrong_type"),
    (b" " * (5 * 1024 * 1024), "message_too_large"),
])
def test_bad_json_messages_say_why(value, error_type):
    with pytest.raises(BadMessage) as caught:
        article_from_json(value, WHERE, FETCHED)
    assert caught.value.error_type == error_type


#: Input that makes the JSON decoder itself fail: error type = the exception's class name.
POISON_JSON = {
    "RecursionError": b"[" * 100_000,
    "ValueError": b'{"url": "https://e.org/x", "outlet": "O", "published": 1' + b"0" * 5000
                  + b"}",
    "UnicodeEncodeError": b'{"url": "https://e.org/x", "outlet": "O", "title": "\\ud800"}',
}


@pytest.mark.parametrize("error_type", POISON_JSON)
def test_input_that_breaks_the_decoder_is_a_bad_message_named_after_the_exception(error_type):
    with pytest.raises(BadMessage) as caught:
        article_from_json(POISON_JSON[error_type], WHERE, FETCHED)
    assert caught.value.error_type == error_type
    assert caught.value.reason.startswith(f"message: {error_type} while reading")
    assert len(caught.value.reason) < 300


class _Exhausting(bytes):
    """A value whose decoding runs out of memory."""

    def decode(self, *args, **kwargs):
        raise MemoryError


def test_memory_error_while_decoding_is_a_bad_message():
    """Simulated: a real MemoryError needs a value far over the 1 MiB message limit or a
    process memory cap, so the value's own decode raises it, where json.loads decodes bytes."""
    with pytest.raises(BadMessage) as caught:
        article_from_json(_Exhausting(_json(url="https://e.org/x", outlet="O")), WHERE, FETCHED)
    assert caught.value.error_type == "MemoryError"
    assert caught.value.reason == "message: MemoryError while reading"


def test_a_huge_epoch_date_is_dropped_with_a_note_not_passed_to_the_sinks():
    raw = article_from_json(_json(url="https://e.org/x", outlet="O", published=10**40),
                            WHERE, FETCHED)
    assert raw.published_ms is None and "out of range" in raw.date_note


def test_limit_is_exclusive():
    padded = _json(url="https://e.org/x", outlet="O", title="t")
    padded += b" " * (MAX_MESSAGE_BYTES - len(padded))
    assert article_from_json(padded, WHERE, FETCHED).title == "t"


def _event(**raw_fields) -> dict:
    raw = article_from_json(_json(url="https://e.org/x", outlet="O", title="T", content="Body",
                                  **raw_fields), WHERE, FETCHED)
    return build_event(raw)


def test_header_framing_round_trip_and_fingerprint():
    framing = Framing(ARTICLE_EVENT)
    event = _event(guid="g1", language="sv")
    headers = dict(framing.headers)
    assert headers[SCHEMA_HEADER] == b"article_event"
    assert headers[FINGERPRINT_HEADER] == schema_fingerprint(ARTICLE_EVENT).encode()
    assert len(schema_fingerprint(ARTICLE_EVENT)) == 16
    raw = article_from_avro(framing.frame(event), framing.headers, WHERE, FETCHED)
    assert build_event(raw)["event_id"] == event["event_id"]
    assert (raw.title, raw.content, raw.source["guid"]) == ("T", "Body", "g1")


def test_avro_with_a_foreign_fingerprint_or_no_framing_is_a_dead_letter():
    value = Framing(ARTICLE_EVENT).frame(_event())
    with pytest.raises(BadMessage) as caught:
        article_from_avro(value, [(FINGERPRINT_HEADER, b"0123456789abcdef")], WHERE, FETCHED)
    assert caught.value.error_type == "unknown_schema"
    with pytest.raises(BadMessage) as caught:
        article_from_avro(b"\x02" + value, [], WHERE, FETCHED)
    assert caught.value.error_type == "unknown_schema"
    with pytest.raises(BadMessage) as caught:
        article_from_avro(b"\x00\x00\x00\x00\x01\x99", [], WHERE, FETCHED)
    assert caught.value.error_type == "invalid_avro"
    with pytest.raises(BadMessage) as caught:  # a Kafka header may have a null value
        article_from_avro(value, [(FINGERPRINT_HEADER, None)], WHERE, FETCHED)
    assert caught.value.error_type == "AttributeError"


def test_unreachable_registry_is_a_clear_error():
    with pytest.raises(SchemaRegistryError, match=r"127\.0\.0\.1:9"):
        Framing.for_topic(ARTICLE_EVENT, "events", "http://127.0.0.1:9")


def test_keys_keep_an_article_with_its_duplicates_and_a_partition_with_its_failures():
    event = _event(guid="g1")
    duplicate = {**_event(guid="g2"), "dedup": {**event["dedup"], "is_duplicate": True,
                                                 "duplicate_of": event["event_id"]}}
    assert event_key(event) == event_key(duplicate) == event["event_id"].encode()
    letter = dead_letter("read", "bad", "invalid_json", b"x", WHERE)
    assert dead_letter_key(letter) == b"articles/3"
    assert Framing(DEAD_LETTER).frame(letter)


def test_json_written_by_replay_reads_back_the_same():
    raw = article_from_json(_json(url="https://e.org/x", outlet="O", guid="g", title="T",
                                  published=1_795_000_000_000), WHERE, FETCHED)
    again = article_from_json(article_to_json(raw), WHERE, FETCHED)
    assert again == raw
