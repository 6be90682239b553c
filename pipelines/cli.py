"""The ``wirewatch`` command: ``run`` the pipeline, ``inspect`` what it wrote, ``monitor`` the
Kafka topics of a running deployment."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from wirewatch import __version__

if TYPE_CHECKING:  # Beam is imported only by the commands that use it (_quiet_beam_import)
    from apache_beam.options.pipeline_options import PipelineOptions

__all__ = ["main"]

log = logging.getLogger("wirewatch")

_RUN_EPILOG = """\
Beam options: every other Beam pipeline option is passed through to Beam, written the Beam way
(--name=value or --name value), e.g.
  --runner=DirectRunner (default) | FlinkRunner | DataflowRunner
  --direct_num_workers=2 --direct_running_mode=multi_processing
  --flink_master=[local]      (FlinkRunner)
  --project=P --region=R --temp_location=gs://...   (DataflowRunner)
See https://beam.apache.org/documentation/runners/ for each runner's options.

Examples:
  wirewatch run --feeds samples/feeds.yaml --output out
  wirewatch run --feeds samples/feeds.yaml --output out --overwrite   (rerun: replace out/)
  wirewatch run --input_jsonl 'archive/*.jsonl.gz' --output out
  wirewatch run --bootstrap_servers 127.0.0.1:9092 --input_topic articles \\
      --output_topic article_events --bounded
"""


class UsageError(Exception):
    """Bad command-line input, found before the pipeline starts."""


def _run_parser() -> argparse.ArgumentParser:
    from apache_beam.options.pipeline_options import StandardOptions

    from wirewatch.pipelines.options import WirewatchOptions

    parser = argparse.ArgumentParser(
        prog="wirewatch run",
        description="Run the ingest pipeline: read feeds | normalise | dedupe | tag | link | "
                    "write Avro.",
        epilog=_RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    WirewatchOptions._add_argparse_args(parser)
    # Beam defines --bootstrap_servers (KafkaStreamsRunnerOptions); listed here for --help
    # and so that its absence can be told from Beam's default.
    parser.add_argument("--bootstrap_servers", default=None,
                        help="Kafka brokers, host:port[,host:port...], for --input_topic and "
                             "--output_topic.")
    StandardOptions._add_argparse_args(parser.add_argument_group("Beam runner"))
    return parser


def _check_run_options(args: argparse.Namespace, options: PipelineOptions) -> None:
    """Clear errors for what would otherwise fail deep inside a worker; ``options``: the run's
    Beam ``PipelineOptions``."""
    from wirewatch.connectors.rss.feedlist import FeedListError, load_feed_list

    if not args.feeds and not args.input_topic and not args.input_jsonl:
        raise UsageError("--feeds is required (a YAML feed list, e.g. samples/feeds.yaml), or "
                         "--input_jsonl (JSON-lines files), or --input_topic with "
                         "--bootstrap_servers")
    if args.feeds:
        try:
            load_feed_list(args.feeds)
        except FeedListError as e:
            raise UsageError(str(e)) from None
    if not args.output and not args.output_topic:
        raise UsageError("--output is required (the folder to write Avro files to, e.g. out), "
                         "or --output_topic with --bootstrap_servers")
    if (args.input_topic or args.output_topic) and not args.bootstrap_servers:
        raise UsageError("--input_topic and --output_topic need --bootstrap_servers host:port")
    if args.file_period_s <= 0:
        raise UsageError(f"--file_period_s must be > 0 seconds, not {args.file_period_s}")
    if args.max_in_flight < 1:
        raise UsageError(f"--max_in_flight must be >= 1 record, not {args.max_in_flight}")
    if args.max_backlog < 1:
        raise UsageError(f"--max_backlog must be >= 1 record, not {args.max_backlog}")
    if not args.dedup_horizon_hours > 0 or args.dedup_shards < 1:
        raise UsageError("--dedup_horizon_hours must be > 0 and --dedup_shards >= 1")
    if (not args.story_horizon_hours > 0 or not 0 < args.story_threshold <= 1
            or args.story_max_size < 1):
        raise UsageError("--story_horizon_hours must be > 0, --story_threshold in (0, 1] and "
                         "--story_max_size >= 1")
    if args.prometheus_port is not None and not 0 <= args.prometheus_port <= 65535:
        raise UsageError(f"--prometheus_port must be in 0..65535, not {args.prometheus_port}")
    if args.output:
        from wirewatch.pipelines.output_folder import prepare_output

        prepare_output(args.output, options, append=args.append, overwrite=args.overwrite)


def _metrics(result) -> tuple[dict[str, int], dict[str, tuple[int, int, int, int]]]:
    """The run's wirewatch counters, and distributions as (count, sum, min, max)."""
    from apache_beam.metrics.metric import MetricsFilter

    from wirewatch.pipelines.metrics import NAMESPACE

    def value(m):
        return m.committed if m.committed is not None else m.attempted

    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    counters: Counter = Counter()
    for c in found["counters"]:
        counters[c.key.metric.name] += value(c)
    distributions: dict[str, tuple[int, int, int, int]] = {}
    for d in found["distributions"]:
        v = value(d)
        if v is None or not v.count:
            continue
        count, total, low, high = distributions.get(d.key.metric.name, (0, 0, v.min, v.max))
        distributions[d.key.metric.name] = (count + v.count, total + v.sum, min(low, v.min),
                                            max(high, v.max))
    return dict(counters), distributions


#: Entries per line of the run summary; the rest are counted, not named.
_SUMMARY_ENTRIES = 8


def run_summary(counters: dict[str, int],
                distributions: dict[str, tuple[int, int, int, int]]) -> list[str]:
    """The lines ``wirewatch run`` prints under its one-line result, from the run's metrics."""
    from wirewatch.core.monitoring import human_ms
    from wirewatch.core.topics import IPTC_LABELS
    from wirewatch.pipelines.metrics import (
        ARTICLES_READ,
        DEAD_LETTERS_BY_REASON,
        DUPLICATES_BY_METHOD,
        EVENT_TIME_LAG_MS,
        EVENTS_BY_LANGUAGE,
        EVENTS_BY_SOURCE,
        EVENTS_BY_TOPIC,
        EVENTS_WITHOUT_PUBLISHED_TIME,
        FEED_POLL_FAILURES,
        FEED_POLLS,
        STORIES_JOINED,
        STORIES_OPENED,
        parse_name,
    )

    families: dict[str, Counter] = {}
    for name, n in counters.items():
        family, labels = parse_name(name)
        if family == EVENTS_BY_TOPIC.family:
            labels = {"topic": f"{labels['topic']} {IPTC_LABELS.get(labels['topic'], '?')}"}
        families.setdefault(family, Counter())["/".join(labels.values())] += n

    def line(title: str, family: str) -> str | None:
        found = families.get(family)
        if not found:
            return None
        ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
        parts = ", ".join(f"{k} {n}" for k, n in ordered[:_SUMMARY_ENTRIES])
        more = len(ordered) - _SUMMARY_ENTRIES
        return f"  {title}: {parts}" + (f" (+{more} more)" if more > 0 else "")

    lines = [line("read per source", ARTICLES_READ.family),
             line("written per source", EVENTS_BY_SOURCE.family),
             line("by language", EVENTS_BY_LANGUAGE.family),
             line("by topic", EVENTS_BY_TOPIC.family),
             line("duplicates by method", DUPLICATES_BY_METHOD.family),
             _stories_line(families.get(STORIES_OPENED.family),
                           families.get(STORIES_JOINED.family)),
             line("dead letters by stage/error_type", DEAD_LETTERS_BY_REASON.family),
             line("feed polls", FEED_POLLS.family),
             line("feed poll failures", FEED_POLL_FAILURES.family)]
    lag = distributions.get(EVENT_TIME_LAG_MS.family)
    if lag:
        count, total, low, high = lag
        undated = counters.get(EVENTS_WITHOUT_PUBLISHED_TIME.family, 0)
        lines.append(f"  event-time lag (published -> written): min {human_ms(low)}, "
                     f"mean {human_ms(total / count)}, max {human_ms(high)} over {count} events"
                     + (f" ({undated} without a published time)" if undated else ""))
    return [text for text in lines if text]


def _stories_line(opened: Counter | None, joined: Counter | None) -> str | None:
    """``  stories: 16 opened (capped 1); joined by duplicate 4, names 2``, or None."""
    if not opened and not joined:
        return None
    opened, joined = opened or Counter(), joined or Counter()
    capped = f" (capped {opened['capped']})" if opened["capped"] else ""
    ways = ", ".join(f"{k} {n}" for k, n in sorted(joined.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"  stories: {sum(opened.values())} opened{capped}"
            + (f"; joined by {ways}" if ways else ""))


def run(argv: Sequence[str]) -> int:
    """``wirewatch run``: build the pipeline from options and run it to the end."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions
    from apache_beam.runners.runner import PipelineState

    from wirewatch.connectors.kafka import KafkaConnectorError
    from wirewatch.connectors.kafka.admin import check_reachable
    from wirewatch.pipelines.ingest import build
    from wirewatch.pipelines.metrics import (
        DEAD_LETTERS_WRITTEN,
        DUPLICATES_BY_METHOD,
        EVENTS_WRITTEN,
        parse_name,
    )
    from wirewatch.pipelines.options import kafka_config
    from wirewatch.pipelines.prometheus import serve, unseen_workers
    from wirewatch.pipelines.runners import run_until_stopped, with_provisioned_runners

    args, _ = _run_parser().parse_known_args(argv)
    options = PipelineOptions(list(argv))
    try:
        _check_run_options(args, options)
    except UsageError as e:
        print(f"wirewatch run: error: {e}", file=sys.stderr)
        return 2
    options = with_provisioned_runners(options)
    started = time.monotonic()
    inputs = ", ".join(filter(None, [args.feeds, args.input_jsonl,
                                     *(args.input_topic or ())]))
    outputs = ", ".join(filter(None, [args.output, args.output_topic]))
    log.info("running wirewatch %s: %s -> %s", __version__, inputs, outputs)
    pipeline = beam.Pipeline(options=options)
    try:
        if args.output_topic:  # the sink connects only on the workers: fail here instead
            check_reachable(kafka_config(options))
        build(pipeline, options)
    except (KafkaConnectorError, ValueError) as e:
        print(f"wirewatch run: error: {e}", file=sys.stderr)
        return 1
    with ExitStack() as stack:
        if args.prometheus_port is not None:
            try:
                port = stack.enter_context(serve(args.prometheus_port, args.prometheus_host))
            except OSError as e:
                print(f"wirewatch run: error: cannot serve Prometheus metrics on "
                      f"{args.prometheus_host}:{args.prometheus_port}: {e.strerror or e}",
                      file=sys.stderr)
                return 2
            log.info("Prometheus metrics on http://%s:%d/metrics", args.prometheus_host, port)
            blind = unseen_workers(options)
            if blind:
                log.warning("the Prometheus endpoint will stay empty: %s; watch this run "
                            "through the runner's metrics (README, Watching a running "
                            "deployment)", blind)
        outcome = run_until_stopped(pipeline)
    if options.view_as(TestOptions).dry_run:
        print(f"wirewatch run: dry run, the {type(pipeline.runner).__name__} job was built and "
              "not submitted")
        return 0
    if outcome.stopped_by:
        print(f"wirewatch run: stopped on {outcome.stopped_by}; job {outcome.state}",
              file=sys.stderr)
    elif not PipelineState.is_terminal(outcome.state):
        print(f"wirewatch run: job submitted, {outcome.state}")  # --no_wait_until_finish
    if not PipelineState.is_terminal(outcome.state):  # no final metrics to ask for
        return 0
    counters, distributions = _metrics(outcome.result)
    duplicates = sum(n for name, n in counters.items()
                     if parse_name(name)[0] == DUPLICATES_BY_METHOD.family)
    print(f"wirewatch run: wrote {counters.get(EVENTS_WRITTEN.family, 0)} article events "
          f"({duplicates} duplicates) and "
          f"{counters.get(DEAD_LETTERS_WRITTEN.family, 0)} dead letters to {outputs} "
          f"in {time.monotonic() - started:.1f} s")
    for text in run_summary(counters, distributions):
        print(text)
    return 0


def _avro_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.avro")))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {name}")
    if not files:
        raise UsageError(f"no .avro files under {', '.join(paths)}")
    return files


class _Story:
    """What ``inspect`` keeps of one story while it reads: no article, only counts."""

    __slots__ = ("first_ms", "headline", "languages", "last_ms", "outlets", "size")

    def __init__(self) -> None:
        self.size = 0
        self.languages: Counter = Counter()
        self.outlets: Counter = Counter()
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.headline: tuple[int, str, str] | None = None  # (event time, id, title) earliest

    def add(self, event: dict) -> None:
        self.size += 1
        self.languages[event["language"]["code"]] += 1
        self.outlets[event["source"]["outlet"]] += 1
        at = event["event_time"]
        self.first_ms = at if self.first_ms is None else min(self.first_ms, at)
        self.last_ms = at if self.last_ms is None else max(self.last_ms, at)
        candidate = (at, event["event_id"], event["title"])
        if self.headline is None or candidate < self.headline:
            self.headline = candidate

    def summary(self, story_id: str) -> dict:
        def ranked(counts: Counter) -> dict:
            return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

        return {"story_id": story_id, "size": self.size,
                "languages": ranked(self.languages), "outlets": ranked(self.outlets),
                "first_time_ms": self.first_ms, "last_time_ms": self.last_ms,
                "headline": self.headline[2] if self.headline else ""}


def summarise(paths: Sequence[str], stories: int = 10) -> dict:
    """Counts over wirewatch Avro files: what ``inspect --json`` prints; ``stories``: how many
    of the biggest stories to list (most articles first; ties: the earlier first)."""
    from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, read_records

    summary = {"records": 0, "duplicates": 0, "dead_letters": 0}
    counters = {k: Counter() for k in ("by_outlet", "by_language", "by_topic",
                                       "duplicates_by_method", "dead_letters_by_reason",
                                       "dead_letters_by_stage")}
    found: dict[str, _Story] = {}
    for kind, record in read_records(_avro_files(paths)):
        if kind == ARTICLE_EVENT:
            summary["records"] += 1
            counters["by_outlet"][record["source"]["outlet"]] += 1
            counters["by_language"][record["language"]["code"]] += 1
            for topic in record["topics"]:
                counters["by_topic"][f"{topic['code']} {topic['label']}"] += 1
            if record["dedup"]["is_duplicate"]:
                summary["duplicates"] += 1
                counters["duplicates_by_method"][record["dedup"]["method"]] += 1
            if record.get("story"):  # None: written before the link step existed
                found.setdefault(record["story"]["story_id"], _Story()).add(record)
        elif kind == DEAD_LETTER:
            summary["dead_letters"] += 1
            counters["dead_letters_by_reason"][record["error_type"]] += 1
            counters["dead_letters_by_stage"][record["stage"]] += 1
    summary.update({k: dict(c.most_common()) for k, c in counters.items()})
    biggest = sorted(found.items(), key=lambda kv: (-kv[1].size, kv[1].first_ms, kv[0]))
    summary["stories"] = len(found)
    summary["biggest_stories"] = [story.summary(story_id) for story_id, story
                                  in biggest[:stories]]
    return summary


def _utc_minute(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _print_summary(summary: dict) -> None:
    print(f"{summary['records']} article events, {summary['duplicates']} duplicates, "
          f"{summary['stories']} stories, {summary['dead_letters']} dead letters")
    for key, title in (("by_outlet", "by outlet"), ("by_language", "by language"),
                       ("by_topic", "by topic"), ("duplicates_by_method", "duplicates by method"),
                       ("dead_letters_by_reason", "dead letters by reason"),
                       ("dead_letters_by_stage", "dead letters by stage")):
        print(f"\n{title}:")
        if not summary[key]:
            print("  (none)")
        for name, n in summary[key].items():
            print(f"  {n:6d}  {name}")
    if not summary["biggest_stories"]:
        return
    print(f"\nbiggest stories ({len(summary['biggest_stories'])} of {summary['stories']}; "
          "articles, first and last event time UTC, languages, outlets, headline):")
    for story in summary["biggest_stories"]:
        languages = ", ".join(f"{k} {n}" for k, n in story["languages"].items())
        outlets = ", ".join(story["outlets"])
        print(f"  {story['size']:6d}  {_utc_minute(story['first_time_ms'])} .. "
              f"{_utc_minute(story['last_time_ms'])}  {languages}  |  {outlets}\n"
              f"          {story['headline']}")


def inspect(argv: Sequence[str]) -> int:
    """``wirewatch inspect``: summarise Avro files written by ``run``."""
    parser = argparse.ArgumentParser(
        prog="wirewatch inspect",
        description="Summarise wirewatch Avro files (article events and dead letters): counts "
                    "by outlet, language, topic, duplicates, the biggest stories, and dead "
                    "letters by reason.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="Avro files, or folders searched for *.avro (e.g. out)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (records, duplicates, dead_letters, "
                             "by_outlet, by_language, by_topic, dead_letters_by_reason, "
                             "stories, biggest_stories, ...)")
    parser.add_argument("--stories", type=int, default=10, metavar="N",
                        help="list the N biggest stories: articles, languages, outlets, first "
                             "and last event time, the first article's headline (default 10; "
                             "0: none)")
    args = parser.parse_args(argv)
    if args.stories < 0:
        print(f"wirewatch inspect: error: --stories must be >= 0, not {args.stories}",
              file=sys.stderr)
        return 2
    try:
        summary = summarise(args.paths, args.stories)
    except UsageError as e:
        print(f"wirewatch inspect: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 0


def _replay_messages(args: argparse.Namespace) -> list[tuple[bytes | None, bytes]]:
    """(key, value) pairs to publish: lines of --file as they are, or the feeds' articles."""
    if args.file:
        try:
            with open(args.file, "rb") as f:
                return [(None, line.rstrip(b"\r\n")) for line in f if line.strip()]
        except OSError as e:
            raise UsageError(f"cannot read --file {args.file}: {e.strerror}") from None
    from wirewatch.connectors.kafka.serde import article_to_json
    from wirewatch.connectors.rss.feedlist import FeedListError, load_feed_list
    from wirewatch.connectors.rss.parse import parse_feed
    from wirewatch.schemas.records import now_ms

    try:
        feeds = [f for f in load_feed_list(args.feeds) if f.path]
    except FeedListError as e:
        raise UsageError(str(e)) from None
    messages = []
    for feed in feeds:
        with open(feed.path, "rb") as f:
            parsed = parse_feed(f.read(), feed, now_ms())
        messages += [((a.source.get("guid") or a.url).encode(), article_to_json(a))
                     for a in parsed.articles]
    return messages


def replay(argv: Sequence[str]) -> int:
    """``wirewatch replay``: publish articles to a Kafka topic at a chosen rate."""
    parser = argparse.ArgumentParser(
        prog="wirewatch replay",
        description="Publish articles to a Kafka topic as JSON messages (the format "
                    "'wirewatch run --input_topic' reads), to feed the pipeline in a demo.",
        epilog="Example:\n  wirewatch replay --bootstrap_servers 127.0.0.1:9092 "
               "--topic articles --rate 20 --repeat 5",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap_servers", required=True, help="host:port[,host:port...]")
    parser.add_argument("--topic", required=True, help="topic to publish to (created if "
                        "missing, with --partitions partitions)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--feeds", default="samples/feeds.yaml",
                        help="feed list whose saved feeds are published, one message per "
                             "article (default: samples/feeds.yaml)")
    source.add_argument("--file", help="JSON-lines file: each line is published as it is")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="messages per second (default 0: as fast as the broker takes them)")
    parser.add_argument("--repeat", type=int, default=1, help="publish everything N times")
    parser.add_argument("--partitions", type=int, default=1,
                        help="partitions of the topic if it has to be created")
    args = parser.parse_args(argv)
    from wirewatch.connectors.kafka import KafkaConfig, KafkaConnectorError
    from wirewatch.connectors.kafka.admin import create_topic
    from wirewatch.connectors.kafka.sink import producer

    try:
        messages = _replay_messages(args) * args.repeat
        config = KafkaConfig(args.bootstrap_servers)
        create_topic(config, args.topic, args.partitions)
        publisher = producer(config)
    except UsageError as e:
        print(f"wirewatch replay: error: {e}", file=sys.stderr)
        return 2
    except (KafkaConnectorError, ValueError) as e:
        print(f"wirewatch replay: error: {e}", file=sys.stderr)
        return 1
    started = time.monotonic()
    for i, (key, value) in enumerate(messages):
        if args.rate > 0:
            time.sleep(max(0.0, started + i / args.rate - time.monotonic()))
        publisher.send(args.topic, value=value, key=key)
    publisher.flush()
    publisher.close()
    print(f"wirewatch replay: published {len(messages)} messages to {args.topic} in "
          f"{time.monotonic() - started:.1f} s")
    return 0


def monitor(argv: Sequence[str]) -> int:
    """``wirewatch monitor``: watch the Kafka topics of a running deployment."""
    from wirewatch.pipelines.monitor import main as watch

    return watch(argv)


COMMANDS = {"run": run, "inspect": inspect, "replay": replay, "monitor": monitor}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time, not the one it was created with: Beam
    logs from exit handlers, after a caller (pytest, a notebook) may have swapped and closed the
    stream that was current when ``main`` ran."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _quiet_beam_import() -> None:
    """Import Beam with the root logger muted: without the gcp extra it warns on import that
    BigQuery's client is missing, which a user who does not use BigQuery should not see."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        import apache_beam  # noqa: F401
    finally:
        root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wirewatch`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="wirewatch",
        description="wirewatch turns news feeds and Kafka topics into one clean stream of "
                    "deduplicated, language- and topic-tagged Avro article events.",
        epilog="Commands:\n"
               "  run       run the ingest pipeline (wirewatch run --help)\n"
               "  inspect   summarise Avro output (wirewatch inspect --help)\n"
               "  replay    publish articles to a Kafka topic (wirewatch replay --help)\n"
               "  monitor   watch the Kafka topics of a deployment (wirewatch monitor --help)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND")
    parser.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv or ["--help"])
    _quiet_beam_import()
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(force=True, level=logging.WARNING, handlers=[handler])
    log.setLevel(logging.INFO)
    command = argv[0]
    if command not in COMMANDS:
        parser.error(f"unknown command {command!r}; choose from {', '.join(sorted(COMMANDS))}")
    return COMMANDS[command](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
