"""``WriteToKafka``: article events (or dead letters) as Avro to a Kafka topic.

- **Framing**: Confluent wire format when a Schema Registry URL is given, else wirewatch's
  schema headers; both described in ``serde``.
- **Keys** keep related records in one partition, so in order:
  article events are keyed by ``dedup.duplicate_of`` if set, else ``event_id``: updates of an
  article (same id) and every duplicate of it land in the partition of the canonical article,
  after it. Dead letters are keyed by where they came from (``topic/partition`` for Kafka
  input, the feed URL for feeds), so one input partition's failures stay in input order.
- **Delivery**: ``acks=all`` with the idempotent producer (no duplicates from the producer's
  own retries, order kept per partition). Each bundle ends with ``flush()``; a record the
  broker did not acknowledge fails the bundle, so the runner retries it (at-least-once; the
  stable ids let consumers drop repeats). Once a bundle is acknowledged, the Kafka offsets of
  the records in it go out on ``OFFSETS_WRITTEN``, for ``CommitWritten``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from wirewatch.connectors.kafka import admin
from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.errors import BrokerUnreachable, KafkaConnectorError
from wirewatch.connectors.kafka.serde import Framing
from wirewatch.connectors.offsets import OFFSETS_WRITTEN, offsets_of
from wirewatch.pipelines.metrics import counter
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER

__all__ = ["WriteToKafka", "dead_letter_key", "event_key", "producer"]


def event_key(event: Mapping[str, Any]) -> bytes:
    """Key of an article event: its canonical article's id (see the module docstring)."""
    return (event["dedup"]["duplicate_of"] or event["event_id"]).encode()


def dead_letter_key(letter: Mapping[str, Any]) -> bytes:
    """Key of a dead letter: the input it came from (topic/partition, else feed, else outlet)."""
    where = letter["source"]
    if where.get("topic") is not None:
        return f"{where['topic']}/{where['partition']}".encode()
    return (where.get("feed_url") or where["outlet"]).encode()


_KEYS: dict[str, Callable[[Mapping[str, Any]], bytes]] = {
    ARTICLE_EVENT: event_key, DEAD_LETTER: dead_letter_key}


def producer(config: KafkaConfig, **settings: Any) -> KafkaProducer:
    """An idempotent ``acks=all`` producer, after a quick reachability check."""
    admin.check_reachable(config)
    defaults = {"acks": "all", "enable_idempotence": True, "linger_ms": 10,
                "batch_size": 256 * 1024, "max_request_size": 8 * 1024 * 1024}
    try:
        return KafkaProducer(**config.client_kwargs(), **{**defaults, **settings})
    except KafkaTimeoutError as e:
        raise BrokerUnreachable(config.bootstrap_servers, str(e)) from None


class _WriteFn(beam.DoFn):
    def __init__(self, config: KafkaConfig, topic: str, name: str,
                 registry_url: str | None, sink: int) -> None:
        self._config = config
        self._topic = topic
        self._name = name
        self._registry_url = registry_url
        self._sink = sink

    def setup(self) -> None:
        self._framing = Framing.for_topic(self._name, self._topic, self._registry_url)
        self._key = _KEYS[self._name]
        admin.ensure_topics(self._config, [self._topic])  # before the producer asks for it
        self._producer = producer(self._config)
        self._written = counter(f"kafka_{self._name}s_written")

    def start_bundle(self) -> None:
        self._errors: list[Exception] = []
        self._count = 0
        self._origins: list[Mapping[str, Any]] = []

    def process(self, record: Mapping[str, Any]) -> None:
        future = self._producer.send(self._topic, value=self._framing.frame(record),
                                     key=self._key(record), headers=self._framing.headers)
        future.add_errback(self._errors.append)
        self._count += 1
        self._origins.append({"source": record.get("source")})

    def finish_bundle(self) -> Iterator[WindowedValue]:
        self._producer.flush()
        if self._errors:
            raise KafkaConnectorError(
                f"{len(self._errors)} of {self._count} records were not acknowledged by "
                f"{self._config.bootstrap_servers} for topic {self._topic}: {self._errors[0]!r}")
        self._written.inc(self._count)
        at = GlobalWindow().max_timestamp()
        yield WindowedValue(self._count, at, [GlobalWindow()])
        for offsets in offsets_of(self._origins, self._sink):
            yield beam.pvalue.TaggedOutput(OFFSETS_WRITTEN,
                                           WindowedValue(offsets, at, [GlobalWindow()]))

    def teardown(self) -> None:
        producer_ = getattr(self, "_producer", None)
        if producer_ is not None:
            producer_.close()


class WriteToKafka(beam.PTransform):
    """Write records of schema ``name`` (``article_event`` or ``dead_letter``) to ``topic``.

    In: dicts in the schema's shape. Out (``DoOutputsTuple``): the number of records each bundle
    wrote, once the broker acknowledged all of them (main, what ``CommitOffsets`` waits on), and
    ``OFFSETS_WRITTEN``: their Kafka offsets, reported as sink number ``sink``.
    """

    def __init__(self, config: KafkaConfig, topic: str, name: str = ARTICLE_EVENT, *,
                 registry_url: str | None = None, sink: int = 0) -> None:
        super().__init__()
        if name not in _KEYS:
            raise ValueError(f"WriteToKafka writes {sorted(_KEYS)}, not {name!r}")
        if not topic:
            raise ValueError("WriteToKafka needs a topic")
        self._fn = _WriteFn(config, topic, name, registry_url, sink)

    def expand(self, records: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return records | "Produce" >> beam.ParDo(self._fn).with_outputs(OFFSETS_WRITTEN,
                                                                         main="written")
