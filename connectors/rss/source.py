"""Beam sources for RSS/Atom feeds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import apache_beam as beam

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.parse import parse_feed
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import dead_letter, now_ms, source

__all__ = ["ReadFeedFiles"]


class _ReadFeedFile(beam.DoFn):
    def __init__(self, fetched_ms: int | None) -> None:
        self._fetched_ms = fetched_ms

    def process(self, feed: FeedSpec) -> Iterator:
        try:
            with open(feed.path, "rb") as f:
                data = f.read()
        except OSError as e:
            counter("dead_letters_read").inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, dead_letter(
                "read", f"cannot read feed file {feed.path}: {e.strerror}", "unreadable_file",
                b"", source("rss", feed.outlet, feed_url=feed.url)))
            return
        parsed = parse_feed(data, feed, self._fetched_ms or now_ms())
        counter("feeds_read").inc()
        counter("articles_read_rss").inc(len(parsed.articles))
        yield from parsed.articles
        for letter in parsed.dead_letters:
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)


class ReadFeedFiles(beam.PTransform):
    """Read feeds saved on disk (backfills, tests, the bundled samples), each once.

    In: the pipeline root. Out: ``events`` (``RawArticle``) and ``dead_letters`` (feeds that
    could not be read or parsed). ``fetched_ms`` pins the fetch time, for reproducible output.
    """

    def __init__(self, feeds: Sequence[FeedSpec], fetched_ms: int | None = None) -> None:
        super().__init__()
        missing = [f.url for f in feeds if not f.path]
        if missing:
            raise ValueError(f"feeds without a 'path' cannot be read from disk: {missing}")
        self._feeds = list(feeds)
        self._fetched_ms = fetched_ms

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (pbegin
                | "Feeds" >> beam.Create(self._feeds)
                | "Parse" >> beam.ParDo(_ReadFeedFile(self._fetched_ms))
                .with_outputs(DEAD_LETTERS, main="events"))
