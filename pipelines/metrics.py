"""Beam metrics of wirewatch, named in one place so every runner and dashboard agrees.

Beam metrics have a name and no labels, so a labelled metric is named the Prometheus way,
``family{label=value,...}`` (e.g. ``dead_letters_by_reason{stage=normalise,error_type=
invalid_link}``): readable in the Flink and Dataflow UIs, and :func:`parse_name` turns it back
into a family and labels for the Prometheus exporter and the run summary.

Every counter and distribution is updated through :func:`counter` and :func:`distribution`,
which also feed a process-local mirror when one is installed (:func:`mirror_to`; the Prometheus
exporter is one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from apache_beam.metrics.metric import Metrics

from wirewatch.schemas.records import OPENING

__all__ = [
    "ARTICLES_READ",
    "COUNTER",
    "DEAD_LETTERS_BY_REASON",
    "DEAD_LETTERS_WRITTEN",
    "DEDUPE_BATCHES_INCOMPLETE",
    "DEDUPE_VERDICTS_LATE",
    "DISTRIBUTION",
    "DUPLICATES_BY_METHOD",
    "EVENTS_BY_LANGUAGE",
    "EVENTS_BY_SOURCE",
    "EVENTS_BY_TOPIC",
    "EVENTS_WITHOUT_PUBLISHED_TIME",
    "EVENTS_WRITTEN",
    "EVENT_TIME_LAG_MS",
    "FEED_POLLS",
    "FEED_POLL_FAILURES",
    "FEED_POLL_LATENCY_MS",
    "KAFKA_BROKER_UNAVAILABLE",
    "KAFKA_READ_PAUSED",
    "LINK_BATCHES_INCOMPLETE",
    "LINK_VERDICTS_LATE",
    "METRICS",
    "NAMESPACE",
    "OFFSETS_COMMITTED",
    "OFFSETS_IN_FLIGHT",
    "STORIES_JOINED",
    "STORIES_OPENED",
    "Metric",
    "Mirror",
    "counter",
    "dead_letter_metric_names",
    "distribution",
    "event_metric_names",
    "mirror_to",
    "parse_name",
]

#: Namespace of every wirewatch metric.
NAMESPACE = "wirewatch"
COUNTER = "counter"
DISTRIBUTION = "distribution"

_NAME = re.compile(r"^(?P<family>[^{]+)\{(?P<labels>.*)\}$")
_UNSAFE = re.compile(r"[,={}]")


@dataclass(frozen=True)
class Metric:
    """One metric family: its name, kind, meaning, and label names (in order)."""

    family: str
    kind: str
    doc: str
    labels: tuple[str, ...] = ()

    def name(self, **labels: object) -> str:
        """The Beam metric name for these label values (all of ``labels``, no others)."""
        if set(labels) != set(self.labels):
            raise ValueError(f"metric {self.family} takes labels {self.labels}, "
                             f"not {tuple(labels)}")
        if not self.labels:
            return self.family
        # A label value must not break the name apart again.
        values = ",".join(f"{k}={_UNSAFE.sub('_', str(labels[k]))}" for k in self.labels)
        return f"{self.family}{{{values}}}"


ARTICLES_READ = Metric(
    "articles_read", COUNTER, "Articles a connector read, per source kind (rss, kafka).",
    ("source",))
FEED_POLLS = Metric(
    "feed_polls", COUNTER, "Feed polls, per outcome (e.g. ok, not_modified, error).",
    ("outcome",))
FEED_POLL_FAILURES = Metric(
    "feed_poll_failures", COUNTER, "Feed polls that failed, per kind of error.", ("error_kind",))
FEED_POLL_LATENCY_MS = Metric(
    "feed_poll_latency_ms", DISTRIBUTION, "Milliseconds from sending a feed request to its end.")
EVENTS_WRITTEN = Metric(
    "events_written", COUNTER, "Article events that reached the sinks.")
EVENTS_BY_SOURCE = Metric(
    "events_by_source", COUNTER, "Article events written, per source kind and outlet.",
    ("source", "outlet"))
EVENTS_BY_LANGUAGE = Metric(
    "events_by_language", COUNTER, "Article events written, per detected language.",
    ("language",))
EVENTS_BY_TOPIC = Metric(
    "events_by_topic", COUNTER, "Article events written, per IPTC Media Topics code.",
    ("topic",))
DUPLICATES_BY_METHOD = Metric(
    "duplicates_by_method", COUNTER, "Article events written marked as duplicates, per method.",
    ("method",))
EVENT_TIME_LAG_MS = Metric(
    "event_time_lag_ms", DISTRIBUTION,
    "Milliseconds from an article's published time to the moment it was written.")
EVENTS_WITHOUT_PUBLISHED_TIME = Metric(
    "events_without_published_time", COUNTER,
    "Article events written with no published time (not in event_time_lag_ms).")
STORIES_OPENED = Metric(
    "stories_opened", COUNTER,
    "Article events written that opened a story (its first article, or a capped story's "
    "successor).", ("linked_by",))
STORIES_JOINED = Metric(
    "stories_joined", COUNTER,
    "Article events written that joined an earlier story, per how (names, duplicate).",
    ("linked_by",))
DEAD_LETTERS_WRITTEN = Metric(
    "dead_letters_written", COUNTER, "Dead letters that reached the dead-letter sink.")
DEAD_LETTERS_BY_REASON = Metric(
    "dead_letters_by_reason", COUNTER, "Dead letters written, per stage and error_type.",
    ("stage", "error_type"))

KAFKA_BROKER_UNAVAILABLE = Metric(
    "kafka_broker_unavailable", COUNTER,
    "Outages of the Kafka cluster seen by a reader (each waited for and reconnected).")
KAFKA_READ_PAUSED = Metric(
    "kafka_read_paused", COUNTER,
    "Times a partition's read paused because --max_in_flight records were not yet written.")
OFFSETS_COMMITTED = Metric(
    "offsets_committed", COUNTER,
    "Kafka offset commits, each after every sink wrote the records below it.")
OFFSETS_IN_FLIGHT = Metric(
    "offsets_in_flight", DISTRIBUTION,
    "Records of a partition read and not yet written by every sink, at each commit step.")
DEDUPE_BATCHES_INCOMPLETE = Metric(
    "dedupe_batches_incomplete", COUNTER,
    "Batches whose articles went out before all their verdicts were in (each article noted).")
DEDUPE_VERDICTS_LATE = Metric(
    "dedupe_verdicts_late", COUNTER,
    "Verdict parts that came behind the watermark, after their batch went out.")
LINK_BATCHES_INCOMPLETE = Metric(
    "link_batches_incomplete", COUNTER,
    "Batches whose articles went out before all their story verdicts were in (each noted).")
LINK_VERDICTS_LATE = Metric(
    "link_verdicts_late", COUNTER,
    "Story verdicts that came behind the watermark, after their batch went out.")

#: Every named family, by family name.
METRICS: Mapping[str, Metric] = {m.family: m for m in (
    ARTICLES_READ, FEED_POLLS, FEED_POLL_FAILURES, FEED_POLL_LATENCY_MS, EVENTS_WRITTEN,
    EVENTS_BY_SOURCE, EVENTS_BY_LANGUAGE, EVENTS_BY_TOPIC, DUPLICATES_BY_METHOD, EVENT_TIME_LAG_MS,
    EVENTS_WITHOUT_PUBLISHED_TIME, STORIES_OPENED, STORIES_JOINED, DEAD_LETTERS_WRITTEN,
    DEAD_LETTERS_BY_REASON,
    KAFKA_BROKER_UNAVAILABLE, KAFKA_READ_PAUSED, OFFSETS_COMMITTED, OFFSETS_IN_FLIGHT,
    DEDUPE_BATCHES_INCOMPLETE, DEDUPE_VERDICTS_LATE, LINK_BATCHES_INCOMPLETE, LINK_VERDICTS_LATE)}


def parse_name(name: str) -> tuple[str, dict[str, str]]:
    """``family{a=x,b=y}`` -> ``("family", {"a": "x", "b": "y"})``; a plain name has no labels."""
    match = _NAME.match(name)
    if not match:
        return name, {}
    labels = dict(pair.split("=", 1) for pair in match["labels"].split(",") if "=" in pair)
    return match["family"], labels


class Mirror(Protocol):
    """Receives every update made in this process, besides Beam (e.g. a Prometheus registry)."""

    def inc(self, name: str, n: int) -> None: ...

    def observe(self, name: str, value: int) -> None: ...


_mirror: Mirror | None = None


def mirror_to(mirror: Mirror | None) -> None:
    """Send every later update in this process to ``mirror`` too (``None``: stop)."""
    global _mirror
    _mirror = mirror


class _Counter:
    """A Beam counter that also tells the process's mirror, if any."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._beam = Metrics.counter(NAMESPACE, name)

    def inc(self, n: int = 1) -> None:
        self._beam.inc(n)
        if _mirror is not None:
            _mirror.inc(self.name, n)


class _Distribution:
    """A Beam distribution that also tells the process's mirror, if any."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._beam = Metrics.distribution(NAMESPACE, name)

    def update(self, value: int) -> None:
        self._beam.update(value)
        if _mirror is not None:
            _mirror.observe(self.name, value)


def _name(metric: Metric | str, labels: Mapping[str, object]) -> str:
    if isinstance(metric, Metric):
        return metric.name(**labels)
    if labels:
        raise ValueError(f"labels need a Metric, not the plain name {metric!r}")
    return metric


def counter(metric: Metric | str, **labels: object) -> _Counter:
    """The wirewatch counter ``metric`` with these label values (or a plain name, e.g.
    ``duplicates``)."""
    return _Counter(_name(metric, labels))


def distribution(metric: Metric | str, **labels: object) -> _Distribution:
    """The wirewatch distribution ``metric`` (e.g. :data:`EVENT_TIME_LAG_MS`)."""
    return _Distribution(_name(metric, labels))


def event_metric_names(event: Mapping) -> list[str]:
    """Names of the counters one written article event adds 1 to."""
    names = [EVENTS_WRITTEN.name(),
             EVENTS_BY_SOURCE.name(source=event["source"]["kind"],
                                   outlet=event["source"]["outlet"]),
             EVENTS_BY_LANGUAGE.name(language=event["language"]["code"])]
    # the code alone: IPTC labels hold commas, which a label value cannot carry
    names += [EVENTS_BY_TOPIC.name(topic=t["code"]) for t in event["topics"]]
    if event["dedup"]["is_duplicate"]:
        names.append(DUPLICATES_BY_METHOD.name(method=event["dedup"]["method"]))
    if event["published_time"] is None:
        names.append(EVENTS_WITHOUT_PUBLISHED_TIME.name())
    linked = event.get("story")  # None: written by a pipeline without the link step
    if linked is not None:
        opened = linked["linked_by"] in OPENING
        names.append((STORIES_OPENED if opened else STORIES_JOINED).name(
            linked_by=linked["linked_by"]))
    return names


def dead_letter_metric_names(letter: Mapping) -> list[str]:
    """Names of the counters one written dead letter adds 1 to."""
    return [DEAD_LETTERS_WRITTEN.name(),
            DEAD_LETTERS_BY_REASON.name(stage=letter["stage"], error_type=letter["error_type"])]
