"""A real Schema Registry for tests (Apicurio, Confluent's API), by ``deploy/local/registry.sh``.

The ``schema_registry`` fixture (re-exported by ``conftest.py``) is one registry for the whole
session, in-memory, on a free port, stopped at the end; its ``url`` is what
``--schema_registry_url`` takes. Tests that change a subject's settings use a subject of their
own. If the registry cannot start, the test fails with the script's reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "local" / "registry.sh"


class RegistryServer:
    """One registry: ``start()``, ``stop()``; ``url`` ends in ``/apis/ccompat/v6``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.url = ""

    def start(self) -> str:
        started = subprocess.run([str(SCRIPT), "start", "--data", str(self.directory)],
                                 capture_output=True, text=True, timeout=300, check=False)
        if started.returncode != 0:
            pytest.fail(
                f"Schema Registry could not start (deploy/local/registry.sh start, exit "
                f"{started.returncode}):\n{started.stderr[-3000:]}", pytrace=False)
        self.url = started.stdout.strip().splitlines()[-1].removeprefix("url=")
        return self.url

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop", "--data", str(self.directory)],
                       capture_output=True, timeout=60, check=False)


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One real Schema Registry for the whole session, in a temp dir on a free port."""
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
