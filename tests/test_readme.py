"""The README's commands against the CLI: every ``wirewatch`` command in a code block is called
the way ``make demo`` leaves it (``.venv/bin/wirewatch``) and uses only options that its
subcommand's ``--help`` lists; the Makefile's commands likewise."""

from __future__ import annotations

import io
import re
import shlex
from contextlib import redirect_stdout
from functools import cache

import pytest

from tests.conftest import REPO
from wirewatch.pipelines.cli import COMMANDS, main

README = REPO / "README.md"
_BLOCK = re.compile(r"^```(?:sh|bash)?\n(.*?)^```", re.S | re.M)


def _command_lines(text: str) -> list[str]:
    """The lines of the shell code blocks in ``text``, continuation lines joined."""
    lines = []
    for block in _BLOCK.findall(text):
        lines += block.replace("\\\n", " ").splitlines()
    return lines


def _wirewatch_calls(lines: list[str], program: str) -> list[tuple[str, list[str], str]]:
    """(subcommand, its --options, the line) for each call of ``program``."""
    calls = []
    for line in lines:
        if program not in line:
            continue
        words = shlex.split(line.split(program, 1)[1], comments=True)
        options = [w.split("=", 1)[0] for w in words[1:] if w.startswith("--")]
        calls.append((words[0] if words else "", options, line.strip()))
    return calls


@cache
def _help(command: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def _listed(option: str, help_text: str) -> bool:
    """Whether ``--help`` lists ``option`` as an entry (a line starting with it), not merely
    mentions it in another option's text."""
    return bool(re.search(rf"^\s+(?:-\w, )?{re.escape(option)}\b", help_text, re.M))


def _check(calls: list[tuple[str, list[str], str]]) -> list[str]:
    problems = []
    for command, options, line in calls:
        if command not in COMMANDS:
            problems.append(f"unknown subcommand {command!r}: {line}")
            continue
        problems += [f"{option} is not in 'wirewatch {command} --help': {line}"
                     for option in options
                     if not _listed(option, _help(command))]
    return problems


def test_readme_commands_exist_with_the_options_they_use():
    calls = _wirewatch_calls(_command_lines(README.read_text(encoding="utf-8")),
                             ".venv/bin/wirewatch")
    assert {command for command, _, _ in calls} >= {"run", "inspect", "monitor", "replay"}
    assert _check(calls) == []


def test_readme_never_calls_a_bare_wirewatch():
    # `make demo` installs wirewatch into .venv only: a bare `wirewatch` is not on PATH
    bare = [line for line in _command_lines(README.read_text(encoding="utf-8"))
            if re.match(r"\s*wirewatch\s", line)]
    assert bare == []


def test_makefile_commands_exist_with_the_options_they_use():
    lines = (REPO / "Makefile").read_text().splitlines()
    calls = _wirewatch_calls(lines, "$(BIN)/wirewatch")
    assert calls and _check(calls) == []


def test_the_checks_catch_a_wrong_option_and_a_bare_call():
    text = ("```sh\n.venv/bin/wirewatch run --feeds f.yaml --outptu out\n"
            "wirewatch inspect out\n.venv/bin/wirewatch frob\n```\n")
    problems = _check(_wirewatch_calls(_command_lines(text), ".venv/bin/wirewatch"))
    assert [p.split(":")[0] for p in problems] == [
        "--outptu is not in 'wirewatch run --help'", "unknown subcommand 'frob'"]
    assert [line for line in _command_lines(text) if re.match(r"\s*wirewatch\s", line)] == [
        "wirewatch inspect out"]
