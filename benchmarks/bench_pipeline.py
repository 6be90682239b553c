"""Whole-pipeline throughput on the DirectRunner against Beam's own read -> write-Avro.

One command, one run, the same input::

    .venv/bin/python benchmarks/bench_pipeline.py --stories 2000

writes the labelled corpus (``benchmarks/corpus.py``) as RSS 2.0 feed files, then times, median
of ``--repeats`` runs each:

- **beam read -> avro**: ``ReadFromText`` over the feed files -> ``WriteToAvro`` (one record per
  line): the ceiling of reading and writing these bytes on this runner;
- **wirewatch, no tag, no dedupe**: ``wirewatch.pipelines.ingest`` with ``Tag`` and ``Dedupe``
  replaced by pass-throughs;
- **wirewatch, no tag**: with ``Dedupe``, ``Tag`` passed through (language detection costs
  milliseconds per article and would hide everything else);
- **wirewatch**: the whole ingest pipeline (read feeds, normalise, dedupe, tag, write Avro).

Rates are articles (feed items) per wall-clock second of ``pipeline.run()``, pipeline
construction included, on the runner's defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from unittest import mock
from xml.sax.saxutils import escape

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import Article, generate
from wirewatch.pipelines import ingest

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


def run_baseline(folder: Path, out: Path) -> None:
    with beam.Pipeline(options=PipelineOptions([])) as p:
        (p | beam.io.ReadFromText(str(folder / "*.xml"))
         | beam.Map(lambda line: {"line": line})
         | beam.io.WriteToAvro(str(out / "lines"), _LINE_SCHEMA))


def run_wirewatch(feeds: Path, out: Path, *skipped: str) -> None:
    args = [f"--feeds={feeds}", f"--output={out}", "--fetched_at_ms=1800000000000"]
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


def timed(fn, repeats: int) -> float:
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    articles = generate(args.stories, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        feeds = write_feeds(articles, folder)
        runs = {
            "beam read -> avro": lambda: run_baseline(folder, folder / "base"),
            "wirewatch, no tag, no dedupe": lambda: run_wirewatch(feeds, folder / "a", "Tag",
                                                                  "Dedupe"),
            "wirewatch, no tag": lambda: run_wirewatch(feeds, folder / "b", "Tag"),
            "wirewatch": lambda: run_wirewatch(feeds, folder / "c"),
        }
        seconds = {name: timed(fn, args.repeats) for name, fn in runs.items()}
    n = len(articles)
    base = n / seconds["beam read -> avro"]
    print(f"\n{n} articles in {len({a.outlet for a in articles})} feed files, DirectRunner, "
          f"median of {args.repeats} runs\n")
    print(f"{'pipeline':30s} {'seconds':>8s} {'articles/s':>10s} {'of baseline':>11s}")
    for name, s in seconds.items():
        print(f"{name:30s} {s:8.2f} {n / s:10.0f} {n / s / base:11.1%}")


if __name__ == "__main__":
    main()
