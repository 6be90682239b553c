"""One poll of one feed, start to finish, without Beam: fetch, parse, pick new items, reschedule.

A feed with a ``path`` is read from that file instead of fetched (backfills, tests, samples).

The Beam sources in ``source.py`` and the benchmark call :meth:`Poller.poll`; tests call it with
a fake clock. A poll never raises for anything a server sends: failures end up in the health
record and, for documents that are not feeds, in a dead letter.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.fetch import Fetcher, Validators, read_file
from wirewatch.connectors.rss.health import feed_health
from wirewatch.connectors.rss.parse import ParsedFeed, parse_feed
from wirewatch.connectors.rss.schedule import FeedSchedule, SchedulePolicy
from wirewatch.core.urls import InvalidUrl, canonical_url
from wirewatch.schemas.records import RawArticle, dead_letter, source

__all__ = ["FeedState", "PollOutcome", "Poller", "item_key"]

#: Item keys remembered from a feed's last document (a feed longer than this is rare).
MAX_KEYS_PER_FEED = 2000


def item_key(article: RawArticle) -> str | None:
    """What makes an item the same item on the next poll: its guid, else its canonical link."""
    guid = (article.source.get("guid") or "").strip()
    if guid:
        return f"guid:{guid}"
    try:
        return f"url:{canonical_url(article.url)}" if article.url else None
    except InvalidUrl:
        return f"url:{article.url}"


def _parse(body: bytes, feed: FeedSpec, fetched_ms: int, content_type: str | None,
           base_url: str) -> ParsedFeed:
    """``parse_feed``, with a parser bug on some document becoming that document's dead letter."""
    try:
        return parse_feed(body, feed, fetched_ms, content_type=content_type, base_url=base_url)
    except Exception as exc:  # feedparser on input nobody foresaw: keep the bytes, keep running
        return ParsedFeed(dead_letters=[dead_letter(
            "parse", f"parser failed: {type(exc).__name__}: {exc}", type(exc).__name__, body,
            source("rss", feed.outlet, feed_url=feed.url))], error=type(exc).__name__)


@dataclass(frozen=True)
class FeedState:
    """What a feed's next poll needs from the last one.

    ``item_keys`` holds 64-bit digests of the last document's item keys, not the keys: the
    state of every feed travels in the streaming source's checkpoints.
    """

    schedule: FeedSchedule
    validators: Validators = field(default_factory=Validators)
    item_keys: frozenset[int] = frozenset()


@dataclass
class PollOutcome:
    """Items not seen in the previous document, dead letters, the health record, the new state."""

    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    health: dict = field(default_factory=dict)
    state: FeedState | None = None


class Poller:
    """Polls feeds with one ``Fetcher`` and one ``SchedulePolicy``; thread-safe."""

    def __init__(self, fetcher: Fetcher, policy: SchedulePolicy, *,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.time):
        self.fetcher = fetcher
        self.policy = policy
        self._rng = rng or random.Random()
        self._clock = clock

    def first_state(self, feed: FeedSpec) -> FeedState:
        return FeedState(schedule=self.policy.first(self._clock(), self._rng, feed.interval_s))

    def poll(self, feed: FeedSpec, state: FeedState | None = None) -> PollOutcome:
        state = state or self.first_state(feed)
        started = self._clock()
        result = (read_file(feed.path, feed.url, state.validators,
                            self.fetcher.config.max_body_bytes) if feed.path
                  else self.fetcher.fetch(feed.url, state.validators))
        now = self._clock()
        out = PollOutcome()
        items, outcome = 0, "error"
        error_kind, error = result.error_kind, result.error
        validators, keys = state.validators, state.item_keys
        floor_s = state.schedule.publisher_floor_s
        if result.unchanged:
            outcome, validators = "unchanged", result.validators
        elif result.ok:
            parsed = _parse(result.body, feed, int(started * 1000), result.content_type,
                            result.final_url)
            out.dead_letters = parsed.dead_letters
            if parsed.error:
                # Validators are not kept: the next poll re-reads and re-reports the document.
                outcome, error_kind = "not_a_feed", parsed.error
                error = parsed.dead_letters[0]["reason"]
            else:
                items, floor_s = len(parsed.articles), parsed.publisher_interval_s
                out.articles, keys = self._new_items(parsed.articles, state.item_keys)
                outcome = "new" if out.articles else "empty"
                validators = result.validators
        if outcome in ("error", "not_a_feed"):
            schedule = self.policy.after_failure(state.schedule, now, self._rng,
                                                 result.retry_after_s)
        else:
            schedule = self.policy.after_success(state.schedule, now, self._rng,
                                                 len(out.articles), floor_s)
        out.state = FeedState(schedule, validators, keys)
        out.health = feed_health(
            feed_url=feed.url, outlet=feed.outlet, time_ms=int(started * 1000), outcome=outcome,
            http_status=result.status, error_kind=error_kind, error=error,
            wire_bytes=result.wire_bytes, items=items, new_items=len(out.articles),
            dead_letters=len(out.dead_letters), latency_ms=int(result.latency_s * 1000),
            next_poll_ms=int(schedule.next_poll_s * 1000),
            consecutive_failures=schedule.failures, failing=self.policy.is_failing(schedule),
            final_url=result.final_url)
        return out

    @staticmethod
    def _new_items(articles: list[RawArticle],
                   previous: frozenset[int]) -> tuple[list[RawArticle], frozenset[int]]:
        """Items whose key was not in the previous document (nor earlier in this one)."""
        new, keys = [], {}
        for article in articles:
            key = item_key(article)
            digest = _digest(key) if key is not None else None
            if digest is None or (digest not in previous and digest not in keys):
                new.append(article)
            if digest is not None:
                keys[digest] = None
        return new, frozenset(list(keys)[:MAX_KEYS_PER_FEED])


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big")
