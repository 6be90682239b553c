"""Python workers in separate processes on an embedded Flink: an EXTERNAL environment served by
Beam's worker pool, the way Kubernetes deployments run them (``runners.external_flink``).

A job on two slots gets two SDK worker processes from the pool, the work runs there and not
in the test's process (no LOOPBACK), and the job server, the pool and its workers are all gone
afterwards. Which worker serves which slot is the job server's choice and can put both slots on
one worker (``ExternalFlink.pipeline_args``), so how the work splits is shown by
``benchmarks/bench_flink_workers.py``, not asserted here. Needs the job server provisioned by
``deploy/local/flink.sh``; without it the test fails and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from wirewatch.pipelines.runners import external_flink

ELEMENTS = 400


def _where(_: int) -> str:
    """'pid parent-pid workers-of-that-parent' of the process that runs this."""
    parent = os.getppid()
    siblings = sum(1 for entry in Path("/proc").iterdir() if entry.name.isdigit()
                   and _parent_of(entry) == parent)
    return f"{os.getpid()} {parent} {siblings}"


def _parent_of(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.flink
@pytest.mark.slow
@pytest.mark.usefixtures("provisioned_flink")
def test_two_slots_get_two_worker_processes_of_the_pool(tmp_path):
    with external_flink(log_dir=tmp_path) as flink:
        options = PipelineOptions(flink.pipeline_args(parallelism=2))
        with beam.Pipeline(options=options) as p:
            _ = (p
                 | beam.Create(range(ELEMENTS), reshuffle=False)
                 | beam.Reshuffle()
                 | beam.Map(_where)
                 | beam.combiners.Count.PerElement()
                 | beam.MapTuple(lambda where, n: f"{where} {n}")
                 | beam.io.WriteToText(str(tmp_path / "where"), num_shards=1))
        cluster = (flink.job_server_pid, flink.worker_pool_pid)

    rows = [tuple(map(int, line.split()))
            for line in (tmp_path / "where-00000-of-00001").read_text().splitlines()]
    assert sum(n for *_, n in rows) == ELEMENTS
    assert {parent for _, parent, _, _ in rows} == {flink.worker_pool_pid}, rows
    assert {siblings for _, _, siblings, _ in rows} == {2}, f"pool's workers: {rows}"
    workers = {pid for pid, *_ in rows}
    assert os.getpid() not in workers
    assert not any(_alive(pid) for pid in (*cluster, *workers)), "a process outlived the cluster"
