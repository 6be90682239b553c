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
    ("feeds: [{outlet: X}]", "feeds entry 1: 'url' must be an http(s) URL"),
    ("feeds: [{url: 'https://a.example/f'}]", "feeds entry 1: 'outlet' is required"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, colour: red}]", "unknown field"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, interval: -5}]", "positive number"),
    ("feeds: [{url: 'https://a.example/f', outlet: A}, {url: 'https://a.example/f', outlet: B}]",
     "feeds entry 2: feed https://a.example/f is listed twice"),
    ("feeds: [{url: 'https://a.example/f', outlet: A, path: missing.xml}]", "does not exist"),
    ("feeds: [unclosed", "not valid YAML"),
])
def test_bad_feed_lists_name_the_entry(tmp_path, text, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(FeedListError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_feed_list(path)
