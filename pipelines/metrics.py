"""Beam metrics of wirewatch, named in one place so every runner and dashboard agrees."""

from __future__ import annotations

from apache_beam.metrics.metric import Metrics

__all__ = ["NAMESPACE", "counter", "distribution"]

#: Namespace of every wirewatch metric.
NAMESPACE = "wirewatch"


def counter(name: str) -> Metrics.DelegatingCounter:
    """The wirewatch counter ``name`` (e.g. ``articles_read_rss``, ``duplicates``)."""
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str) -> Metrics.DelegatingDistribution:
    """The wirewatch distribution ``name`` (e.g. ``event_time_lag_ms``)."""
    return Metrics.distribution(NAMESPACE, name)
