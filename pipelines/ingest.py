"""The wirewatch pipeline: ``read | normalise | dedupe | tag | write``, built from options."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch.connectors.deadletter import DEAD_LETTERS, WriteDeadLetters
from wirewatch.connectors.files import WriteAvroFiles
from wirewatch.connectors.rss.feedlist import load_feed_list
from wirewatch.connectors.rss.fetch import FetchConfig
from wirewatch.connectors.rss.health import HEALTH
from wirewatch.connectors.rss.source import PollFeeds
from wirewatch.pipelines.dedupe import Dedupe
from wirewatch.pipelines.metrics import counter
from wirewatch.pipelines.normalise import Normalise
from wirewatch.pipelines.options import WirewatchOptions
from wirewatch.pipelines.tag import Tag
from wirewatch.schemas.records import ARTICLE_EVENT, FEED_HEALTH

__all__ = ["build"]


def _count(name: str):
    def inc(record: dict) -> dict:
        counter(name).inc()
        return record
    return inc


def build(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """Add the ingest graph to ``pipeline``. Options must have been checked (see ``cli``)."""
    opts = options.view_as(WirewatchOptions)

    read = pipeline | "ReadFeeds" >> PollFeeds(
        load_feed_list(opts.feeds), fetch=FetchConfig(user_agent=opts.feed_user_agent),
        fetched_ms=opts.fetched_at_ms)
    normalised = read.events | "Normalise" >> Normalise()
    deduped = normalised.events | "Dedupe" >> Dedupe()
    tagged = deduped | "Tag" >> Tag()

    (tagged.events
     | "CountEvents" >> beam.Map(_count("events_written"))
     | "WriteEvents" >> WriteAvroFiles(opts.output, ARTICLE_EVENT))
    ((read[DEAD_LETTERS], normalised[DEAD_LETTERS], tagged[DEAD_LETTERS])
     | "AllDeadLetters" >> beam.Flatten()
     | "CountDeadLetters" >> beam.Map(_count("dead_letters_written"))
     | "WriteDeadLetters" >> WriteDeadLetters(opts.output))
    read[HEALTH] | "WriteFeedHealth" >> WriteAvroFiles(opts.output, FEED_HEALTH)
