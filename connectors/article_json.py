"""The JSON article format, read by the Kafka source and the JSON-lines file source. No Beam.

One UTF-8 JSON object per message or line::

    {
      "url": "https://example.org/a/1",        required, string
      "outlet": "Nordic Wire",                 required, string
      "guid": "urn:nw:1",                      optional; else the source's own id, if any
      "title": "...", "summary": "...",        optional strings (HTML allowed)
      "content": "<p>...</p>",                 optional string, HTML or text
      "authors": ["A. Writer"],                optional, list of strings (or one string)
      "published": "2026-11-21T09:30:00Z",     optional, ISO 8601 or int epoch millis
      "updated": 1795260604731,                optional, same
      "language": "en",                        optional hint
      "media_urls": ["https://..."]            optional, list of strings
    }

Unknown fields are ignored. A date that cannot be read is dropped with a ``date_note`` (as
for feeds), not rejected. Every way an object can be wrong raises :class:`BadArticle` with a
short ``error_type`` (``invalid_json``, ``wrong_schema``, ``missing_field``, ``wrong_type``);
any other exception while reading one (``RecursionError`` from deeply nested arrays,
``MemoryError``, ``ValueError`` from an integer of 5,000 digits, ...) raises
:class:`BadArticle` too, its ``error_type`` the exception's class name: bad bytes are data for
the dead letters, never a failed job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from wirewatch.schemas.records import RawArticle

__all__ = ["BadArticle", "article_from_json", "article_to_json", "failure"]

_STRINGS = ("title", "summary", "content", "language", "guid")
_REASON_CHARS = 200
# Epoch millis of years 1 and 9999: what a datetime (and the Avro long after it) can hold.
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_799_999


class BadArticle(ValueError):
    """Bytes that cannot become an article; they go to the dead letters, not up the stack."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


def _millis(record: Mapping[str, Any], key: str) -> tuple[int | None, str | None]:
    value = record.get(key)
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        if not _MIN_MS <= value <= _MAX_MS:
            return None, f"{key} {value} is out of range: ignored"
        return value, None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None, f"unreadable {key} date {value!r}: ignored"
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return round(parsed.timestamp() * 1000), None
    return None, f"unreadable {key} date {value!r}: ignored"


def _string_list(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise BadArticle("wrong_type", f"field {key!r} must be a list of strings")


def article_from_json(value: bytes | str, source: dict, fetched_ms: int) -> RawArticle:
    """The ``RawArticle`` in one JSON article (format in the module docstring).

    ``source`` is the ``Source`` record of where the bytes came from; its ``guid`` (e.g. the
    Kafka message key) is used when the JSON has none. Raises only :class:`BadArticle`.
    """
    try:
        return _article(value, source, fetched_ms)
    except BadArticle:
        raise
    except Exception as e:  # whatever the bytes make the decoder do is a bad article
        raise BadArticle(type(e).__name__, failure(e)) from None


def failure(e: BaseException) -> str:
    """A short reason for an unexpected exception: its class and the start of its message."""
    message = str(e)
    if len(message) > _REASON_CHARS:
        message = message[:_REASON_CHARS] + "..."
    return f"{type(e).__name__} while reading: {message}" if message else \
        f"{type(e).__name__} while reading"


def _article(value: bytes | str, source: dict, fetched_ms: int) -> RawArticle:
    try:
        record = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadArticle("invalid_json", f"not JSON: {e}") from None
    if not isinstance(record, dict):
        raise BadArticle("wrong_schema",
                         f"JSON {type(record).__name__}, not an article object")
    for key in ("url", "outlet"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            if record.get(key) is None:
                raise BadArticle("missing_field", f"required field {key!r} is missing")
            raise BadArticle("wrong_type", f"field {key!r} must be a non-empty string")
    for key in _STRINGS:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise BadArticle("wrong_type", f"field {key!r} must be a string")
    published, published_note = _millis(record, "published")
    updated, updated_note = _millis(record, "updated")
    notes = [n for n in (published_note, updated_note) if n]
    article = RawArticle(
        source={**source, "outlet": record["outlet"], "guid": record.get("guid") or source["guid"]},
        url=record["url"],
        title=record.get("title") or "",
        summary=record.get("summary") or "",
        content=record.get("content") or "",
        authors=_string_list(record, "authors"),
        published_ms=published,
        updated_ms=updated,
        fetched_ms=fetched_ms,
        language_hint=record.get("language"),
        media_urls=_string_list(record, "media_urls"),
        date_note="; ".join(notes) or None,
    )
    # JSON's "\ud800" escapes give lone surrogates, which no sink can write as UTF-8: refuse
    # them here (UnicodeEncodeError), where the bad input is still at hand.
    for text in (article.url, article.title, article.summary, article.content,
                 article.source["outlet"], article.source["guid"] or "",
                 article.language_hint or "", *article.authors, *article.media_urls):
        text.encode("utf-8")
    return article


def article_to_json(article: RawArticle) -> bytes:
    """A ``RawArticle`` as one JSON article that :func:`article_from_json` reads back."""
    record = {
        "url": article.url,
        "outlet": article.source["outlet"],
        "guid": article.source.get("guid"),
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "authors": article.authors,
        "published": article.published_ms,
        "updated": article.updated_ms,
        "language": article.language_hint,
        "media_urls": article.media_urls,
    }
    return json.dumps({k: v for k, v in record.items() if v not in (None, "", [])},
                      ensure_ascii=False).encode()
