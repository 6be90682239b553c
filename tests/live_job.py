"""A streaming job in a child process, for tests that watch it from outside and then stop it.

``LiveJob("tests.windowed_counts_job", args)`` runs ``python -m`` that module in its own
process group (as a terminal's foreground job); ``children()`` lists its child processes (the
Prism it started), ``stop()`` signals it as Ctrl-C (the whole group) or SIGTERM (the process)
and returns its output, ``kill()`` is a kill -9 of the job and everything it started (as the
kernel's OOM killer or a lost machine would end it); leaving the ``with`` block kills whatever
is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

from tests.conftest import REPO


def _parents() -> dict[int, int]:
    """{pid: parent pid} of every live process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def errors_in(log: str) -> list[str]:
    """The distinct exception lines (``ValueError: ...``) in a job's log, first seen first:
    what went wrong, without the stacks."""
    return list(dict.fromkeys(line.strip() for line in log.splitlines()
                              if re.match(r"\s*[\w.]+(Error|Exception)\b", line)
                              and "Traceback" not in line))


_ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (ERROR|CRITICAL) ")


def stop_problems(log: str, *, any_error: bool = False) -> list[str]:
    """What a job that ended well (finished, or stopped cleanly by Ctrl-C or SIGTERM) must not
    have logged: its ERROR and CRITICAL lines, and the start of each traceback. A traceback is
    found anywhere in a line, not only at its start: Beam's retries log theirs indented
    (``" Traceback for above exception"``) and a runner quotes a worker's inside its message.
    ``any_error``: also any line with " ERROR " anywhere in it (a runner's own lines, a
    worker's quoted ones), for a job that finished by itself, where a stop excused nothing."""
    lines = log.splitlines()
    return [line if _ERROR_LINE.match(line) else "\n".join(lines[i:i + 8])
            for i, line in enumerate(lines)
            if _ERROR_LINE.match(line) or "Traceback" in line
            or (any_error and " ERROR " in line)]


def command_line(pid: int) -> str:
    """The command line of ``pid`` ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


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
        for pid, ppid in _parents().items():
            if ppid == self.process.pid and (cmdline := command_line(pid)):
                found.append((pid, cmdline))
        return found

    def tree(self, root: int | None = None) -> list[int]:
        """The pid of ``root`` (default: the job) and those of all its live descendants."""
        parents = _parents()
        tree, todo = [], [self.process.pid if root is None else root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(child for child, parent in parents.items() if parent == pid)
        return tree

    def kill(self) -> str:
        """kill -9 of the job's process group and of any descendant outside it; its output."""
        tree = self.tree()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in tree:  # a descendant that started a session of its own
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        return self.output()

    def stop(self, how: str, timeout_s: float = 60) -> str:
        """Stop with ``"ctrl-c"`` (SIGINT to the group) or ``"sigterm"``; the job's output."""
        if how == "ctrl-c":
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout_s)
        return self.output()
