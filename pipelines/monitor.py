"""``wirewatch monitor``: a live view of the Kafka topics a deployment reads and writes.

Per topic and partition: start and end offsets, the consumer group's committed offset and lag,
messages per second. Per input partition also how far the written output trails the input: the
highest input offset that an article event or dead letter on the watched topics came from, and
how many input messages lie beyond it (so "committed but not written" never looks healthy). For
the article-event topic (``--output_topic``), decoded from Avro: the duplicate ratio, language
and topic mix, stories (distinct, opened, joined) and p50/p99 event-time lag over a sliding
window. For the dead-letter topic
(``--dead_letter_topic``): counts by error type and the latest examples. ``--once --json``
prints one snapshot for scripts and alerting.

The monitor only reads: it never joins or commits for the group it watches (committed offsets
come from the admin API), and it reads the tails of topics without a group of its own. A broker
just started has no group coordinator for a moment: the monitor asks again for a few seconds,
then shows the committed offsets as unknown (``committed_unknown``) rather than failing.
The numbers themselves are computed by :mod:`wirewatch.core.monitoring`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from apache_beam.options.pipeline_options import PipelineOptions
from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    KafkaError,
)
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wirewatch.connectors.kafka.admin import KafkaConfig, check_reachable, consumer
from wirewatch.connectors.kafka.errors import KafkaConnectorError
from wirewatch.connectors.kafka.serde import Framing, SchemaRegistry
from wirewatch.core.monitoring import (
    SlidingWindow,
    WrittenOffsets,
    dead_letter_sample,
    dead_letter_window,
    event_sample,
    event_window,
    human_ms,
    kafka_origin,
    partition_lag,
    partition_unwritten,
    rate,
    total,
)
from wirewatch.pipelines.options import WirewatchOptions, kafka_config
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER

__all__ = ["MonitorError", "Watch", "Watcher", "main", "render"]

#: Kinds of topic: what the monitor decodes on each.
RAW = "raw"
#: Longest a snapshot waits to read the tail of the decoded topics.
CATCH_UP_S = 10.0
#: Longest a snapshot asks again for the group's committed offsets while the group coordinator
#: is not ready: a broker creates it (its offsets topic) on the first group request it gets, so
#: one just started answers CoordinatorNotAvailableError for a moment (well under a second here).
COORDINATOR_WAIT_S = 5.0
#: How long an unknown schema id, or a Schema Registry that failed, is not asked again: one
#: that drops requests silently costs one timeout (10 s) per snapshot or so, not one per message.
REGISTRY_FAILURE_TTL_S = 30.0
#: Records of each decoded topic kept (and read when the monitor starts) at most.
MAX_WINDOW_MESSAGES = 10_000
#: Under the offsets table: what its less obvious columns mean.
CAPTION = ("lag = end - committed\n"
           "written = highest input offset seen on the output, unwritten = end - (written + 1)")


#: What the offsets table says per input partition (in --help).
FIGURES = f"""\
Per input partition (--once --json: topics.<input>.partitions[i].<name>):
  lag             end - the group's committed offset. The pipeline commits an offset only once
                  every sink has made the records below it durable (commit after write): lag
                  is what is not yet written by every sink, or not yet read.
  written_offset  the highest input offset that an article event (--output_topic) or a dead
                  letter (--dead_letter_topic) names as its source: of their last
                  {MAX_WINDOW_MESSAGES:,} records when the monitor starts, then of all new ones.
  unwritten       end - (written_offset + 1): input beyond anything seen on the output topics.
                  An independent check, read from the output itself: it grows when nothing
                  comes out while input arrives, whatever was committed. A floor (records
                  below written_offset may still be on their way: articles are written in
                  event-time order); '-' (null) until an output record names the partition
                  (always, for a pipeline whose sinks are files only).
Per topic: lag and unwritten summed over its partitions.
committed_unknown (top level, only then): why the group's committed offsets are unknown, e.g.
                  its coordinator is not ready yet on a broker just started; committed and lag
                  are then '-' (null) for every partition.
Healthy: unwritten <= lag, as a record is committed only once it is on the output topics.
unwritten > lag (both output topics watched) means offsets were committed for records the
output does not show.
"""


class MonitorError(Exception):
    """Something the operator has to fix (broker unreachable, unknown topic); no traceback."""


@dataclass(frozen=True)
class Watch:
    """What to watch, and over which windows."""

    kafka: KafkaConfig
    group_id: str
    input_topics: tuple[str, ...] = ()
    output_topic: str | None = None
    dead_letter_topic: str | None = None
    window_s: int = 300
    rate_window_s: int = 60
    latest: int = 5
    max_window_messages: int = MAX_WINDOW_MESSAGES
    schema_registry_url: str | None = None

    def kinds(self) -> dict[str, str]:
        """Topic -> what is decoded on it (``article_event``, ``dead_letter`` or ``raw``)."""
        kinds = dict.fromkeys(self.input_topics, RAW)
        if self.output_topic:
            kinds[self.output_topic] = ARTICLE_EVENT
        if self.dead_letter_topic:
            kinds[self.dead_letter_topic] = DEAD_LETTER
        return kinds


def decode_message(value: bytes | None, headers: Sequence[tuple[str, bytes]], name: str,
                   registry: SchemaRegistry | None = None) -> dict:
    """The ``name`` record in a Kafka message as ``WriteToKafka`` frames it (either framing);
    with ``registry``, a Confluent-framed value is read with its writer schema."""
    if value is None:
        raise ValueError("message has no value")
    return Framing.read(value, headers, name, registry)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%H:%M:%S")


class Watcher:
    """Connects once, then :meth:`snapshot` as often as wanted; :meth:`close` at the end."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.servers = watch.kafka.bootstrap_servers
        self._kinds = watch.kinds()
        self._registry = (SchemaRegistry(watch.schema_registry_url,
                                         failure_ttl_s=REGISTRY_FAILURE_TTL_S)
                          if watch.schema_registry_url else None)
        # Two consumers: one assigned to the decoded topics reads their tails; kafka-python
        # then keeps metadata only for what it is assigned, so offsets of every topic are
        # asked through the other one, never assigned.
        settings = {"group_id": None, "allow_auto_create_topics": False,
                    "request_timeout_ms": 10_000}
        try:
            check_reachable(watch.kafka)
            self._consumer = consumer(watch.kafka, **settings)
            self._tail = consumer(watch.kafka, **settings)
            self._admin = KafkaAdminClient(**watch.kafka.client_kwargs())
        except KafkaConnectorError as e:
            raise MonitorError(str(e)) from None
        except KafkaError as e:
            raise MonitorError(f"Kafka at {self.servers} did not answer: {e}") from None
        self._partitions = self._find_partitions()
        self._windows = {topic: SlidingWindow(watch.window_s * 1000, watch.max_window_messages)
                         for topic, kind in self._kinds.items() if kind != RAW}
        self._undecodable = {topic: SlidingWindow(watch.window_s * 1000,
                                                  watch.max_window_messages)
                             for topic in self._windows}
        self._tailed = [tp for topic in self._windows for tp in self._partitions[topic]]
        self._written = WrittenOffsets()
        self._started = False

    def _find_partitions(self) -> dict[str, list[TopicPartition]]:
        known = self._consumer.topics()
        unknown = [t for t in self._kinds if t not in known]
        if unknown:
            listed = ", ".join(sorted(t for t in known if not t.startswith("__"))) or "none"
            raise MonitorError(f"unknown topic {', '.join(unknown)} on "
                               f"{self.servers} (topics there: {listed})")
        return {topic: [TopicPartition(topic, p)
                        for p in sorted(self._consumer.partitions_for_topic(topic))]
                for topic in self._kinds}

    def close(self) -> None:
        self._consumer.close()
        self._tail.close()
        self._admin.close()

    def _committed(self, partitions: list[TopicPartition]
                   ) -> tuple[dict[TopicPartition, int | None], str | None]:
        """The group's committed offset per partition (None: nothing committed), and None; or
        all None and why they are unknown, when the group coordinator is still not ready after
        :data:`COORDINATOR_WAIT_S`."""
        deadline = time.monotonic() + COORDINATOR_WAIT_S
        while True:
            try:
                found = self._admin.list_group_offsets({self.watch.group_id: partitions})
                break
            except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError) as e:
                if time.monotonic() >= deadline:
                    return dict.fromkeys(partitions), (
                        f"the group coordinator is not available yet ({type(e).__name__}, "
                        f"asked for {COORDINATOR_WAIT_S:g} s): a broker creates it on the "
                        f"first group request, so one just started needs a moment")
                time.sleep(0.2)
        offsets = found.get(self.watch.group_id, {})
        return {tp: (offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else None)
                for tp in partitions}, None

    def _since(self, partitions: list[TopicPartition], ms: int,
               ends: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """First offset at or after time ``ms`` per partition (the end if none is)."""
        found = self._consumer.offsets_for_times(dict.fromkeys(partitions, max(0, ms)))
        return {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in partitions}

    def _catch_up(self, now_ms: int, firsts: Mapping[TopicPartition, int],
                  ends: Mapping[TopicPartition, int]) -> None:
        """Read the decoded topics up to ``ends`` into their windows (``firsts``: the first
        offsets the broker still has)."""
        if not self._tailed:
            return
        if not self._started:
            self._tail.assign(self._tailed)
            starts = self._since(self._tailed, now_ms - self.watch.window_s * 1000, ends)
            # The last max_window_messages records, even older than the window (which forgets
            # them by time): their source offsets say what was written before a quiet spell.
            for tp in self._tailed:
                self._tail.seek(tp, max(firsts[tp], min(
                    starts[tp], ends[tp] - self.watch.max_window_messages)))
            self._started = True
        deadline = time.monotonic() + CATCH_UP_S
        pending = [tp for tp in self._tailed if self._tail.position(tp) < ends[tp]]
        while pending and time.monotonic() < deadline:
            for tp, records in self._tail.poll(timeout_ms=500).items():
                self._take(tp.topic, records)
            pending = [tp for tp in pending if self._tail.position(tp) < ends[tp]]

    def _take(self, topic: str, records: list) -> None:
        kind = self._kinds[topic]
        samples, failures, origins = [], [], []
        for record in records:
            try:
                decoded = decode_message(record.value, record.headers, kind, self._registry)
                samples.append(event_sample(decoded, record.timestamp) if kind == ARTICLE_EVENT
                               else dead_letter_sample(decoded, record.timestamp))
                origins.append(kafka_origin(decoded))
            except Exception as e:  # a foreign or broken message is counted, never fatal
                failures.append(_Undecodable(record.timestamp, f"{type(e).__name__}: {e}"))
        self._written.add(origins)
        self._windows[topic].add(samples)
        self._undecodable[topic].add(failures)

    def snapshot(self, now_ms: int | None = None) -> dict:
        """One snapshot of every watched topic (the ``--json`` document)."""
        now_ms = round(time.time() * 1000) if now_ms is None else now_ms
        try:
            return self._snapshot(now_ms)
        except KafkaError as e:
            raise MonitorError(f"Kafka at {self.servers}: {e}") from None

    def _snapshot(self, now_ms: int) -> dict:
        watch = self.watch
        every = [tp for tps in self._partitions.values() for tp in tps]
        self._consumer.topics()  # fresh leaders for every partition asked about below
        starts = self._consumer.beginning_offsets(every)
        ends = self._consumer.end_offsets(every)
        committed, committed_unknown = self._committed(every)
        recent = self._since(every, now_ms - watch.rate_window_s * 1000, ends)
        self._catch_up(now_ms, starts, ends)
        topics = {}
        for topic, kind in self._kinds.items():
            rows = []
            for tp in self._partitions[topic]:
                in_rate_window = ends[tp] - recent[tp]
                row = {"partition": tp.partition, "start": starts[tp], "end": ends[tp],
                       "committed": committed[tp],
                       "lag": partition_lag(ends[tp], committed[tp])}
                if kind == RAW:  # an input: how far what was written to the output trails it
                    written = self._written.get(topic, tp.partition)
                    row.update(written_offset=written,
                               unwritten=partition_unwritten(ends[tp], written))
                rows.append({**row, "in_rate_window": in_rate_window,
                             "messages_per_s": rate(in_rate_window, watch.rate_window_s)})
            in_rate_window = sum(r["in_rate_window"] for r in rows)
            summary = {
                "kind": kind,
                "partitions": rows,
                "end": sum(r["end"] for r in rows),
                "lag": total(r["lag"] for r in rows),
            }
            if kind == RAW:
                summary["unwritten"] = total(r["unwritten"] for r in rows)
            summary.update(in_rate_window=in_rate_window,
                           messages_per_s=rate(in_rate_window, watch.rate_window_s))
            if kind != RAW:
                samples = self._windows[topic].samples(now_ms)
                failed = self._undecodable[topic].samples(now_ms)
                summary["window"] = (event_window(samples) if kind == ARTICLE_EVENT
                                     else dead_letter_window(samples, watch.latest))
                summary["window"]["undecodable"] = len(failed)
                if failed:
                    summary["window"]["last_undecodable"] = max(
                        failed, key=lambda f: f.timestamp_ms).error
            topics[topic] = summary
        unknown = {"committed_unknown": committed_unknown} if committed_unknown else {}
        return {"bootstrap_servers": self.servers, "group_id": watch.group_id,
                "time_ms": now_ms, "window_s": watch.window_s,
                "rate_window_s": watch.rate_window_s, **unknown, "topics": topics}


@dataclass(frozen=True)
class _Undecodable:
    timestamp_ms: int
    error: str


def _mix(entries: list[dict], limit: int = 8) -> str:
    shown = "  ".join(f"{e['name']} {e['share']:.0%}" for e in entries[:limit])
    return shown + (f"  (+{len(entries) - limit} more)" if len(entries) > limit else "") or "-"


def _cut(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def render(snapshot: dict, refresh: int | None = None) -> Group:
    """The terminal view of one snapshot."""
    title = (f"wirewatch monitor  {snapshot['bootstrap_servers']}  group "
             f"{snapshot['group_id']}  {_utc(snapshot['time_ms'])} UTC")
    parts: list = [Text(title + (f"  #{refresh}" if refresh else ""), style="bold")]
    if "committed_unknown" in snapshot:
        parts.append(Text(f"committed offsets and lag unknown: {snapshot['committed_unknown']}",
                          style="yellow"))
    offsets = Table(title="Offsets and lag", title_justify="left", caption=CAPTION,
                    caption_justify="left")
    for column in ("topic", "partition", "start", "end", "committed", "lag", "written",
                   "unwritten", "msg/s"):
        offsets.add_column(column, justify="left" if column == "topic" else "right")
    for topic, t in snapshot["topics"].items():
        raw = t["kind"] == RAW  # written figures are those of input partitions
        for row in t["partitions"]:
            offsets.add_row(topic, str(row["partition"]), str(row["start"]), str(row["end"]),
                            _dash(row["committed"]), _dash(row["lag"]),
                            _dash(row["written_offset"]) if raw else "",
                            _dash(row["unwritten"]) if raw else "",
                            f"{row['messages_per_s']:.2f}")
        offsets.add_row(f"{topic} (all)", "", "", str(t["end"]), "", _dash(t["lag"]), "",
                        _dash(t["unwritten"]) if raw else "", f"{t['messages_per_s']:.2f}",
                        style="bold")
    parts.append(offsets)
    span = f"last {human_ms(snapshot['window_s'] * 1000)}"
    for topic, t in snapshot["topics"].items():
        window = t.get("window")
        if t["kind"] == ARTICLE_EVENT:
            table = Table(title=f"{topic}: article events, {span}", title_justify="left",
                          show_header=False)
            lag, stories = window["event_time_lag_ms"], window["stories"]
            for key, value in (
                    ("events", str(window["events"])),
                    ("duplicates", f"{window['duplicates']} ({window['duplicate_ratio']:.1%})"),
                    ("stories", f"{stories['stories']} ({stories['opened']} opened, "
                                f"{stories['joined']} joined an earlier one)"),
                    ("event-time lag", f"p50 {human_ms(lag['p50'])}  p99 {human_ms(lag['p99'])}"
                                       f"  ({lag['count']} with a published time)"),
                    ("languages", _mix(window["languages"])),
                    ("topics", _mix(window["topics"])),
                    ("undecodable", str(window["undecodable"]))):
                table.add_row(key, value)
            parts.append(table)
        elif t["kind"] == DEAD_LETTER:
            heading = Text(f"{topic}: {window['dead_letters']} dead letters, {span} "
                           f"({window['undecodable']} undecodable)", style="italic")
            counts = Table()
            for column in ("error_type", "count", "share"):
                counts.add_column(column, justify="left" if column == "error_type" else "right")
            for entry in window["by_error_type"]:
                counts.add_row(entry["name"], str(entry["count"]), f"{entry['share']:.0%}")
            latest = Table(title="latest", title_justify="left")
            rows = window["latest"]
            latest.add_column("time", min_width=8)
            for column in ("stage", "error_type"):  # short: never squeezed
                latest.add_column(column, min_width=max([len(column)]
                                                        + [len(r[column]) for r in rows]))
            for column in ("reason", "origin"):  # long: these wrap when space is short
                latest.add_column(column)
            for letter in rows:
                latest.add_row(_utc(letter["timestamp_ms"]), letter["stage"],
                               letter["error_type"], _cut(letter["reason"]),
                               _cut(letter["origin"]))
            parts += [heading, counts, latest]
    return Group(*parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirewatch monitor",
        description="Watch the Kafka topics a wirewatch deployment reads and writes: offsets, "
                    "the group's lag, how far the written output trails the input, messages/s; "
                    "duplicates, languages, topics, stories and event-time lag of the article "
                    "events; "
                    "dead letters by error type.",
        epilog="Example:\n  wirewatch monitor --bootstrap_servers localhost:9092 --group_id "
               "wirewatch \\\n    --input_topic articles --output_topic article-events "
               "--dead_letter_topic dead-letters\n\n" + FIGURES + "\n"
               "Security: the --kafka_* options of 'wirewatch run' (--kafka_security_protocol, "
               "--kafka_sasl_mechanism,\n--kafka_sasl_username, --kafka_sasl_password, "
               "--kafka_ssl_cafile, ..., --kafka_config KEY=VALUE).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap_servers", required=True, metavar="HOST:PORT[,...]")
    parser.add_argument("--group_id", default="wirewatch",
                        help="consumer group whose committed offsets and lag to show "
                             "(default: wirewatch, the pipeline's default)")
    parser.add_argument("--input_topic", action="append", default=[],
                        help="a topic the pipeline reads (repeatable): offsets and lag")
    parser.add_argument("--output_topic", help="the article-event topic (Avro): also decoded")
    parser.add_argument("--dead_letter_topic", help="the dead-letter topic (Avro): also decoded")
    parser.add_argument("--schema_registry_url", metavar="URL",
                        help="the registry 'wirewatch run --schema_registry_url' writes to: "
                             "Confluent-framed values are read with their writer schema, so a "
                             "newer compatible schema is decoded (without it they are read as "
                             "if written with wirewatch's own schema)")
    parser.add_argument("--window_s", type=int, default=300,
                        help="sliding window of the decoded figures, by record time (default 300)")
    parser.add_argument("--rate_window_s", type=int, default=60,
                        help="messages/s are counted over this many seconds (default 60)")
    parser.add_argument("--latest", type=int, default=5,
                        help="how many of the latest dead letters to show (default 5)")
    parser.add_argument("--refresh_s", type=float, default=2.0,
                        help="seconds between refreshes of the live view (default 2)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="stop after this many refreshes (default: until Ctrl-C)")
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument("--json", action="store_true",
                        help="print snapshots as JSON (with --once: one document, for scripts "
                             "and alerting; else one line per refresh, {\"error\": ...} when "
                             "the broker did not answer)")
    return parser


def _kafka(bootstrap_servers: str, rest: Sequence[str]) -> KafkaConfig:
    """The connection: ``--bootstrap_servers`` and the ``--kafka_*`` options of ``run``."""
    known = argparse.ArgumentParser(add_help=False)
    WirewatchOptions._add_argparse_args(known)
    _, unknown = known.parse_known_args(rest)
    stray = unknown + [a for a in rest if a.startswith("--") and not a.startswith("--kafka_")]
    if stray:
        raise MonitorError(f"unrecognized arguments: {' '.join(dict.fromkeys(stray))}")
    try:
        return kafka_config(PipelineOptions(["--bootstrap_servers", bootstrap_servers, *rest]))
    except ValueError as e:
        raise MonitorError(str(e)) from None


def _watch(args: argparse.Namespace, rest: Sequence[str]) -> Watch:
    for name in ("window_s", "rate_window_s", "latest", "iterations"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise MonitorError(f"--{name} must be positive, not {value}")
    if args.refresh_s <= 0:
        raise MonitorError(f"--refresh_s must be positive, not {args.refresh_s}")
    if not (args.input_topic or args.output_topic or args.dead_letter_topic):
        raise MonitorError("nothing to watch: give --input_topic, --output_topic or "
                           "--dead_letter_topic")
    return Watch(kafka=_kafka(args.bootstrap_servers, rest), group_id=args.group_id,
                 input_topics=tuple(args.input_topic), output_topic=args.output_topic,
                 dead_letter_topic=args.dead_letter_topic, window_s=args.window_s,
                 rate_window_s=args.rate_window_s, latest=args.latest,
                 schema_registry_url=args.schema_registry_url)


def _refreshes(watcher: Watcher, args: argparse.Namespace) -> Iterator[tuple[int, dict]]:
    """``(n, snapshot)`` every ``--refresh_s``; a snapshot that failed is ``{"error": ...}``,
    because the broker may come back and the watch goes on."""
    n = 0
    while args.iterations is None or n < args.iterations:
        if n:
            time.sleep(args.refresh_s)
        n += 1
        try:
            yield n, watcher.snapshot()
        except MonitorError as e:
            yield n, {"time_ms": round(time.time() * 1000), "error": str(e)}


def _live(watcher: Watcher, args: argparse.Namespace, console: Console) -> None:
    with Live(console=console, auto_refresh=False) as live:
        for n, snapshot in _refreshes(watcher, args):
            view = (Text(f"#{n} {_utc(snapshot['time_ms'])} UTC  {snapshot['error']}",
                         style="red") if "error" in snapshot else render(snapshot, n))
            live.update(view, refresh=True)


def main(argv: Sequence[str]) -> int:
    """``wirewatch monitor``; 1 when the broker or a topic is not there, 2 for bad usage."""
    args, rest = _parser().parse_known_args(argv)
    # kafka-python logs every failed connection attempt; the monitor says what went wrong once
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        watch = _watch(args, rest)
    except MonitorError as e:
        print(f"wirewatch monitor: error: {e}", file=sys.stderr)
        return 2
    console = Console()
    try:
        watcher = Watcher(watch)
    except MonitorError as e:
        print(f"wirewatch monitor: error: {e}", file=sys.stderr)
        return 1
    try:
        if args.once and args.json:
            print(json.dumps(watcher.snapshot(), indent=2, ensure_ascii=False))
        elif args.once:
            console.print(render(watcher.snapshot()))
        elif args.json:
            for _, snapshot in _refreshes(watcher, args):
                print(json.dumps(snapshot, ensure_ascii=False), flush=True)
        else:
            _live(watcher, args, console)
    except MonitorError as e:
        print(f"wirewatch monitor: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
    return 0
