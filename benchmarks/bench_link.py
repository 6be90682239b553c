"""The link step (``pipelines/link``) beside Dedupe in the same run, and what its state costs.

One command, one run::

    nice -n 10 .venv/bin/python benchmarks/bench_link.py            # the README's tables
    nice -n 10 .venv/bin/python benchmarks/bench_link.py --copies 10 --articles 20000  # quick

Input: the team's story set (``benchmarks/data/stories/reports.jsonl``, title and lead of 306
reports in 21 languages) as article events, repeated ``--copies`` times with new ids, each copy
10 days after the last (stories never span copies).

**Step throughput** (median of ``--repeats`` after a warm-up, articles per wall-clock second of
``pipeline.run()`` on Beam's FnApiRunner in this process, one worker, bounded input):

- *Create -> count*: the floor (JSON lines, decoded), what any step adds to;
- *Dedupe*: the near-duplicate step the user already runs on the same events;
- *Link*: ``profile | decide in order | join`` (bounded: one GroupByKey, decided at the end);
- *profile alone* / *decide alone*: the two halves without Beam, per CPU-second. Profiling runs
  on every worker; deciding runs on **one key**, so *decide alone* is the ceiling of the step
  on any number of workers.

**State** (a stream): the decider keeps its linker in Beam state as a snapshot, written whole
once in ``SNAPSHOT_EVERY`` panes (ticks with articles), and a log of the panes fed to it since,
appended once a pane; a worker without the linker in memory reads the snapshot and replays the
log. Over ``--articles`` profiles of ``bench_stories.synthetic_stream`` (~1,000 articles/hour,
72 h horizon, expired every 1,000 articles) the table prints live stories, snapshot bytes per
live story, the milliseconds to write (pickle) and read (unpickle) a snapshot, and the log's
bytes per article (what a pane appends).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_stories import load_reports, synthetic_stream
from benchmarks.timing import median_seconds
from wirewatch.core.article import build_event
from wirewatch.core.stories import StoryLinker, story_profile
from wirewatch.pipelines.dedupe import Dedupe
from wirewatch.pipelines.link import Link
from wirewatch.schemas.records import RawArticle, source

HOUR_MS = 3600 * 1000


def events(copies: int) -> list[dict]:
    """The story set as tagged article events, ``copies`` times over (new ids, 10 days on)."""
    out = []
    for n in range(copies):
        for r in load_reports():
            made = build_event(RawArticle(
                source=source("rss", r["source"]["outlet"], guid=f"{n}-{r['event_id']}"),
                url=f"https://reports.example/{n}/{r['event_id']}", title=r["title"],
                summary=r["summary"], published_ms=r["event_time"] + n * 240 * HOUR_MS,
                fetched_ms=r["event_time"] + n * 240 * HOUR_MS + 60_000))
            made["language"] = {"code": r["language"]["code"], "confidence": 1.0,
                                "method": "bench"}
            out.append(made)
    return out


def _step_seconds(articles: list[dict], step: beam.PTransform | None, repeats: int) -> float:
    # As JSON lines: Create infers a type from every value, which for thousands of dicts
    # took longer than the steps.
    lines = [json.dumps(a) for a in articles]

    def run() -> None:
        with beam.Pipeline(runner=FnApiRunner()) as p:
            created = p | beam.Create(lines, reshuffle=False) | beam.Map(json.loads)
            out = (created | step).events if step is not None else created
            _ = out | beam.combiners.Count.Globally()

    return median_seconds(run, repeats, warm_up=True)


def step_table(articles: list[dict], repeats: int) -> list[tuple[str, float]]:
    """(row, articles/s) for the floor, Dedupe, Link, and Link's two halves without Beam."""
    n = len(articles)
    rows = [("Create -> count (floor)", n / _step_seconds(articles, None, repeats)),
            ("Dedupe", n / _step_seconds(articles, Dedupe(), repeats)),
            ("Link", n / _step_seconds(articles, Link(), repeats))]
    profiles = [story_profile(a) for a in articles]
    rows.append(("profile alone (every worker)", n / median_seconds(
        lambda: [story_profile(a) for a in articles], repeats, clock=time.process_time)))

    def decide() -> None:
        linker = StoryLinker()
        for i, profile in enumerate(sorted(profiles, key=lambda p: (p.event_time_ms,
                                                                    p.event_id))):
            if i % 1000 == 0:
                linker.expire(profile.event_time_ms)
            linker.link(profile)

    rows.append(("decide alone (one key: the ceiling)",
                 n / median_seconds(decide, repeats, clock=time.process_time)))
    return rows


def state_table(articles: int) -> list[tuple[int, int, float, float, float, float]]:
    """(articles, live stories, snapshot bytes per live story, write ms, read ms, log bytes
    per article) at checkpoints."""
    linker = StoryLinker()
    checkpoints = {articles // 10, articles // 2, articles}
    rows = []
    recent: list = []
    for n, profile in enumerate(synthetic_stream(articles), start=1):
        linker.link(profile)
        recent = [*recent[-999:], (profile, "")]
        if n % 1000 == 0:
            linker.expire(profile.event_time_ms)
        if n in checkpoints:
            started = time.perf_counter()
            state = pickle.dumps(linker)  # what PickleCoder writes for the state cell
            wrote = time.perf_counter() - started
            started = time.perf_counter()
            pickle.loads(state)
            read = time.perf_counter() - started
            logged = len(pickle.dumps((0, tuple(recent)))) / len(recent)  # as the log has it
            rows.append((n, len(linker), len(state) / max(1, len(linker)), wrote * 1000,
                         read * 1000, logged))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--copies", type=int, default=20,
                        help="times the story set is repeated for the throughput table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--articles", type=int, default=200_000,
                        help="length of the synthetic stream for the state table")
    args = parser.parse_args()

    articles = events(args.copies)
    rows = step_table(articles, args.repeats)
    dedupe = dict(rows)["Dedupe"]
    print(f"Step throughput, {len(articles):,} articles (story set x {args.copies}), "
          f"median of {args.repeats}; load {os.getloadavg()[0]:.2f}")
    floor = dict(rows)["Create -> count (floor)"]
    print("| step | articles/s | vs Dedupe | us per article above the floor |")
    print("|---|---:|---:|---:|")
    for name, rate in rows:
        above = f"{(1 / rate - 1 / floor) * 1e6:,.0f}" if name in ("Dedupe", "Link") else ""
        print(f"| {name} | {rate:,.0f} | {rate / dedupe:.2f} | {above} |")
    print()
    print(f"State, synthetic stream of {args.articles:,} articles, 72 h horizon; "
          f"load {os.getloadavg()[0]:.2f}")
    print("| articles | live stories | snapshot bytes per live story | write snapshot (ms) "
          "| read snapshot (ms) | log bytes per article |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, live, per_story, wrote, read, logged in state_table(args.articles):
        print(f"| {n:,} | {live:,} | {per_story:,.0f} | {wrote:,.1f} | {read:,.1f} "
              f"| {logged:,.0f} |")


if __name__ == "__main__":
    main()
