"""A service of ``deploy/local/`` (``kafka.sh``, ``registry.sh``) started for tests in a
directory of its own: ``start()`` runs ``<script> start --data DIR`` and returns the address
the script prints (``<key>=<address>``, its last line); ``stop()`` runs ``stop``. If the
service cannot start, the test fails with the script's reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LOCAL = Path(__file__).resolve().parent.parent / "deploy" / "local"


class LocalService:
    """``script``: the file in ``deploy/local/``; ``what``: its name in messages."""

    script = ""
    what = ""
    start_timeout_s = 180.0

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def start(self) -> str:
        started = subprocess.run([str(LOCAL / self.script), "start", "--data",
                                  str(self.directory)], capture_output=True, text=True,
                                 timeout=self.start_timeout_s, check=False)
        if started.returncode != 0:
            pytest.fail(f"{self.what} could not start (deploy/local/{self.script} start, exit "
                        f"{started.returncode}):\n{started.stderr[-3000:]}", pytrace=False)
        return started.stdout.strip().splitlines()[-1].split("=", 1)[1]

    def stop(self) -> None:
        subprocess.run([str(LOCAL / self.script), "stop", "--data", str(self.directory)],
                       capture_output=True, timeout=60, check=False)
