"""A streaming job in a child process, for tests that watch it from outside and then stop it.

``LiveJob("tests.windowed_counts_job", args)`` runs ``python -m`` that module in its own
process group (as a terminal's foreground job); ``children()`` lists its child processes (the
Prism it started), ``stop()`` signals it as Ctrl-C (the whole group) or SIGTERM (the process)
and returns its output; leaving the ``with`` block kills whatever is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO


class LiveJob:
    def __init__(self, module: str, args: list[str]) -> None:
        self._argv = [sys.executable, "-m", module, *args]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LiveJob:
        # A file, not a pipe: nobody reads a pipe until stop(), and a job that logs more than
        # the pipe holds (64 KB) would block on its next write and stall, as if the runner hung.
        self._output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            self._argv, cwd=REPO, stdout=self._output, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._output.close()

    def output(self) -> str:
        """Everything the job printed so far."""
        self._output.seek(0)
        return self._output.read()

    def running(self) -> bool:
        return self.process.poll() is None

    def children(self) -> list[tuple[int, str]]:
        """(pid, command line) of the job's live child processes."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and cmdline:
                found.append((int(entry.name), cmdline))
        return found

    def stop(self, how: str, timeout_s: float = 60) -> str:
        """Stop with ``"ctrl-c"`` (SIGINT to the group) or ``"sigterm"``; the job's output."""
        if how == "ctrl-c":
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout_s)
        return self.output()
