"""wirewatch's pipeline options, in Beam's ``PipelineOptions`` manner.

Every Beam option (``--runner``, ``--streaming``, ``--flink_master``, ``--project`` ...) is
accepted as well; these are ours.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

from apache_beam.options.pipeline_options import KafkaStreamsRunnerOptions, PipelineOptions

from wirewatch import __version__
from wirewatch.connectors.files import CODECS, DEFAULT_CODEC
from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.source import MAX_BACKLOG, MAX_IN_FLIGHT, MAX_OUT_OF_ORDERNESS_S
from wirewatch.core.language import BACKENDS, DEFAULT_BACKEND
from wirewatch.core.topic_model import DEFAULT_TOPIC_TAGGER, TOPIC_TAGGERS
from wirewatch.pipelines.link.decide import DEFAULTS as STORY_DEFAULTS

__all__ = ["WirewatchOptions", "dead_letter_topic", "kafka_config", "start_from",
           "story_settings"]


class WirewatchOptions(PipelineOptions):
    """Options of the wirewatch ingest pipeline."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("wirewatch input")
        group.add_argument(
            "--feeds",
            help="YAML feed list (url, outlet, optional language, interval, path). Entries with "
                 "a 'path' are read from that file; e.g. samples/feeds.yaml.")
        group.add_argument(
            "--fetched_at_ms", type=int, default=None,
            help="Fetch time to stamp on articles read from feed or JSON-lines files, in "
                 "epoch millis (default: now). Pin it to make reruns byte-identical.")
        group.add_argument(
            "--feed_user_agent", default=f"wirewatch/{__version__} (news feed reader)",
            help="User-Agent sent when fetching feeds over HTTP.")
        group.add_argument(
            "--input_jsonl",
            help="JSON-lines archive of articles to read (a path or glob; .gz/.bz2 are "
                 "decompressed), one JSON article a line in the Kafka JSON format "
                 "(connectors/article_json.py): backfills from files. Bad lines become dead "
                 "letters with their line number.")
        group.add_argument(
            "--input_topic", action="append", default=None,
            help="Kafka topic of articles to read (repeat for several); needs "
                 "--bootstrap_servers. Message format: connectors/kafka/serde.py.")
        group.add_argument(
            "--input_format", choices=("json", "avro"), default="json",
            help="Messages on --input_topic: JSON articles (default) or Avro article events.")
        group.add_argument(
            "--group_id", default="wirewatch",
            help="Kafka consumer group whose offsets are read (--start_from committed) and "
                 "committed once the output is durable (default: wirewatch).")
        group.add_argument(
            "--start_from", default="committed",
            help="Where to start in each partition: committed (the group's offset, else the "
                 "earliest; default), earliest, latest, or a time (epoch millis or ISO 8601): "
                 "the first record at or after it.")
        group.add_argument(
            "--bounded", action="store_true",
            help="Read each partition up to its end offset at launch, then finish (backfills, "
                 "batch runs). Without it the read runs until stopped.")
        group.add_argument(
            "--stop_after_idle_s", type=float, default=None,
            help="End an unbounded read once every partition has been caught up for this "
                 "many seconds and no partition was added (tests, demos). Default: never.")
        group.add_argument(
            "--max_out_of_orderness_s", type=float, default=MAX_OUT_OF_ORDERNESS_S,
            help="How far a Kafka record timestamp may lag the newest one in its partition "
                 "before it is late: the watermark trails the newest timestamp by this much, "
                 "and each article waits that long before dedupe decides it (default "
                 f"{MAX_OUT_OF_ORDERNESS_S:g}). Late records are still written.")
        group.add_argument(
            "--max_in_flight", type=int, default=MAX_IN_FLIGHT,
            help="Backpressure of an unbounded read with a --group_id: a partition is not read "
                 "while this many of its records are read but not yet written by every sink "
                 "(offsets are committed only after the write). Bounds memory and what a "
                 "restart after a crash writes again; must exceed the input rate times "
                 "(--file_period_s + --max_out_of_orderness_s) or it caps throughput "
                 f"(default {MAX_IN_FLIGHT}).")
        group.add_argument(
            "--max_backlog", type=int, default=MAX_BACKLOG,
            help="Backpressure on memory, with --max_in_flight: a partition is not read while "
                 "this many of its records are past its watermark (nothing holds them back but "
                 "the pipeline's own speed) and not yet in a part file or acknowledged by the "
                 "output topic; a step slower than the input then slows the read instead of "
                 "queueing. Too low a value caps throughput at about this many records per "
                 f"partition per second of processing delay (default {MAX_BACKLOG}).")
        group.add_argument(
            "--idle_after_s", type=float, default=10.0,
            help="A partition caught up this long moves its watermark with wall time.")
        group.add_argument(
            "--partition_discovery_interval_s", type=float, default=10.0,
            help="How often an unbounded read looks for partitions added to its topics.")
        group = parser.add_argument_group("wirewatch dedup")
        group.add_argument(
            "--dedup_horizon_hours", type=float, default=48.0,
            help="How far back in event time an earlier article can be the original of a copy "
                 "(default 48); dedup state is bounded by it.")
        group.add_argument(
            "--dedup_shards", type=int, default=2,
            help="Keys the near-duplicate index is spread over: the parallelism of dedup "
                 "(default 2; each shard an article touches keeps ~170 bytes of it).")
        group = parser.add_argument_group("wirewatch stories")
        group.add_argument(
            "--story_horizon_hours", type=float,
            default=STORY_DEFAULTS["horizon_ms"] / 3_600_000,
            help="How long (event time) a story stays open after its last article: a later "
                 "report of the same event opens a new story. Story state is bounded by it "
                 "(default %(default)g).")
        group.add_argument(
            "--story_threshold", type=float, default=STORY_DEFAULTS["threshold"],
            help="Similarity in (0, 1] of an article's rare names, places and numbers to a "
                 "story's that it needs to join the story; higher splits more (default "
                 "%(default)g).")
        group.add_argument(
            "--story_max_size", type=int, default=STORY_DEFAULTS["max_size"],
            help="Articles a story takes at most: a live blog or a 'latest news' page is "
                 "capped there, and the next article opens a successor story with a note "
                 "(default %(default)d).")
        group = parser.add_argument_group("wirewatch tagging")
        group.add_argument(
            "--language_backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND,
            help="Language detector: 'cascade' (default: script, fastText, lingua for "
                 "confusable languages, the feed's language as a prior), 'fasttext', 'lingua' "
                 "(accurate, slow) or 'langdetect' (seeded).")
        group.add_argument(
            "--topic_tagger", choices=sorted(TOPIC_TAGGERS), default=DEFAULT_TOPIC_TAGGER,
            help="Topics: 'learned' (default: the shipped fastText model, any language) or "
                 "'keywords' (the keyword definitions: 12 languages, explainable).")
        group = parser.add_argument_group("wirewatch output")
        group.add_argument(
            "--output",
            help="Folder for Avro output: article events in <output>/article_events/, dead "
                 "letters in <output>/dead_letters/, one health record per feed poll in "
                 "<output>/feed_healths/. Created if missing.")
        group.add_argument(
            "--append", action="store_true",
            help="Write into an --output folder that holds an earlier run's files and keep them "
                 "(a restarted streaming job, same --group_id). Without --append or "
                 "--overwrite a non-empty --output folder (local, or a URL such as gs://b/out) is "
                 "refused, so that two runs' records never mix unnoticed.")
        group.add_argument(
            "--overwrite", action="store_true",
            help="Remove what an earlier run wrote to --output (article_events/, dead_letters/, "
                 "feed_healths/) before this run starts; a folder holding anything else is "
                 "refused, never emptied.")
        group.add_argument(
            "--file_period_s", type=int, default=60,
            help="Unbounded runs (Kafka without --bounded, feeds with --streaming) write a new "
                 "Avro file of whatever arrived this often (seconds, > 0); bounded runs write "
                 "once at the end.")
        group.add_argument(
            "--avro_codec", choices=CODECS, default=DEFAULT_CODEC,
            help="Compression of the Avro files' blocks (default %(default)s; size and speed "
                 "of each: benchmarks/bench_pipeline.py --codecs).")
        group.add_argument(
            "--output_topic",
            help="Kafka topic for article events (Avro; keys and framing: "
                 "connectors/kafka/sink.py); needs --bootstrap_servers.")
        group.add_argument(
            "--dead_letter_topic",
            help="Kafka topic for dead letters (Avro). Default with --output_topic: "
                 "<output_topic>.dead_letters.")
        group.add_argument(
            "--schema_registry_url",
            help="Confluent Schema Registry: frame Avro values in Confluent's wire format "
                 "(magic byte + schema id, subject <topic>-value). Without it, headers carry "
                 "the schema name and fingerprint. With --input_format avro, the writer "
                 "schema of Confluent-framed input is fetched from it by id and read by "
                 "resolution, so a compatible newer schema is read.")
        # --bootstrap_servers is Beam's own option (KafkaStreamsRunnerOptions); we read it there.
        group = parser.add_argument_group("wirewatch Kafka connection")
        group.add_argument(
            "--kafka_security_protocol", default="PLAINTEXT",
            choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
            help="How to talk to the brokers (default PLAINTEXT).")
        group.add_argument(
            "--kafka_sasl_mechanism",
            help="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI.")
        group.add_argument("--kafka_sasl_username", help="SASL user name.")
        group.add_argument(
            "--kafka_sasl_password",
            help="SASL password. It travels with the job's options; prefer "
                 "--kafka_config sasl_plain_password=... from a secret store on shared runners.")
        group.add_argument("--kafka_ssl_cafile", help="CA certificate file (PEM) for SSL.")
        group.add_argument("--kafka_ssl_certfile", help="Client certificate file (PEM).")
        group.add_argument("--kafka_ssl_keyfile", help="Client private key file (PEM).")
        group.add_argument(
            "--kafka_config", action="append", default=None, metavar="KEY=VALUE",
            help="Any other kafka-python client setting, passed through (repeatable), e.g. "
                 "--kafka_config ssl_check_hostname=false. Integers and true/false are "
                 "converted.")
        group = parser.add_argument_group("wirewatch monitoring")
        group.add_argument(
            "--prometheus_port", type=int, default=None,
            help="Serve Prometheus metrics on this port at /metrics while the pipeline runs. "
                 "Only workers inside the launching process are seen: DirectRunner (in-memory) "
                 "and Flink/Prism with --environment_type=LOOPBACK (see README, Monitoring).")
        group.add_argument(
            "--prometheus_host", default="127.0.0.1",
            help="Address the Prometheus endpoint listens on (default 127.0.0.1; 0.0.0.0 to "
                 "let a Prometheus server on another machine scrape it).")


def _setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--kafka_config wants KEY=VALUE, not {text!r}")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    return key, int(value) if value.lstrip("-").isdigit() else value


def kafka_config(options: PipelineOptions) -> KafkaConfig:
    """The Kafka connection settings in ``options`` (``--bootstrap_servers``, ``--kafka_*``).

    ``--bootstrap_servers`` is defined by Beam (``KafkaStreamsRunnerOptions``, default
    ``localhost:9092``) with the same meaning; a second definition would clash.
    """
    opts = options.view_as(WirewatchOptions)
    return KafkaConfig(
        bootstrap_servers=options.view_as(KafkaStreamsRunnerOptions).bootstrap_servers,
        security_protocol=opts.kafka_security_protocol,
        sasl_mechanism=opts.kafka_sasl_mechanism,
        sasl_plain_username=opts.kafka_sasl_username,
        sasl_plain_password=opts.kafka_sasl_password,
        ssl_cafile=opts.kafka_ssl_cafile,
        ssl_certfile=opts.kafka_ssl_certfile,
        ssl_keyfile=opts.kafka_ssl_keyfile,
        extra=tuple(_setting(s) for s in opts.kafka_config or ()),
    )


def story_settings(options: PipelineOptions) -> dict:
    """``Link``'s keyword arguments from ``--story_*``."""
    opts = options.view_as(WirewatchOptions)
    return {"horizon": timedelta(hours=opts.story_horizon_hours),
            "threshold": opts.story_threshold, "max_size": opts.story_max_size}


def dead_letter_topic(options: PipelineOptions) -> str | None:
    """``--dead_letter_topic``, else ``<output_topic>.dead_letters`` if there is an output topic."""
    opts = options.view_as(WirewatchOptions)
    if opts.dead_letter_topic:
        return opts.dead_letter_topic
    return f"{opts.output_topic}.dead_letters" if opts.output_topic else None


def start_from(options: PipelineOptions) -> str | int:
    """``--start_from`` as ``ReadFromKafka`` takes it: a policy name or epoch millis."""
    value = options.view_as(WirewatchOptions).start_from
    if value in ("committed", "earliest", "latest"):
        return value
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--start_from must be committed, earliest, latest, epoch millis or "
                         f"an ISO 8601 time, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)
