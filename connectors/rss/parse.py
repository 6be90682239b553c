"""Feed bytes to ``RawArticle``: feedparser parses, it never fetches.

Pure logic (no Beam): the sources in ``source.py`` call :func:`parse_feed`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field

import feedparser

from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.schedule import publisher_interval_s
from wirewatch.core.authors import author_names
from wirewatch.schemas.records import RawArticle, dead_letter, source

__all__ = ["ParsedFeed", "entity_expansion_bytes", "parse_feed"]

#: Most bytes a document's own entity declarations may expand to (billion laughs, quadratic
#: blowup). Real feeds declare a few one-character entities, if any.
MAX_ENTITY_EXPANSION = 1024 * 1024

# The prolog is everything before the first element; entity declarations can only live there.
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s>]+)\s+(?:\"([^\"]*)\"|'([^']*)'|[^>]*)", re.I)


@dataclass
class ParsedFeed:
    """What one feed document gave: articles, and dead letters for what could not be read."""

    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    #: ``None`` if the document was read as a feed; else the reason code of the dead letter.
    error: str | None = None
    #: The shortest poll interval the publisher asks for (``ttl``, ``sy:updatePeriod``), seconds.
    publisher_interval_s: float | None = None


def entity_expansion_bytes(data: bytes) -> int:
    """Worst-case bytes the document's internal entity declarations expand to.

    An entity whose value refers to another entity or parameter entity counts as unbounded
    (that nesting is how billion laughs grows); otherwise each declared value counts once per
    reference in the document. External entities are never fetched (feedparser turns them
    off), so they count as nothing.
    """
    match = _FIRST_ELEMENT.search(data)
    prolog = data[:match.start()] if match else data
    if b"<!ENTITY" not in prolog.upper():
        return 0
    total = 0
    for decl in _ENTITY_DECL.finditer(prolog):
        parameter, name = decl.group(1), decl.group(2)
        value = decl.group(3) if decl.group(3) is not None else decl.group(4)
        if value is None:
            continue
        if parameter or b"&" in value or b"%" in value:
            return MAX_ENTITY_EXPANSION + 1
        total += len(value) * data.count(b"&" + name + b";")
    return total


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


def _link(entry: feedparser.FeedParserDict) -> str:
    """The item's own page: the first ``alternate`` link; feedparser's ``link`` can end up as an
    enclosure (an image) when the enclosure's element has text."""
    for link in entry.get("links", ()):
        if link.get("rel") == "alternate" and link.get("href"):
            return link["href"]
    return entry.get("link", "")


def _authors(entry: feedparser.FeedParserDict) -> list[str]:
    """The entry's author names, read by ``core.authors`` from the author strings.

    feedparser's per-author ``name`` is cut wrong for an RSS ``<author>`` whose address has a
    top-level domain longer than 4 letters, so the last author is read from ``entry.author``:
    the raw text of an RSS ``<author>``/``dc:creator``, or ``name (email)`` rebuilt from an Atom
    ``<author>``'s elements. Earlier authors (Atom's ``<name>``, further ``dc:creator``s) come
    from feedparser's ``name``, which for those is the element's text. RSS 2.0 allows one
    ``<author>`` per item; where a feed has several with addresses, only the last one's raw
    text survives feedparser, so the earlier ones are read from feedparser's cut.
    """
    details = entry.get("authors") or [{}]
    return author_names([*(d.get("name") for d in details[:-1]),
                         dict.get(entry, "author") or details[-1].get("name")])


def _media_urls(entry: feedparser.FeedParserDict) -> list[str]:
    urls = [link.get("href") for link in entry.get("links", ()) if link.get("rel") == "enclosure"]
    urls += [m.get("url") for m in entry.get("media_content", ())]
    return list(dict.fromkeys(u for u in urls if u))


def parse_feed(data: bytes, feed: FeedSpec, fetched_ms: int, *,
               content_type: str | None = None, base_url: str | None = None) -> ParsedFeed:
    """Parse one feed document.

    A document that is not a feed at all (no entries and a parse error, or HTML) becomes one dead
    letter carrying the bytes. A feed with recoverable errors still gives its entries. Item
    problems (no link, no text) are left to ``Normalise``, which has the whole item in hand.
    ``content_type`` is the HTTP header (its charset counts when the document declares none) and
    ``base_url`` the URL the bytes came from (relative links resolve against it).
    """
    feed_source = source("rss", feed.outlet, feed_url=feed.url)
    if not data.strip():
        return _broken(data, feed_source, "empty_feed", "feed document is empty")
    expansion = entity_expansion_bytes(data)
    if expansion > MAX_ENTITY_EXPANSION:
        return _broken(data, feed_source, "entity_expansion",
                       f"entity declarations expand to over {MAX_ENTITY_EXPANSION} bytes "
                       "(billion laughs or quadratic blowup): not parsed")
    # Headers only with a Content-Type: feedparser flags their absence as an error (bozo).
    headers = ({"content-type": content_type, "content-location": base_url or feed.url}
               if content_type else None)
    # Bytes, never str: feedparser takes a str as a URL or file name and would fetch it.
    parsed = feedparser.parse(data, response_headers=headers)
    if parsed.bozo and not parsed.entries:
        kind = type(parsed.get("bozo_exception")).__name__
        return _broken(data, feed_source, "malformed_feed",
                       f"not a readable RSS/Atom feed: {kind}: {parsed.get('bozo_exception')}")
    if not parsed.version and not parsed.entries:
        return _broken(data, feed_source, "not_a_feed", "document is not RSS or Atom")

    language = feed.language or parsed.feed.get("language") or None
    result = ParsedFeed(publisher_interval_s=publisher_interval_s(
        parsed.feed.get("ttl"), parsed.feed.get("sy_updateperiod"),
        parsed.feed.get("sy_updatefrequency")))
    for entry in parsed.entries:
        published, published_note = _millis(entry, "published")
        updated, updated_note = _millis(entry, "updated")
        content = entry.get("content") or ()
        result.articles.append(RawArticle(
            source={**feed_source, "guid": entry.get("id") or None},
            url=_link(entry),
            title=entry.get("title", ""),
            summary=entry.get("summary", ""),
            content=content[0].get("value", "") if content else "",
            authors=_authors(entry),
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
