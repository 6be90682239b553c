"""From a connector's ``RawArticle`` to an article event in the Avro shape.

This is the normalisation logic: canonical URL, clean text, event time, stable id. The Beam step
``wirewatch.pipelines.normalise.Normalise`` applies it and turns :class:`Rejected` into a dead
letter.
"""

from __future__ import annotations

from wirewatch import __version__
from wirewatch.core.ids import event_id
from wirewatch.core.text import clean_html, content_hash
from wirewatch.core.urls import InvalidUrl, canonical_url
from wirewatch.schemas.records import RawArticle

__all__ = ["EARLIEST_CREDIBLE_MS", "FUTURE_TOLERANCE_MS", "Rejected", "build_event"]

#: Dates before this (1990-01-01 UTC) are taken as broken, not as old news.
EARLIEST_CREDIBLE_MS = 631_152_000_000
#: How far a declared date may lie after the fetch time (clock skew, time zones declared wrong).
FUTURE_TOLERANCE_MS = 24 * 3600 * 1000


class Rejected(ValueError):
    """The article cannot become an event; ``error_type`` is a short reason code."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


def _credible(name: str, value: int | None, fetched_ms: int, notes: list[str]) -> int | None:
    if value is None:
        return None
    if value < EARLIEST_CREDIBLE_MS:
        notes.append(f"{name} date before 1990: ignored")
        return None
    if value > fetched_ms + FUTURE_TOLERANCE_MS:
        notes.append(f"{name} date more than a day after fetch time: ignored")
        return None
    return value


def build_event(raw: RawArticle) -> dict:
    """The article event for ``raw``, with dedup, language, topics and story still unset.

    Raises :class:`Rejected` when the item has no usable link or no text at all.
    """
    guid = raw.source.get("guid")
    link = raw.url or (guid if guid and guid.startswith(("http://", "https://")) else "")
    if not link:
        raise Rejected("missing_link", "item has no link (and its guid is not a URL)")
    try:
        canonical = canonical_url(link)
    except InvalidUrl as e:
        raise Rejected("invalid_link", str(e)) from None

    title = clean_html(raw.title)
    summary = clean_html(raw.summary)
    body = clean_html(raw.content)
    if body == summary:  # many feeds repeat the summary as content
        body = ""
    if not (title or summary or body):
        raise Rejected("empty_item", "item has neither title nor text")

    notes = [raw.date_note] if raw.date_note else []
    if not title:
        notes.append("item has no title")
    published = _credible("published", raw.published_ms, raw.fetched_ms, notes)
    # feeds often repeat the published date as the updated one: judge (and note) it once
    updated = (published if raw.updated_ms == raw.published_ms
               else _credible("updated", raw.updated_ms, raw.fetched_ms, notes))
    if published is not None:
        event_time, event_time_source = published, "published"
    elif updated is not None:
        event_time, event_time_source = updated, "updated"
    else:
        event_time, event_time_source = raw.fetched_ms, "fetched"

    digest = content_hash(title, summary, body)
    outlet = raw.source["outlet"]
    return {
        "schema_version": 1,
        "event_id": event_id(outlet, guid or canonical),
        "source": dict(raw.source),
        "url": link,
        "canonical_url": canonical,
        "title": title,
        "summary": summary,
        "body": body,
        "authors": [a for a in (clean_html(a) for a in raw.authors) if a],
        "media_urls": list(raw.media_urls),
        "published_time": published,
        "updated_time": updated,
        "fetched_time": raw.fetched_ms,
        "event_time": event_time,
        "event_time_source": event_time_source,
        "notes": notes,
        "language": {"code": "und", "confidence": 0.0, "method": ""},
        "topics": [],
        "topics_tagger": None,
        "dedup": {
            "content_hash": digest,
            "is_duplicate": False,
            "duplicate_of": None,
            "similarity": None,
            "method": None,
        },
        "pipeline_version": __version__,
        "language_hint": raw.language_hint,
        "story": None,
    }
