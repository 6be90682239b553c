"""The source's restriction tracker (one range per partition, checkpoints, discovery, stop)
and its per-partition watermark."""

from __future__ import annotations

import time

import pytest
from apache_beam.utils.timestamp import Timestamp

from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.source import (
    UNBOUNDED,
    _PartitionState,
    _Ranges,
    _RangesTracker,
    _ReadPartitionsFn,
)


def test_checkpoint_keeps_what_was_read_and_hands_on_the_rest():
    tracker = _RangesTracker(_Ranges(((0, 10, 20), (1, 5, UNBOUNDED))))
    assert tracker.try_claim(("read", 0, 10)) and tracker.try_claim(("read", 0, 12))
    assert tracker.try_claim(("read", 1, 7))
    primary, residual = tracker.try_split(0)
    assert primary == _Ranges(((0, 10, 13), (1, 5, 8)))
    assert residual == _Ranges(((0, 13, 20), (1, 8, UNBOUNDED)))
    assert not tracker.try_claim(("read", 0, 13))  # the rest belongs to the residual now
    tracker.check_done()


def test_a_bounded_range_ends_at_its_stop_and_only_then_is_done():
    tracker = _RangesTracker(_Ranges(((0, 0, 2),)))
    assert tracker.try_claim(("read", 0, 0)) and tracker.try_claim(("read", 0, 1))
    with pytest.raises(ValueError, match="not read to their end"):
        tracker.check_done()
    assert not tracker.try_claim(("read", 0, 2))
    tracker.check_done()
    assert tracker.is_bounded()


def test_the_end_claim_closes_a_range_whose_last_offsets_hold_no_records():
    tracker = _RangesTracker(_Ranges(((0, 0, 5),)))
    assert tracker.try_claim(("read", 0, 3))
    assert not tracker.try_claim(("end", 0))
    tracker.check_done()


def test_offsets_cannot_be_claimed_twice():
    tracker = _RangesTracker(_Ranges(((0, 0, 9),)))
    assert tracker.try_claim(("read", 0, 4))
    with pytest.raises(ValueError, match="claimed twice"):
        tracker.try_claim(("read", 0, 4))


def test_discovery_adds_a_partition_once_and_passes_it_on_at_the_checkpoint():
    tracker = _RangesTracker(_Ranges((), discover=True, known=frozenset({0, 1})))
    assert not tracker.is_bounded()
    assert not tracker.try_claim(("add", 1, 0))  # already known
    assert tracker.try_claim(("add", 2, 0))
    assert tracker.try_claim(("read", 2, 0))
    _, residual = tracker.try_split(0)
    assert residual == _Ranges(((2, 1, UNBOUNDED),), True, frozenset({0, 1, 2}))
    with pytest.raises(ValueError):
        _RangesTracker(_Ranges((), discover=True)).check_done()


def test_stop_ends_an_unbounded_restriction_cleanly():
    tracker = _RangesTracker(_Ranges(((0, 0, UNBOUNDED),), discover=True))
    assert tracker.try_claim(("read", 0, 0))
    assert not tracker.try_claim(("stop",))
    assert not tracker.try_claim(("read", 0, 1))
    tracker.check_done()
    assert tracker.try_split(0) is None


def test_runner_splits_inside_a_partition_are_refused():
    tracker = _RangesTracker(_Ranges(((0, 0, 100),)))
    assert tracker.try_split(0.5) is None


def _reader(idle_after_s: float = 10.0) -> _ReadPartitionsFn:
    return _ReadPartitionsFn(KafkaConfig("127.0.0.1:9"), None, "json", False,
                             max_out_of_orderness_s=30, idle_after_s=idle_after_s,
                             discovery_interval_s=10, stop_after_idle_s=None,
                             max_records_per_call=100)


def test_watermark_trails_the_newest_record_by_the_allowed_out_of_orderness():
    state = _PartitionState(consumer=None, max_timestamp_ms=1_795_000_000_000)
    assert _reader()._partition_watermark(state) == Timestamp(1_795_000_000 - 30)


def test_a_partition_with_nothing_read_yet_holds_the_watermark():
    assert _reader()._partition_watermark(_PartitionState(consumer=None)) is None


def test_an_idle_partition_follows_wall_time():
    state = _PartitionState(consumer=None, max_timestamp_ms=1_000,
                            idle_since=time.monotonic() - 11)
    mark = _reader(idle_after_s=10)._partition_watermark(state)
    assert abs(mark.micros / 1e6 - (time.time() - 30)) < 5
