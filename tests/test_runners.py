"""Runner setup: provisioned Prism / Flink job server are used, and streaming really streams.

The Prism tests run a continuous job (``tests/windowed_counts_job.py``) in a child process and
check, from outside, that the cached Prism binary runs it, that windows come out while it runs,
and that Ctrl-C and SIGTERM stop it cleanly (exit 0, Prism gone, no traceback).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
)

from tests.live_job import LiveJob
from wirewatch.pipelines.runners import _HANG_UPS, JOB_SERVER_TIMEOUT_S, with_provisioned_runners

# --- with_provisioned_runners, against a cache laid out by hand -------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WIREWATCH_CACHE", str(tmp_path))
    return tmp_path


def _provision_fakes(cache: Path) -> None:
    (cache / "bin").mkdir()
    (cache / "bin" / "prism").write_text("#!/bin/sh\n")
    (cache / "bin" / "prism").chmod(0o755)
    (cache / "flink").mkdir()
    (cache / "flink" / "job-server.jar").write_bytes(b"PK")
    (cache / "flink" / "job-server.properties").write_text(
        "requested=2.77.0/2.2 fallback=2.70.0/1.19/2.65.0\nkind=assembled\nbeam_version=2.70.0\n"
        "flink_version=1.19\njob_service_version=2.65.0\n")


def test_cached_prism_is_given_to_streaming_and_prism_runs(cache):
    _provision_fakes(cache)
    for argv in (["--streaming"], ["--runner=DirectRunner", "--streaming"],
                 ["--runner=PrismRunner"]):
        options = with_provisioned_runners(PipelineOptions(argv))
        assert options.view_as(PrismRunnerOptions).prism_location == str(cache / "bin" / "prism")
        assert options.view_as(StandardOptions).runner == "PrismRunner"


def test_batch_on_the_direct_runner_is_left_to_beam(cache):
    _provision_fakes(cache)
    options = with_provisioned_runners(PipelineOptions([]))
    assert options.view_as(StandardOptions).runner is None
    assert options.view_as(PrismRunnerOptions).prism_location is None


def test_streaming_without_a_cached_prism_still_runs_on_prism(cache):
    # No silent FnApiRunner: Beam downloads Prism, or the run fails with its reason.
    options = with_provisioned_runners(PipelineOptions(["--streaming"]))
    assert options.view_as(StandardOptions).runner == "PrismRunner"
    assert options.view_as(PrismRunnerOptions).prism_location is None


def test_cached_flink_job_server_and_its_flink_version_are_given(cache):
    _provision_fakes(cache)
    options = with_provisioned_runners(PipelineOptions(["--runner=FlinkRunner"]))
    flink = options.view_as(FlinkRunnerOptions)
    assert flink.flink_job_server_jar == str(cache / "flink" / "job-server.jar")
    assert flink.flink_version == "1.19"


def test_what_the_user_gives_wins(cache):
    _provision_fakes(cache)
    options = with_provisioned_runners(PipelineOptions(
        ["--runner=FlinkRunner", "--flink_job_server_jar=/opt/js.jar", "--flink_version=2.0"]))
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == "/opt/js.jar"
    assert options.view_as(FlinkRunnerOptions).flink_version == "2.0"
    options = with_provisioned_runners(
        PipelineOptions(["--streaming", "--prism_location=/opt/prism"]))
    assert options.view_as(PrismRunnerOptions).prism_location == "/opt/prism"


def test_jobs_outlive_beams_job_server_timeout_unless_the_user_sets_one(cache):
    # Beam's 300 s default also bounds the job's state and message streams: a streaming job
    # on Prism ended after 5 minutes (bench_streaming.py, 1,000 articles/s).
    for argv in ([], ["--streaming"], ["--runner=FlinkRunner"]):
        options = with_provisioned_runners(PipelineOptions(argv))
        assert options.view_as(PortableOptions).job_server_timeout == JOB_SERVER_TIMEOUT_S
    options = with_provisioned_runners(PipelineOptions(["--streaming", "--job_server_timeout=60"]))
    assert options.view_as(PortableOptions).job_server_timeout == 60


def test_nothing_cached_changes_nothing_for_batch_and_flink(cache):
    for argv in ([], ["--runner=FlinkRunner"]):
        options = with_provisioned_runners(PipelineOptions(argv))
        assert options.view_as(PrismRunnerOptions).prism_location is None
        assert options.view_as(FlinkRunnerOptions).flink_job_server_jar is None


def test_job_server_properties_without_flink_version_is_an_error(cache):
    _provision_fakes(cache)
    (cache / "flink" / "job-server.properties").write_text("kind=shaded\n")
    with pytest.raises(ValueError, match="flink_version"):
        with_provisioned_runners(PipelineOptions(["--runner=FlinkRunner"]))


# --- a continuous job on the real Prism ---------------------------------------------------


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_streaming_job_runs_on_prism_emits_windows_while_live_and_stops_cleanly(
        provisioned_prism, tmp_path, stop):
    out = tmp_path / "windows.jsonl"
    with LiveJob("tests.windowed_counts_job", [str(out)]) as job:
        deadline = time.monotonic() + 90
        while len(_lines(out)) < 3 and time.monotonic() < deadline and job.running():
            time.sleep(0.2)
        windows = _lines(out)
        children = job.children()
        assert job.running(), "a continuous job ended by itself"
        assert len(windows) >= 3, f"no windows within 90 s while running: {windows}"
        # Prism is the job's runner: the cached binary is its child process.
        assert [cmd for _, cmd in children if cmd.startswith(f"{provisioned_prism} ")], children
        # Each window comes out once the watermark passes its end: within a few seconds.
        lags = [w["written"] - w["window_end"] for w in windows]
        assert max(lags) < 3.0, lags
        assert all(w["count"] == 8 for w in windows[1:]), windows  # 2 s of 0.25 s ticks
        output = job.stop(stop)
    assert job.process.returncode == 0, output
    assert "runner=PrismRunner" in output
    assert "stopped_by=SIGINT" in output if stop == "ctrl-c" else "stopped_by=SIGTERM" in output
    assert "Traceback" not in output, output
    for pid, cmd in children:
        assert not Path(f"/proc/{pid}").exists(), f"left running: {cmd}"


def test_after_a_stop_only_the_report_of_a_bundle_cut_short_is_dropped_from_stderr():
    import io

    from wirewatch.pipelines.runners import _WithoutCancelledBundles

    cut_short = ("Traceback (most recent call last):\n  File \"sdk_worker.py\", line 596, in "
                 "release\n    self.active_bundle_processors.pop(instruction_id))\n"
                 "KeyError: 'inst173'\n")
    real = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'title'\n"
    stream = io.StringIO()
    stderr = _WithoutCancelledBundles(stream)
    for text in (cut_short, real, "wirewatch run: stopped\n"):
        stderr.write(text)
    assert stream.getvalue() == real + "wirewatch run: stopped\n"



def test_after_a_stop_only_the_errors_it_caused_are_demoted():
    """kafka-python logs a request the stop cut short as an ERROR; its other errors stay."""
    from wirewatch.pipelines.runners import _KAFKA_AFTER_STOP, _PRISM_AFTER_STOP

    def passes(after_stop: logging.Filter, level: int, message: str) -> bool:
        return after_stop.filter(logging.LogRecord(after_stop.name, level, __file__, 1, message,
                                                   None, None))

    cut_short = "Error sending OffsetFetchRequest to node coordinator-1 [Cancelled]"
    assert not passes(_KAFKA_AFTER_STOP, logging.ERROR, cut_short)
    assert passes(_KAFKA_AFTER_STOP, logging.ERROR,
                  "Error sending OffsetFetchRequest to node 1 [KafkaConnectionError]")
    assert passes(_KAFKA_AFTER_STOP, logging.WARNING, cut_short)
    assert not passes(_PRISM_AFTER_STOP, logging.ERROR,
                      "Bundle Failed. (error='pipeline canceled')")
    assert passes(_PRISM_AFTER_STOP, logging.INFO, "job-001 cancelled")
    # A logger's filter does not see its children's records: it must sit on the one that logs.
    from kafka.coordinator import base

    assert base.log.name == _KAFKA_AFTER_STOP.name

# --- the in-process worker's reports of the runner hanging up at a job's end --------------------


def _hang_up() -> grpc.RpcError:
    """A real gRPC CANCELLED "Multiplexer hanging up", as Beam's job server ends the streams of
    the worker in this process when a job is over."""

    def hang_up(request: bytes, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.CANCELLED, "Multiplexer hanging up")

    server = grpc.server(ThreadPoolExecutor(1))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Runner", {"Data": grpc.unary_stream_rpc_method_handler(hang_up)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, \
                pytest.raises(grpc.RpcError) as raised:
            next(channel.unary_stream("/test.Runner/Data")(b""))
    finally:
        server.stop(None)
    return raised.value


def _worker_reads_until(error: BaseException) -> None:
    """What Beam's data-plane reader does when its stream ends in ``error``: log it, die of it."""
    data_plane = logging.getLogger("apache_beam.runners.worker.data_plane")

    def read() -> None:
        try:
            raise error
        except grpc.RpcError:
            data_plane.exception("Failed to read inputs in the data plane.")
            raise

    reader = threading.Thread(target=read, name="read_grpc_client_inputs")
    reader.start()
    reader.join()


def test_hang_ups_are_dropped_when_the_job_ends_done_and_shown_when_it_fails(monkeypatch,
                                                                             caplog):
    error = _hang_up()
    assert error.code() == grpc.StatusCode.CANCELLED  # the real thing, not a stand-in
    other = logging.getLogger("apache_beam.runners.worker.data_plane")
    for done in (True, False):
        died: list[threading.ExceptHookArgs] = []
        monkeypatch.setattr(threading, "excepthook", died.append)  # the hook before ours
        caplog.clear()
        _HANG_UPS.job_started()
        _worker_reads_until(error)
        other.error("not a hang-up")  # anything else goes out at once
        assert [r.getMessage() for r in caplog.records] == ["not a hang-up"] and died == []
        _HANG_UPS.job_ended(expected=done)
        _worker_reads_until(error)  # the threads die a little after the job's end
        shown = [r.getMessage() for r in caplog.records[1:]]
        if done:
            assert shown == [] and died == []
        else:  # a failed job: its reports are evidence, in order
            assert shown == ["Failed to read inputs in the data plane."] * 2
            assert [d.exc_value for d in died] == [error, error]
