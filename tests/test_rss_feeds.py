"""Feeds as servers really serve them: hostile documents, real-world feeds, feedparser's suite.

Everything goes over HTTP from a real server on 127.0.0.1 through ``Poller`` (fetch + parse),
and for the corpora through the Beam pipeline (``PollFeeds | Normalise`` written to Avro).
"""

from __future__ import annotations

import codecs
import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import apache_beam as beam
import pytest

from tests.feedserver import FeedServer, Route, rss
from wirewatch.connectors.deadletter import DEAD_LETTERS, WriteDeadLetters
from wirewatch.connectors.files import WriteAvroFiles
from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.fetch import FetchConfig, Fetcher
from wirewatch.connectors.rss.health import HEALTH
from wirewatch.connectors.rss.poller import Poller
from wirewatch.connectors.rss.schedule import SchedulePolicy
from wirewatch.connectors.rss.source import PollFeeds
from wirewatch.core.article import Rejected, build_event
from wirewatch.pipelines.normalise import Normalise
from wirewatch.schemas.records import (
    ARTICLE_EVENT,
    DEAD_LETTER,
    FEED_HEALTH,
    is_valid,
    read_records,
)

XML = "application/xml"


@pytest.fixture(scope="module")
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture(scope="module")
def poller():
    return Poller(Fetcher(FetchConfig(max_body_bytes=2 * 1024 * 1024, total_timeout_s=5)),
                  SchedulePolicy())


def poll(server, poller, path, route, outlet="Test Outlet"):
    return poller.poll(FeedSpec(server.add(path, route), outlet))


# -- hostile and broken documents: what each gets ----------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://x.example/1</link></item></channel></rss>"""

QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
             b"<rss version=\"2.0\"><channel><title>t</title><item><title>"
             + b"&a;" * 50_000 + b"</title><link>https://x.example/1</link></item>"
             b"</channel></rss>")


def test_billion_laughs_is_refused_before_parsing(server, poller):
    out = poll(server, poller, "/lol", Route(body=BILLION_LAUGHS))
    assert out.health["outcome"] == "not_a_feed"
    assert out.health["error_kind"] == "entity_expansion" and not out.articles
    assert out.dead_letters[0]["error_type"] == "entity_expansion"


def test_quadratic_blowup_is_refused_before_parsing(server, poller):
    out = poll(server, poller, "/quad", Route(body=QUADRATIC))
    assert out.health["error_kind"] == "entity_expansion" and not out.articles


def test_a_few_harmless_entities_still_parse(server, poller):
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY copy "(c)">]><rss version="2.0">'
            b"<channel><title>t &copy;</title><item><title>Hello &copy;</title>"
            b"<link>https://x.example/1</link></item></channel></rss>")
    out = poll(server, poller, "/ents", Route(body=body))
    assert out.health["outcome"] == "new" and out.articles[0].title == "Hello (c)"


def test_malformed_xml_still_yields_the_items_it_can(server, poller):
    body = rss("Broken", [("a", "Fine item"), ("b", "Also fine")]).replace(b"</channel>", b"")
    out = poll(server, poller, "/malformed", Route(body=body))
    assert out.health["outcome"] == "new" and len(out.articles) == 2


def test_garbage_is_a_dead_letter_with_the_reason(server, poller):
    out = poll(server, poller, "/garbage", Route(body=b"\x00\x01<<<>>> not xml at all {"))
    assert out.health["outcome"] == "not_a_feed" and out.health["error_kind"]
    assert out.dead_letters[0]["stage"] == "parse" and out.dead_letters[0]["payload"]


def test_html_served_as_a_feed_is_a_dead_letter(server, poller):
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>hi</p></body></html>"
    out = poll(server, poller, "/html", Route(body=page,
                                             headers={"Content-Type": "text/html; charset=utf-8"}))
    assert out.health["outcome"] == "not_a_feed" and out.health["http_status"] == 200
    assert out.dead_letters and not out.articles


@pytest.mark.parametrize("body", [b"", b"   \n  "])
def test_empty_body_is_a_dead_letter(server, poller, body):
    out = poll(server, poller, f"/empty{len(body)}", Route(body=body))
    assert out.health["error_kind"] == "empty_feed" and out.dead_letters


def test_a_feed_without_items_is_healthy_and_empty(server, poller):
    out = poll(server, poller, "/noitems", Route(body=rss("Quiet", [])))
    assert out.health["outcome"] == "empty" and out.health["error_kind"] is None
    assert not out.articles and not out.dead_letters


def test_wrong_charset_in_the_header_loses_to_the_document(server, poller):
    body = ('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>t'
            "</title><item><title>Café déjà vu</title><link>https://x.example/c</link></item>"
            "</channel></rss>").encode("iso-8859-1")
    out = poll(server, poller, "/charset", Route(
        body=body, headers={"Content-Type": "application/rss+xml; charset=utf-8"}))
    assert out.articles and out.articles[0].title == "Café déjà vu"


def test_missing_charset_defaults_to_utf8(server, poller):
    body = ('<rss version="2.0"><channel><title>t</title><item><title>Ελληνικά νέα</title>'
            "<link>https://x.example/g</link></item></channel></rss>").encode()
    out = poll(server, poller, "/nocharset", Route(body=body, headers={"Content-Type": XML}))
    assert out.articles[0].title == "Ελληνικά νέα"


def test_items_without_link_or_title_become_normalise_dead_letters(server, poller):
    body = (b'<rss version="2.0"><channel><title>t</title>'
            b"<item><description>no link, no title</description></item>"
            b"<item><link>https://x.example/only-link</link></item>"
            b"<item><title>Has both</title><link>https://x.example/ok</link></item>"
            b"</channel></rss>")
    out = poll(server, poller, "/items", Route(body=body))
    assert len(out.articles) == 3
    verdicts = []
    for article in out.articles:
        try:
            build_event(article)
            verdicts.append("event")
        except Rejected as e:
            verdicts.append(e.error_type)
    assert verdicts == ["missing_link", "empty_item", "event"]


def test_relative_links_resolve_against_the_final_url(server, poller):
    body = (b'<rss version="2.0"><channel><title>t</title>'
            b"<item><title>Rel</title><link>/story/1</link></item></channel></rss>")
    server.add("/moved", Route(status=301, headers={"Location": "/site/feed"}))
    server.add("/site/feed", Route(body=body, headers={"Content-Type": XML}))
    out = poller.poll(FeedSpec(server.url("/moved"), "Rel"))
    assert out.articles[0].url == server.url("/story/1")
    assert out.health["final_url"] == server.url("/site/feed")


def test_authors_are_names_whatever_the_address_looks_like(server, poller):
    # feedparser cut the first one to "ple (Petra Schäfer" (it knows TLDs of 2-4 letters only)
    body = ('<?xml version="1.0" encoding="iso-8859-1"?>'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t'
            "</title>"
            "<item><title>A</title><link>https://a.example/1</link>"
            "<author>redaktion@abendpost.example (Petra Schäfer)</author></item>"
            "<item><title>B</title><link>https://a.example/2</link>"
            "<author>Max Muster &lt;max@muster.online&gt;</author></item>"
            "<item><title>C</title><link>https://a.example/3</link>"
            "<author>desk@wire.news</author></item>"
            "<item><title>D</title><link>https://a.example/4</link>"
            "<dc:creator>Anna Berg</dc:creator><dc:creator>Jonas Lind</dc:creator></item>"
            "</channel></rss>").encode("iso-8859-1")
    out = poll(server, poller, "/authors-rss", Route(body=body))
    assert [a.authors for a in out.articles] == [
        ["Petra Schäfer"], ["Max Muster"], [], ["Anna Berg", "Jonas Lind"]]


def test_atom_authors_are_their_name_elements(server, poller):
    # feedparser also gives the second <author> the first one's address, cut: no harm here
    body = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>t</title><id>f</id><updated>2026-03-02T10:00:00Z</updated>"
            "<entry><title>A</title><id>a</id><link href=\"https://a.example/1\"/>"
            "<updated>2026-03-02T10:00:00Z</updated>"
            "<author><name>Claire Dubois</name><email>claire@courrier.example</email></author>"
            "<author><name>Marc Lefèvre</name></author></entry>"
            "<entry><title>B</title><id>b</id><link href=\"https://a.example/2\"/>"
            "<updated>2026-03-02T10:00:00Z</updated>"
            "<author><email>only@courrier.online</email></author></entry>"
            "</feed>").encode()
    out = poll(server, poller, "/authors-atom", Route(body=body))
    assert [a.authors for a in out.articles] == [["Claire Dubois", "Marc Lefèvre"], []]


def test_second_poll_emits_only_new_items_and_unchanged_emits_nothing(server, poller):
    feed = FeedSpec(server.add("/grow", Route(body=rss("G", [("a", "A")]), etag='"1"')), "G")
    first = poller.poll(feed)
    unchanged = poller.poll(feed, first.state)
    assert unchanged.health["outcome"] == "unchanged" and unchanged.health["http_status"] == 304
    assert not unchanged.articles
    server.routes["/grow"] = Route(body=rss("G", [("b", "B"), ("a", "A")]), etag='"2"')
    grown = poller.poll(feed, unchanged.state)
    assert [a.title for a in grown.articles] == ["B"]
    assert grown.health["items"] == 2 and grown.health["new_items"] == 1


def test_failing_feed_health_reports_the_streak(server):
    server.add("/down", Route(status=500))
    poller = Poller(Fetcher(FetchConfig()), SchedulePolicy(failing_after=3))
    feed = FeedSpec(server.url("/down"), "Down")
    state = None
    for _ in range(3):
        out = poller.poll(feed, state)
        state = out.state
    assert out.health["error_kind"] == "http_5xx" and out.health["consecutive_failures"] == 3
    assert out.health["failing"] and out.health["next_poll"] > out.health["time"]
    assert is_valid(out.health, FEED_HEALTH)


# -- real-world feeds ---------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text or "")).split())


def _expected_items(data: bytes) -> list[tuple[str, str, str | None]]:
    """(title, link, date text) of every item, read with ElementTree, not feedparser."""
    root = ET.fromstring(data.lstrip())
    found = []
    for item in root.iter():
        if item.tag in ("item", RSS1 + "item"):
            ns = RSS1 if item.tag.startswith(RSS1) else ""
            title = item.findtext(ns + "title") or ""
            link = (item.findtext(ns + "link") or "").strip()
            date = item.findtext("pubDate") or item.findtext(DC + "date")
        elif item.tag == ATOM + "entry":
            title = "".join(item.find(ATOM + "title").itertext())
            links = item.findall(ATOM + "link")
            link = next((x.get("href") for x in links if x.get("rel", "alternate") == "alternate"),
                        "")
            date = item.findtext(ATOM + "published") or item.findtext(ATOM + "updated")
        else:
            continue
        found.append((_plain(title), link, date.strip() if date else None))
    return found


def _date_ms(text: str) -> int | None:
    """Epoch millis of an RFC 822 or ISO 8601 date with a zone; None without one."""
    try:
        parsed = parsedate_to_datetime(text)
        return int(parsed.timestamp() * 1000) if parsed.tzinfo else None
    except (TypeError, ValueError):
        pass
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def test_real_feeds_parse_with_correct_titles_links_and_dates(shared_data, server, poller):
    folder = shared_data / "real-feeds"
    manifest = json.loads((folder / "manifest.json").read_text())
    checked_dates = 0
    for entry in manifest:
        data = (folder / entry["file"]).read_bytes()
        out = poll(server, poller, f"/real/{entry['file']}",
                   Route(body=data, headers={"Content-Type": XML}), entry["outlet"])
        if entry["format"] == "jsonfeed1":  # feedparser reads no JSON Feed: a dead letter
            assert out.health["outcome"] == "not_a_feed" and out.dead_letters, entry["file"]
            continue
        assert out.health["outcome"] == "new", (entry["file"], out.health)
        expected = _expected_items(data)
        assert len(out.articles) == len(expected) == entry["feedparser_6_0_12"]["entries"]
        for article, (title, link, date) in zip(out.articles, expected, strict=True):
            assert _plain(article.title) == title, entry["file"]
            assert article.url == link, entry["file"]
            want = _date_ms(date) if date else None
            if want is None:
                assert article.published_ms is None and article.updated_ms is None
                assert (article.date_note or "").startswith("unreadable"), entry["file"]
            else:
                assert want in (article.published_ms, article.updated_ms), entry["file"]
                checked_dates += 1
        if entry["language"] != "en" and entry["file"].startswith(("ru_", "el_", "it_")):
            assert out.articles[0].language_hint.lower().startswith(entry["language"])
    assert checked_dates >= 40


def test_greek_legacy_encoding_and_hindi_dates(shared_data, server, poller):
    folder = shared_data / "real-feeds"
    greek = poll(server, poller, "/gr", Route(
        body=(folder / "el_liberal-gr_rss20_iso-8859-7.xml").read_bytes(),
        headers={"Content-Type": XML}))
    assert re.search("[α-ω]", greek.articles[0].title)  # decoded as Greek, not mojibake
    hindi = poll(server, poller, "/hi", Route(
        body=(folder / "hi_news18-hindi_rss20_no-xml-decl.xml").read_bytes()))
    assert hindi.articles[0].published_ms is None
    assert "Friday, January 29, 2021 04:42 PM" in hindi.articles[0].date_note


# -- feedparser's own suite, through the pipeline -----------------------------------------------

_HEADER = re.compile(r"^\s*Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
_SERVED_HEADERS = {"content-type", "content-location", "content-language"}


def _header_text(data: bytes) -> str:
    """The file as text, enough to read its comment header (as upstream's runtests does)."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, "replace")
    codec = {b"\0\0\0<": "utf-32-be", b"<\0\0\0": "utf-32-le", b"\0<\0?": "utf-16-be",
             b"<\0?\0": "utf-16-le", b"\x4c\x6f\xa7\x94": "cp037"}.get(data[:4], "latin-1")
    return data.decode(codec, "replace")


def _case_headers(data: bytes) -> dict[str, str]:
    return {name: value for name, value in _HEADER.findall(_header_text(data))
            if name.lower() in _SERVED_HEADERS}


def test_every_feedparser_case_is_ingested_without_a_crash(shared_data, server, tmp_path):
    cases = sorted((shared_data / "feedparser-cases").rglob("*.xml"))
    assert len(cases) > 2000
    feeds = []
    for n, case in enumerate(cases):
        data = case.read_bytes()
        url = server.add(f"/fp/{n}", Route(body=data, headers=_case_headers(data)))
        feeds.append(FeedSpec(url, f"case {case.relative_to(shared_data)}"))
    out = str(tmp_path)
    with beam.Pipeline() as p:
        read = p | "Poll" >> PollFeeds(feeds, fetch=FetchConfig(per_host_concurrency=8),
                                       concurrency=8, shards=2)
        normalised = read.events | Normalise()
        normalised.events | "Events" >> WriteAvroFiles(out, ARTICLE_EVENT)
        ((read[DEAD_LETTERS], normalised[DEAD_LETTERS]) | beam.Flatten()
         | WriteDeadLetters(out))
        read[HEALTH] | "Health" >> WriteAvroFiles(out, FEED_HEALTH)
    found = {ARTICLE_EVENT: [], DEAD_LETTER: [], FEED_HEALTH: []}
    for kind, record in read_records(sorted(Path(out).rglob("*.avro"))):
        found[kind].append(record)
    health = found[FEED_HEALTH]
    outcomes = {}
    for record in health:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    letters = {}
    for letter in found[DEAD_LETTER]:
        key = f"{letter['stage']}:{letter['error_type']}"
        letters[key] = letters.get(key, 0) + 1
    summary = (f"{len(cases)} cases: outcomes {outcomes}; {len(found[ARTICLE_EVENT])} events; "
               f"dead letters {letters}")
    print(summary)
    # every case accounted for: one health record each, no fetch errors, nothing lost
    assert len(health) == len(cases) and sorted(h["feed_url"] for h in health) == sorted(
        f.url for f in feeds), summary
    assert "error" not in outcomes, summary
    items = sum(h["new_items"] for h in health)
    normalise_letters = sum(v for k, v in letters.items() if k.startswith("normalise:"))
    parse_letters = sum(v for k, v in letters.items() if k.startswith("parse:"))
    assert len(found[ARTICLE_EVENT]) + normalise_letters == items, summary
    assert parse_letters == outcomes.get("not_a_feed", 0), summary
    # most cases are one-corner snippets (often items without a link): they must still be read
    assert outcomes.get("new", 0) > 1000 and items > 1000, summary
    for record in found[ARTICLE_EVENT]:
        assert is_valid(record, ARTICLE_EVENT)


def test_a_parser_crash_is_the_documents_dead_letter_not_the_pipelines(server, poller,
                                                                       monkeypatch):
    def explode(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("wirewatch.connectors.rss.parse.feedparser.parse", explode)
    out = poll(server, poller, "/boom", Route(body=rss("B", [("a", "A")])))
    assert out.health["outcome"] == "not_a_feed" and out.health["error_kind"] == "RecursionError"
    assert out.dead_letters[0]["reason"].startswith("parser failed: RecursionError")
