"""The Beam RSS sources against a real local server: bounded polls, streaming pacing, memory."""

from __future__ import annotations

import itertools
import time

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from tests.feedserver import FeedServer, Route, rss
from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.health import HEALTH
from wirewatch.connectors.rss.schedule import SchedulePolicy
from wirewatch.connectors.rss.source import (
    PollFeeds,
    WatchFeeds,
    _ForgetSeenItems,
    _Shard,
    _ShardTracker,
)
from wirewatch.schemas.records import FEED_HEALTH, RawArticle, is_valid, source


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def _health_summary(health: dict) -> tuple:
    assert is_valid(health, FEED_HEALTH)
    return health["feed_url"].rsplit("/", 1)[1], health["outcome"], health["error_kind"]


def test_poll_feeds_once_gives_events_dead_letters_and_health(server):
    feeds = [
        FeedSpec(server.add("/ok", Route(body=rss("Ok", [("a", "A"), ("b", "B")]))), "Ok"),
        FeedSpec(server.add("/html", Route(body=b"<html><body>hi</body></html>")), "Html"),
        FeedSpec(server.add("/down", Route(status=503)), "Down"),
    ]
    with beam.Pipeline() as p:
        read = p | PollFeeds(feeds, concurrency=4)
        assert_that(read.events | beam.Map(lambda a: a.title), equal_to(["A", "B"]))
        assert_that(read[DEAD_LETTERS] | beam.Map(lambda d: (d["stage"], d["source"]["outlet"])),
                    equal_to([("parse", "Html")]), label="letters")
        assert_that(read[HEALTH] | beam.Map(_health_summary), equal_to([
            ("ok", "new", None), ("html", "not_a_feed", "not_a_feed"),
            ("down", "error", "http_5xx")]), label="health")


def test_bad_source_options_fail_at_construction():
    feed = FeedSpec("https://a.example/f", "A")
    with pytest.raises(ValueError, match="no feeds"):
        PollFeeds([])
    with pytest.raises(ValueError, match="listed twice"):
        WatchFeeds([feed, feed])
    with pytest.raises(ValueError, match="item_ttl_s"):
        WatchFeeds([feed], item_ttl_s=0)


def test_streaming_polls_each_feed_on_its_schedule_and_no_faster(server):
    """N polls in T seconds as scheduled, not more, on a runner that ignores resume delays."""
    counter = itertools.count()
    fast = server.add("/fast", Route(body=lambda: rss("F", [(f"f{next(counter)}", "F")])))
    slow = server.add("/slow", Route(body=rss("S", [("s", "S")]), etag='"s"'))
    down = server.add("/down", Route(status=500))
    policy = SchedulePolicy(min_interval_s=1, max_interval_s=2, default_interval_s=1, jitter=0,
                            speedup=1, slowdown=2, backoff_base_s=2, max_backoff_s=2)
    feeds = [FeedSpec(fast, "Fast", interval_s=1), FeedSpec(slow, "Slow", interval_s=2),
             FeedSpec(down, "Down", interval_s=1)]
    run_s = 6.0
    started = time.monotonic()
    with beam.Pipeline() as p:
        read = p | WatchFeeds(feeds, policy=policy, stop_after_s=run_s, idle_sleep_s=0.05)
        read[HEALTH] | beam.Map(_health_summary)
    took = time.monotonic() - started
    fast_hits, slow_hits = server.hit_times("/fast"), server.hit_times("/slow")
    down_hits = server.hit_times("/down")
    gaps = lambda hits: [b - a for a, b in itertools.pairwise(hits)]  # noqa: E731
    # fast: every 1 s (always new items) -> 6 polls in 6 s (t = 0..5)
    assert 5 <= len(fast_hits) <= 7 and min(gaps(fast_hits)) >= 0.95, gaps(fast_hits)
    # slow: nothing new, so 2 s then slowdown to the 2 s maximum -> t = 0, 2, 4
    assert 3 <= len(slow_hits) <= 4 and min(gaps(slow_hits)) >= 1.95, gaps(slow_hits)
    # down: backs off in [1, 2] s per attempt -> at most 6 in 6 s, never a burst
    assert 2 <= len(down_hits) <= 6 and min(gaps(down_hits)) >= 0.95, gaps(down_hits)
    print("polls", len(fast_hits), len(slow_hits), len(down_hits), "in", round(took, 1), "s")
    assert took < run_s + 10


def test_streaming_emits_each_item_once_even_when_it_comes_back(server):
    documents = iter([
        rss("R", [("a", "A"), ("b", "B")]),
        rss("R", [("b", "B"), ("c", "C")]),
        rss("R", [("a", "A"), ("c", "C")]),   # a dropped out of the previous poll, then returned
    ] + [rss("R", [("a", "A"), ("c", "C")])] * 10)
    url = server.add("/rot", Route(body=lambda: next(documents)))
    policy = SchedulePolicy(min_interval_s=0.5, max_interval_s=0.5, jitter=0)
    with beam.Pipeline() as p:
        read = p | WatchFeeds([FeedSpec(url, "Rot", interval_s=0.5)], policy=policy,
                              stop_after_s=1.3, idle_sleep_s=0.05)
        assert_that(read.events | beam.Map(lambda a: a.title), equal_to(["A", "B", "C"]))
        assert_that(read[HEALTH] | beam.Map(lambda h: h["new_items"]), equal_to([2, 1, 0]),
                    label="new items")


class _FakeState:
    def __init__(self):
        self.value = None

    def read(self):
        return self.value

    def write(self, value):
        self.value = value


def _article(guid: str) -> RawArticle:
    return RawArticle(source=source("rss", "X", feed_url="https://x.example/f", guid=guid),
                      url=f"https://x.example/{guid}", title=guid)


def _health(time_ms: int) -> dict:
    return {"time": time_ms, "new_items": -1, "outcome": "new", "error_kind": None,
            "failing": False, "bytes": 0, "latency_ms": 0}


def _emitted(fn, state, time_ms, guids):
    out = fn.process(("f", (_health(time_ms), [_article(g) for g in guids], [])), seen=state)
    return [x.title for x in out if isinstance(x, RawArticle)]


def test_item_memory_forgets_after_the_ttl_and_stays_bounded():
    fn, state = _ForgetSeenItems(ttl_s=10, max_items=3), _FakeState()
    assert _emitted(fn, state, 0, ["a", "b"]) == ["a", "b"]
    assert _emitted(fn, state, 5_000, ["a", "c"]) == ["c"]         # a remembered
    assert _emitted(fn, state, 20_000, ["b"]) == ["b"]             # b seen at 0: forgotten
    assert len(state.value) <= 3
    assert _emitted(fn, state, 21_000, ["d", "e", "f", "g"]) == ["d", "e", "f", "g"]
    assert len(state.value) == 3                                    # the newest 3 kept


def test_polls_are_counted_in_beam_metrics(server):
    feeds = [FeedSpec(server.add("/m-ok", Route(body=rss("Ok", [("a", "A")]))), "Ok"),
             FeedSpec(server.add("/m-down", Route(status=500)), "Down")]
    p = beam.Pipeline()
    _ = p | PollFeeds(feeds)
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed
                for c in result.metrics().query(MetricsFilter())["counters"]}
    polls = {name: n for name, n in counters.items() if name.startswith("feed_polls{")}
    assert sum(polls.values()) == 2 and polls["feed_polls{outcome=new}"] == 1
    assert counters["feed_poll_failures{error_kind=http_5xx}"] == 1
    assert counters["rss_items_new"] == 1


def test_shard_tracker_checkpoints_carry_the_claimed_states():
    tracker = _ShardTracker(_Shard({"f": "before", "g": "before"}, until_s=99.0,
                                   unpolled=frozenset({"f", "g"})))
    assert tracker.try_claim(({"f": "after", "g": "before"}, ["f"]))
    assert tracker.try_split(0.5) is None  # only checkpoints, never halves
    primary, residual = tracker.try_split(0)
    assert primary.done and not residual.done
    assert residual.states == {"f": "after", "g": "before"} and residual.until_s == 99.0
    # g's first poll is still to come: the watermark keeps waiting for it after the checkpoint
    assert residual.unpolled == {"g"}
    tracker.check_done()
    assert not tracker.try_claim(({"f": "late"}, ["f"]))  # nothing claimed after a checkpoint

    stopping = _ShardTracker(_Shard({"f": "s"}))
    with pytest.raises(ValueError):
        stopping.check_done()
    assert not stopping.try_claim(None)  # None stops the shard
    stopping.check_done()
    assert stopping.try_split(0) is None and not stopping.is_bounded()
