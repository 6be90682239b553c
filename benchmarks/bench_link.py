"""The link step (``pipelines/link``) beside Dedupe in the same run, and what its state costs.

One command, one run::

    nice -n 10 .venv/bin/python benchmarks/bench_link.py            # the README's tables
    nice -n 10 .venv/bin/python benchmarks/bench_link.py --copies 10 --articles 20000  # quick

Input: the team's story set (``benchmarks/data/stories/reports.jsonl``, title and lead of 306
reports in 21 languages) as article events, repeated ``--copies`` times with new ids, each copy
10 days after the last (stories never span copies).

**Step throughput** (median of ``--repeats`` after a warm-up, articles per CPU-second of this
process, i.e. per core, over ``pipeline.run()`` on Beam's FnApiRunner in this process, one
worker, bounded input; CPU time so that the other users of a shared machine do not count):

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
72 h horizon, expired every 1,000 articles) the table prints live stories, the decide rate,
snapshot bytes per live story, the milliseconds to write (pickle) and read (unpickle, with the
collector paused as the decider reads it) a snapshot, and the log's bytes per article (what a
pane appends).

``--pipeline`` instead times the whole pipeline (``bench_pipeline.run_wirewatch``) on
bench_pipeline's corpus (``--stories``; ~3,060-character articles in 7 languages) three ways,
one after the other in each of ``--repeats`` rounds after a warm-up round: Link replaced by a
pass-through, Link with every profile empty (what Beam's part of the step costs: batches,
shuffles, join), and Link. Medians of the CPU seconds; their differences per article are what
the step and its Beam part cost, measured side by side rather than as rows of separate runs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_pipeline import _Skipped, run_wirewatch, write_jsonl
from benchmarks.bench_stories import linked_stream, load_reports, synthetic_stream
from benchmarks.corpus import generate
from benchmarks.timing import median_seconds
from wirewatch.core.article import build_event
from wirewatch.core.stories import StoryLinker, StoryProfile, story_profile
from wirewatch.pipelines import ingest
from wirewatch.pipelines.dedupe import Dedupe
from wirewatch.pipelines.link import Link
from wirewatch.pipelines.link import profile as link_profile
from wirewatch.pipelines.link.decide import without_gc
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

    return median_seconds(run, repeats, warm_up=True, clock=time.process_time)


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


def state_table(articles: int) -> list[tuple[int, int, float, float, float, float, float]]:
    """(articles, live stories, decide articles per CPU-second since the last checkpoint,
    snapshot bytes per live story, write ms, read ms, log bytes per article) at checkpoints."""
    # What a pane appends to the log, per article: the stream's first 1,000 profiles as one.
    pane = (0, tuple((p, "") for p in synthetic_stream(1000)))
    logged = len(pickle.dumps(pane)) / 1000
    rows = []
    for n, linker, rate in linked_stream(articles):
        started = time.perf_counter()
        state = pickle.dumps(linker)  # what PickleCoder writes for the state cell
        wrote = time.perf_counter() - started
        started = time.perf_counter()
        without_gc(functools.partial(pickle.loads, state))  # as the decider reads it
        read = time.perf_counter() - started
        rows.append((n, len(linker), rate, len(state) / max(1, len(linker)), wrote * 1000,
                     read * 1000, logged))
    return rows


def _no_keys(event: dict) -> StoryProfile:
    return StoryProfile(event["event_id"], int(event["event_time"]), "", None, None, ())


def pipeline_table(stories: int, repeats: int) -> None:
    """The whole pipeline on bench_pipeline's corpus without Link, with empty profiles, with
    Link: CPU seconds (medians, rounds interleaved) and what Link adds per article."""
    articles = generate(stories, seed=7)
    # way -> (module, name, stand-in) patched for it, or None
    ways = {"Link skipped": (ingest, "Link", _Skipped),
            "Link, profiles empty (Beam's part)": (link_profile, "story_profile", _no_keys),
            "Link": None}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_jsonl(articles, Path(tmp))
        for round_ in range(repeats + 1):  # round 0 warms up
            for way, patch in ways.items():
                started = time.process_time()
                with mock.patch.object(*patch) if patch else contextlib.nullcontext():
                    run_wirewatch(f"--input_jsonl={archive}", Path(tmp) / f"{round_}-{way}")
                if round_:
                    cpu[way].append(time.process_time() - started)
    n = len(articles)
    base = statistics.median(cpu["Link skipped"])
    print(f"Whole pipeline, bench_pipeline's corpus ({n:,} articles), DirectRunner, CPU s, "
          f"median of {repeats} interleaved rounds; load {os.getloadavg()[0]:.2f}")
    print("| pipeline | CPU s | us per article above Link skipped |")
    print("|---|---:|---:|")
    for way, seconds in cpu.items():
        median = statistics.median(seconds)
        print(f"| {way} | {median:.2f} | {(median - base) * 1e6 / n:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--copies", type=int, default=20,
                        help="times the story set is repeated for the throughput table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--articles", type=int, default=200_000,
                        help="length of the synthetic stream for the state table")
    parser.add_argument("--pipeline", action="store_true",
                        help="only the whole pipeline on bench_pipeline's corpus: without Link, "
                             "with empty profiles, with Link")
    parser.add_argument("--stories", type=int, default=2000,
                        help="stories of bench_pipeline's corpus for --pipeline")
    args = parser.parse_args()
    if args.pipeline:
        pipeline_table(args.stories, args.repeats)
        return

    articles = events(args.copies)
    rows = step_table(articles, args.repeats)
    dedupe = dict(rows)["Dedupe"]
    print(f"Step throughput, {len(articles):,} articles (story set x {args.copies}), "
          f"median of {args.repeats}; load {os.getloadavg()[0]:.2f}")
    floor = dict(rows)["Create -> count (floor)"]
    print("| step | articles/s/core | vs Dedupe | us per article above the floor "
          "| the step alone, articles/s/core |")
    print("|---|---:|---:|---:|---:|")
    for name, rate in rows:
        above = f"{(1 / rate - 1 / floor) * 1e6:,.0f}" if name in ("Dedupe", "Link") else ""
        own = f"{1 / (1 / rate - 1 / floor):,.0f}" if above and rate < floor else ""
        print(f"| {name} | {rate:,.0f} | {rate / dedupe:.2f} | {above} | {own} |")
    print()
    print(f"State, synthetic stream of {args.articles:,} articles, 72 h horizon; "
          f"load {os.getloadavg()[0]:.2f}")
    print("| articles | live stories | decide articles/s/core | snapshot bytes per live story "
          "| write snapshot (ms) | read snapshot (ms) | log bytes per article |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, live, rate, per_story, wrote, read, logged in state_table(args.articles):
        print(f"| {n:,} | {live:,} | {rate:,.0f} | {per_story:,.0f} | {wrote:,.1f} "
              f"| {read:,.1f} | {logged:,.0f} |")


if __name__ == "__main__":
    main()
