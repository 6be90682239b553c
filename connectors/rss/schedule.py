"""When to poll each feed next: adaptive within bounds, polite to publishers, backing off on errors.

Pure logic, no Beam and no clock of its own: callers pass ``now`` (seconds) and a
``random.Random``, so tests drive it with a fake clock and a seeded generator.

- A feed that produced new items is polled sooner (interval times ``speedup``); one that did not
  is polled later (times ``slowdown``); always within ``[min_interval_s, max_interval_s]``.
- A publisher's ``<ttl>`` or ``sy:updatePeriod``/``sy:updateFrequency`` raises the lower bound
  for that feed (we do not poll faster than the publisher asks), but never above the maximum.
- Errors back off exponentially with "equal jitter" (half fixed, half random, so retries of many
  feeds failing together spread out yet never come back immediately), honouring Retry-After.
  After ``failing_after`` consecutive errors the feed is reported as failing and is polled at
  most every ``max_backoff_s``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

__all__ = ["FeedSchedule", "SchedulePolicy", "publisher_interval_s"]

_PERIOD_S = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400,
             "monthly": 30 * 86400, "yearly": 365 * 86400}


def publisher_interval_s(ttl: str | int | None = None,
                         update_period: str | None = None,
                         update_frequency: str | int | None = None) -> float | None:
    """The shortest interval the publisher asks for, in seconds, or None when it says nothing.

    ``ttl`` is in minutes (RSS 2.0). ``sy:updatePeriod`` is hourly..yearly and
    ``sy:updateFrequency`` the number of updates per period (default 1). Garbage is ignored:
    a feed's hint never makes the feed fail.
    """
    hints = []
    try:
        minutes = float(str(ttl).strip()) if ttl is not None else 0.0
        if minutes > 0:
            hints.append(minutes * 60)
    except ValueError:
        pass
    period = _PERIOD_S.get(str(update_period or "").strip().lower())
    if period:
        try:
            frequency = float(str(update_frequency).strip()) if update_frequency else 1.0
        except ValueError:
            frequency = 1.0
        hints.append(period / frequency if frequency > 0 else period)
    return max(hints) if hints else None


@dataclass(frozen=True)
class SchedulePolicy:
    """Bounds and factors of the schedule; validated on construction."""

    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    default_interval_s: float = 900.0
    speedup: float = 0.5
    slowdown: float = 1.5
    jitter: float = 0.1
    backoff_base_s: float = 60.0
    max_backoff_s: float = 6 * 3600.0
    failing_after: int = 5
    first_poll_spread_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s:
            raise ValueError("need 0 < min_interval_s <= max_interval_s")
        if not 0 < self.speedup <= 1 <= self.slowdown:
            raise ValueError("need 0 < speedup <= 1 <= slowdown")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        if not 0 < self.backoff_base_s <= self.max_backoff_s:
            raise ValueError("need 0 < backoff_base_s <= max_backoff_s")
        if self.failing_after < 1 or self.first_poll_spread_s < 0:
            raise ValueError("failing_after must be >= 1 and first_poll_spread_s >= 0")

    def clamp(self, interval_s: float, floor_s: float | None = None) -> float:
        """``interval_s`` within the bounds, the publisher's floor raising the lower one."""
        low = min(self.max_interval_s, max(self.min_interval_s, floor_s or 0.0))
        return min(self.max_interval_s, max(low, interval_s))

    def first(self, now: float, rng: random.Random,
              interval_s: float | None = None) -> FeedSchedule:
        """The schedule of a feed never polled; ``interval_s`` is the feed list's preference."""
        start = self.clamp(interval_s or self.default_interval_s)
        spread = rng.uniform(0, self.first_poll_spread_s) if self.first_poll_spread_s else 0.0
        return FeedSchedule(interval_s=start, next_poll_s=now + spread)

    def after_success(self, state: FeedSchedule, now: float, rng: random.Random,
                      new_items: int, publisher_floor_s: float | None = None) -> FeedSchedule:
        """The schedule after a poll that worked (a 304 or an unchanged body is a success)."""
        factor = self.speedup if new_items > 0 else self.slowdown
        interval = self.clamp(state.interval_s * factor, publisher_floor_s)
        delay = self.clamp(interval * (1 + rng.uniform(-self.jitter, self.jitter)),
                           publisher_floor_s)
        return replace(state, interval_s=interval, next_poll_s=now + delay, failures=0,
                       publisher_floor_s=publisher_floor_s)

    def after_failure(self, state: FeedSchedule, now: float, rng: random.Random,
                      retry_after_s: float | None = None) -> FeedSchedule:
        """The schedule after a failed poll: exponential backoff with equal jitter."""
        failures = state.failures + 1
        cap = min(self.max_backoff_s, self.backoff_base_s * 2 ** min(failures - 1, 30))
        delay = cap / 2 + rng.uniform(0, cap / 2)
        if retry_after_s:
            delay = max(delay, min(retry_after_s, self.max_backoff_s))
        return replace(state, next_poll_s=now + delay, failures=failures)

    def is_failing(self, state: FeedSchedule) -> bool:
        """True once a feed has failed ``failing_after`` times in a row."""
        return state.failures >= self.failing_after


@dataclass(frozen=True)
class FeedSchedule:
    """Where one feed stands: its current interval, next poll time and error streak."""

    interval_s: float
    next_poll_s: float
    failures: int = 0
    publisher_floor_s: float | None = None

    def due(self, now: float) -> bool:
        return now >= self.next_poll_s
