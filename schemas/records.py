"""The records wirewatch passes around and writes, defined once.

The ``.avsc`` files beside this module are the definition of what wirewatch writes. Inside the
pipeline an article event or a dead letter is a plain ``dict`` in exactly that Avro shape, with
timestamps as int epoch milliseconds, so it goes to fastavro unchanged and Beam encodes it
cheaply. ``RawArticle`` is the one in-memory shape that connectors hand to ``Normalise``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.validation import validate

from wirewatch import __version__

__all__ = [
    "ARTICLE_EVENT",
    "DEAD_LETTER",
    "FEED_HEALTH",
    "LINKED_BY",
    "OPENING",
    "PAYLOAD_LIMIT",
    "RawArticle",
    "dead_letter",
    "decode",
    "encode",
    "from_avro",
    "is_valid",
    "parsed_schema",
    "read_records",
    "schema_path",
    "source",
    "story",
]

SCHEMA_DIR = Path(__file__).resolve().parent
ARTICLE_EVENT = "article_event"
DEAD_LETTER = "dead_letter"
FEED_HEALTH = "feed_health"

#: Dead letters keep at most this much of the raw input; ``payload_truncated`` says when cut.
PAYLOAD_LIMIT = 256 * 1024


def schema_path(name: str) -> Path:
    """Path of ``schemas/<name>.avsc``."""
    return SCHEMA_DIR / f"{name}.avsc"


@cache
def parsed_schema(name: str) -> dict:
    """The parsed (fastavro) schema called ``name``: ``article_event``, ``dead_letter`` or
    ``feed_health``; ``ValueError`` for any other name."""
    if name not in (ARTICLE_EVENT, DEAD_LETTER, FEED_HEALTH):
        raise ValueError(f"no schema called {name!r}: one of {ARTICLE_EVENT!r}, "
                         f"{DEAD_LETTER!r}, {FEED_HEALTH!r}")
    with schema_path(name).open(encoding="utf-8") as f:
        return fastavro.parse_schema(json.load(f))


@dataclass
class RawArticle:
    """An article as a connector read it, before normalisation.

    ``source`` is a dict in the Avro ``Source`` shape (see :func:`source`). Times are epoch
    milliseconds, UTC; ``None`` where the source gave none. ``date_note`` says why a date the
    source did give was dropped (unparseable, absurd), so ``Normalise`` can record it.
    """

    source: dict
    url: str
    title: str = ""
    summary: str = ""
    content: str = ""
    authors: list[str] = field(default_factory=list)
    published_ms: int | None = None
    updated_ms: int | None = None
    fetched_ms: int = 0
    language_hint: str | None = None
    media_urls: list[str] = field(default_factory=list)
    date_note: str | None = None


def source(
    kind: str,
    outlet: str,
    *,
    feed_url: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    guid: str | None = None,
    path: str | None = None,
) -> dict:
    """A ``Source`` record: where an article or a failure came from."""
    if kind not in ("rss", "kafka", "file"):
        raise ValueError(f"source kind must be 'rss', 'kafka' or 'file', not {kind!r}")
    return {
        "kind": kind,
        "outlet": outlet,
        "feed_url": feed_url,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "guid": guid,
        "path": path,
    }


def _symbols(name: str) -> tuple[str, ...]:
    """The symbols of the enum ``name`` in ``article_event.avsc`` (its one definition)."""
    with schema_path(ARTICLE_EVENT).open(encoding="utf-8") as f:
        pending = [json.load(f)]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "enum" and node.get("name") == name:
                return tuple(node["symbols"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    raise ValueError(f"no enum {name!r} in {ARTICLE_EVENT}.avsc")


#: How an article came into its story: the symbols of ``StoryLinkedBy``.
LINKED_BY = _symbols("StoryLinkedBy")
#: The ``linked_by`` of an article that opened a story (its first, or a capped story's
#: successor) rather than joined one.
OPENING = ("first", "capped")


def story(story_id: str, linked_by: str, similarity: float) -> dict:
    """A ``Story`` record: the story an article is in, how it got there, and how similar."""
    if linked_by not in LINKED_BY:
        raise ValueError(f"linked_by must be one of {LINKED_BY}, not {linked_by!r}")
    return {"story_id": story_id, "linked_by": linked_by, "similarity": float(similarity)}


def now_ms() -> int:
    return int(time.time() * 1000)


def dead_letter(
    stage: str,
    reason: str,
    error_type: str,
    payload: bytes | str,
    source: Mapping[str, Any],
    *,
    event_id: str | None = None,
    time_ms: int | None = None,
) -> dict:
    """A ``DeadLetter`` record; ``payload`` is kept up to :data:`PAYLOAD_LIMIT` bytes."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    return {
        "schema_version": 1,
        "stage": stage,
        "reason": reason,
        "error_type": error_type,
        "payload": bytes(payload[:PAYLOAD_LIMIT]),
        "payload_truncated": len(payload) > PAYLOAD_LIMIT,
        "source": dict(source),
        "event_id": event_id,
        "time": now_ms() if time_ms is None else time_ms,
        "pipeline_version": __version__,
    }


def is_valid(record: Mapping[str, Any], name: str) -> bool:
    """True if ``record`` fits schema ``name``; else ``ValidationError`` naming the field."""
    return validate(record, parsed_schema(name), raise_errors=True)


def encode(record: Mapping[str, Any], name: str) -> bytes:
    """Schemaless Avro binary of ``record`` (for Kafka values; the framing is the sink's job)."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema(name), record)
    return buf.getvalue()


def decode(data: bytes, name: str, writer: dict | None = None) -> dict:
    """Inverse of :func:`encode`, with timestamps back as epoch milliseconds.

    ``writer`` is the (parsed) schema the bytes were written with when that is not ``name``'s
    own, say a newer version of it: Avro's schema resolution then reads them in ``name``'s
    shape (fields the writer lacks take their defaults, fields only the writer has are
    skipped), and raises ``fastavro``'s ``SchemaResolutionError`` when it cannot.
    """
    reader = parsed_schema(name)
    return from_avro(fastavro.schemaless_reader(io.BytesIO(data), writer or reader,
                                                reader if writer else None))


def from_avro(record: Any) -> Any:
    """A record as fastavro reads it, with ``datetime`` values turned back into epoch millis.

    fastavro returns timestamp-millis fields as aware datetimes; inside wirewatch they are ints,
    so a record read back compares equal to the one written.
    """
    if isinstance(record, dict):
        return {k: from_avro(v) for k, v in record.items()}
    if isinstance(record, list):
        return [from_avro(v) for v in record]
    if isinstance(record, datetime):
        return round(record.timestamp() * 1000)
    return record


def read_records(paths: Iterable[str | Path]) -> Iterator[tuple[str, dict]]:
    """Yield ``(schema name, record)`` from Avro container files, whichever wirewatch schema."""
    for path in paths:
        with open(path, "rb") as f:
            reader = fastavro.reader(f)
            name = reader.writer_schema.get("name", "")
            kind = {"io.wirewatch.events.ArticleEvent": ARTICLE_EVENT,
                    "io.wirewatch.events.DeadLetter": DEAD_LETTER,
                    "io.wirewatch.events.FeedHealth": FEED_HEALTH}.get(name, name)
            for record in reader:
                yield kind, from_avro(record)
