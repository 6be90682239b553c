"""Flink with Python workers in separate processes: 1 worker vs 2 on the same input.

The workers run as Kubernetes deployments run them: an EXTERNAL environment served by Beam's
worker pool (``apache_beam.runners.worker.worker_pool_main``), which starts one SDK worker
process per request; ``--sdk_worker_parallelism`` (with Flink's ``--parallelism``) says how
many. One Beam job server (the provisioned jar, embedded Flink) serves all runs through the
PortableRunner, as the job server of a Flink deployment does.

The work is wirewatch's per-article CPU work, HTML cleaning, content hash and language
detection, over synthetic articles made from the bundled samples. Each worker records when
it processed its first and last article and the CPU time it used, so the table gives the whole
run (job submission and worker start included), the processing span, and how the work split.
Runs alternate 1, 2, 1, 2, ... so that load from others on the machine hits both alike;
medians are quoted.

    python benchmarks/bench_flink_workers.py [--articles 6000] [--repeats 3] [--batch 1]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam
import feedparser
from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch.core.language import make_detector
from wirewatch.core.text import clean_html, content_hash
from wirewatch.pipelines.runners import flink_job_server

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "feeds"


def synthetic_articles(n: int) -> list[str]:
    """``n`` HTML articles: the sample bodies, each with a numbered paragraph of its own."""
    bodies = []
    for path in sorted(SAMPLES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            content = entry.get("content") or [{}]
            bodies.append(content[0].get("value") or entry.get("summary") or "")
    bodies = [b for b in bodies if len(b) > 200]
    return [f"<p>Article {i}.</p>{bodies[i % len(bodies)]}" for i in range(n)]


class _Analyse(beam.DoFn):
    """Per-article work; notes the worker process and when it first and last did some."""

    def __init__(self, log_dir: str) -> None:
        self._log_dir = log_dir

    def setup(self) -> None:
        self._detector = make_detector("langdetect")
        # warm up: langdetect loads its profiles once per process
        self._detector.detect_batch(["warm up the language profiles"], [None])
        self._first = self._last = None
        self._count = 0
        self._cpu = time.process_time()

    def process(self, htmls: list[str]):
        self._first = self._first or time.time()
        for html in htmls:
            text = clean_html(html)
            [guess] = self._detector.detect_batch([text], [None])
            self._count += 1
            yield guess.code, content_hash("", "", text)
        self._last = time.time()

    def finish_bundle(self) -> None:
        # Rewritten after every bundle: teardown is not guaranteed to run.
        if self._first is not None:
            with open(Path(self._log_dir) / f"{os.getpid()}-{id(self)}.json", "w") as f:
                json.dump({"pid": os.getpid(), "first": self._first, "last": self._last,
                           "count": self._count, "cpu_s": time.process_time() - self._cpu}, f)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(articles: list[list[str]], workers: int, job_endpoint: str, pool_address: str
             ) -> dict:
    log_dir = tempfile.mkdtemp(prefix="bench-flink-")
    options = PipelineOptions([
        "--runner=PortableRunner", f"--job_endpoint={job_endpoint}",
        f"--parallelism={workers}", f"--sdk_worker_parallelism={workers}",
        "--environment_type=EXTERNAL", f"--environment_config={pool_address}",
    ])
    started = time.monotonic()
    with beam.Pipeline(options=options) as p:
        _ = (p
             | beam.Create(articles, reshuffle=False)
             | beam.Reshuffle()  # spread the articles over the parallel instances
             | beam.ParDo(_Analyse(log_dir))
             | beam.combiners.Count.PerKey())
    wall = time.monotonic() - started
    marks = [json.loads(f.read_text()) for f in Path(log_dir).glob("*.json")]
    per_process: dict[int, list[float]] = {}
    for m in marks:
        count, cpu = per_process.setdefault(m["pid"], [0, 0.0])
        per_process[m["pid"]] = [count + m["count"], cpu + m["cpu_s"]]
    return {"workers": workers, "wall_s": wall,
            "span_s": max(m["last"] for m in marks) - min(m["first"] for m in marks),
            "per_process": sorted(per_process.values(), reverse=True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1,
                        help="articles per element: the runner's cost is per element, the "
                             "workers' per article (default 1)")
    args = parser.parse_args()
    if flink_job_server() is None:
        sys.exit("Flink job server not provisioned: run deploy/local/flink.sh")
    singles = synthetic_articles(args.articles)
    articles = [singles[i:i + args.batch] for i in range(0, len(singles), args.batch)]

    # One job server (embedded Flink) and one worker pool for all runs, as a deployment has.
    job_port, pool_port = _free_port(), _free_port()
    jar, _ = flink_job_server()
    job_server = subprocess.Popen(
        ["java", "-jar", str(jar), "--flink-master=[local]", f"--job-port={job_port}",
         "--artifact-port=0", "--expansion-port=0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    # The pool starts each worker as `python -c ...`: our interpreter must be that `python`.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    pool = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         f"--service_port={pool_port}"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        results: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for workers in (1, 2):
                r = run_once(articles, workers, f"localhost:{job_port}", f"localhost:{pool_port}")
                results[workers].append(r)
                split = ", ".join(f"{n:.0f} articles/{cpu:.1f} s CPU"
                                  for n, cpu in r["per_process"])
                print(f"  run: {workers} worker(s): wall {r['wall_s']:.1f} s, processing span "
                      f"{r['span_s']:.1f} s; per process: {split}", flush=True)
    finally:
        for proc in (pool, job_server):
            proc.terminate()
            proc.wait(timeout=30)

    med = {w: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "span_s")}
           for w, rs in results.items()}
    print(f"\n{args.articles} articles in elements of {args.batch} (clean HTML, hash, "
          f"langdetect), embedded Flink, EXTERNAL worker pool; medians of {args.repeats}")
    print(f"{'':28s}{'1 worker':>12s}{'2 workers':>12s}{'speed-up':>10s}")
    for key, label in (("span_s", "processing span (s)"), ("wall_s", "whole run (s)")):
        one, two = med[1][key], med[2][key]
        print(f"{label:28s}{one:12.1f}{two:12.1f}{one / two:9.2f}x")
    print(f"{'articles/s (span)':28s}{args.articles / med[1]['span_s']:12.0f}"
          f"{args.articles / med[2]['span_s']:12.0f}")
    # What the span would be with a free core per worker: the busiest worker's CPU time.
    busiest = {w: statistics.median(max(cpu for _, cpu in r["per_process"]) for r in rs)
               for w, rs in results.items()}
    print(f"{'busiest worker CPU (s)':28s}{busiest[1]:12.1f}{busiest[2]:12.1f}"
          f"{busiest[1] / busiest[2]:9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
