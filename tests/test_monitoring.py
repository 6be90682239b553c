"""The pure computations behind ``wirewatch monitor``: lag, written offsets and what is
unwritten, ratios, rates, percentiles, mixes and the sliding window."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.made_records import article_event, failed
from wirewatch.core.monitoring import (
    SlidingWindow,
    WrittenOffsets,
    dead_letter_sample,
    dead_letter_window,
    event_sample,
    event_window,
    human_ms,
    kafka_origin,
    mix,
    partition_lag,
    partition_unwritten,
    percentile,
    rate,
    ratio,
    total,
)
from wirewatch.schemas.records import source


def test_lag_is_end_minus_commit_unknown_without_one_never_negative():
    assert partition_lag(10, 4) == 6
    assert partition_lag(10, 10) == 0
    assert partition_lag(10, None) is None
    assert partition_lag(5, 9) == 0  # topic recreated under the group


def test_unwritten_is_end_minus_next_after_written_unknown_without_one_never_negative():
    assert partition_unwritten(10, 3) == 6  # offsets 4..9
    assert partition_unwritten(10, 9) == 0
    assert partition_unwritten(10, None) is None
    assert partition_unwritten(5, 9) == 0  # topic recreated: nothing is unwritten, not -5
    assert total([6, None, 2]) == 8 and total([None, None]) is None and total([0]) == 0


def _from_kafka(record: dict, topic: str | None, partition: int | None,
                offset: int | None) -> dict:
    record["source"] = source("kafka", "Wire", topic=topic, partition=partition, offset=offset)
    return record


def test_kafka_origin_of_events_and_dead_letters_only_from_kafka():
    assert kafka_origin(_from_kafka(article_event("a"), "articles", 1, 41)) == ("articles", 1, 41)
    assert kafka_origin(_from_kafka(failed("read", "invalid_json"), "articles", 0, 7)) == (
        "articles", 0, 7)
    assert kafka_origin(article_event("b")) is None  # from a feed
    from_file = failed("read", "invalid_json")
    from_file["source"] = source("file", "a.jsonl", path="/data/a.jsonl", offset=7)
    assert kafka_origin(from_file) is None  # offset 7 is a line number, not a Kafka offset
    assert kafka_origin(_from_kafka(failed("read", "x"), "articles", None, None)) is None


def test_written_offsets_keep_the_highest_per_partition_in_any_order():
    written = WrittenOffsets()
    assert written.get("articles", 0) is None
    written.add([("articles", 0, 5), ("articles", 1, 2), None, ("articles", 0, 3)])
    written.add([("other", 0, 99)])
    written.add([("articles", 0, 4)])  # lower than seen: written out of offset order
    assert (written.get("articles", 0), written.get("articles", 1)) == (5, 2)
    assert written.get("articles", 2) is None and written.get("other", 0) == 99
    written.add([("articles", 1, 8)])
    assert written.get("articles", 1) == 8


def test_percentiles_are_nearest_rank():
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7], 99) == 7
    assert percentile([1, 2, 3, 4, 5, 6], 50) == 3  # no interpolation: a value that occurred
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile([1], 0)


def test_ratios_rates_and_mixes():
    assert ratio(1, 3) == 0.3333 and ratio(0, 0) == 0.0
    assert rate(7, 60) == 0.117 and rate(3, 0) == 0.0
    assert mix(Counter({"fr": 1, "de": 2, "en": 2}), 5) == [
        {"name": "de", "count": 2, "share": 0.4}, {"name": "en", "count": 2, "share": 0.4},
        {"name": "fr", "count": 1, "share": 0.2}]


@pytest.mark.parametrize(("ms", "text"), [
    (None, "-"), (850, "850 ms"), (12_300, "12.3 s"), (252_000, "4.2 min"),
    (11_160_000, "3.1 h"), (216_000_000, "2.5 d")])
def test_human_durations(ms, text):
    assert human_ms(ms) == text


def test_event_samples_and_their_window():
    b = 1_795_000_000_000
    samples = [
        event_sample(article_event("a", language="en", published_ms=b + 1000,
                                   topics=(("medtop:15000000", "sport"),),
                                   story_of=("a" * 32, "first")), b + 4000),
        event_sample(article_event("b", language="de", published_ms=b + 2000,
                                   duplicate_of="a" * 32, story_of=("a" * 32, "duplicate")),
                     b + 3000),
        event_sample(article_event("c", language="en", published_ms=None), b + 3000),
        # published "after" it was written: an outlet's clock ahead, not a negative lag
        event_sample(article_event("d", language="en", published_ms=b + 3500,
                                   story_of=("d" * 32, "capped")), b + 3000),
    ]
    assert [s.lag_ms for s in samples] == [3000, 1000, None, 0]
    assert event_window(samples) == {
        "events": 4, "duplicates": 1, "duplicate_ratio": 0.25,
        "languages": [{"name": "en", "count": 3, "share": 0.75},
                      {"name": "de", "count": 1, "share": 0.25}],
        "topics": [{"name": "medtop:15000000 sport", "count": 1, "share": 0.25}],
        # c was written without the link step: in no story; d opened a capped story's successor
        "stories": {"stories": 2, "opened": 2, "joined": 1},
        "event_time_lag_ms": {"count": 3, "p50": 1000, "p99": 3000}}
    assert event_window([])["duplicate_ratio"] == 0.0


def test_dead_letter_window_counts_and_keeps_the_latest():
    from_kafka = failed("read", "invalid_json")
    from_kafka["source"] = source("kafka", "Wire", topic="articles", partition=2, offset=41)
    samples = [dead_letter_sample(failed("parse", "not_a_feed"), 100),
               dead_letter_sample(from_kafka, 300),
               dead_letter_sample(failed("parse", "not_a_feed"), 200)]
    window = dead_letter_window(samples, latest=2)
    assert window["by_error_type"] == [{"name": "not_a_feed", "count": 2, "share": 0.6667},
                                       {"name": "invalid_json", "count": 1, "share": 0.3333}]
    assert [(x["timestamp_ms"], x["origin"]) for x in window["latest"]] == [
        (300, "Wire articles[2]@41"), (200, "Broken Feed https://broken.example/rss")]


def test_a_dead_letter_from_a_file_names_path_and_line():
    letter = failed("read", "invalid_json")
    letter["source"] = source("file", "a.jsonl", path="/data/a.jsonl", offset=7)
    assert dead_letter_sample(letter, 1).origin == "a.jsonl /data/a.jsonl:7"


def test_sliding_window_forgets_by_time_and_keeps_at_most_the_newest():
    window = SlidingWindow(span_ms=1000, limit=3)
    window.add(dead_letter_sample(failed("parse", "x"), t) for t in (100, 900, 1500, 1600))
    assert [s.timestamp_ms for s in window.samples(now_ms=1600)] == [900, 1500, 1600]
    assert [s.timestamp_ms for s in window.samples(now_ms=2000)] == [1500, 1600]
    with pytest.raises(ValueError):
        SlidingWindow(0, 1)
