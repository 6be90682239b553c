"""Polling 1,000 feeds served locally: wirewatch's connector beside what a user would write.

The feeds (20 items each, with an ETag) are served by ``tests/feedserver.py`` in a subprocess on
127.0.0.1, so the server does not share this process's GIL. Each contender polls every feed
once from cold (fetch + parse), then once more with the validators it got (the server answers
304, as most do). Every figure is the median of ``--runs`` runs; ratios are to plain
``feedparser.parse(url)`` measured in the same run.

    python benchmarks/bench_rss.py [--feeds 1000] [--items 20] [--runs 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apache_beam as beam
import feedparser
import requests
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch.connectors.rss.feedlist import FeedSpec
from wirewatch.connectors.rss.fetch import FetchConfig, Fetcher
from wirewatch.connectors.rss.poller import Poller
from wirewatch.connectors.rss.schedule import SchedulePolicy
from wirewatch.connectors.rss.source import PollFeeds

REPO = Path(__file__).resolve().parent.parent


def start_server(feeds: int, items: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "feedserver.py"), "--feeds", str(feeds),
         "--items", str(items), "--etag"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def wirewatch_poller(urls: list[str], concurrency: int) -> Callable[[], tuple[int, int, int]]:
    """Returns a run: cold poll of every feed, then a re-poll; (cold items, re-poll items, _)."""
    def run() -> tuple[int, int, int]:
        poller = Poller(Fetcher(FetchConfig(per_host_concurrency=concurrency)), SchedulePolicy())
        feeds = [FeedSpec(u, "bench") for u in urls]
        with ThreadPoolExecutor(concurrency) as pool:
            started = time.perf_counter()
            cold = list(pool.map(poller.poll, feeds))
            middle = time.perf_counter()
            warm = list(pool.map(poller.poll, feeds, [o.state for o in cold]))
            ended = time.perf_counter()
        return (sum(len(o.articles) for o in cold), sum(len(o.articles) for o in warm),
                (middle - started, ended - middle))
    return run


def feedparser_sequential(urls: list[str]) -> Callable[[], tuple]:
    def run() -> tuple:
        started = time.perf_counter()
        cold = [feedparser.parse(u) for u in urls]
        middle = time.perf_counter()
        warm = [feedparser.parse(u, etag=d.get("etag")) for u, d in zip(urls, cold, strict=True)]
        ended = time.perf_counter()
        return (sum(len(d.entries) for d in cold), sum(len(d.entries) for d in warm),
                (middle - started, ended - middle))
    return run


def requests_feedparser(urls: list[str], concurrency: int) -> Callable[[], tuple]:
    """requests (with a timeout) + feedparser on the bytes, in a thread pool."""
    def run() -> tuple:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
        session.mount("http://", adapter)

        def get(url: str, etag: str | None = None) -> tuple[int, str | None]:
            response = session.get(url, timeout=10, headers={"If-None-Match": etag} if etag else {})
            if response.status_code == 304:
                return 0, etag
            return len(feedparser.parse(response.content).entries), response.headers.get("ETag")

        with ThreadPoolExecutor(concurrency) as pool:
            started = time.perf_counter()
            cold = list(pool.map(get, urls))
            middle = time.perf_counter()
            warm = list(pool.map(get, urls, [etag for _, etag in cold]))
            ended = time.perf_counter()
        return (sum(n for n, _ in cold), sum(n for n, _ in warm),
                (middle - started, ended - middle))
    return run


def wirewatch_beam(urls: list[str], concurrency: int, workers: int) -> Callable[[], tuple]:
    """The bounded Beam source (DirectRunner -> FnApiRunner), one cold poll per feed."""
    options = PipelineOptions(direct_num_workers=workers, direct_running_mode=(
        "multi_processing" if workers > 1 else "in_memory"))

    def run() -> tuple:
        feeds = [FeedSpec(u, "bench") for u in urls]
        started = time.perf_counter()
        p = beam.Pipeline(options=options)
        _ = p | PollFeeds(feeds, fetch=FetchConfig(per_host_concurrency=concurrency),
                          concurrency=concurrency, shards=2 * workers)
        result = p.run()
        result.wait_until_finish()
        took = time.perf_counter() - started
        query = result.metrics().query(MetricsFilter().with_name("rss_items_new"))
        return sum(c.committed for c in query["counters"]), None, (took, None)
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # Beam's multi-process workers log every channel they open
    proc, port = start_server(args.feeds, args.items)
    try:
        urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
        contenders = {
            "feedparser.parse(url), sequential": feedparser_sequential(urls),
            f"requests + feedparser, {args.concurrency} threads":
                requests_feedparser(urls, args.concurrency),
            f"wirewatch Poller, {args.concurrency} threads":
                wirewatch_poller(urls, args.concurrency),
            "wirewatch PollFeeds (Beam, 1 process)": wirewatch_beam(urls, args.concurrency, 1),
            "wirewatch PollFeeds (Beam, 2 processes)": wirewatch_beam(urls, args.concurrency, 2),
        }
        timings: dict[str, list[tuple[float, float | None]]] = {name: [] for name in contenders}
        items: dict[str, tuple] = {}
        for _ in range(args.runs):  # interleaved, so machine noise hits every contender alike
            for name, run in contenders.items():
                cold_items, warm_items, took = run()
                timings[name].append(took)
                items[name] = (cold_items, warm_items)
        base = statistics.median(t[0] for t in timings["feedparser.parse(url), sequential"])
        print(f"\n{args.feeds} feeds x {args.items} items on 127.0.0.1, median of {args.runs} runs")
        print(f"{'contender':44} {'cold polls/s':>12} {'items/s':>9} {'vs feedparser':>13}"
              f" {'re-poll (304) polls/s':>22} {'items re-emitted':>16}")
        for name, runs in timings.items():
            cold = statistics.median(t[0] for t in runs)
            warm = [t[1] for t in runs if t[1] is not None]
            cold_items, warm_items = items[name]
            warm_rate = f"{args.feeds / statistics.median(warm):,.0f}" if warm else "-"
            print(f"{name:44} {args.feeds / cold:12,.0f} {cold_items / cold:9,.0f} "
                  f"{base / cold:12.2f}x {warm_rate:>22} "
                  f"{'-' if warm_items is None else warm_items:>16}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
