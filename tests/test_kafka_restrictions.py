"""The source's restriction tracker (one range per partition, checkpoints, discovery, stop),
its progress and split answers as the SDK worker uses them, and the per-partition watermark."""

from __future__ import annotations

import math
import time

import pytest
from apache_beam.coders import coders
from apache_beam.io.iobase import RestrictionProgress
from apache_beam.runners.sdf_utils import ThreadsafeRestrictionTracker
from apache_beam.runners.worker import operations
from apache_beam.runners.worker.bundle_processor import DataInputOperation
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils import counters
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.restriction import UNBOUNDED, Ranges, RangesTracker
from wirewatch.connectors.kafka.source import _PartitionState, _ReadPartitionsFn


def test_checkpoint_keeps_what_was_read_and_hands_on_the_rest():
    tracker = RangesTracker(Ranges(((0, 10, 20), (1, 5, UNBOUNDED))))
    assert tracker.try_claim(("read", 0, 10)) and tracker.try_claim(("read", 0, 12))
    assert tracker.try_claim(("read", 1, 7))
    primary, residual = tracker.try_split(0)
    assert primary == Ranges(((0, 10, 13), (1, 5, 8)))
    assert residual == Ranges(((0, 13, 20), (1, 8, UNBOUNDED)))
    assert not tracker.try_claim(("read", 0, 13))  # the rest belongs to the residual now
    tracker.check_done()


def test_a_bounded_range_ends_at_its_stop_and_only_then_is_done():
    tracker = RangesTracker(Ranges(((0, 0, 2),)))
    assert tracker.try_claim(("read", 0, 0)) and tracker.try_claim(("read", 0, 1))
    with pytest.raises(ValueError, match="not read to their end"):
        tracker.check_done()
    assert not tracker.try_claim(("read", 0, 2))
    tracker.check_done()
    assert tracker.is_bounded()


def test_the_end_claim_closes_a_range_whose_last_offsets_hold_no_records():
    tracker = RangesTracker(Ranges(((0, 0, 5),)))
    assert tracker.try_claim(("read", 0, 3))
    assert not tracker.try_claim(("end", 0))
    tracker.check_done()


def test_offsets_cannot_be_claimed_twice():
    tracker = RangesTracker(Ranges(((0, 0, 9),)))
    assert tracker.try_claim(("read", 0, 4))
    with pytest.raises(ValueError, match="claimed twice"):
        tracker.try_claim(("read", 0, 4))


def test_discovery_adds_a_partition_once_and_passes_it_on_at_the_checkpoint():
    tracker = RangesTracker(Ranges((), discover=True, known=frozenset({0, 1})))
    assert not tracker.is_bounded()
    assert not tracker.try_claim(("add", 1, 0))  # already known
    assert tracker.try_claim(("add", 2, 0))
    assert tracker.try_claim(("read", 2, 0))
    _, residual = tracker.try_split(0)
    assert residual == Ranges(((2, 1, UNBOUNDED),), True, frozenset({0, 1, 2}))
    with pytest.raises(ValueError):
        RangesTracker(Ranges((), discover=True)).check_done()


def test_stop_ends_an_unbounded_restriction_cleanly():
    tracker = RangesTracker(Ranges(((0, 0, UNBOUNDED),), discover=True))
    assert tracker.try_claim(("read", 0, 0))
    assert not tracker.try_claim(("stop",))
    assert not tracker.try_claim(("read", 0, 1))
    tracker.check_done()
    assert tracker.try_split(0) is None


def test_runner_splits_inside_a_partition_are_refused():
    tracker = RangesTracker(Ranges(((0, 0, 100),)))
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


# -- progress and split answers, through Beam's own split arithmetic

def _claimed(ranges: Ranges, *claims: tuple) -> RangesTracker:
    tracker = RangesTracker(ranges)
    for claim in claims:
        tracker.try_claim(claim)
    return tracker


def _checkpointed(tracker: RangesTracker) -> RangesTracker:
    tracker.try_split(0)
    return tracker


SHAPES = {
    "unbounded, nothing read": lambda: RangesTracker(Ranges(((0, 100, UNBOUNDED),))),
    "unbounded, reading": lambda: _claimed(Ranges(((0, 100, UNBOUNDED),)),
                                           ("read", 0, 100), ("read", 0, 101)),
    "unbounded, offsets near 2**62": lambda: _claimed(Ranges(((0, 2**62, UNBOUNDED),)),
                                                      ("read", 0, 2**62 + 5)),
    "bounded, empty range": lambda: RangesTracker(Ranges(((0, 5, 5),))),
    "bounded, nothing left": lambda: _claimed(Ranges(((0, 0, 3),)), ("read", 0, 0),
                                              ("read", 0, 1), ("read", 0, 2), ("end", 0)),
    "discovery only": lambda: RangesTracker(Ranges((), discover=True, known=frozenset({0}))),
    "discovery with a found partition": lambda: _claimed(
        Ranges((), discover=True, known=frozenset({0})), ("add", 1, 0), ("read", 1, 0)),
    "two partitions, one ended": lambda: _claimed(Ranges(((0, 0, 2), (1, 7, UNBOUNDED))),
                                                  ("read", 0, 1), ("end", 0)),
    "checkpointed, nothing read": lambda: _checkpointed(
        RangesTracker(Ranges(((0, 100, UNBOUNDED),)))),
    "checkpointed after reading": lambda: _checkpointed(_claimed(
        Ranges(((0, 100, UNBOUNDED),)), ("read", 0, 100))),
    "checkpointed discovery": lambda: _checkpointed(RangesTracker(Ranges((), discover=True))),
    "stopped": lambda: _claimed(Ranges(((0, 0, UNBOUNDED),), discover=True), ("read", 0, 0),
                                ("stop",)),
}

#: What Beam puts in ``completed`` (bytes output by the bundle so far), NaN included: see
#: test_beams_own_output_byte_estimate_is_nan_early_in_a_reused_bundle.
OUTPUT_BYTES = (0, 4096, float("nan"))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_restriction_reports_finite_progress_with_a_nonzero_total(shape):
    progress = ThreadsafeRestrictionTracker(SHAPES[shape]()).current_progress()
    assert progress.completed_work >= 0 and progress.remaining_work >= 0
    assert 0 < progress.total_work < math.inf
    assert 0 <= progress.fraction_completed <= 1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("output_bytes", OUTPUT_BYTES)
@pytest.mark.parametrize(("index", "buffered"), [(0, 1), (0, 2), (3, 10)])
def test_a_runner_split_at_one_half_gets_a_sane_answer(shape, output_bytes, index, buffered):
    """The arithmetic a split request goes through in the SDK worker (Prism asks for 0.5):
    ``SdfProcessSizedElements.current_element_progress`` (bytes as completed), then
    ``DataInputOperation._compute_split``."""
    tracker = ThreadsafeRestrictionTracker(SHAPES[shape]())
    element = tracker.current_progress().with_completed(output_bytes).fraction_completed
    assert 0 <= element <= 1
    split = DataInputOperation._compute_split(index, element, math.inf, 0.5, buffered, (),
                                              tracker.try_split)
    if split is not None:  # a split between buffered elements, never inside a partition
        primary_end, primaries, residuals, residual_start = split
        assert (primaries, residuals) == ([], [])
        assert index <= primary_end < residual_start <= buffered


@pytest.mark.parametrize("shape", SHAPES)
def test_the_tracker_refuses_splits_inside_a_partition_and_checkpoints_once(shape):
    tracker = SHAPES[shape]()
    assert tracker.try_split(0.5) is None
    checkpoint = tracker.try_split(0)
    if shape.startswith(("checkpointed", "stopped")):
        assert checkpoint is None
    else:
        primary, residual = checkpoint
        assert tracker.current_restriction().ranges == primary.ranges  # what was read
        stops = {p: stop for p, _, stop in primary.ranges}
        assert all(start == stops[p] for p, start, _ in residual.ranges)  # the rest, after it
        assert tracker.try_split(0) is None and tracker.try_split(0.5) is None
        tracker.check_done()


def test_beams_own_output_byte_estimate_is_nan_early_in_a_reused_bundle():
    """Why the tracker states its fraction: Beam resets its byte counters between bundles but
    not its sampling schedule, so a later bundle's first outputs are counted, not measured,
    and ``elements * mean size`` is NaN. Progress without a fraction then fails the split
    with the error users saw."""
    factory = counters.CounterFactory()
    receivers = operations._TaggedReceivers(factory, "Read")
    out = receivers["events"] = operations.ConsumerSet.create(
        factory, "Read", 0, [], coders.WindowedValueCoder(coders.BytesCoder()), {}, None)
    element = WindowedValue(b"x" * 300, 0, (GlobalWindow(),))
    for bundle_outputs in (200, 5):
        factory.reset()  # BundleProcessor.reset() between bundles
        out.opcounter.restart_sampling()  # SdfProcessSizedElements.process(), per element
        for _ in range(bundle_outputs):
            out.receive(element)
    assert math.isnan(receivers.total_output_bytes())

    unstated = RestrictionProgress(completed=1, remaining=2**31).with_completed(math.nan)
    with pytest.raises(ValueError, match="NaN"):
        DataInputOperation._compute_split(0, unstated.fraction_completed, math.inf, 0.5, 1)
