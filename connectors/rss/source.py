"""Beam sources for RSS/Atom feeds: poll every feed once, or watch feeds on their schedules.

- ``PollFeeds``: bounded; every feed read once (backfills, one-off checks, tests, samples).
- ``WatchFeeds``: unbounded; every feed polled on its own adaptive schedule, for ever (or for
  ``stop_after_s``), with repeats of already emitted items dropped by keyed state.

Both fetch a feed over HTTP, or read it from its ``path`` when the feed list gives one, and
both emit ``events`` (``RawArticle``), ``dead_letters`` and ``feed_health`` (one record a poll).

Pacing never relies on the runner: the schedule of every feed lives in the splittable DoFn's
restriction (so it survives checkpoints), only feeds whose next poll time has come are polled,
and a call with nothing due sleeps a little before deferring. Beam 2.77's FnApiRunner ignores
resume delays and calls again at once; that costs a short sleep, never an early poll.
"""

from __future__ import annotations

import random
import threading
import time
import typing
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import Duration, Timestamp

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.fetch import FetchConfig, Fetcher
from wirewatch.connectors.rss.health import HEALTH, count_poll
from wirewatch.connectors.rss.poller import FeedState, Poller, PollOutcome, item_key
from wirewatch.connectors.rss.schedule import SchedulePolicy
from wirewatch.pipelines.metrics import counter

__all__ = ["PollFeeds", "WatchFeeds"]

_FETCHERS: dict[FetchConfig, Fetcher] = {}
_FETCHERS_LOCK = threading.Lock()


def _shared_fetcher(config: FetchConfig) -> Fetcher:
    """One fetcher per config and process, so per-host limits hold across DoFn instances."""
    with _FETCHERS_LOCK:
        if config not in _FETCHERS:
            _FETCHERS[config] = Fetcher(config)
        return _FETCHERS[config]


def _shards(feeds: Sequence[FeedSpec], count: int) -> list[tuple[int, tuple[FeedSpec, ...]]]:
    """Feeds split into ``count`` groups by host, so one host's feeds share one worker's gate."""
    groups: dict[int, list[FeedSpec]] = {}
    for feed in feeds:
        host = feed.url.split("/")[2].lower()
        groups.setdefault(zlib.crc32(host.encode()) % count, []).append(feed)
    return sorted((n, tuple(group)) for n, group in groups.items())


def _check_feeds(feeds: Sequence[FeedSpec], concurrency: int) -> list[FeedSpec]:
    if not feeds:
        raise ValueError("no feeds to poll")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    urls = [f.url for f in feeds]
    if len(set(urls)) != len(urls):
        raise ValueError("a feed is listed twice")
    return list(feeds)


class _Polling(beam.DoFn):
    """Shared by the bounded and the unbounded poller: a Poller and a thread pool per DoFn."""

    def __init__(self, fetch: FetchConfig, policy: SchedulePolicy, concurrency: int,
                 fetched_ms: int | None = None) -> None:
        self._fetch = fetch
        self._policy = policy
        self._concurrency = concurrency
        self._fetched_ms = fetched_ms

    def setup(self) -> None:
        pinned = self._fetched_ms
        clock = (lambda: pinned / 1000) if pinned is not None else time.time
        self._poller = Poller(_shared_fetcher(self._fetch), self._policy, rng=random.Random(),
                              clock=clock)
        self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="wirewatch-rss")

    def teardown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _poll(self, feeds: Sequence[FeedSpec],
              states: dict[str, FeedState]) -> list[PollOutcome]:
        return list(self._pool.map(lambda f: self._poller.poll(f, states.get(f.url)), feeds))


def _emit(health: dict, articles: list, letters: list) -> Iterator:
    """A poll's outputs: articles on the main output, then its health record and dead letters."""
    count_poll(health)
    yield from articles
    yield beam.pvalue.TaggedOutput(HEALTH, health)
    for letter in letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)


class _PollOnce(_Polling):
    def process(self, shard: tuple[int, tuple[FeedSpec, ...]]) -> Iterator:
        _, feeds = shard
        for outcome in self._poll(feeds, {}):
            yield from _emit(outcome.health, outcome.articles, outcome.dead_letters)


class PollFeeds(beam.PTransform):
    """Read every feed once: over HTTP, or from its ``path`` (a bounded read).

    In: the pipeline root. Out: ``events`` (``RawArticle``), ``dead_letters`` (documents that
    are not feeds) and ``feed_health`` (one ``FeedHealth`` record per feed). ``fetched_ms``
    pins the fetch time stamped on articles and health, for reproducible output.
    """

    def __init__(self, feeds: Sequence[FeedSpec], *, fetch: FetchConfig | None = None,
                 policy: SchedulePolicy | None = None, concurrency: int = 16,
                 shards: int = 4, fetched_ms: int | None = None) -> None:
        super().__init__()
        self._feeds = _check_feeds(feeds, concurrency)
        self._fetched_ms = fetched_ms
        self._fetch = fetch or FetchConfig()
        self._policy = policy or SchedulePolicy()
        self._concurrency = concurrency
        self._shards = max(1, shards)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (pbegin
                | "Shards" >> beam.Create(_shards(self._feeds, self._shards))
                | "Spread" >> beam.Reshuffle()
                | "Poll" >> beam.ParDo(_PollOnce(self._fetch, self._policy, self._concurrency,
                                                 self._fetched_ms))
                .with_outputs(DEAD_LETTERS, HEALTH, main="events"))


@dataclass(frozen=True)
class _Shard:
    """Restriction of the watching DoFn: every feed's state; ``done`` once checkpointed;
    ``unpolled``: feeds whose first poll is still to come (the shard's watermark waits for
    them, so the backlog a first poll returns is not behind the watermark)."""

    states: dict[str, FeedState] = field(hash=False)
    until_s: float | None = None
    done: bool = False
    unpolled: frozenset[str] = frozenset()


class _ShardTracker(RestrictionTracker):
    """Claims are whole poll rounds: the position claimed is the feeds' state after the round.

    Only checkpoints split it (the primary is done, the residual carries the states on), so a
    shard is never polled twice at once and its schedule survives every checkpoint.
    """

    def __init__(self, restriction: _Shard) -> None:
        self._restriction = restriction

    def current_restriction(self) -> _Shard:
        return self._restriction

    def current_progress(self) -> RestrictionProgress:
        return RestrictionProgress(completed=0, remaining=0 if self._restriction.done else 1)

    def try_claim(self, round_: tuple[dict[str, FeedState], Iterable[str]] | None) -> bool:
        """Claim a round that polled the feeds ``round_[1]`` and left every feed in
        ``round_[0]``; ``None`` stops the shard."""
        if self._restriction.done:
            return False
        if round_ is None:
            self._restriction = replace(self._restriction, done=True)
            return False
        states, polled = round_
        self._restriction = replace(self._restriction, states=states,
                                    unpolled=self._restriction.unpolled - set(polled))
        return True

    def try_split(self, fraction_of_remainder: float) -> tuple[_Shard, _Shard] | None:
        if fraction_of_remainder != 0 or self._restriction.done:
            return None
        residual = self._restriction
        self._restriction = replace(residual, done=True)
        return self._restriction, residual

    def check_done(self) -> None:
        if not self._restriction.done:
            raise ValueError("a feed shard returned without deferring or stopping")

    def is_bounded(self) -> bool:
        return False


class _ShardProvider(RestrictionProvider):
    """Each shard starts with every feed's first schedule; shards are never split further."""

    _policy: SchedulePolicy
    _stop_after_s: float | None

    def initial_restriction(self, shard: tuple[int, tuple[FeedSpec, ...]]) -> _Shard:
        now, rng = time.time(), random.Random()
        states = {f.url: FeedState(self._policy.first(now, rng, f.interval_s)) for f in shard[1]}
        return _Shard(states, now + self._stop_after_s if self._stop_after_s else None,
                      unpolled=frozenset(states))

    def create_tracker(self, restriction: _Shard) -> _ShardTracker:
        return _ShardTracker(restriction)

    def restriction_size(self, shard, restriction: _Shard) -> int:
        return len(restriction.states)

    def split(self, shard, restriction: _Shard) -> Iterator[_Shard]:
        yield restriction

    def truncate(self, shard, restriction: _Shard) -> None:
        return None  # on drain, stop polling

    def restriction_coder(self) -> PickleCoder:
        return PickleCoder()


# Beam's way of declaring process() parameters, as module-level singletons.
_RESTRICTION = beam.DoFn.RestrictionParam()  # the DoFn is its own RestrictionProvider
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider())


class _PollOnSchedule(_Polling, _ShardProvider):
    def __init__(self, fetch: FetchConfig, policy: SchedulePolicy, concurrency: int,
                 idle_sleep_s: float, stop_after_s: float | None) -> None:
        super().__init__(fetch, policy, concurrency)
        self._idle_sleep_s = idle_sleep_s
        self._stop_after_s = stop_after_s

    @beam.DoFn.unbounded_per_element()
    def process(self, shard: tuple[int, tuple[FeedSpec, ...]], tracker=_RESTRICTION,
                watermark=_WATERMARK) -> Iterator:
        restriction: _Shard = tracker.current_restriction()
        now = time.time()
        if restriction.until_s is not None and now >= restriction.until_s:
            tracker.try_claim(None)
            return
        if not restriction.unpolled:
            _advance(watermark, now)
        states = restriction.states
        due = [f for f in shard[1] if states[f.url].schedule.due(now)]
        if due:
            outcomes = self._poll(due, states)
            after = dict(states)
            after.update((f.url, o.state) for f, o in zip(due, outcomes, strict=True))
            if not tracker.try_claim((after, [f.url for f in due])):
                return
            for feed, outcome in zip(due, outcomes, strict=True):
                # One element per poll, keyed by feed, for the item memory downstream.
                yield beam.window.TimestampedValue(
                    (feed.url, (outcome.health, outcome.articles, outcome.dead_letters)),
                    Timestamp.of(outcome.health["time"] / 1000))
            states = after
        wake = min(s.schedule.next_poll_s for s in states.values())
        if restriction.until_s is not None:
            wake = min(wake, restriction.until_s)
        if not due:
            # Runners that honour the delay below do not call back early; those that do not
            # (FnApiRunner) would otherwise spin. Polls never depend on this: only due feeds are.
            time.sleep(max(0.0, min(wake - now, self._idle_sleep_s)))
        tracker.defer_remainder(Duration.of(max(0.0, wake - time.time())))


def _advance(watermark: ManualWatermarkEstimator, now: float) -> None:
    current = watermark.current_watermark()
    if current is None or Timestamp.of(now) > current:
        watermark.set_watermark(Timestamp.of(now))


class _ForgetSeenItems(beam.DoFn):
    """Drops items already emitted for the feed (same guid or canonical link), then emits.

    In: ``(feed_url, (health, [RawArticle], [dead letter]))``, one element per poll. Memory per
    feed: item key -> last poll that saw it; entries older than ``ttl_ms`` (in poll time) are
    dropped and at most ``max_items`` kept, so it stays bounded without timers (FnApiRunner
    misfires them behind a deferring SDF). The health record's ``new_items`` becomes the number
    actually emitted.
    """

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())
    _SEEN = beam.DoFn.StateParam(SEEN)

    def __init__(self, ttl_s: float, max_items: int) -> None:
        self._ttl_ms = int(ttl_s * 1000)
        self._max_items = max_items

    def process(self, polled: tuple[str, tuple[dict, list, list]], seen=_SEEN) -> Iterator:
        _, (health, articles, letters) = polled
        fresh = []
        if articles:
            polled_ms = health["time"]
            horizon = polled_ms - self._ttl_ms
            memory = {k: t for k, t in (seen.read() or {}).items() if t >= horizon}
            for article in articles:
                key = item_key(article)
                if key is not None and key in memory:
                    counter("rss_items_repeated").inc()
                else:
                    fresh.append(article)
                if key is not None:
                    memory[key] = polled_ms
            if len(memory) > self._max_items:
                memory = dict(sorted(memory.items(), key=lambda kv: kv[1])[-self._max_items:])
            seen.write(memory)
        yield from _emit({**health, "new_items": len(fresh)}, fresh, letters)


class WatchFeeds(beam.PTransform):
    """Poll every feed on its own schedule, unbounded (or for ``stop_after_s`` seconds).

    In: the pipeline root. Out: ``events`` (``RawArticle``, each item once while remembered:
    ``item_ttl_s`` in poll time, at most ``max_items_per_feed``), ``dead_letters`` and
    ``feed_health`` (one record per poll). Feeds are spread over ``shards`` splittable-DoFn
    elements by host; each polls its due feeds ``concurrency`` at a time. ``idle_sleep_s``
    bounds how long a call with nothing due waits before deferring: on runners that ignore
    resume delays (FnApiRunner) it is the price of not spinning, and polls may run up to about
    ``shards * idle_sleep_s`` late there, never early.
    """

    def __init__(self, feeds: Sequence[FeedSpec], *, fetch: FetchConfig | None = None,
                 policy: SchedulePolicy | None = None, concurrency: int = 16, shards: int = 4,
                 item_ttl_s: float = 7 * 86400, max_items_per_feed: int = 5000,
                 idle_sleep_s: float = 1.0, stop_after_s: float | None = None) -> None:
        super().__init__()
        self._feeds = _check_feeds(feeds, concurrency)
        if item_ttl_s <= 0 or max_items_per_feed < 1:
            raise ValueError("item_ttl_s must be positive and max_items_per_feed >= 1")
        if idle_sleep_s < 0 or (stop_after_s is not None and stop_after_s <= 0):
            raise ValueError("idle_sleep_s must be >= 0 and stop_after_s positive")
        self._fetch = fetch or FetchConfig()
        self._policy = policy or SchedulePolicy()
        self._concurrency = concurrency
        self._shards = max(1, shards)
        self._item_ttl_s = item_ttl_s
        self._max_items = max_items_per_feed
        self._idle_sleep_s = idle_sleep_s
        self._stop_after_s = stop_after_s

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (pbegin
                | "Shards" >> beam.Create(_shards(self._feeds, self._shards))
                | "Spread" >> beam.Reshuffle()
                | "PollOnSchedule" >> beam.ParDo(_PollOnSchedule(
                    self._fetch, self._policy, self._concurrency, self._idle_sleep_s,
                    self._stop_after_s)).with_output_types(tuple[str, typing.Any])
                # keyed by feed URL (a str), so the state's key coder is deterministic
                | "ForgetSeenItems" >> beam.ParDo(
                    _ForgetSeenItems(self._item_ttl_s, self._max_items))
                .with_input_types(tuple[str, typing.Any])
                .with_outputs(DEAD_LETTERS, HEALTH, main="events"))
