"""Flink with Python workers in separate processes: 1 worker vs 2 on the same input.

The workers run as Kubernetes deployments run them: an EXTERNAL environment served by Beam's
worker pool (``apache_beam.runners.worker.worker_pool_main``), which starts one SDK worker
process per worker the job asks for; ``--parallelism`` Flink slots with as many workers
(``--sdk_worker_parallelism``). One Beam job server (the provisioned jar, embedded Flink) and one
pool serve all runs (``wirewatch.pipelines.runners.external_flink``), as in a deployment.

The work is wirewatch's per-article CPU work, HTML cleaning, content hash and language
detection, over synthetic articles made from the bundled samples. A run's time has two parts,
measured apart:

- steady state: the workers note how many articles they have done as they go; the rate is taken
  between 10 % and 90 % of the articles (worker start-up and the last stragglers excluded);
- fixed cost: the rest of the whole run (job submission and staging, Flink scheduling, worker
  process start, the shuffle before the work, job teardown): whole run - articles / rate.

While a run is in steady state the CPU time of every process is sampled from ``/proc``: the
Flink JVM, each SDK worker, the launcher and pool, and everything else on the machine (other
people's work), so the table shows where the 2 cores went. One untimed warm-up run first (the
JVM's JIT), then runs alternate 1, 2, 1, 2, ... so that load from others hits both alike;
medians are quoted and the ratio is of medians from this one invocation, and so is the pair of
runs the others on the machine disturbed least. When others take
cores, the steady rate per core the workers actually got still compares the two: twice its
2-vs-1 ratio is what two workers would give with a core each (a projection, labelled as such).

Next to each pair of runs, the same work in plain Python processes (``multiprocessing``, 1 vs 2,
no Beam): what the machine itself gives two processes at that moment. Flink's ratio cannot beat
it; when the others on the machine take a core, both drop together.

    python benchmarks/bench_flink_workers.py [--articles 6000] [--repeats 3] [--batch 1] \
        [-- extra Beam options, e.g. --max_bundle_size=100]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import apache_beam as beam
import feedparser
from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch.core.language import make_detector
from wirewatch.core.text import clean_html, content_hash
from wirewatch.pipelines.runners import ExternalFlink, external_flink, flink_job_server

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "feeds"
STEADY = (0.1, 0.9)  # the share of articles between which the rate is taken
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def synthetic_articles(n: int) -> list[str]:
    """``n`` HTML articles: the sample bodies, each with a numbered paragraph of its own."""
    bodies = []
    for path in sorted(SAMPLES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            content = entry.get("content") or [{}]
            bodies.append(content[0].get("value") or entry.get("summary") or "")
    bodies = [b for b in bodies if len(b) > 200]
    return [f"<p>Article {i}.</p>{bodies[i % len(bodies)]}" for i in range(n)]


def _warm_detector():
    detector = make_detector("langdetect")
    # langdetect loads its profiles once per process, on first use
    detector.detect_batch(["warm up the language profiles"], [None])
    return detector


def _analyse(detector, html: str) -> tuple[str, str]:
    text = clean_html(html)
    [guess] = detector.detect_batch([text], [None])
    return guess.code, content_hash("", "", text)


def _plain_share(htmls: list[str]) -> tuple[float, int]:
    """One plain process's share: (seconds for the articles, detector warm-up excluded, count)."""
    detector = _warm_detector()
    started = time.time()
    for html in htmls:
        _analyse(detector, html)
    return time.time() - started, len(htmls)


def run_plain(articles: list[str], processes: int) -> dict:
    """The same work in ``processes`` plain Python processes, split evenly."""
    started = time.time()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        shares = pool.map(_plain_share, [articles[i::processes] for i in range(processes)])
    wall = time.time() - started
    rate = len(articles) / max(seconds for seconds, _ in shares)
    return {"wall_s": wall, "rate": rate, "fixed_s": wall - len(articles) / rate}


class _Analyse(beam.DoFn):
    """Per-article work; notes its progress (time, articles done) about every 0.1 s."""

    def __init__(self, log_dir: str) -> None:
        self._log_dir = log_dir

    def setup(self) -> None:
        self._detector = _warm_detector()
        self._count = 0
        self._progress: list[tuple[float, int]] = []

    def process(self, htmls: list[str]):
        for html in htmls:
            yield _analyse(self._detector, html)
        self._count += len(htmls)
        now = time.time()
        if not self._progress or now - self._progress[-1][0] >= 0.1:
            self._progress.append((now, self._count))

    def finish_bundle(self) -> None:
        # Rewritten after every bundle: teardown is not guaranteed to run.
        if self._count:
            self._progress.append((time.time(), self._count))
            with open(Path(self._log_dir) / f"{os.getpid()}-{id(self)}.json", "w") as f:
                json.dump({"pid": os.getpid(), "progress": self._progress}, f)


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def _machine_busy_ticks() -> int:
    # cpu  user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]


class _CpuSampler(threading.Thread):
    """Samples the CPU time of the job server, the pool's workers, the pool and this process,
    and of the whole machine, every 0.1 s."""

    def __init__(self, flink: ExternalFlink) -> None:
        super().__init__(daemon=True)
        self._flink = flink
        self._stop_event = threading.Event()
        self.samples: list[tuple[float, int, dict[int, int]]] = []
        self.workers: set[int] = set()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and _parent(int(entry.name)) == self._flink.worker_pool_pid:
                    self.workers.add(int(entry.name))
            pids = {self._flink.job_server_pid, self._flink.worker_pool_pid, os.getpid(),
                    *self.workers}
            ticks = {pid: t for pid in pids if (t := _cpu_ticks(pid)) is not None}
            self.samples.append((time.time(), _machine_busy_ticks(), ticks))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def cores(self, start: float, end: float) -> dict[str, float]:
        """Cores used on average between ``start`` and ``end``, by role."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            raise RuntimeError(f"steady state of {end - start:.2f} s is too short to sample; "
                               "give more --articles")
        (t0, busy0, ticks0), (t1, busy1, ticks1) = inside[0], inside[-1]
        seconds = (t1 - t0) * CLOCK_TICKS

        def used(pid: int) -> float:
            return (ticks1.get(pid, 0) - ticks0.get(pid, 0)) / seconds

        workers = sorted((used(pid) for pid in self.workers if pid in ticks1), reverse=True)
        ours = {"SDK workers (Python)": sum(workers),
                "Flink JVM (job server)": used(self._flink.job_server_pid),
                "launcher + worker pool": used(os.getpid()) + used(self._flink.worker_pool_pid)}
        machine = (busy1 - busy0) / seconds
        return {**ours, "others on the machine": max(0.0, machine - sum(ours.values())),
                "idle": max(0.0, os.cpu_count() - machine), "busiest SDK worker": workers[0]}


def _steady_state(marks: list[dict], total: int) -> tuple[float, float, float]:
    """(start, end, articles/s) between STEADY shares of ``total``, over all workers' marks."""
    events = sorted((t, count - previous) for m in marks
                    for (t, count), previous in zip(m["progress"],
                                                    [0] + [c for _, c in m["progress"][:-1]],
                                                    strict=True))
    done, start, start_done = 0, None, 0
    for t, n in events:
        done += n
        if start is None and done >= STEADY[0] * total:
            start, start_done = t, done
        if done >= STEADY[1] * total:
            return start, t, (done - start_done) / (t - start)
    raise RuntimeError(f"workers noted {done} of {total} articles")


def run_once(articles: list[list[str]], workers: int, flink: ExternalFlink, sampler: _CpuSampler,
             beam_args: list[str]) -> dict:
    options = PipelineOptions(flink.pipeline_args(workers) + beam_args)
    with tempfile.TemporaryDirectory(prefix="bench-flink-") as log_dir:
        started = time.time()
        with beam.Pipeline(options=options) as p:
            _ = (p
                 | beam.Create(articles, reshuffle=False)
                 | beam.Reshuffle()  # one element stream out of Create: spread it over the slots
                 | beam.ParDo(_Analyse(log_dir))
                 | beam.combiners.Count.PerKey())
        wall = time.time() - started
        marks = [json.loads(f.read_text()) for f in Path(log_dir).glob("*.json")]
    total = sum(len(a) for a in articles)
    start, end, rate = _steady_state(marks, total)
    per_process: dict[int, int] = {}
    for m in marks:
        per_process[m["pid"]] = per_process.get(m["pid"], 0) + m["progress"][-1][1]
    first = min(m["progress"][0][0] for m in marks)
    last = max(m["progress"][-1][0] for m in marks)
    cores = sampler.cores(start, end)
    return {"workers": workers, "wall_s": wall, "rate": rate, "fixed_s": wall - total / rate,
            "per_core": rate / cores["SDK workers (Python)"],
            "startup_s": first - started, "winddown_s": started + wall - last,
            "articles_per_process": sorted(per_process.values(), reverse=True),
            "cores": cores}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1,
                        help="articles per element: the runner's cost is per element, the "
                             "workers' per article (default 1)")
    args, beam_args = parser.parse_known_args()
    beam_args = [a for a in beam_args if a != "--"]
    if flink_job_server() is None:
        sys.exit("Flink job server not provisioned: run deploy/local/flink.sh")
    singles = synthetic_articles(args.articles)
    articles = [singles[i:i + args.batch] for i in range(0, len(singles), args.batch)]

    flink_runs: dict[int, list[dict]] = {1: [], 2: []}
    plain_runs: dict[int, list[dict]] = {1: [], 2: []}
    with external_flink() as flink:
        sampler = _CpuSampler(flink)
        sampler.start()
        try:
            warm = run_once(articles[:max(1, len(articles) // 10)], 2, flink, sampler, beam_args)
            print(f"  warm-up (not counted): {warm['wall_s']:.1f} s", flush=True)
            for _ in range(args.repeats):
                for workers in (1, 2):
                    r = run_once(articles, workers, flink, sampler, beam_args)
                    flink_runs[workers].append(r)
                    cores = ", ".join(f"{k} {v:.2f}" for k, v in r["cores"].items())
                    if len(r["articles_per_process"]) < workers:
                        cores += " (the job server put both slots on one worker)"
                    print(f"  Flink, {workers} worker(s): whole {r['wall_s']:.1f} s, fixed "
                          f"{r['fixed_s']:.1f} s, steady {r['rate']:.0f} articles/s; articles "
                          f"per process {r['articles_per_process']}; cores: {cores}", flush=True)
                for processes in (1, 2):
                    r = run_plain(singles, processes)
                    plain_runs[processes].append(r)
                    print(f"  plain, {processes} process(es): whole {r['wall_s']:.1f} s, "
                          f"steady {r['rate']:.0f} articles/s", flush=True)
        finally:
            sampler.stop()

    def median(runs: dict[int, list[dict]], n: int, key: str, sub: str | None = None) -> float:
        return statistics.median(r[key][sub] if sub else r[key] for r in runs[n])

    extra = f", {' '.join(beam_args)}" if beam_args else ""
    print(f"\n{args.articles} articles in elements of {args.batch} (clean HTML, hash, "
          f"langdetect); medians of {args.repeats}")
    print(f"{'':36s}{'1 worker':>10s}{'2 workers':>11s}{'2 vs 1':>9s}")
    rows = (("rate", "steady state (articles/s)", ".0f"),
            ("per_core", "  per core the workers got (*)", ".0f"),
            ("fixed_s", "fixed cost (s)", ".1f"),
            ("startup_s", "  of it: submit to first article (s)", ".1f"),
            ("winddown_s", "  of it: last article to done (s)", ".1f"),
            ("wall_s", "whole run (s)", ".1f"))
    for runs, title in ((flink_runs, f"Flink, EXTERNAL worker pool{extra}"),
                        (plain_runs, "plain Python processes (multiprocessing, no Beam)")):
        print(title)
        for key, label, fmt in rows:
            if key not in runs[1][0]:
                continue
            one, two = median(runs, 1, key), median(runs, 2, key)
            # how much better 2 are; per core: how much of a second core's worth the second
            # worker adds when it has that core to itself
            ratio = (two / one if key == "rate" else 2 * two / one if key == "per_core"
                     else one / two)
            print(f"  {label:34s}{one:10{fmt}}{two:11{fmt}}{ratio:8.2f}x")
    print("  (*) articles/s per core; its 2-vs-1 column is 2 x the ratio: what two workers would "
          "give with a core each (a projection)")
    print(f"cores used in Flink's steady state by (of {os.cpu_count()})")
    for role in flink_runs[1][0]["cores"]:
        print(f"  {role:34s}{median(flink_runs, 1, 'cores', role):10.2f}"
              f"{median(flink_runs, 2, 'cores', role):11.2f}")
    # The medians mix quiet and busy moments; the pair the others disturbed least shows what
    # the setup gives when it has the machine.
    others = "others on the machine"
    one, two = min(zip(flink_runs[1], flink_runs[2], strict=True),
                   key=lambda pair: max(r["cores"][others] for r in pair))
    print(f"quietest pair (others used {one['cores'][others]:.2f} / {two['cores'][others]:.2f} "
          f"cores): steady {one['rate']:.0f} vs {two['rate']:.0f} articles/s "
          f"({two['rate'] / one['rate']:.2f}x), whole run {one['wall_s']:.1f} vs "
          f"{two['wall_s']:.1f} s ({one['wall_s'] / two['wall_s']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
