"""The adaptive poll schedule, driven by a fake clock and a seeded generator."""

from __future__ import annotations

import itertools
import random

import pytest

from wirewatch.connectors.rss.schedule import FeedSchedule, SchedulePolicy, publisher_interval_s

POLICY = SchedulePolicy(min_interval_s=60, max_interval_s=3600, default_interval_s=600,
                        jitter=0.1, backoff_base_s=60, max_backoff_s=7200, failing_after=3)


def test_first_poll_is_now_with_the_feed_list_interval_clamped():
    rng = random.Random(1)
    assert POLICY.first(1000.0, rng).next_poll_s == 1000.0
    assert POLICY.first(0, rng).interval_s == 600
    assert POLICY.first(0, rng, interval_s=10).interval_s == 60      # below the minimum
    assert POLICY.first(0, rng, interval_s=99999).interval_s == 3600  # above the maximum


def test_first_polls_can_be_spread_to_avoid_a_thundering_herd():
    policy = SchedulePolicy(first_poll_spread_s=300)
    rng = random.Random(2)
    starts = [policy.first(0, rng).next_poll_s for _ in range(200)]
    assert min(starts) >= 0 and max(starts) <= 300 and max(starts) - min(starts) > 200


def test_busy_feed_is_polled_sooner_quiet_feed_later_within_bounds():
    rng = random.Random(3)
    busy = quiet = POLICY.first(0, rng)
    now = 0.0
    for _ in range(20):
        busy = POLICY.after_success(busy, now, rng, new_items=5)
        quiet = POLICY.after_success(quiet, now, rng, new_items=0)
    assert busy.interval_s == 60 and quiet.interval_s == 3600
    # jitter never takes a poll outside the bounds
    assert 60 <= busy.next_poll_s - now <= 66 and quiet.next_poll_s - now <= 3600


def test_jitter_spreads_polls_of_feeds_with_the_same_interval():
    rng = random.Random(4)
    state = FeedSchedule(interval_s=1000, next_poll_s=0)
    delays = {round(POLICY.after_success(state, 0, rng, 0).next_poll_s) for _ in range(50)}
    assert len(delays) > 20 and min(delays) >= 1350 and max(delays) <= 1650


@pytest.mark.parametrize(("ttl", "period", "frequency", "expected"), [
    ("90", None, None, 5400.0),
    (None, "hourly", "2", 1800.0),
    (None, "daily", None, 86400.0),
    ("30", "hourly", "1", 3600.0),          # the longer of the two
    ("soon", "fortnightly", "x", None),     # garbage is ignored, never an error
    ("-5", None, None, None),
    (None, "hourly", "0", 3600.0),
])
def test_publisher_interval_hints(ttl, period, frequency, expected):
    assert publisher_interval_s(ttl, period, frequency) == expected


def test_publisher_hint_raises_the_floor_but_not_above_the_maximum():
    rng = random.Random(5)
    state = POLICY.first(0, rng)
    hinted = POLICY.after_success(state, 0, rng, new_items=10, publisher_floor_s=1800)
    assert hinted.interval_s == 1800 and hinted.next_poll_s >= 1800
    daily = POLICY.after_success(state, 0, rng, new_items=10, publisher_floor_s=86400)
    assert daily.interval_s == 3600 and daily.next_poll_s <= 3600


def test_errors_back_off_exponentially_with_jitter_and_are_reported_when_failing():
    rng = random.Random(6)
    state = POLICY.first(0, rng)
    delays = []
    now = 0.0
    for _ in range(10):
        state = POLICY.after_failure(state, now, rng)
        delays.append(state.next_poll_s - now)
        now = state.next_poll_s
    # attempt n waits in [cap/2, cap] with cap = 60 * 2**(n-1), at most 7200
    for n, delay in enumerate(delays, start=1):
        cap = min(7200, 60 * 2 ** (n - 1))
        assert cap / 2 <= delay <= cap
    assert delays[-1] >= 3600  # a feed that keeps failing is not hammered
    assert state.failures == 10 and POLICY.is_failing(state)
    assert not POLICY.is_failing(FeedSchedule(600, 0, failures=2))
    recovered = POLICY.after_success(state, now, rng, new_items=1)
    assert recovered.failures == 0 and not POLICY.is_failing(recovered)


def test_retry_after_is_honoured_up_to_the_maximum_backoff():
    rng = random.Random(7)
    state = POLICY.first(0, rng)
    assert POLICY.after_failure(state, 0, rng, retry_after_s=900).next_poll_s >= 900
    assert POLICY.after_failure(state, 0, rng, retry_after_s=10**9).next_poll_s <= 7200


def test_a_fake_clock_run_never_polls_faster_than_the_minimum():
    rng = random.Random(8)
    policy = SchedulePolicy(min_interval_s=60, max_interval_s=600, default_interval_s=60)
    state, now, polls = policy.first(0, rng), 0.0, []
    while now < 3600:
        if state.due(now):
            polls.append(now)
            state = policy.after_success(state, now, rng, new_items=3)
        now += 1
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= 60 and len(polls) <= 61


@pytest.mark.parametrize("kwargs", [
    {"min_interval_s": 0}, {"min_interval_s": 100, "max_interval_s": 50}, {"speedup": 2},
    {"slowdown": 0.5}, {"jitter": 1}, {"backoff_base_s": 0}, {"failing_after": 0},
])
def test_bad_policies_are_rejected(kwargs):
    with pytest.raises(ValueError):
        SchedulePolicy(**kwargs)
