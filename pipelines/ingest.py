"""The wirewatch pipeline: ``read | normalise | dedupe | tag | link | write``, built from
options."""

from __future__ import annotations

from datetime import timedelta

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from wirewatch.connectors.deadletter import DEAD_LETTERS, WriteDeadLetters
from wirewatch.connectors.files import WriteAvroFiles, run_name
from wirewatch.connectors.jsonl import ReadJsonLines
from wirewatch.connectors.kafka import READ_TO, CommitOffsets, ReadFromKafka, WriteToKafka
from wirewatch.connectors.kafka.commit import CommitWritten
from wirewatch.connectors.offsets import OFFSETS_READ, OFFSETS_WRITTEN
from wirewatch.connectors.rss.feedlist import load_feed_list
from wirewatch.connectors.rss.fetch import FetchConfig
from wirewatch.connectors.rss.health import HEALTH
from wirewatch.connectors.rss.source import PollFeeds, WatchFeeds
from wirewatch.pipelines.dedupe import Dedupe
from wirewatch.pipelines.link import Link
from wirewatch.pipelines.measure import MeasureDeadLetters, MeasureEvents
from wirewatch.pipelines.normalise import Normalise
from wirewatch.pipelines.options import (
    WirewatchOptions,
    dead_letter_topic,
    kafka_config,
    start_from,
    story_settings,
)
from wirewatch.pipelines.tag import Tag
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, FEED_HEALTH

__all__ = ["build"]


def _read(pipeline: beam.Pipeline, options: PipelineOptions) -> tuple[list, object, object]:
    """Every configured input, then the feed read and the Kafka read (each or None)."""
    opts = options.view_as(WirewatchOptions)
    reads, feeds, kafka = [], None, None
    if opts.feeds:
        fetch = FetchConfig(user_agent=opts.feed_user_agent)
        if options.view_as(StandardOptions).streaming:  # poll each feed on its schedule
            feeds = pipeline | "WatchFeeds" >> WatchFeeds(load_feed_list(opts.feeds), fetch=fetch)
        else:  # poll (or read) every feed once
            feeds = pipeline | "ReadFeeds" >> PollFeeds(
                load_feed_list(opts.feeds), fetch=fetch, fetched_ms=opts.fetched_at_ms)
        reads.append(feeds)
    if opts.input_jsonl:
        reads.append(pipeline | "ReadJsonLines" >> ReadJsonLines(
            opts.input_jsonl, fetched_ms=opts.fetched_at_ms))
    if opts.input_topic:
        kafka = pipeline | "ReadKafka" >> ReadFromKafka(
            kafka_config(options), opts.input_topic, group_id=opts.group_id,
            start_from=start_from(options), bounded=opts.bounded,
            input_format=opts.input_format,
            max_out_of_orderness_s=opts.max_out_of_orderness_s,
            idle_after_s=opts.idle_after_s, max_in_flight=opts.max_in_flight,
            max_backlog=opts.max_backlog,
            discovery_interval_s=opts.partition_discovery_interval_s,
            stop_after_idle_s=opts.stop_after_idle_s, registry_url=opts.schema_registry_url)
        reads.append(kafka)
    return reads, feeds, kafka


def build(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """Add the ingest graph to ``pipeline``. Options must have been checked (see ``cli``)."""
    opts = options.view_as(WirewatchOptions)

    reads, feeds, kafka = _read(pipeline, options)
    articles = [r.events for r in reads] | "AllArticles" >> beam.Flatten()
    normalised = articles | "Normalise" >> Normalise()
    deduped = normalised.events | "Dedupe" >> Dedupe(
        timedelta(hours=opts.dedup_horizon_hours), shards=opts.dedup_shards)
    tagged = deduped.events | "Tag" >> Tag(opts.language_backend, topic_tagger=opts.topic_tagger)
    linked = tagged.events | "Link" >> Link(**story_settings(options))

    events = linked.events | "MeasureEvents" >> MeasureEvents()
    letters = ([r[DEAD_LETTERS] for r in reads] + [normalised[DEAD_LETTERS], deduped.dead_letters,
                                               tagged[DEAD_LETTERS], linked.dead_letters]
               | "AllDeadLetters" >> beam.Flatten()
               | "MeasureDeadLetters" >> MeasureDeadLetters())
    # Each destination is one sink, numbered: a record reaches it once, as an article event
    # or a dead letter.
    files, topics = [], []
    if opts.output:
        period = opts.file_period_s
        run = run_name() if opts.append else None  # keep the earlier runs' files
        written = {"triggering_frequency": period, "run": run, "codec": opts.avro_codec}
        files = [events | "WriteEvents" >> WriteAvroFiles(
                     opts.output, ARTICLE_EVENT, sink=0, **written),
                 letters | "WriteDeadLetters" >> WriteDeadLetters(
                     opts.output, sink=0, **written)]
        if feeds is not None:
            feeds[HEALTH] | "WriteFeedHealth" >> WriteAvroFiles(
                opts.output, FEED_HEALTH, **written)
    if opts.output_topic:
        sink = 1 if files else 0
        topics = [events | "WriteEventsToKafka" >> WriteToKafka(
                      kafka_config(options), opts.output_topic, ARTICLE_EVENT,
                      registry_url=opts.schema_registry_url, sink=sink),
                  letters | "WriteDeadLettersToKafka" >> WriteToKafka(
                      kafka_config(options), dead_letter_topic(options), DEAD_LETTER,
                      registry_url=opts.schema_registry_url, sink=sink)]
    if kafka is None or not opts.group_id:
        return
    if opts.bounded:
        # Batch runners never call bundle finalizers: commit once every sink is done.
        done = files + [t.written for t in topics]
        kafka[READ_TO] | "CommitOffsets" >> CommitOffsets(kafka_config(options), opts.group_id,
                                                          done)
    else:
        # Commit what every sink has made durable, never what was only read.
        ([kafka[OFFSETS_READ], *(w[OFFSETS_WRITTEN] for w in files + topics)]
         | "AllOffsets" >> beam.Flatten()
         | "CommitWritten" >> CommitWritten(kafka_config(options), opts.group_id,
                                            sinks=bool(files) + bool(topics)))
