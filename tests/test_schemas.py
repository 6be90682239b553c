import json

import fastavro
import pytest
from fastavro.validation import ValidationError

from wirewatch.schemas import records
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER

SCHEMAS = (ARTICLE_EVENT, DEAD_LETTER)


def _load(name):
    return json.loads(records.schema_path(name).read_text(encoding="utf-8"))


def _fields(schema):
    """Every (path, field) in a schema, nested records included."""
    for field in schema["fields"]:
        yield field
        types = field["type"] if isinstance(field["type"], list) else [field["type"]]
        for t in types:
            if isinstance(t, dict) and t.get("type") == "record":
                yield from _fields(t)
            if isinstance(t, dict) and t.get("type") == "array" and isinstance(t["items"], dict):
                yield from _fields(t["items"])


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_documented_versioned_and_namespaced(name):
    schema = _load(name)
    assert schema["namespace"] == "io.wirewatch.events"
    assert schema["wirewatch.schema_version"] == 1
    undocumented = [f["name"] for f in _fields(schema) if not f.get("doc")]
    assert undocumented == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_timestamps_are_timestamp_millis(name):
    text = records.schema_path(name).read_text()
    for field in _fields(_load(name)):
        if field["name"].endswith("time"):
            assert "timestamp-millis" in json.dumps(field["type"]), field["name"]
    assert "timestamp-micros" not in text


def test_source_is_one_definition_in_both_files():
    def source(name):
        return next(f["type"] for f in _load(name)["fields"] if f["name"] == "source")
    assert source(ARTICLE_EVENT) == source(DEAD_LETTER)


def _event():
    return {
        "schema_version": 1, "event_id": "0" * 32,
        "source": records.source("kafka", "Wire", topic="articles", partition=3, offset=42),
        "url": "https://x.example/a", "canonical_url": "https://x.example/a", "title": "T",
        "summary": "", "body": "b", "authors": ["A"], "media_urls": [],
        "published_time": 1763450000000, "updated_time": None, "fetched_time": 1763450001000,
        "event_time": 1763450000000, "event_time_source": "published", "notes": [],
        "language": {"code": "en", "confidence": 0.99, "method": "test"},
        "topics": [{"code": "medtop:15000000", "label": "sport", "score": 0.5}],
        "topics_tagger": "test",
        "dedup": {"content_hash": "ab", "is_duplicate": True, "duplicate_of": "1" * 32,
                  "similarity": 0.75, "method": "near"},
        "pipeline_version": "0.1.0", "language_hint": "en-GB",
        "story": records.story("1" * 32, "duplicate", 1.0),
    }


def test_article_event_round_trip_binary_and_container(tmp_path):
    event = _event()
    assert records.is_valid(event, ARTICLE_EVENT)
    assert records.decode(records.encode(event, ARTICLE_EVENT), ARTICLE_EVENT) == event
    path = tmp_path / "e.avro"
    with path.open("wb") as f:
        fastavro.writer(f, records.parsed_schema(ARTICLE_EVENT), [event])
    assert list(records.read_records([path])) == [(ARTICLE_EVENT, event)]


def test_dead_letter_round_trip_and_truncation():
    big = b"x" * (records.PAYLOAD_LIMIT + 1)
    letter = records.dead_letter("parse", "bad", "malformed_feed", big,
                                 records.source("rss", "O", feed_url="https://o.example/f"))
    assert letter["payload_truncated"] and len(letter["payload"]) == records.PAYLOAD_LIMIT
    assert records.decode(records.encode(letter, DEAD_LETTER), DEAD_LETTER) == letter


def test_invalid_record_names_the_field():
    event = _event()
    event["dedup"]["is_duplicate"] = "yes"
    with pytest.raises(ValidationError, match="is_duplicate"):
        records.is_valid(event, ARTICLE_EVENT)


def test_unknown_source_kind_is_refused():
    with pytest.raises(ValueError, match="'rss', 'kafka' or 'file'"):
        records.source("ftp", "O")


def test_old_reader_can_read_new_records_with_added_optional_field():
    """The evolution rule of schemas/README.md: new fields are optional with a default."""
    new = _load(ARTICLE_EVENT)
    new["fields"].append({"name": "extra", "type": ["null", "string"], "default": None,
                          "doc": "added later"})
    old = _load(ARTICLE_EVENT)
    event = _event()
    import io
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(new), {**event, "extra": "x"})
    buf.seek(0)
    read = fastavro.schemaless_reader(buf, fastavro.parse_schema(new), fastavro.parse_schema(old))
    assert records.from_avro(read) == event
    buf.seek(0)
    plain = records.encode(event, ARTICLE_EVENT)
    upgraded = fastavro.schemaless_reader(__import__("io").BytesIO(plain),
                                          fastavro.parse_schema(old), fastavro.parse_schema(new))
    assert upgraded["extra"] is None


def _without_story():
    """``article_event.avsc`` as it was before the story field was appended."""
    old = _load(ARTICLE_EVENT)
    old["fields"] = [f for f in old["fields"] if f["name"] != "story"]
    return fastavro.parse_schema(old)


def test_story_field_follows_the_evolution_rule_both_ways():
    import io
    event = _event()
    older = {k: v for k, v in event.items() if k != "story"}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, _without_story(), older)
    # A record written before stories existed reads with no story ...
    assert records.decode(buf.getvalue(), ARTICLE_EVENT, writer=_without_story()) == {
        **older, "story": None}
    # ... and an old reader skips the story of a new one.
    read = fastavro.schemaless_reader(io.BytesIO(records.encode(event, ARTICLE_EVENT)),
                                      records.parsed_schema(ARTICLE_EVENT), _without_story())
    assert records.from_avro(read) == older


def test_story_record_takes_only_the_schemas_linked_by_symbols():
    assert records.LINKED_BY == ("first", "names", "duplicate", "capped")
    assert records.story("a" * 32, "names", 0.4) == {
        "story_id": "a" * 32, "linked_by": "names", "similarity": 0.4}
    with pytest.raises(ValueError, match="linked_by must be one of"):
        records.story("a" * 32, "guessed", 0.4)
