"""Feed health: one ``FeedHealth`` record per poll (``schemas/feed_health.avsc``).

The records go to ``<output>/feed_healths/`` (``WriteAvroFiles(output, FEED_HEALTH)``) and
their counts to the Beam metrics ``feed_polls``, ``feed_poll_failures``,
``feed_poll_latency_ms`` and ``rss_*`` (:func:`count_poll`), so an operator can list the
failing feeds from either.
"""

from __future__ import annotations

from wirewatch import __version__
from wirewatch.pipelines.metrics import (
    FEED_POLL_FAILURES,
    FEED_POLL_LATENCY_MS,
    FEED_POLLS,
    counter,
    distribution,
)

__all__ = ["HEALTH", "count_poll", "feed_health"]

#: Output tag of the RSS sources' health records.
HEALTH = "feed_health"


def feed_health(*, feed_url: str, outlet: str, time_ms: int, outcome: str,
                http_status: int | None, error_kind: str | None, error: str | None,
                wire_bytes: int, items: int, new_items: int, dead_letters: int,
                latency_ms: int, next_poll_ms: int | None, consecutive_failures: int,
                failing: bool, final_url: str | None) -> dict:
    """A ``FeedHealth`` record (all fields by keyword: they are easy to mix up)."""
    return {
        "schema_version": 1, "feed_url": feed_url, "outlet": outlet, "time": time_ms,
        "outcome": outcome, "http_status": http_status, "error_kind": error_kind,
        "error": error, "bytes": wire_bytes, "items": items, "new_items": new_items,
        "dead_letters": dead_letters, "latency_ms": latency_ms, "next_poll": next_poll_ms,
        "consecutive_failures": consecutive_failures, "failing": failing,
        "final_url": final_url if final_url != feed_url else None,
        "pipeline_version": __version__,
    }


def count_poll(health: dict) -> None:
    """Beam metrics of one poll, from its health record."""
    counter(FEED_POLLS, outcome=health["outcome"]).inc()
    if health["error_kind"]:
        counter(FEED_POLL_FAILURES, error_kind=health["error_kind"]).inc()
    if health["failing"]:
        counter("rss_polls_of_failing_feeds").inc()
    counter("rss_bytes").inc(health["bytes"])
    counter("rss_items_new").inc(health["new_items"])
    distribution(FEED_POLL_LATENCY_MS).update(health["latency_ms"])
