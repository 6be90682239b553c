"""Shared fixtures. Real components get fixtures in modules of their own, imported here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kafka_broker import kafka_broker
from tests.schema_registry import schema_registry
from wirewatch.pipelines.runners import flink_job_server, prism_binary

__all__ = ["REPO", "SAMPLES", "kafka_broker", "provisioned_flink", "provisioned_prism",
           "schema_registry", "shared_data"]

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$WIREWATCH_SHARED_DATA``); skip with the reason when absent."""
    path = Path(os.environ.get("WIREWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path} (set WIREWATCH_SHARED_DATA); it is "
                    "not part of the repository")
    return path


@pytest.fixture
def provisioned_flink() -> None:
    """Fails the test, saying how to fix it, when ``deploy/local/flink.sh`` has not provisioned
    Beam's Flink job server (Beam would otherwise try to download one)."""
    if flink_job_server() is None:
        pytest.fail("Flink job server not provisioned: run deploy/local/flink.sh "
                    "(make provision)", pytrace=False)


@pytest.fixture(scope="session")
def provisioned_prism() -> Path:
    """The cached Prism binary; fails the test, saying how to fix it, when
    ``deploy/local/prism.sh`` has not built it."""
    binary = prism_binary()
    if binary is None:
        pytest.fail("Prism is not provisioned: run deploy/local/prism.sh (make provision)",
                    pytrace=False)
    return binary
