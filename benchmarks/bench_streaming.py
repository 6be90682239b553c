"""Does the streaming job keep up? Written rate vs produced rate, latency and memory, on Prism.

    python benchmarks/bench_streaming.py [--rate 1000] [--seconds 600] [--partitions 2]
                                         [--job-arg=--file_period_s=10 ...]
    python benchmarks/bench_streaming.py --commit-step

It starts a Kafka broker of its own (loopback, a temp dir), launches ``wirewatch run
--streaming`` on Prism reading a new topic with a new group (default options except the ones
it needs to connect and write: ``--bootstrap_servers``, ``--input_topic``, ``--group_id``,
``--output``; ``--job-arg`` adds more), and ``--warmup-s`` later produces ``--rate`` articles/s
for ``--seconds`` (``acks=all``; ~3 KB JSON articles in seven languages, one in ten a near copy
of an earlier one; ``benchmarks/load.py``). It then waits up to ``--drain-s`` for the job to
write the rest, stops it with SIGTERM, stops the broker and removes the temp dir.

What it compares: what came out of the job against what went into Kafka, article by article
(counted by title in the complete Avro files under the job's ``--output``).

Every ``--interval-s`` (10 s) a row:

- ``t``: seconds since the first article was produced;
- ``produced``: articles the broker acknowledged; ``committed``: sum of the group's committed
  offsets; ``written``: distinct articles in complete files;
- ``lag`` = produced - committed (what ``wirewatch monitor`` shows as lag);
- ``unwritten`` = produced - written: in flight in the job, or lost. A ``lag`` near 0 with a
  growing ``unwritten`` means offsets committed for articles not written yet;
- ``job MB`` / ``prism MB``: resident memory of the job's process tree without Prism, and of
  Prism (its process tree), from /proc;
- ``job cores`` / ``prism cores``: CPU time (user + system, /proc) each used since the row
  before, per second: 1.00 is one core busy (the job's Python worker cannot use more than
  about one, Prism runs all Python work of a job in that one process);
- ``load 1m``: the machine's 1-minute load average (other users of the cores slow the job).

At the end:

- sustained articles/s written over the produce phase and over its last half (articles whose
  first file was written in that window / the window's length), beside the rate produced;
- end-to-end latency p50/p99/max (nearest rank) over the articles written: from the wall time
  the producer sent the article to the modification time of the first file holding it. A file
  is written under a hidden ``.inprogress`` name, closed and renamed into place at once, so its
  mtime is when it became complete, to the millisecond, without polling delays;
- not written (acknowledged, not in a file by the end) beside what the group committed: a
  committed article not written would be lost; the rest a restart reads again; duplicates
  (records beyond the first of an article);
- whether the job failed: it ended by itself, exited non-zero on SIGTERM, or logged an ERROR
  line or a traceback (a SIGTERM is a clean stop: it logs neither);
- RSS growth of job + Prism over the last 5 minutes of the produce phase (the last half for
  runs shorter than 10 minutes), in percent: flat memory after warm-up is < 10 %;
- CPU ms per article produced, of the job and of Prism, over the last half of the produce
  (from the rows' CPU samples): what an article costs the worker when it keeps up.

``--commit-step`` measures only the commit step's ledger, without Kafka or a runner: CPU per
call to load a partition's ledgers from their state coder, fold reports in and save them,
at 1,000 to 20,000 records in flight (a partition at 500 records/s: reads in slices of 250,
part files of 50 records drawn at random from the newest 2,500 read and not staged, no file
rolled yet: all of it waits for the period), per report and per pane of one second of reports
(2 reads and 10 parts), as ``CommitWritten`` folds them; and the size of the saved state.

The issue-16 target: at 1,000/s for 600 s on 2 partitions, written rate = produced rate, p99
<= file period + 15 s, RSS growth < 10 %, no failure. This process reads the output and
produces on the same machine (about 10-20 % of a core at 1,000/s): on 2 cores it competes with
the job. Needs the ``dev`` extra and a provisioned Kafka and Prism (``make provision``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apache_beam.coders import PickleCoder

from benchmarks.load import (
    ArticleMaker,
    FixedRateProducer,
    GroupOffsets,
    OutputCounter,
    cpu_seconds,
    rss_mb,
    wait_until_written,
)
from tests.kafka_broker import KafkaBroker
from tests.live_job import LiveJob, command_line, errors_in, stop_problems
from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.admin import create_topic
from wirewatch.connectors.offsets import READ, Ledger, Offsets, runs
from wirewatch.core.monitoring import percentile
from wirewatch.pipelines.runners import prism_binary

TOPIC, GROUP = "articles", "bench-streaming"
COLUMNS = ("t", "produced", "committed", "written", "lag", "unwritten", "job MB", "prism MB",
           "job cores", "prism cores", "load 1m")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
        pass

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=Formatter,
        epilog="Example, a short run with 10 s files: python benchmarks/bench_streaming.py "
               "--rate 300 --seconds 60 --job-arg=--file_period_s=10")
    parser.add_argument("--rate", type=float, default=1000, help="articles produced per second")
    parser.add_argument("--seconds", type=float, default=600, help="how long to produce")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the topic")
    parser.add_argument("--job-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for 'wirewatch run' (repeat; write it "
                             "--job-arg=--option=value)")
    parser.add_argument("--warmup-s", type=float, default=15,
                        help="seconds between launching the job and the first article (the "
                             "job's start-up, not part of the latency)")
    parser.add_argument("--drain-s", type=float, default=180,
                        help="after producing, wait at most this long for the job to write the "
                             "rest (less when all is written, or when the group committed "
                             "everything and nothing came out for --quiet-s)")
    parser.add_argument("--quiet-s", type=float, default=100,
                        help="nothing written for this long while the group committed "
                             "everything ends the drain (default file period 60 s + "
                             "out-of-orderness 30 s + 10 s)")
    parser.add_argument("--interval-s", type=float, default=10, help="seconds between rows")
    parser.add_argument("--commit-step", action="store_true",
                        help="measure only the commit step's ledger (no Kafka, no runner)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (broker data, output, job.log) and print it")
    return parser.parse_args(argv)


class Rows:
    """Prints a row every ``interval_s``; keeps (t, job + Prism RSS) to measure growth and
    (t, job CPU s, Prism CPU s) to measure what an article costs."""

    def __init__(self, job: LiveJob, producer: FixedRateProducer, counter: OutputCounter,
                 offsets: GroupOffsets, interval_s: float) -> None:
        self._job, self._producer, self._counter = job, producer, counter
        self._offsets, self._interval_s = offsets, interval_s
        self._next = 0.0
        self._prism = str(prism_binary())
        self.rss: list[tuple[float, float]] = []
        self.cpu: list[tuple[float, float, float]] = []
        print("  ".join(f"{c:>9}" for c in COLUMNS), flush=True)

    def __call__(self, now: bool = False) -> None:
        """A row if one is due (or ``now``)."""
        t = time.time() - self._producer.started_s
        if t < self._next and not now:
            return
        self._next = (int(t / self._interval_s) + 1) * self._interval_s
        self._counter.update()
        tree = self._job.tree() if self._job.running() else []
        prism_tree = [pid for prism in tree if command_line(prism).startswith(self._prism)
                      for pid in self._job.tree(prism)]
        job_pids = [pid for pid in tree if pid not in prism_tree]
        job_mb, prism_mb = rss_mb(job_pids), rss_mb(prism_tree)
        self.rss.append((t, job_mb + prism_mb))
        before = self.cpu[-1] if self.cpu else None
        self.cpu.append((t, cpu_seconds(job_pids), cpu_seconds(prism_tree)))
        cores = (("-", "-") if before is None or t <= before[0] else
                 tuple(f"{(now - then) / (t - before[0]):.2f}"
                       for now, then in zip(self.cpu[-1][1:], before[1:], strict=True)))
        produced = self._producer.acked_count()
        committed = self._offsets.committed_total()
        written = self._counter.written()
        cells = (f"{t:.0f}", produced, "?" if committed is None else committed, written,
                 "?" if committed is None else produced - committed, produced - written,
                 f"{job_mb:.0f}", f"{prism_mb:.0f}", *cores, f"{os.getloadavg()[0]:.1f}")
        print("  ".join(f"{c:>9}" for c in cells), flush=True)


def _cpu_per_article(cpu: list[tuple[float, float, float]], produced: np.ndarray,
                     start_t: float, end_t: float) -> str:
    """CPU ms of the job and of Prism per article produced between the first and the last
    sample of [start_t, end_t] (seconds since the produce began; ``produced``: each article's
    send time, in the same seconds)."""
    window = [c for c in cpu if start_t <= c[0] <= end_t]
    if len(window) < 2:
        return "n/a (too few samples)"
    (t0, job0, prism0), (t1, job1, prism1) = window[0], window[-1]
    n = int(np.count_nonzero((produced > t0) & (produced <= t1)))
    if n == 0:
        return "n/a (nothing produced)"
    return (f"job {1000 * (job1 - job0) / n:.2f} ms, Prism {1000 * (prism1 - prism0) / n:.2f} ms "
            f"(job {(job1 - job0) / (t1 - t0):.2f} and Prism {(prism1 - prism0) / (t1 - t0):.2f} "
            f"cores, {n} articles)")


def _rate(first_written_s: np.ndarray, start_s: float, end_s: float) -> float:
    return float(np.count_nonzero((first_written_s > start_s) & (first_written_s <= end_s))
                 / (end_s - start_s))


def _growth(rss: list[tuple[float, float]], start_t: float, end_t: float) -> str:
    window = [mb for t, mb in rss if start_t <= t <= end_t]
    if len(window) < 2 or window[0] <= 0:
        return "n/a (too few samples)"
    return f"{100 * (window[-1] - window[0]) / window[0]:+.1f} % ({window[0]:.0f} -> " \
           f"{window[-1]:.0f} MB)"


def _partition_reports(in_flight: int, seed: int = 3) -> list[Offsets]:
    """One partition's reports, in arrival order, until ``in_flight`` records are read and not
    in a rolled file: read in slices of 250; staged in part files of 50 records each drawn at
    random from the newest 2,500 read and not staged (5 s at 500/s: the order a keyed step
    leaves them in); nothing rolled yet (the file period has not fired)."""
    rng = random.Random(seed)
    reports: list[Offsets] = []
    waiting: list[int] = []
    for start in range(0, in_flight, 250):
        reports.append(Offsets("articles", 0, READ, (start, start + 250)))
        waiting += range(start, start + 250)
        while len(waiting) > 2_500:
            rng.shuffle(waiting)
            part, waiting = waiting[:50], waiting[50:]
            reports.append(Offsets("articles", 0, 0, runs(part), staged=True))
    return reports


def _fold(state: bytes | None, reports: list[Offsets], sinks: int = 1) -> bytes:
    """What the commit step does per call: load the ledgers, fold ``reports`` in, save."""
    coder = PickleCoder()
    written, staged = coder.decode(state) if state else (Ledger(sinks), Ledger(sinks))
    for offsets in reports:
        if not offsets.staged:
            written.add(offsets)
        staged.add(offsets._replace(staged=False))
    written.committable(), staged.committable()
    return coder.encode((written, staged))


def commit_step_cost(in_flight: int, calls: int = 20) -> dict[str, float]:
    """CPU ms per call at ``in_flight`` records in flight, per report and per one-second pane
    (500 records/s: 2 reads and 10 parts), and the saved ledgers' size in KB."""
    reports = _partition_reports(in_flight)
    state = _fold(None, reports)
    more = _partition_reports(in_flight + 250 * calls * 2)[len(reports):]
    result = {"KB": len(state) / 1000}
    for name, size in (("per report", 1), ("per pane", 12)):
        started = time.process_time()
        for call in range(calls):
            _fold(state, more[call * size:(call + 1) * size])
        result[name] = (time.process_time() - started) / calls * 1000
    return result


def commit_step_table() -> None:
    print(f"commit step, one partition's ledgers (load {_load()})")
    print(f"{'in flight':>10}  {'state KB':>9}  {'ms/report':>10}  {'ms/pane (1 s)':>14}")
    for in_flight in (1_000, 5_000, 13_000, 20_000):
        cost = commit_step_cost(in_flight)
        print(f"{in_flight:>10,}  {cost['KB']:>9.1f}  {cost['per report']:>10.2f}  "
              f"{cost['per pane']:>14.2f}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.commit_step:
        commit_step_table()
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    broker = KafkaBroker(work / "kafka")
    job: LiveJob | None = None
    producer: FixedRateProducer | None = None
    offsets: GroupOffsets | None = None
    try:
        bootstrap = broker.start()
        create_topic(KafkaConfig(bootstrap), TOPIC, args.partitions)
        out = work / "out"
        job_argv = ["run", "--streaming", f"--bootstrap_servers={bootstrap}",
                    f"--input_topic={TOPIC}", f"--group_id={GROUP}", f"--output={out}",
                    *args.job_arg]
        print(f"broker {bootstrap}, {args.partitions} partitions; {args.rate:g} articles/s for "
              f"{args.seconds:g} s\njob: wirewatch {' '.join(job_argv)}", flush=True)
        producer = FixedRateProducer(bootstrap, TOPIC, args.rate, args.seconds, ArticleMaker())
        offsets = GroupOffsets(bootstrap, GROUP, TOPIC)
        counter = OutputCounter(out, producer.total)
        job = LiveJob("wirewatch", job_argv).__enter__()
        time.sleep(args.warmup_s)
        producer.start()
        while producer.started_s is None:
            time.sleep(0.01)
        rows = Rows(job, producer, counter, offsets, args.interval_s)
        ended_by_itself = False
        produce_end_s = producer.started_s + args.seconds
        while not producer.finished():
            rows()
            if not job.running():
                ended_by_itself, produce_end_s = True, time.time()
                producer.stop()
                break
            time.sleep(0.2)
        produced_s = produce_end_s - producer.started_s
        settled = "job ended" if ended_by_itself else wait_until_written(
            counter, producer.acked(), offsets, args.drain_s, args.quiet_s,
            tick=rows)
        rows(now=True)
        if job.running():
            log = job.stop("sigterm")
            exit_code = job.process.returncode
        else:
            ended_by_itself = True
            log, exit_code = job.output(), job.process.returncode
        counter.update()
        if args.keep:
            (work / "job.log").write_text(log)

        acked = producer.acked()
        written = acked & (counter.copies > 0)
        latency_ms = ((counter.first_written_s - producer.sent_s)[written] * 1000).astype(int)
        start_s, half_s = producer.started_s, producer.started_s + produced_s / 2
        window_s = 300 if produced_s >= 600 else produced_s / 2
        problems = stop_problems(log)
        failed = ended_by_itself or exit_code != 0 or bool(problems)
        p50, p99 = percentile(latency_ms.tolist(), 50), percentile(latency_ms.tolist(), 99)
        print(f"\nproduced {int(acked.sum())} articles in {produced_s:.0f} s "
              f"({int(acked.sum()) / produced_s:.0f}/s; {len(producer.failed)} not "
              f"acknowledged); drain: {settled}")
        first_written_s = counter.first_written_s
        print(f"written/s over the run: {_rate(first_written_s, start_s, produce_end_s):.0f}; "
              f"over its last half: {_rate(first_written_s, half_s, produce_end_s):.0f} "
              f"(produced {args.rate:g}/s)")
        print("latency produce -> file: " + (
            f"p50 {p50 / 1000:.1f} s, p99 {p99 / 1000:.1f} s, max {latency_ms.max() / 1000:.1f} s"
            if len(latency_ms) else "n/a (nothing written)"))
        group = offsets.read()
        committed = sum(group[0].values()) if group else None
        print(f"written {counter.written()} distinct, not written {int((acked & ~written).sum())} "
              f"(group committed {committed if committed is not None else '?'} of "
              f"{int(acked.sum())}: a restart with the group reads the rest again), duplicates "
              f"{counter.duplicates()}, dead letters {len(counter.dead_letters)}")
        print(f"RSS growth (job + Prism) over the last {window_s:.0f} s of the produce: "
              f"{_growth(rows.rss, produced_s - window_s, produced_s)}")
        print("CPU per article produced over the last half of the produce: " + _cpu_per_article(
            rows.cpu, producer.sent_s[acked] - start_s, produced_s / 2, produced_s))
        reason = ("ended by itself" if ended_by_itself else
                  f"exit {exit_code} on SIGTERM" if exit_code != 0 else
                  f"{len(problems)} ERROR lines or tracebacks in its log" if problems else "")
        print(f"job failed: {'yes, ' + reason if failed else 'no'}; load average at the end "
              f"{_load()} (1, 5, 15 min)")
        for line in (errors_in(log) or problems)[:5]:
            print(f"  {line[:300]}")
        return 1 if failed else 0
    finally:
        if producer is not None:
            producer.stop()
        if job is not None:
            job.__exit__(None, None, None)
        if offsets is not None:
            offsets.close()
        broker.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
