"""Feed bytes to ``RawArticle``: feedparser parses, it never fetches.

Pure logic (no Beam): the sources in ``source.py`` call :func:`parse_feed`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

import feedparser

from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.schemas.records import RawArticle, dead_letter, source

__all__ = ["ParsedFeed", "parse_feed"]


@dataclass
class ParsedFeed:
    """What one feed document gave: articles, and dead letters for what could not be read."""

    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    #: ``None`` if the document was read as a feed; else the reason code of the dead letter.
    error: str | None = None


def _millis(entry: feedparser.FeedParserDict, key: str) -> tuple[int | None, str | None]:
    """Epoch millis of ``entry[key]`` and, if the source gave a date we cannot read, a note."""
    # dict.get, not entry.get: FeedParserDict quietly answers 'updated' with the published date
    parsed = dict.get(entry, f"{key}_parsed")
    if parsed:
        return calendar.timegm(parsed) * 1000, None  # feedparser already converted to UTC
    text = dict.get(entry, key)
    if text:
        return None, f"unreadable {key} date {text!r}: ignored"
    return None, None


def _media_urls(entry: feedparser.FeedParserDict) -> list[str]:
    urls = [link.get("href") for link in entry.get("links", ()) if link.get("rel") == "enclosure"]
    urls += [m.get("url") for m in entry.get("media_content", ())]
    return list(dict.fromkeys(u for u in urls if u))


def parse_feed(data: bytes, feed: FeedSpec, fetched_ms: int) -> ParsedFeed:
    """Parse one feed document.

    A document that is not a feed at all (no entries and a parse error, or HTML) becomes one dead
    letter carrying the bytes. A feed with recoverable errors still gives its entries. Item
    problems (no link, no text) are left to ``Normalise``, which has the whole item in hand.
    """
    feed_source = source("rss", feed.outlet, feed_url=feed.url)
    if not data.strip():
        return _broken(data, feed_source, "empty_feed", "feed document is empty")
    # Bytes, never str: feedparser takes a str as a URL or file name and would fetch it.
    parsed = feedparser.parse(data)
    if parsed.bozo and not parsed.entries:
        kind = type(parsed.get("bozo_exception")).__name__
        return _broken(data, feed_source, "malformed_feed",
                       f"not a readable RSS/Atom feed: {kind}: {parsed.get('bozo_exception')}")
    if not parsed.version and not parsed.entries:
        return _broken(data, feed_source, "not_a_feed", "document is not RSS or Atom")

    language = feed.language or parsed.feed.get("language") or None
    result = ParsedFeed()
    for entry in parsed.entries:
        published, published_note = _millis(entry, "published")
        updated, updated_note = _millis(entry, "updated")
        content = entry.get("content") or ()
        result.articles.append(RawArticle(
            source={**feed_source, "guid": entry.get("id") or None},
            url=entry.get("link", ""),
            title=entry.get("title", ""),
            summary=entry.get("summary", ""),
            content=content[0].get("value", "") if content else "",
            authors=[a["name"] for a in entry.get("authors", ()) if a.get("name")],
            published_ms=published,
            updated_ms=updated,
            fetched_ms=fetched_ms,
            language_hint=language,
            media_urls=_media_urls(entry),
            date_note=published_note or updated_note,
        ))
    return result


def _broken(data: bytes, feed_source: dict, error_type: str, reason: str) -> ParsedFeed:
    return ParsedFeed(dead_letters=[dead_letter("parse", reason, error_type, data, feed_source)],
                      error=error_type)
