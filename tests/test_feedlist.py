from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from wirewatch.connectors.rss.feedlist import FeedListError, load_feed_list


def test_bundled_feed_list_loads():
    feeds = load_feed_list(SAMPLES / "feeds.yaml")
    assert len({f.outlet for f in feeds}) >= 6
    assert all(f.path for f in feeds)


@pytest.mark.parametrize(("text", "message"), [
    ("feeds: []", "non-empty 'feeds' list"),
    ("just text", "non-empty 'feeds' list"),
    ("feeds: [{outlet: X}]", "feeds entry 1 (line 1): 'url' is required"),
    ("feeds: [{url: 'a.example', outlet: X}]",
     "feeds entry 1 (line 1): 'url' must be an http(s) URL"),
    ("feeds: [{url: 'https://a.example/f'}]", "feeds entry 1 (line 1): 'outlet' is required"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, colour: red}]", "unknown field"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, interval: -5}]", "positive number"),
    ("feeds: [{url: 'https://a.example/f', outlet: A}, {url: 'https://a.example/f', outlet: B}]",
     "feeds entry 2 (line 1): feed https://a.example/f is listed twice"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, path: missing.xml}]", "does not exist"),
    ("feeds: [unclosed", "not valid YAML"),
])
def test_bad_feed_lists_name_the_entry(tmp_path, text, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(FeedListError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_feed_list(path)


def test_every_problem_is_reported_at_once_with_its_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n"
                    "  - url: https://a.example/f\n    outlet: A\n    interval: 15m\n"
                    "  - url: ftp://b.example/f\n    outlet: ''\n    language: '12'\n")
    with pytest.raises(FeedListError) as caught:
        load_feed_list(path)
    assert caught.value.problems == [
        "feeds entry 2 (line 5): 'url' must be an http(s) URL, got 'ftp://b.example/f'",
        "feeds entry 2 (line 5): 'outlet' is required",
        "feeds entry 2 (line 5): 'language' must be a tag like en or pt-BR, got '12'",
    ]


def test_intervals_take_durations(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n"
                    "  - {url: 'https://a.example/1', outlet: A, interval: 90}\n"
                    "  - {url: 'https://a.example/2', outlet: A, interval: 15m}\n"
                    "  - {url: 'https://a.example/3', outlet: A, interval: 1.5h,"
                    " language: pt-BR}\n")
    feeds = load_feed_list(path)
    assert [f.interval_s for f in feeds] == [90, 900, 5400]
    assert feeds[2].language == "pt-BR" and feeds[0].language is None


OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>news</title></head><body>
  <outline text="Europe">
    <outline type="rss" text="Nordic Wire" xmlUrl="https://nordic.example/rss" language="sv"/>
    <outline type="rss" title="Harbour Daily" text="hd" xmlUrl="https://harbour.example/atom"
             interval="30m"/>
  </outline>
</body></opml>"""


def test_opml_feed_list(tmp_path):
    path = tmp_path / "feeds.opml"
    path.write_bytes(OPML)
    feeds = load_feed_list(path)
    assert [(f.url, f.outlet, f.language, f.interval_s) for f in feeds] == [
        ("https://nordic.example/rss", "Nordic Wire", "sv", None),
        ("https://harbour.example/atom", "Harbour Daily", None, 1800.0),
    ]


@pytest.mark.parametrize(("opml", "message"), [
    (b"<opml><body><outline text='x' xmlUrl='nope'/></body></opml>",
     "outline at line 1: 'url' must be an http(s) URL, got 'nope'"),
    (b"<opml><body>\n<outline xmlUrl='https://a.example/f'/></body></opml>",
     "outline at line 2: 'outlet' is required"),
    (b"<opml><body><outline", "not valid OPML/XML"),
    (b"<opml><body><outline text='x'/></body></opml>", "non-empty 'feeds' list"),
])
def test_bad_opml_names_the_line(tmp_path, opml, message):
    path = tmp_path / "feeds.opml"
    path.write_bytes(opml)
    with pytest.raises(FeedListError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_feed_list(path)
