"""Article events and dead letters made to order, valid against the schemas, for tests."""

from __future__ import annotations

import io
import json
import struct

import fastavro

from wirewatch.core.article import build_event
from wirewatch.schemas.records import (
    ARTICLE_EVENT,
    RawArticle,
    dead_letter,
    is_valid,
    schema_path,
    source,
    story,
)


def article_event(guid: str, *, outlet: str = "Nordic Wire", language: str = "en",
                  published_ms: int | None = 1_795_000_000_000, duplicate_of: str | None = None,
                  topics: tuple[tuple[str, str], ...] = (),
                  story_of: tuple[str, str] | None = None) -> dict:
    """A tagged article event; ``duplicate_of`` marks it an exact-content duplicate,
    ``story_of`` = (story_id, linked_by) puts it in a story (else it has none, as a record
    written before the link step)."""
    raw = RawArticle(source=source("rss", outlet, feed_url="https://nw.example/rss", guid=guid),
                     url=f"https://nw.example/{guid}", title=f"Story {guid}",
                     summary="A story.", published_ms=published_ms,
                     fetched_ms=(published_ms or 1_795_000_000_000) + 1000)
    event = build_event(raw)
    event["language"] = {"code": language, "confidence": 0.99, "method": "test"}
    event["topics"] = [{"code": code, "label": label, "score": 0.5} for code, label in topics]
    event["topics_tagger"] = "test" if topics else None
    if duplicate_of:
        event["dedup"] = {**event["dedup"], "is_duplicate": True, "duplicate_of": duplicate_of,
                          "similarity": 1.0, "method": "exact_content"}
    if story_of:
        event["story"] = story(*story_of, 1.0)
    assert is_valid(event, "article_event")
    return event


def failed(stage: str, error_type: str, *, time_ms: int = 1_795_000_000_000,
           outlet: str = "Broken Feed") -> dict:
    """A dead letter from ``stage`` with ``error_type``, from an RSS feed of ``outlet``."""
    letter = dead_letter(stage, f"{error_type} happened", error_type, b"<html>",
                         source("rss", outlet, feed_url="https://broken.example/rss"),
                         time_ms=time_ms)
    assert is_valid(letter, "dead_letter")
    return letter


def article_event_schema() -> dict:
    """wirewatch's article-event schema as JSON, a copy to change into another writer's."""
    return json.loads(schema_path(ARTICLE_EVENT).read_text(encoding="utf-8"))


def confluent_framed(schema_id: int, schema: dict, record: dict) -> bytes:
    """``record`` as a writer with ``schema`` registered under ``schema_id`` frames it."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return struct.pack(">bI", 0, schema_id) + out.getvalue()
