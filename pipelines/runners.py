"""Runner setup: point Beam at what ``make provision`` cached, so no run downloads anything.

``deploy/local/prism.sh`` builds Prism into ``$WIREWATCH_CACHE/bin/prism`` and
``deploy/local/flink.sh`` puts Beam's Flink job server at ``$WIREWATCH_CACHE/flink/job-server.jar``
(with ``job-server.properties`` naming its Flink version). ``with_provisioned_runners`` fills in
``--prism_location`` / ``--flink_job_server_jar`` / ``--flink_version`` from there unless the user
gave them.

Streaming on the DirectRunner is run on the PrismRunner outright: the DirectRunner hands a
pipeline to Prism when it can, but when Prism cannot start it falls back to the FnApiRunner,
which is not a streaming runner (windows fire only when every source has ended, so a continuous
source never emits anything). A streaming run that cannot have Prism must fail loudly instead.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PrismRunnerOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineResult, PipelineState

__all__ = [
    "RunOutcome",
    "cache_dir",
    "flink_job_server",
    "prism_binary",
    "run_until_stopped",
    "with_provisioned_runners",
]

log = logging.getLogger(__name__)

_DIRECT_RUNNERS = {None, "DirectRunner", "direct", "directrunner"}


def cache_dir() -> Path:
    """``$WIREWATCH_CACHE``, default ``~/.cache/wirewatch``: where provisioning scripts write."""
    return Path(os.environ.get("WIREWATCH_CACHE") or Path.home() / ".cache" / "wirewatch")


def prism_binary() -> Path | None:
    """The Prism binary built by ``deploy/local/prism.sh``, or None if it is not there."""
    path = cache_dir() / "bin" / "prism"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def flink_job_server() -> tuple[Path, str] | None:
    """(job-server jar, its Flink version) provisioned by ``deploy/local/flink.sh``, or None."""
    folder = cache_dir() / "flink"
    jar, props = folder / "job-server.jar", folder / "job-server.properties"
    if not (jar.is_file() and props.is_file()):
        return None
    values = dict(line.split("=", 1) for line in props.read_text().splitlines() if "=" in line)
    if "flink_version" not in values:
        raise ValueError(f"{props} names no flink_version; rerun deploy/local/flink.sh")
    return jar, values["flink_version"]


def _runner_name(options: PipelineOptions) -> str | None:
    runner = options.view_as(StandardOptions).runner
    if runner is None or isinstance(runner, str):
        return runner
    return type(runner).__name__


def with_provisioned_runners(options: PipelineOptions) -> PipelineOptions:
    """``options`` with the cached Prism / Flink job server filled in (changed in place).

    Options the user set win. A streaming DirectRunner run becomes a PrismRunner run; with no
    Prism cached Beam downloads it, and where it cannot, the run fails with Beam's error. Batch
    DirectRunner runs are left to Beam's choice: a Prism started once serves every later
    DirectRunner pipeline of the process, and its counters came up short of the records written
    in our runs (2 of 4 dead letters on the samples).
    """
    runner = _runner_name(options)
    standard = options.view_as(StandardOptions)
    prism = options.view_as(PrismRunnerOptions)
    if runner == "PrismRunner" or (runner in _DIRECT_RUNNERS and standard.streaming):
        standard.runner = "PrismRunner"
        if not prism.prism_location and prism_binary():
            prism.prism_location = str(prism_binary())
    elif runner == "FlinkRunner":
        flink = options.view_as(FlinkRunnerOptions)
        provisioned = flink_job_server()
        if not flink.flink_job_server_jar and provisioned:
            jar, version = provisioned
            flink.flink_job_server_jar = str(jar)
            flink.flink_version = version  # the jar dictates the Flink version
    return options


class _Stop(Exception):
    """Raised in the main thread by SIGINT / SIGTERM while a job runs."""


def _raise_stop(signum: int, frame: object) -> None:
    # From here on the job server's streams end under the SDK worker's threads (at once, when
    # a terminal's Ctrl-C reached the job server too): expected, so not logged as errors.
    threading.excepthook = _quiet_excepthook
    logging.getLogger("apache_beam.runners.worker").setLevel(logging.CRITICAL)
    raise _Stop(signal.Signals(signum).name)


class RunOutcome(NamedTuple):
    """How a run ended: ``state`` is UNKNOWN when the job server went away with the job."""

    result: PipelineResult
    state: str
    stopped_by: str | None  # the signal's name, None when the job ended by itself


def run_until_stopped(pipeline: beam.Pipeline, *, cancel_timeout_s: float = 30.0) -> RunOutcome:
    """Run ``pipeline`` until it finishes or the process gets SIGINT (Ctrl-C) / SIGTERM.

    With ``--no_wait_until_finish`` it returns once the job is submitted.

    On a signal the job is cancelled and waited for (at most ``cancel_timeout_s``), so sinks
    stop at a bundle boundary; Beam stops the runner's job server at exit.
    """
    result = pipeline.run()
    if pipeline.options.view_as(StandardOptions).no_wait_until_finish:
        return RunOutcome(result, result.state, None)  # e.g. a Flex Template launch
    # Installed after run(): Beam's job-server wrapper installs a SIGINT handler in run() that
    # kills the job server at once, before anyone could cancel the job on it.
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return RunOutcome(result, result.wait_until_finish() or result.state, None)
    except _Stop as stop:
        log.info("%s: cancelling the job", stop)
        state = PipelineState.UNKNOWN
        try:
            result.cancel()
            # Not wait_until_finish(): the interrupted call still holds the job's state stream.
            deadline = time.monotonic() + cancel_timeout_s
            state = result.state
            while not PipelineState.is_terminal(state) and time.monotonic() < deadline:
                time.sleep(0.2)
                state = result.state
        except Exception as e:  # a terminal's Ctrl-C also reached the job server: it is gone
            log.info("job server already stopped (%s)", type(e).__name__)
        return RunOutcome(result, state, str(stop))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _quiet_excepthook(args: threading.ExceptHookArgs) -> None:
    log.debug("thread %s ended with %s during shutdown", args.thread and args.thread.name,
              args.exc_type.__name__)
