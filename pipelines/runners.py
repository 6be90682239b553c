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

import os
from pathlib import Path

from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PrismRunnerOptions,
    StandardOptions,
)

__all__ = ["cache_dir", "flink_job_server", "prism_binary", "with_provisioned_runners"]

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
    Prism cached Beam downloads it, and where it cannot, the run fails with Beam's error.
    """
    runner = _runner_name(options)
    standard = options.view_as(StandardOptions)
    prism = options.view_as(PrismRunnerOptions)
    if runner in _DIRECT_RUNNERS or runner == "PrismRunner":
        if not prism.prism_location and prism_binary():
            prism.prism_location = str(prism_binary())
        if standard.streaming and runner in _DIRECT_RUNNERS:
            standard.runner = "PrismRunner"
    elif runner == "FlinkRunner":
        flink = options.view_as(FlinkRunnerOptions)
        provisioned = flink_job_server()
        if not flink.flink_job_server_jar and provisioned:
            jar, version = provisioned
            flink.flink_job_server_jar = str(jar)
            flink.flink_version = version  # the jar dictates the Flink version
    return options
