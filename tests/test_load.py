"""``benchmarks/load.py``'s process measures, which ``bench_streaming.py`` prints per row."""

from __future__ import annotations

import os
import time

from benchmarks.load import cpu_seconds, rss_mb

GONE = 2**22 + 1  # above Linux's largest pid: never a process


def test_cpu_seconds_counts_the_cpu_a_process_used_and_a_gone_one_as_zero():
    before = cpu_seconds([os.getpid()])
    busy_until = time.process_time() + 0.3
    while time.process_time() < busy_until:
        pass
    used = cpu_seconds([os.getpid()]) - before
    assert 0.2 <= used <= 2.0
    assert cpu_seconds([GONE]) == 0.0
    assert cpu_seconds([os.getpid(), GONE]) >= before + 0.2


def test_rss_mb_of_this_process_and_of_one_that_is_gone():
    assert 10 < rss_mb([os.getpid()]) < 10_000
    assert rss_mb([GONE]) == 0.0
