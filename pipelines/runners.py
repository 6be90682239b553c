"""Runner setup: point Beam at what ``make provision`` cached, so no run downloads anything.

``deploy/local/prism.sh`` builds Prism into ``$WIREWATCH_CACHE/bin/prism`` and
``deploy/local/flink.sh`` puts Beam's Flink job server at ``$WIREWATCH_CACHE/flink/job-server.jar``
(with ``job-server.properties`` naming its Flink version). ``with_provisioned_runners`` fills in
``--prism_location`` / ``--flink_job_server_jar`` / ``--flink_version`` from there unless the user
gave them. ``external_flink`` starts that job server and Beam's Python worker pool as separate
local processes, the shape of a Flink deployment with EXTERNAL workers.

Streaming on the DirectRunner is run on the PrismRunner outright: the DirectRunner hands a
pipeline to Prism when it can, but when Prism cannot start it falls back to the FnApiRunner,
which is not a streaming runner (windows fire only when every source has ended, so a continuous
source never emits anything). A streaming run that cannot have Prism must fail loudly instead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineResult, PipelineState

__all__ = [
    "JOB_SERVER_TIMEOUT_S",
    "ExternalFlink",
    "RunOutcome",
    "cache_dir",
    "external_flink",
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


class ExternalFlink(NamedTuple):
    """A running job server and worker pool: what ``--runner=PortableRunner`` jobs need."""

    job_endpoint: str  # --job_endpoint
    worker_pool: str  # --environment_config, with --environment_type=EXTERNAL
    job_server_pid: int
    worker_pool_pid: int  # the pool's SDK worker processes are its children

    def pipeline_args(self, parallelism: int) -> list[str]:
        """Options for a job on ``parallelism`` Flink slots with as many worker processes.

        ``--sdk_worker_parallelism`` makes the job server start that many workers per job. It
        deals them out to the tasks of all stages in turn, in the order the tasks happen to
        start, so both slots of one stage can land on the same worker (seen in 1 of 2 test
        runs). ``--load_balance_bundles`` would pick a free worker per bundle instead, but it
        allows one bundle per worker at a time and the job hung (fused stages need more).
        """
        return ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}",
                "--environment_type=EXTERNAL", f"--environment_config={self.worker_pool}",
                f"--parallelism={parallelism}", f"--sdk_worker_parallelism={parallelism}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} before serving "
                               f"port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not serve port {port} within {timeout_s:.0f} s")


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group ``process`` leads, then SIGKILL whatever is left of it (a stuck
    leader, or SDK workers the pool did not stop)."""
    with suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def external_flink(*, timeout_s: float = 120.0, log_dir: Path | None = None
                   ) -> Iterator[ExternalFlink]:
    """The provisioned job server (embedded Flink, ``--flink-master=[local]``) and Beam's worker
    pool (``worker_pool_main``, one SDK worker process per worker the job asks for), each in its
    own process group on free ports; both groups, workers included, are stopped on exit.

    Their output goes to ``log_dir`` (``job-server.log``, ``worker-pool.log``) when given.
    Raises ``RuntimeError`` when the job server is not provisioned or either does not start.
    """
    provisioned = flink_job_server()
    if provisioned is None:
        raise RuntimeError("Flink job server not provisioned: run deploy/local/flink.sh")
    jar, _ = provisioned
    job_port, pool_port = _free_port(), _free_port()

    # The pool starts each worker as `python -c ...`: this interpreter must be that `python`.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started: list[subprocess.Popen] = []
    with ExitStack() as logs:
        def output(name: str):
            if log_dir is None:
                return subprocess.DEVNULL
            return logs.enter_context(open(log_dir / name, "wb"))

        try:
            started.append(subprocess.Popen(
                ["java", "-jar", str(jar), "--flink-master=[local]", "--job-host=localhost",
                 f"--job-port={job_port}", "--artifact-port=0", "--expansion-port=0"],
                stdout=output("job-server.log"), stderr=subprocess.STDOUT,
                start_new_session=True))
            started.append(subprocess.Popen(
                [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                 f"--service_port={pool_port}"],
                env=env, stdout=output("worker-pool.log"), stderr=subprocess.STDOUT,
                start_new_session=True))
            job_server, pool = started
            _wait_for_port(job_port, job_server, "Flink job server", timeout_s)
            _wait_for_port(pool_port, pool, "Beam worker pool", timeout_s)
            yield ExternalFlink(f"localhost:{job_port}", f"localhost:{pool_port}",
                                job_server.pid, pool.pid)
        finally:
            for process in reversed(started):
                _stop_group(process)


def _runner_name(options: PipelineOptions) -> str | None:
    runner = options.view_as(StandardOptions).runner
    if runner is None or isinstance(runner, str):
        return runner
    return type(runner).__name__


#: Beam's default ``--job_server_timeout`` (seconds), and what a run gets instead.
_BEAM_JOB_SERVER_TIMEOUT_S = 300
JOB_SERVER_TIMEOUT_S = 10 * 365 * 24 * 3600


def with_provisioned_runners(options: PipelineOptions) -> PipelineOptions:
    """``options`` with the cached Prism / Flink job server filled in (changed in place).

    ``--job_server_timeout`` is raised from Beam's 300 s to ``JOB_SERVER_TIMEOUT_S`` unless the
    user set it: Beam 2.77's portable runner opens the job's state and message streams with
    that timeout, so every job on Prism or a job server ended after 5 minutes (the streams
    expired, the launcher took the job for ended and stopped its runner) whatever its help
    says. The price: a job server that accepts a connection and then never answers is waited
    for, not given up after 5 minutes.

    Options the user set win. A streaming DirectRunner run becomes a PrismRunner run; with no
    Prism cached Beam downloads it, and where it cannot, the run fails with Beam's error. Batch
    DirectRunner runs are left to Beam's choice: a Prism started once serves every later
    DirectRunner pipeline of the process, and its counters came up short of the records written
    in our runs (2 of 4 dead letters on the samples).
    """
    runner = _runner_name(options)
    standard = options.view_as(StandardOptions)
    prism = options.view_as(PrismRunnerOptions)
    portable = options.view_as(PortableOptions)
    if portable.job_server_timeout == _BEAM_JOB_SERVER_TIMEOUT_S:
        portable.job_server_timeout = JOB_SERVER_TIMEOUT_S
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
    # A bundle running at that moment fails on its next state read (the state stream is gone);
    # Beam's DoFnRunner logs that under apache_beam.runners.common, the worker prints it to
    # stderr (:class:`_WithoutCancelledBundles`), and Prism reports each bundle it cancelled
    # as an ERROR (:data:`_PRISM_AFTER_STOP`). Such a bundle commits nothing, so what it held is
    # read again by the next run: not an error either. Nor is a Kafka request the stop cut
    # short (:data:`_KAFKA_AFTER_STOP`).
    threading.excepthook = _quiet_excepthook
    for name in ("apache_beam.runners.worker", "apache_beam.runners.common"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for after_stop in (_PRISM_AFTER_STOP, _KAFKA_AFTER_STOP):
        logging.getLogger(after_stop.name).addFilter(after_stop)
    if not isinstance(sys.stderr, _WithoutCancelledBundles):
        sys.stderr = _WithoutCancelledBundles(sys.stderr)
    raise _Stop(signal.Signals(signum).name)


class _ErrorsAfterStop(logging.Filter):
    """A logger's errors once a stop was asked for, as debug lines of ours, when ``caused`` says
    the stop caused them (every error, by default); its other lines pass."""

    def __init__(self, name: str, caused: Callable[[str], bool] = lambda message: True) -> None:
        super().__init__(name)
        self._caused = caused

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not self._caused(message := record.getMessage()):
            return True
        log.debug("after the stop, %s: %s", self.name, message[:300])
        return False


#: Prism's lines come through the logger Beam names after its job server class, each at the
#: level Prism gave it (this filter sits behind Beam's, so it sees that level). After a stop,
#: its errors are the bundles the cancellation failed (``Bundle Failed. (error='pipeline
#: canceled')``, and at times a panic of a bundle goroutine sending on a channel the
#: cancellation closed).
_PRISM_AFTER_STOP = _ErrorsAfterStop("PrismJobServer")
#: kafka-python's coordinator logs a request still in flight when the stop closes its client
#: as an ERROR ("Error sending OffsetFetchRequest to node coordinator-1 [Cancelled]"); its
#: other errors after a stop stay errors.
_KAFKA_AFTER_STOP = _ErrorsAfterStop("kafka.coordinator", lambda message: "[Cancelled" in message)


class RunOutcome(NamedTuple):
    """How a run ended: ``state`` is UNKNOWN when the job server went away with the job."""

    result: PipelineResult
    state: str
    stopped_by: str | None  # the signal's name, None when the job ended by itself


def run_until_stopped(pipeline: beam.Pipeline, *, cancel_timeout_s: float = 30.0) -> RunOutcome:
    """Run ``pipeline`` until it finishes or the process gets SIGINT (Ctrl-C) / SIGTERM.

    With ``--no_wait_until_finish`` it returns once the job is submitted.

    On a signal the job is cancelled and waited for (at most ``cancel_timeout_s``), so sinks
    stop at a bundle boundary; Beam stops the runner's job server at exit. The in-process
    worker's reports of the runner hanging up on it are held back and dropped if the job ends
    DONE or was stopped (:class:`_HangUps`).
    """
    _HANG_UPS.job_started()
    outcome = None
    try:
        outcome = _run(pipeline, cancel_timeout_s)
        return outcome
    finally:
        _HANG_UPS.job_ended(expected=outcome is not None and (
            outcome.stopped_by is not None or outcome.state == PipelineState.DONE))


def _run(pipeline: beam.Pipeline, cancel_timeout_s: float) -> RunOutcome:
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


def _cancelled_bundle(text: str) -> bool:
    return "Traceback" in text and (
        ("in release" in text and "KeyError: 'inst" in text)
        or "in _blocking_request" in text
        or ("in input_elements" in text and "Channel closed prematurely" in text))


class _WithoutCancelledBundles:
    """stderr, less the SDK worker's report of a bundle cut short by the job's cancellation.

    A LOOPBACK worker in this process prints (to stderr, not a logger) a traceback for every
    bundle still running when the runner cancels the job: the harness has already discarded the
    bundle, and releasing it afterwards raises ``KeyError: 'inst...'`` in
    ``BundleProcessorCache.release``; or the bundle's next state read or write finds the state
    stream closed (``_blocking_request`` raises, a bare ``RuntimeError`` at 1,000 articles/s in
    Link's ``DecideInOrder`` and in ``CommitWritten``); or a bundle still waiting for its input
    finds the data stream closed (``RuntimeError: Channel closed prematurely`` in
    ``input_elements``, at some SIGTERMs at 1,000/s). That is Beam cleaning up a job we asked
    to stop, not an error (its logger is quieted in ``_raise_stop``). Installed only once a stop
    was asked for; every other text passes through.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if _cancelled_bundle(text):
            log.debug("a bundle cut short by the cancellation was released twice")
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _quiet_excepthook(args: threading.ExceptHookArgs) -> None:
    log.debug("thread %s ended with %s during shutdown", args.thread and args.thread.name,
              args.exc_type.__name__)


def _hung_up(error: BaseException | None) -> bool:
    """``error`` is gRPC's CANCELLED "Multiplexer hanging up": the runner closed one of the
    streams of a worker in this process."""
    import grpc

    code, details = getattr(error, "code", None), getattr(error, "details", None)
    return (isinstance(error, grpc.RpcError) and callable(code) and callable(details)
            and code() == grpc.StatusCode.CANCELLED
            and "Multiplexer hanging up" in (details() or ""))


class _HangUps(logging.Filter):
    """The LOOPBACK worker's reports of the runner hanging up on it, held back while a job runs.

    When a Flink job ends, the job server closes the control and data streams of the SDK worker
    in this process under the threads reading them: Beam logs ``ERROR ... data_plane: Failed to
    read inputs in the data plane`` with the traceback, and both threads die of it (two more
    tracebacks, through ``threading.excepthook``). That is how a successful job ends, not an
    error. Only reports whose exception is gRPC's CANCELLED "Multiplexer hanging up" are held;
    when the job ends DONE or was stopped they are dropped, and so are those that come after
    (the threads die a little later); when it ends otherwise they are let through, in order,
    as evidence. A stopped job's worker is quieted wholesale by ``_raise_stop``.
    """

    _LOGGER = "apache_beam.runners.worker.data_plane"

    def __init__(self) -> None:
        super().__init__()
        self._mode = "pass"  # "hold" while a job runs, "drop" after an expected end
        self._held: list[logging.LogRecord | threading.ExceptHookArgs] = []
        self._lock = threading.Lock()

    def job_started(self) -> None:
        # In front of whatever hook is there now (pytest puts its own in place for each test);
        # addFilter adds this filter once however often it is called.
        if threading.excepthook != self._excepthook:
            self._next_hook = threading.excepthook
            threading.excepthook = self._excepthook
        logging.getLogger(self._LOGGER).addFilter(self)
        with self._lock:
            self._mode, self._held = "hold", []

    def job_ended(self, *, expected: bool) -> None:
        with self._lock:
            self._mode = "drop" if expected else "pass"
            held, self._held = self._held, []
        if expected:
            if held:
                log.debug("dropped %d reports of the runner hanging up at the job's end",
                          len(held))
            return
        for report in held:
            if isinstance(report, logging.LogRecord):
                logging.getLogger(self._LOGGER).handle(report)
            else:
                self._next_hook(report)

    def _keep(self, error: BaseException | None, report) -> bool:
        """Whether ``report`` goes out now (False: held back or dropped)."""
        if not _hung_up(error):
            return True
        with self._lock:
            if self._mode == "pass":
                return True
            if self._mode == "hold":
                self._held.append(report)
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        return self._keep(record.exc_info[1] if record.exc_info else None, record)

    def _excepthook(self, args: threading.ExceptHookArgs) -> None:
        if self._keep(args.exc_value, args):
            self._next_hook(args)


_HANG_UPS = _HangUps()
