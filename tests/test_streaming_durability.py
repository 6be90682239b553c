"""The streaming Kafka path on Prism run the way it fails in production, every record counted.

``wirewatch run --streaming`` (the real CLI, real Prism, a real broker of the test's own) reads a
topic that a producer fills at a fixed rate with ``acks=all``, poison messages interleaved. While
it produces, the job is killed with kill -9 twice (its whole process group: the job and its
Prism) and restarted with the same consumer group, as a supervisor would; the broker is killed
with kill -9 once and restarted on the same port and data a few seconds later; the job is
stopped with Ctrl-C once (SIGINT to its process group, as an operator stops it) and started
again. Then the job catches up and is stopped. Every acknowledged article must be in the output
files, every poison message a dead letter, duplicates no more than what was read but not
committed at the kills and the Ctrl-C, no traceback in the job's log, and the Ctrl-C must end the
job with exit code 0, logging no ERROR (nor the final SIGTERM). A second test stops the job with
Ctrl-C right after the group caught up and restarts it: nothing may be lost.

``pytest -s`` prints the counts. The load's scale (defaults: 100 messages/s for 75 s, a poison
message every 250) can be raised for a soak run with ``WIREWATCH_SOAK_RATE``,
``WIREWATCH_SOAK_SECONDS`` and ``WIREWATCH_SOAK_POISON_EVERY``, e.g. ``WIREWATCH_SOAK_SECONDS=200``
for the 20,000 messages of issue 16. About 2.5 minutes for the file on 2 cores.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from benchmarks.load import (
    FixedRateProducer,
    GroupOffsets,
    OutputCounter,
    wait_until_written,
)
from tests.kafka_broker import KafkaBroker, read_topic
from tests.live_job import LiveJob, errors_in, stop_problems
from wirewatch.connectors.files import STALE_AFTER_S, output_prefix
from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.admin import create_topic
from wirewatch.schemas.records import ARTICLE_EVENT

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RATE = float(os.environ.get("WIREWATCH_SOAK_RATE", 100))  # messages/s
SECONDS = float(os.environ.get("WIREWATCH_SOAK_SECONDS", 75))
POISON_EVERY = int(os.environ.get("WIREWATCH_SOAK_POISON_EVERY", 250))
PARTITIONS = 2
PERIOD_S = 5  # a new Avro file this often
# Files, out-of-orderness and idleness short enough for a test; the rest are the defaults.
JOB_OPTIONS = [f"--file_period_s={PERIOD_S}", "--max_out_of_orderness_s=2", "--idle_after_s=1"]
# Nothing written for this long while the group has committed everything: nothing more will come.
QUIET_S = PERIOD_S + 2 + 8
MIN_UP_S = 5  # and has committed something since it started: it is mid-stream, not starting
BROKER_DOWN_S = 5


class Supervisor:
    """The streaming job, restarted with the same arguments whenever it ends, as systemd or
    Kubernetes would restart it. Keeps every incarnation's log, the ones that ended by
    themselves (failures), and at each end the messages sent but not committed: the most a
    restart can read again, the bound on duplicates. Needs no broker to restart a job (the
    committed offsets are the last ones seen; they cannot move while the broker is away)."""

    def __init__(self, args: list[str], offsets: GroupOffsets, sent: Callable[[], int]) -> None:
        self._args = args
        self._offsets = offsets
        self._sent = sent
        self.logs: list[str] = []
        self.failures: list[str] = []
        self.in_flight: list[int] = []
        self.stop_problems: list[str] = []  # ERROR lines and tracebacks of the clean stops
        self.job: LiveJob | None = None
        self._started = 0.0
        self._committed, self._looked = 0, 0.0
        self._committed_at_start = 0

    def start(self) -> None:
        self.job = LiveJob("wirewatch", self._args).__enter__()
        self._started = time.monotonic()
        self._committed_at_start = self._committed

    def up_s(self) -> float:
        return time.monotonic() - self._started

    def in_stride(self) -> bool:
        """The job has committed offsets since it started: it is mid-stream, not starting."""
        return self._committed > self._committed_at_start and self.up_s() >= MIN_UP_S

    def _look(self) -> None:
        if (read := self._offsets.read()) is not None:
            self._committed = sum(read[0].values())
        self._looked = time.monotonic()

    def _ended(self, end: Callable[[], str]) -> None:
        """Run ``end`` (it ends the job, returns its log); note the messages in flight."""
        self._look()
        self.logs.append(end())
        self.job.__exit__(None, None, None)
        self.in_flight.append(max(0, self._sent() - self._committed))

    def tick(self) -> None:
        """Restart the job if it ended by itself."""
        if time.monotonic() - self._looked > 1:
            self._look()
        if not self.job.running():
            self._ended(self.job.output)
            self.failures.append(f"exit {self.job.process.returncode} after {self.up_s():.0f} s: "
                                 f"{errors_in(self.logs[-1])[:5]}")
            self.start()

    def kill_and_restart(self) -> None:
        self._ended(self.job.kill)
        self.start()

    def interrupt_and_restart(self) -> None:
        """Ctrl-C (SIGINT to the job's process group), then start it again: a clean stop
        must exit 0, and lose nothing that was read."""
        self._ended(lambda: self.job.stop("ctrl-c"))
        self.stop_problems += stop_problems(self.logs[-1])
        if self.job.process.returncode != 0:
            self.failures.append(f"exit {self.job.process.returncode} on Ctrl-C after "
                                 f"{self.up_s():.0f} s: {errors_in(self.logs[-1])[:5]}")
        self.start()

    def stop(self) -> None:
        self._ended(lambda: self.job.stop("sigterm"))
        self.stop_problems += stop_problems(self.logs[-1])

    def tracebacks(self) -> list[str]:
        return [log[log.index("Traceback"):][:2500] for log in self.logs if "Traceback" in log]


def _job_args(bootstrap: str, topic: str, group: str, out: Path) -> list[str]:
    # --append: every restart writes on into the files of the incarnations before it
    return ["run", "--streaming", f"--bootstrap_servers={bootstrap}", f"--input_topic={topic}",
            f"--group_id={group}", f"--output={out}", "--append", *JOB_OPTIONS]


def _wait(seconds: float, supervisor: Supervisor,
          until: Callable[[], bool] = lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        supervisor.tick()
        time.sleep(0.25)


def _lost_report(producer: FixedRateProducer, lost: np.ndarray) -> str:
    where = Counter(int(p) for p in producer.partition[lost])
    first = [(int(i), int(producer.partition[i]), int(producer.offset[i]))
             for i in np.flatnonzero(lost)[:10]]
    return f"lost per partition {dict(where)}; first (i, partition, offset): {first}"


@pytest.fixture
def own_broker(tmp_path) -> KafkaBroker:
    """A broker of the test's own, to kill -9 and restart on the same port and data."""
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_kills_of_job_and_broker_under_load_lose_nothing(own_broker, provisioned_prism, tmp_path):
    bootstrap, topic, group = own_broker.bootstrap, "articles", "soak"
    out = tmp_path / "out"
    create_topic(KafkaConfig(bootstrap), topic, PARTITIONS)
    offsets = GroupOffsets(bootstrap, group, topic)
    producer = FixedRateProducer(bootstrap, topic, RATE, SECONDS, poison_every=POISON_EVERY)
    supervisor = Supervisor(_job_args(bootstrap, topic, group, out), offsets,
                            lambda: producer.sent)
    counter = OutputCounter(out, producer.total)
    # A part file that a run killed long ago left behind: the first run removes it.
    events_folder = Path(output_prefix(str(out), ARTICLE_EVENT)).parent
    events_folder.mkdir(parents=True)
    leftover = events_folder / f".{events_folder.name}-20260101T000000Z-0000dead-part.inprogress"
    leftover.write_bytes(b"")
    os.utime(leftover, (time.time() - STALE_AFTER_S - 60,) * 2)
    supervisor.start()
    producer.start()
    started = time.monotonic()
    try:
        # At 15 %, 35 %, 55 % and 75 % of the produce, each once the job is in its stride (it
        # may take a while to start on a busy machine), or 60 s later, whatever it does.
        for at, what in ((0.15, "job"), (0.35, "broker"), (0.55, "job"), (0.75, "ctrl-c")):
            _wait(at * SECONDS - (time.monotonic() - started), supervisor)
            _wait(60, supervisor, until=supervisor.in_stride)
            if what == "job":
                supervisor.kill_and_restart()
            elif what == "ctrl-c":
                supervisor.interrupt_and_restart()
            else:
                own_broker.kill()
                _wait(BROKER_DOWN_S, supervisor)
                assert own_broker.start() == bootstrap
        producer.join(SECONDS + 180)
        settled = wait_until_written(counter, producer.articles_acked(), offsets,
                                     timeout_s=120, quiet_s=QUIET_S, tick=supervisor.tick,
                                     letters=[(p, o) for _, _, p, o in producer.poison_acked()])
        committed = (offsets.read() or ({}, {}))[0]  # below this, each record must be out
        supervisor.stop()
    finally:
        producer.stop()
        if supervisor.job is not None:
            supervisor.job.__exit__(None, None, None)
        offsets.close()
    counter.update()

    good = producer.articles_acked()
    lost = good & (counter.copies == 0)
    hidden_left = len(list(out.rglob(".*.inprogress")))  # those of the kills: young, kept
    on_topic = Counter(r.key for r in read_topic(bootstrap, topic) if r.key is not None)
    # Copies the producer itself put on the topic (a retry across the broker kill) are not
    # the job's: a consumer is right to write each.
    topic_copies = sum(n - 1 for n in on_topic.values())
    duplicates = counter.duplicates() - topic_copies
    bound = sum(supervisor.in_flight[:-1])  # the last end is the final stop, no restart
    poison = producer.poison_acked()
    letters = {(d.partition, d.offset): d for d in counter.dead_letters}
    unlettered = [(i, kind, p, o) for i, kind, p, o in poison if (p, o) not in letters]
    poison_at = {(p, o) for _, _, p, o in poison}
    others = [d for d in counter.dead_letters if (d.partition, d.offset) not in poison_at]
    print(f"\nproduced {int(good.sum())} articles + {len(poison)} poison at {RATE:g}/s "
          f"(acknowledged; {len(producer.failed)} failed, {topic_copies} extra copies on the "
          f"topic); written {counter.written()} distinct in {int(counter.copies.sum())} records; "
          f"lost {int(lost.sum())}; duplicates {duplicates} (bound {bound}: in flight at the "
          f"{len(supervisor.in_flight) - 1} restarts (2 kill -9, 1 Ctrl-C), at most "
          f"{max(supervisor.in_flight[:-1])}); "
          f"dead letters {len(counter.dead_letters)} "
          f"({len(poison) - len(unlettered)} of {len(poison)} poison, {len(others)} others: "
          f"{Counter((d.stage, d.error_type) for d in counter.dead_letters)}); job ended by "
          f"itself or failed a Ctrl-C {len(supervisor.failures)} times; tracebacks "
          f"{len(supervisor.tracebacks())}; ERROR lines or tracebacks at the clean stops "
          f"{len(supervisor.stop_problems)}; "
          f"output settled: {settled}; hidden files left by the kills {hidden_left}")

    assert not producer.failed, f"the producer could not deliver: {producer.failed[:5]}"
    assert not supervisor.failures, (f"the job failed {len(supervisor.failures)} times "
                                     f"(a supervisor restarted it): first "
                                     + "\n".join(supervisor.failures[:3]))
    assert not lost.any(), (f"{int(lost.sum())} of {int(good.sum())} articles lost; "
                            + _lost_report(producer, lost))
    assert not unlettered, (f"poison messages with no dead letter (i, kind, partition, offset): "
                            f"{unlettered[:10]}; committed at the stop {committed} (a poison "
                            f"offset below its partition's commit was lost, not in flight)")
    assert not others, f"dead letters for good articles: {others[:10]}"
    assert duplicates <= bound, f"{duplicates} duplicates, more than the {bound} in flight"
    assert not supervisor.tracebacks(), "\n---\n".join(supervisor.tracebacks()[:3])
    assert not supervisor.stop_problems, "\n---\n".join(supervisor.stop_problems[:5])
    assert counter.strangers == 0
    assert not leftover.exists(), "a run did not remove a stale part file"


def test_ctrl_c_right_after_the_group_caught_up_loses_nothing(kafka_broker, provisioned_prism,
                                                              tmp_path):
    bootstrap, out = kafka_broker.bootstrap, tmp_path / "out"
    topic, group = f"caught-up-{uuid.uuid4().hex[:8]}", "caught-up"
    create_topic(KafkaConfig(bootstrap), topic, PARTITIONS)
    offsets = GroupOffsets(bootstrap, group, topic)
    before = FixedRateProducer(bootstrap, topic, rate=50, seconds=10)  # 500 articles
    after = FixedRateProducer(bootstrap, topic, rate=10, seconds=2, first=before.total)
    counter = OutputCounter(out, after.total)
    args = _job_args(bootstrap, topic, group, out)
    try:
        with LiveJob("wirewatch", args) as job:
            before.start()
            before.join(60)
            deadline = time.monotonic() + 120
            while (read := offsets.read()) is None or any(
                    read[0].get(p, -1) < end for p, end in read[1].items()):
                assert time.monotonic() < deadline, (
                    f"the group did not commit to the end in 120 s: {read}\n"
                    f"{job.output()[-3000:]}")
                assert job.running(), f"the job ended by itself: {errors_in(job.output())}"
                time.sleep(0.25)
            counter.update()
            written_at_stop = counter.written()
            first_log = job.stop("ctrl-c")
        with LiveJob("wirewatch", args) as job:
            after.start()  # the rerun proves it reads: these must come out too
            after.join(60)
            expected = after.acked()
            expected[:before.total] = before.acked()
            settled = wait_until_written(counter, expected, offsets, timeout_s=120,
                                         quiet_s=QUIET_S)
            second_log = job.stop("sigterm")
    finally:
        offsets.close()
    counter.update()
    lost = before.acked() & (counter.copies[:before.total] == 0)
    lost_after = after.acked() & (counter.copies == 0)
    print(f"\n{before.acked_count()} produced, committed to the end, then Ctrl-C with "
          f"{written_at_stop} written; after the rerun (+{after.acked_count()} produced) "
          f"{counter.written()} written, {int(lost.sum())} of the first {before.acked_count()} "
          f"lost, {int(lost_after.sum())} of the rerun's lost, {counter.duplicates()} duplicates; "
          f"settled: {settled}")
    assert before.acked_count() == 500 and after.acked_count() == 20
    assert not lost.any(), (f"{int(lost.sum())} of 500 articles lost across a Ctrl-C after "
                            f"the group caught up; " + _lost_report(before, lost))
    assert not lost_after.any(), f"the rerun lost {int(lost_after.sum())} of 20 articles"
    assert counter.duplicates() == 0, "the group had committed everything: nothing to reread"
    for log in (first_log, second_log):  # a clean stop logs no ERROR and no traceback
        assert not stop_problems(log), "\n---\n".join(stop_problems(log)[:5])
