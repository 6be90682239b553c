"""Prometheus metrics of a running pipeline, served by the process that runs ``wirewatch run``.

Beam metrics reach the launcher only when the job ends (DirectRunner, Flink's job server), so
the exporter does not ask Beam: it mirrors every update made through
:func:`wirewatch.pipelines.metrics.counter` / ``distribution`` in *this process*. That covers
the runners whose SDK workers run inside the launcher: the DirectRunner (in-memory mode) and
Flink or Prism with ``--environment_type=LOOPBACK``. Workers in other processes or machines
(``--direct_running_mode=multi_processing``, DOCKER/EXTERNAL environments, Dataflow) count
into their own processes; watch those through the runner (Flink's Prometheus reporter shows
Beam metrics; Dataflow shows them in Cloud Monitoring).

A Beam name ``family{label=value}`` becomes ``wirewatch_family_total{label="value"}``;
distributions in milliseconds become histograms in seconds (``wirewatch_event_time_lag_seconds``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from wirewatch.pipelines.metrics import METRICS, NAMESPACE, mirror_to, parse_name

__all__ = ["PrometheusMirror", "serve", "unseen_workers"]

log = logging.getLogger(__name__)

#: Histogram buckets in seconds: from a fast feed poll (10 ms) to a week-old article.
BUCKETS_S = (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600,
             12 * 3600, 86_400, 2 * 86_400, 7 * 86_400)

_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]")


class PrometheusMirror:
    """A :class:`~wirewatch.pipelines.metrics.Mirror` that keeps Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._families: dict[str, tuple[tuple[str, ...], Counter | Histogram]] = {}
        self._clashes: set[str] = set()
        self._lock = threading.Lock()

    def _family(self, family: str, labels: tuple[str, ...], histogram: bool):
        """The Prometheus metric of ``family``, made on first use; ``None`` if ``family`` was
        first used with other labels (Prometheus needs one label set per name)."""
        with self._lock:
            if family not in self._families:
                name = f"{NAMESPACE}_{_NOT_IN_NAME.sub('_', family)}"
                doc = METRICS[family].doc if family in METRICS else family
                if histogram:
                    metric = Histogram(name.removesuffix("_ms") + "_seconds", doc, labels,
                                       registry=self.registry, buckets=BUCKETS_S)
                else:
                    metric = Counter(name, doc, labels, registry=self.registry)
                self._families[family] = (labels, metric)
            known, metric = self._families[family]
            if known == labels:
                return metric
            if family not in self._clashes:
                self._clashes.add(family)
                log.warning("metric %s is used with labels %s and %s: only the first exported",
                            family, known, labels)
            return None

    def inc(self, name: str, n: int) -> None:
        family, labels = parse_name(name)
        metric = self._family(family, tuple(labels), histogram=False)
        if metric is not None:
            (metric.labels(**labels) if labels else metric).inc(n)

    def observe(self, name: str, value: int) -> None:
        family, labels = parse_name(name)
        metric = self._family(family, tuple(labels), histogram=True)
        if metric is not None:
            scale = 1000 if family.endswith("_ms") else 1
            (metric.labels(**labels) if labels else metric).observe(value / scale)


@contextmanager
def serve(port: int, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve this process's wirewatch metrics on ``http://host:port/metrics`` while inside.

    ``port`` 0 picks a free port; the port used is what the context gives. ``OSError`` if the
    port cannot be bound.
    """
    registry = CollectorRegistry()
    server, thread = start_http_server(port, addr=host, registry=registry)
    mirror_to(PrometheusMirror(registry))
    try:
        yield server.server_port
    finally:
        mirror_to(None)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unseen_workers(options: PipelineOptions) -> str | None:
    """Why the workers of a run with ``options`` will not count into this process (so the
    endpoint shows no pipeline metrics), or ``None`` when they will."""
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    runner = runner if isinstance(runner, str) else type(runner).__name__
    environment = (options.view_as(PortableOptions).environment_type or "").upper()
    if runner.endswith("DataflowRunner"):
        return "Dataflow runs the workers on its own machines"
    if environment and environment != "LOOPBACK":
        return f"--environment_type={environment} runs the workers outside this process"
    if (runner.endswith("DirectRunner")
            and options.view_as(DirectOptions).direct_running_mode == "multi_processing"):
        return "--direct_running_mode=multi_processing runs the workers in other processes"
    if (runner.endswith("FlinkRunner") and not environment
            and options.view_as(FlinkRunnerOptions).flink_master not in ("[local]", "[auto]")):
        return "a Flink cluster runs the workers in DOCKER containers unless told otherwise"
    if runner.endswith("PortableRunner") and not environment:
        return "the PortableRunner runs the workers in DOCKER containers unless told otherwise"
    return None
