"""What ``wirewatch monitor`` computes, as pure functions: consumer lag, how far the written
output trails the input, rates, mixes and percentiles over a sliding window of records. No
Kafka, no Beam, no terminal here.

Conventions, chosen to match Kafka's own tools and to be exact in tests:
- lag of a partition = end offset - committed offset; unknown (``None``) without a commit;
- written offset of an input partition = the highest offset of it that an output record (article
  event or dead letter) names as its ``source``; unwritten = end - (written offset + 1),
  unknown (``None``) while no output record names the partition;
- percentiles are nearest-rank (a value that really occurred, no interpolation);
- shares and ratios are rounded to 4 decimals, rates to 3.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wirewatch.schemas.records import OPENING

__all__ = [
    "DeadLetterSample",
    "EventSample",
    "SlidingWindow",
    "WrittenOffsets",
    "dead_letter_sample",
    "dead_letter_window",
    "event_sample",
    "event_window",
    "human_ms",
    "kafka_origin",
    "mix",
    "partition_lag",
    "partition_unwritten",
    "percentile",
    "rate",
    "ratio",
    "total",
]


def partition_lag(end: int, committed: int | None) -> int | None:
    """Messages the group has not committed yet; ``None`` if it never committed here.

    A commit beyond the end (a topic recreated under the group) counts as no lag, not negative.
    """
    if committed is None:
        return None
    return max(0, end - committed)


def partition_unwritten(end: int, written: int | None) -> int | None:
    """Input messages after the highest one seen written; ``None`` if none was seen.

    Not every message below the written offset need be written (the pipeline writes in
    event-time order, not offset order), so this is a floor of what is not written yet.
    A written offset at or beyond the end (a topic recreated) counts as nothing unwritten.
    """
    if written is None:
        return None
    return max(0, end - (written + 1))


def kafka_origin(record: Mapping) -> tuple[str, int, int] | None:
    """``(topic, partition, offset)`` of the Kafka message an article event or dead letter
    (Avro shape) came from; ``None`` for other sources (a feed; a file, whose offset is a line)."""
    where = record["source"]
    if where["kind"] != "kafka" or None in (where["topic"], where["partition"], where["offset"]):
        return None
    return where["topic"], where["partition"], where["offset"]


class WrittenOffsets:
    """Per input partition, the highest offset named by an output record seen so far.

    A running maximum, not a window: a pipeline that went quiet keeps its written offsets.
    """

    def __init__(self) -> None:
        self._highest: dict[tuple[str, int], int] = {}

    def add(self, origins: Iterable[tuple[str, int, int] | None]) -> None:
        for origin in origins:
            if origin is not None:
                topic, partition, offset = origin
                key = (topic, partition)
                self._highest[key] = max(offset, self._highest.get(key, offset))

    def get(self, topic: str, partition: int) -> int | None:
        """The highest offset of ``topic[partition]`` seen written; ``None`` if none was."""
        return self._highest.get((topic, partition))


def total(values: Iterable[int | None]) -> int | None:
    """The sum of the known ``values`` (a topic's lag from its partitions'); ``None`` if none
    is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def ratio(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 decimals; 0.0 for an empty whole."""
    return round(part / whole, 4) if whole else 0.0


def rate(messages: int, seconds: float) -> float:
    """Messages per second, rounded to 3 decimals."""
    return round(messages / seconds, 3) if seconds > 0 else 0.0


def percentile(values: Sequence[int], p: float) -> int | None:
    """Nearest-rank ``p``-th percentile (0 < p <= 100) of ``values``; ``None`` if empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def mix(counts: Counter, total: int) -> list[dict]:
    """``[{"name", "count", "share"}]``, most common first (ties by name)."""
    return [{"name": name, "count": n, "share": ratio(n, total)}
            for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def human_ms(ms: float | None) -> str:
    """A duration for people: ``850 ms``, ``12.3 s``, ``4.2 min``, ``3.1 h``, ``2.5 d``."""
    if ms is None:
        return "-"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if abs(ms) >= size:
            return f"{ms / size:.1f} {unit}"
    return f"{ms:.0f} ms"


@dataclass(frozen=True)
class EventSample:
    """What the monitor keeps of one article event on a topic."""

    timestamp_ms: int
    is_duplicate: bool
    language: str
    topics: tuple[str, ...]
    lag_ms: int | None
    story_id: str | None = None  # None: written without the link step
    opened_story: bool = False


@dataclass(frozen=True)
class DeadLetterSample:
    """What the monitor keeps of one dead letter on a topic."""

    timestamp_ms: int
    stage: str
    error_type: str
    reason: str
    origin: str


def event_sample(event: Mapping, timestamp_ms: int) -> EventSample:
    """An article event (Avro shape) written at ``timestamp_ms`` (its Kafka record time).

    The event-time lag is ``timestamp_ms - published_time``: how late the article reached the
    topic after its outlet published it; unknown without a published time.
    """
    published = event["published_time"]
    story = event.get("story")
    return EventSample(
        timestamp_ms=timestamp_ms,
        is_duplicate=bool(event["dedup"]["is_duplicate"]),
        language=event["language"]["code"],
        topics=tuple(f"{t['code']} {t['label']}" for t in event["topics"]),
        lag_ms=None if published is None else max(0, timestamp_ms - published),
        story_id=story["story_id"] if story else None,
        opened_story=bool(story) and story["linked_by"] in OPENING,
    )


def dead_letter_sample(letter: Mapping, timestamp_ms: int) -> DeadLetterSample:
    """A dead letter (Avro shape) written at ``timestamp_ms``; ``origin`` names its source."""
    source = letter["source"]
    if source["kind"] == "kafka":
        where = f"{source['topic']}[{source['partition']}]@{source['offset']}"
    elif source["kind"] == "file":
        where = f"{source['path']}:{source['offset']}"
    else:
        where = source["feed_url"] or ""
    return DeadLetterSample(
        timestamp_ms=timestamp_ms, stage=letter["stage"], error_type=letter["error_type"],
        reason=letter["reason"], origin=f"{source['outlet']} {where}".strip())


def event_window(samples: Sequence[EventSample]) -> dict:
    """Duplicate ratio, language mix, topic mix, stories and p50/p99 event-time lag of
    ``samples``. Stories: how many distinct ones the window's events are in, how many of the
    events opened a story and how many joined one (events written without the link step are in
    neither)."""
    lags = [s.lag_ms for s in samples if s.lag_ms is not None]
    linked = [s for s in samples if s.story_id is not None]
    opened = sum(s.opened_story for s in linked)
    duplicates = sum(s.is_duplicate for s in samples)
    topics: Counter = Counter(t for s in samples for t in s.topics)
    return {
        "events": len(samples),
        "duplicates": duplicates,
        "duplicate_ratio": ratio(duplicates, len(samples)),
        "languages": mix(Counter(s.language for s in samples), len(samples)),
        # a share of events: an event may carry several topics, or none
        "topics": mix(topics, len(samples)),
        "stories": {"stories": len({s.story_id for s in linked}), "opened": opened,
                    "joined": len(linked) - opened},
        "event_time_lag_ms": {"count": len(lags), "p50": percentile(lags, 50),
                              "p99": percentile(lags, 99)},
    }


def dead_letter_window(samples: Sequence[DeadLetterSample], latest: int = 5) -> dict:
    """Dead letters of ``samples`` by error type and stage, and the ``latest`` few of them."""
    newest = sorted(samples, key=lambda s: s.timestamp_ms, reverse=True)[:latest]
    return {
        "dead_letters": len(samples),
        "by_error_type": mix(Counter(s.error_type for s in samples), len(samples)),
        "by_stage": mix(Counter(s.stage for s in samples), len(samples)),
        "latest": [{"timestamp_ms": s.timestamp_ms, "stage": s.stage,
                    "error_type": s.error_type, "reason": s.reason, "origin": s.origin}
                   for s in newest],
    }


class SlidingWindow:
    """Samples of the last ``span_ms`` by their timestamp, at most ``limit`` of them."""

    def __init__(self, span_ms: int, limit: int) -> None:
        if span_ms <= 0 or limit <= 0:
            raise ValueError("a window needs a positive span and limit")
        self.span_ms = span_ms
        self.limit = limit
        self._samples: list = []

    def add(self, samples: Iterable) -> None:
        self._samples.extend(samples)
        if len(self._samples) > self.limit:
            self._samples.sort(key=lambda s: s.timestamp_ms)
            del self._samples[:len(self._samples) - self.limit]

    def samples(self, now_ms: int) -> list:
        """The samples whose timestamp is within ``span_ms`` before ``now_ms``."""
        start = now_ms - self.span_ms
        self._samples = [s for s in self._samples if s.timestamp_ms >= start]
        return list(self._samples)
