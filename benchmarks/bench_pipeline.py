"""Whole-pipeline throughput on the DirectRunner against Beam's own read -> write-Avro.

One command, one run, the same input::

    .venv/bin/python benchmarks/bench_pipeline.py --stories 2000

writes the labelled corpus (``benchmarks/corpus.py``) twice, as RSS 2.0 feed files (``feeds``)
and as one JSON-lines archive (``jsonl``, read with ``--input_jsonl``), then times, median of
``--repeats`` runs each, after one untimed warm-up run:

- **feedparser alone** (feeds): ``parse_feed`` over the same files in a loop, no Beam: the floor
  of any pipeline that reads these feeds with feedparser;
- **beam read -> avro**: ``ReadFromText`` over the same files -> ``WriteToAvro`` (one record per
  line): the ceiling of reading and writing these bytes on this runner;
- **wirewatch, no tag, no dedupe, no link**: ``wirewatch.pipelines.ingest`` with ``Dedupe``,
  ``Tag`` and ``Link`` replaced by pass-throughs (read, normalise, measure, write);
- **wirewatch, no tag, no link**: with ``Dedupe``;
- **wirewatch, no link**: with ``Dedupe`` and ``Tag``;
- **wirewatch**: the whole ingest pipeline (read, normalise, dedupe, tag, link, write Avro);
- **its steps alone, no Beam** (jsonl, 1 process): the same work as the whole pipeline, done by
  calling the functions each step calls, in one loop over batches of 256 lines (parse, build
  the event, fingerprint and decide in one ``NearDupIndex``, tag, profile and link in one
  ``StoryLinker``, write Avro): the ceiling of any runner with one Python worker, and what the
  runner's own share of the whole pipeline's time is measured against.

Each row adds one step to the row above, so the differences of their CPU seconds per article
are what each step costs; they are printed below each table (``--modes`` 1 only).

``--codecs`` instead times the Avro block codecs (``--avro_codec``) on the article events the
whole pipeline writes for the JSON-lines input: bytes per article, and writing and reading
articles/s with fastavro (what Beam's ``WriteToAvro`` and the rolled-file writer both call),
each beside ``null`` (no compression), medians of ``--repeats``.

``--profile`` instead runs the whole pipeline once on the JSON-lines input under cProfile (the
FnApiRunner runs its bundles in the calling thread) and prints the top functions by own time
and the wirewatch functions by cumulative time: what to look at before changing the hot path.

Each Beam row runs once per ``--modes`` entry: ``1`` is the runner's default (one process),
``2`` is ``--direct_num_workers=2 --direct_running_mode=multi_processing``; "of baseline" compares
with the read -> avro row of the same mode. Rates are articles (feed items) per wall-clock second
of ``pipeline.run()``, pipeline construction included; the fixed cost of a run (the whole
pipeline over a 10-article feed) is printed so that it can be seen not to dominate. Beside the
wall-clock rate, each row gives the median CPU seconds the run took (this process and its
worker processes) and that CPU time's share of the baseline's: on a machine shared with other
work the wall clock measures the neighbours too, the CPU time mostly the pipeline.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email.utils import formatdate
from functools import partial
from pathlib import Path
from unittest import mock
from xml.sax.saxutils import escape

import apache_beam as beam
import fastavro
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import Article, generate
from benchmarks.timing import median_seconds
from wirewatch.connectors.article_json import article_from_json
from wirewatch.connectors.files import CODECS, DEFAULT_CODEC
from wirewatch.connectors.rss.feedlist import load_feed_list
from wirewatch.connectors.rss.parse import parse_feed
from wirewatch.core.article import build_event
from wirewatch.core.language import make_detector
from wirewatch.core.neardup import METHODS, NearDupIndex, entries, fingerprint
from wirewatch.core.stories import StoryLinker, story_profile
from wirewatch.core.text import compared_text
from wirewatch.core.topic_model import LearnedTopicTagger
from wirewatch.pipelines import ingest
from wirewatch.pipelines.tag import tag_events
from wirewatch.schemas.records import ARTICLE_EVENT, parsed_schema, story

_LINE_SCHEMA = {"type": "record", "name": "Line", "fields": [{"name": "line", "type": "string"}]}


def write_feeds(articles: list[Article], folder: Path) -> Path:
    """One RSS 2.0 file per outlet and a feed list; returns the feed list's path."""
    by_outlet: dict[str, list[Article]] = {}
    for a in articles:
        by_outlet.setdefault(a.outlet, []).append(a)
    lines = ["feeds:"]
    for outlet, items in sorted(by_outlet.items()):
        path = folder / f"{outlet}.xml"
        body = "".join(
            f"<item><title>{escape(a.title)}</title><link>{escape(a.url)}</link>"
            f"<guid isPermaLink=\"false\">{a.id}</guid>"
            f"<pubDate>{formatdate(a.time_ms / 1000, usegmt=True)}</pubDate>"
            f"<description>{escape(a.text)}</description></item>\n" for a in items)
        path.write_text(
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{outlet}</title><link>https://{outlet}.example/</link>"
            f"<description>bench</description>\n{body}</channel></rss>\n", encoding="utf-8")
        lines.append(f'  - {{url: "https://{outlet}.example/rss", outlet: "{outlet}", '
                     f'path: "{path}"}}')
    feeds = folder / "feeds.yaml"
    feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return feeds


#: The read time of every article (items without a date get it as their event time).
_FETCHED_MS = 1_800_000_000_000
_MODES = {1: [], 2: ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]}


def write_jsonl(articles: list[Article], folder: Path) -> Path:
    """The corpus as one JSON-lines archive (the Kafka JSON article format)."""
    path = folder / "archive.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({"url": a.url, "outlet": a.outlet, "guid": a.id, "title": a.title,
                                "summary": a.text, "published": a.time_ms},
                               ensure_ascii=False) + "\n")
    return path


def parse_alone(feeds: Path) -> None:
    for spec in load_feed_list(str(feeds)):
        parse_feed(Path(spec.path).read_bytes(), spec, 1_800_000_000_000)


def run_baseline(pattern: str, out: Path, mode: int = 1) -> None:
    with beam.Pipeline(options=PipelineOptions(_MODES[mode])) as p:
        (p | beam.io.ReadFromText(pattern)
         | beam.Map(lambda line: {"line": line})
         | beam.io.WriteToAvro(str(out / "lines"), _LINE_SCHEMA))


def run_wirewatch(source: str, out: Path, *skipped: str, mode: int = 1) -> None:
    """``source``: the input option, ``--feeds=...`` or ``--input_jsonl=...``."""
    args = [source, f"--output={out}", f"--fetched_at_ms={_FETCHED_MS}", *_MODES[mode]]
    options = PipelineOptions(args)
    with contextlib.ExitStack() as stack:
        for step in skipped:
            stack.enter_context(mock.patch.object(ingest, step, _Skipped))
        with beam.Pipeline(options=options) as p:
            ingest.build(p, options)


class _Skipped(beam.PTransform):
    """Stand-in for a step, with its outputs and no work, to show what the step costs."""

    def __init__(self, *args, **kwargs) -> None:  # whatever the real step is given
        super().__init__()

    def expand(self, events):
        return events | beam.ParDo(_Pass()).with_outputs("dead_letters", main="events")


class _Pass(beam.DoFn):
    def process(self, event):
        yield event


_BATCH = 256


def steps_alone(archive: Path, out: list[dict] | None = None) -> dict[str, float]:
    """The whole pipeline's work on ``archive`` without Beam: each step's functions, in order,
    on batches of ``_BATCH`` lines (one index and one linker: what one worker holds). Returns
    each step's CPU seconds; the article events go to ``out`` if given."""
    spent: dict[str, float] = {}
    detector, tagger = make_detector(), LearnedTopicTagger()
    index, linker = NearDupIndex(), StoryLinker()
    schema = parsed_schema(ARTICLE_EVENT)
    where = {"kind": "file", "name": archive.name, "guid": None}
    with archive.open("rb") as f:
        lines = f.readlines()
    clock = time.process_time

    def lap(step: str, since: float) -> float:
        now = clock()
        spent[step] = spent.get(step, 0.0) + now - since
        return now

    for start in range(0, len(lines), _BATCH):
        t = clock()
        events = [build_event(article_from_json(line, {**where, "offset": start + i},
                                                _FETCHED_MS))
                  for i, line in enumerate(lines[start:start + _BATCH])]
        t = lap("read + normalise", t)
        fps = fingerprint([compared_text(e["title"], e["summary"], e["body"]) for e in events])
        keys, owner, methods = entries(fps, [e["canonical_url"] for e in events],
                                       [e["dedup"]["content_hash"] for e in events])
        matches = index.add([e["event_id"] for e in events],
                            [e["event_time"] for e in events], fps, keys, owner, methods)
        for event, match in zip(events, matches, strict=True):
            if match is not None:  # the fields Dedupe's join sets (build_event's are "unique")
                event["dedup"].update(is_duplicate=True, duplicate_of=match.event_id,
                                      similarity=match.similarity, method=METHODS[match.method])
        t = lap("dedupe", t)
        events = tag_events(events, detector, tagger)
        t = lap("tag", t)
        for event in sorted(events, key=lambda e: (e["event_time"], e["event_id"])):
            v = linker.link(story_profile(event), event["dedup"]["duplicate_of"])
            event["story"] = story(v.story_id, v.linked_by, v.similarity)
        t = lap("link", t)
        fastavro.writer(io.BytesIO(), schema, events, codec=DEFAULT_CODEC)
        lap("write", t)
        if out is not None:
            out.extend(events)
    return spent


def time_steps_alone(archive: Path, repeats: int) -> tuple[dict[int, tuple[float, float]], str]:
    """The row of ``steps_alone`` (1 process) and a line of each step's median CPU us an
    article."""
    spent: list[dict[str, float]] = []
    row = {1: median_wall_and_cpu(lambda: spent.append(steps_alone(archive)), repeats)}
    n = len(archive.read_bytes().splitlines())
    return row, "CPU us per article of its steps alone: " + ", ".join(
        f"{step} {statistics.median(run[step] for run in spent[1:]) * 1e6 / n:.0f}"
        for step in spent[0])


def _cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its waited-for worker processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def median_wall_and_cpu(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``repeats`` calls after a warm-up."""
    cpu: list[float] = []

    def timed() -> None:
        started = _cpu_seconds()
        run()
        cpu.append(_cpu_seconds() - started)

    wall = median_seconds(timed, repeats, warm_up=True)
    return wall, statistics.median(cpu[1:])  # cpu[0]: the warm-up


def codec_table(archive: Path, out: Path, repeats: int) -> None:
    """Size and speed of each Avro codec on the article events of one whole-pipeline run."""
    run_wirewatch(f"--input_jsonl={archive}", out)
    events = []
    for path in sorted((out / "article_events").glob("*.avro")):
        with open(path, "rb") as f:
            events.extend(fastavro.reader(f))
    schema = parsed_schema(ARTICLE_EVENT)
    rows = {}
    for codec in CODECS:
        buffer = io.BytesIO()

        def write(codec: str = codec, buffer: io.BytesIO = buffer) -> None:
            buffer.seek(0)
            buffer.truncate()
            fastavro.writer(buffer, schema, events, codec=codec)

        wrote = median_seconds(write, repeats, warm_up=True)
        data = buffer.getvalue()
        read = median_seconds(lambda data=data: sum(1 for _ in fastavro.reader(io.BytesIO(data))),
                              repeats, warm_up=True)
        rows[codec] = (len(data), wrote, read)
    n, (null_size, null_write, null_read) = len(events), rows["null"]
    print(f"\n{n} article events from the whole pipeline (JSON-lines input), fastavro in one "
          f"process, median of {repeats}; default --avro_codec: {DEFAULT_CODEC}")
    print(f"{'codec':10s} {'B/article':>9s} {'x null':>6s} {'write art/s':>11s} {'x null':>6s} "
          f"{'read art/s':>10s} {'x null':>6s}")
    for codec, (size, wrote, read) in rows.items():
        print(f"{codec:10s} {size / n:9.0f} {size / null_size:6.2f} {n / wrote:11.0f} "
              f"{null_write / wrote:6.2f} {n / read:10.0f} {null_read / read:6.2f}")


_STEPS = ("read + normalise + measure + write", "dedupe", "tag", "link")
_ALONE = "its steps alone, no Beam"


def step_costs(rows: dict[str, dict[int, tuple[float, float]]], n: int) -> str:
    """CPU microseconds per article of each step, 1 process: the differences of the rows, each
    adding one step to the one above (the first: the pipeline without its three big steps
    over Beam's read -> write)."""
    cpu = [by_mode[1][1] for row, by_mode in rows.items()
           if row not in ("feedparser alone", _ALONE)]
    costs = [(later - earlier) * 1e6 / n for earlier, later in itertools.pairwise(cpu)]
    return "CPU us per article, 1 process: " + ", ".join(
        f"{step} {us:.0f}" for step, us in zip(_STEPS, costs, strict=True))


def profile(archive: Path, out: Path, top: int = 25) -> None:
    """The whole pipeline once under cProfile: top functions by own time, then wirewatch's."""
    profiler = cProfile.Profile()
    profiler.runcall(run_wirewatch, f"--input_jsonl={archive}", out)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    # wirewatch's own modules, as installed (wirewatch/...) or from this checkout
    stats.sort_stats("cumulative").print_stats(r"/(pipelines|connectors|core|schemas)/", top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", type=int, nargs="+", choices=sorted(_MODES), default=[1, 2],
                        help="processes: 1 (default runner) and/or 2 (multi_processing)")
    parser.add_argument("--inputs", nargs="+", choices=("feeds", "jsonl"),
                        default=["feeds", "jsonl"], help="which inputs to time (default both)")
    parser.add_argument("--profile", action="store_true",
                        help="only a cProfile of the whole pipeline on the JSON-lines input")
    parser.add_argument("--codecs", action="store_true",
                        help="only the Avro codec table (size and speed of each --avro_codec)")
    args = parser.parse_args()
    articles = generate(args.stories, seed=args.seed)
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            profile(write_jsonl(articles, Path(tmp)), Path(tmp) / "out")
        return
    if args.codecs:
        with tempfile.TemporaryDirectory() as tmp:
            codec_table(write_jsonl(articles, Path(tmp)), Path(tmp) / "out", args.repeats)
        return
    n = len(articles)
    # input -> row -> mode -> (wall seconds, CPU seconds)
    tables: dict[str, dict[str, dict[int, tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        feeds = write_feeds(articles, folder)
        small = folder / "small"
        small.mkdir()
        fixed = median_seconds(
            lambda: run_wirewatch(f"--feeds={write_feeds(articles[:10], small)}", small / "out"),
            args.repeats, warm_up=True)
        archive = write_jsonl(articles, folder)
        sources = {"feeds": (str(folder / "*.xml"), f"--feeds={feeds}"),
                   "jsonl": (str(archive), f"--input_jsonl={archive}")}
        for name in args.inputs:
            pattern, option = sources[name]
            rows = tables[name] = {}
            if name == "feeds":
                rows["feedparser alone"] = {1: median_wall_and_cpu(lambda: parse_alone(feeds),
                                                                   args.repeats)}
            for mode in args.modes:
                out = folder / f"{name}-{mode}"
                runs = {
                    "beam read -> avro": partial(run_baseline, pattern, out / "base", mode),
                    "wirewatch, no tag, no dedupe, no link": partial(
                        run_wirewatch, option, out / "a", "Tag", "Dedupe", "Link", mode=mode),
                    "wirewatch, no tag, no link": partial(run_wirewatch, option, out / "b",
                                                          "Tag", "Link", mode=mode),
                    "wirewatch, no link": partial(run_wirewatch, option, out / "d", "Link",
                                                  mode=mode),
                    "wirewatch": partial(run_wirewatch, option, out / "c", mode=mode),
                }
                for row, fn in runs.items():
                    rows.setdefault(row, {})[mode] = median_wall_and_cpu(fn, args.repeats)
            if name == "jsonl":
                rows[_ALONE], alone = time_steps_alone(archive, args.repeats)
    print(f"\n{n} articles ({sum(len(a.text) for a in articles) / n:.0f} characters each) in "
          f"{len({a.outlet for a in articles})} feed files or one JSON-lines file, DirectRunner, "
          f"median of {args.repeats} runs after a warm-up; fixed cost of a run (10 articles): "
          f"{fixed:.2f} s")
    for name, rows in tables.items():
        print(f"\n{'input: ' + name:38s}"
              + "".join(f" | {f'{mode} process(es)':^56s}" for mode in args.modes))
        print(f"{'pipeline':38s}" + (f" | {'seconds':>8s} {'articles/s':>10s} {'of baseline':>12s}"
                                     f" {'CPU s':>8s} {'CPU of baseline':>15s}")
              * len(args.modes))
        for row, by_mode in rows.items():
            line = f"{row:38s}"
            for mode in args.modes:
                (base, base_cpu), took = rows["beam read -> avro"][mode], by_mode.get(mode)
                line += (f" | {took[0]:8.2f} {n / took[0]:10.0f} {base / took[0]:12.1%}"
                         f" {took[1]:8.2f} {base_cpu / took[1]:15.1%}" if took else
                         f" | {'-':>8s} {'-':>10s} {'-':>12s} {'-':>8s} {'-':>15s}")
            print(line)
        if 1 in args.modes:
            print(step_costs(rows, n))
        if _ALONE in rows:
            print(alone)
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
