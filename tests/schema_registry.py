"""A real Schema Registry for tests (Apicurio, Confluent's API), by ``deploy/local/registry.sh``.

The ``schema_registry`` fixture (re-exported by ``conftest.py``) is one registry for the whole
session, in-memory, on a free port, stopped at the end; its ``url`` is what
``--schema_registry_url`` takes. Tests that change a subject's settings use a subject of their
own. If the registry cannot start, the test fails with the script's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_service import LocalService


class RegistryServer(LocalService):
    """One registry: ``start()``, ``stop()``; ``url`` ends in ``/apis/ccompat/v6``."""

    script, what, start_timeout_s = "registry.sh", "Schema Registry", 300.0

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.url = ""

    def start(self) -> str:
        self.url = super().start()
        return self.url


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One real Schema Registry for the whole session, in a temp dir on a free port."""
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
