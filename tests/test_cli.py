"""What the ``wirewatch`` command says: help, and clear errors before a pipeline starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import SAMPLES
from wirewatch.pipelines.cli import main


def _wirewatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], capture_output=True,
                          text=True, timeout=120)


def test_top_level_help_lists_commands():
    done = _wirewatch("--help")
    assert done.returncode == 0
    assert "run" in done.stdout and "inspect" in done.stdout


def test_run_help_lists_our_options_and_how_to_pass_runner_options():
    done = _wirewatch("run", "--help")
    assert done.returncode == 0
    for text in ("--feeds", "--output", "--runner", "FlinkRunner", "--flink_master"):
        assert text in done.stdout


def test_inspect_help():
    done = _wirewatch("inspect", "--help")
    assert done.returncode == 0 and "--json" in done.stdout


def test_unknown_command_is_a_usage_error():
    done = _wirewatch("frobnicate")
    assert done.returncode == 2 and "frobnicate" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--output", "OUT"], "--feeds is required"),
    (["--feeds", str(SAMPLES / "feeds.yaml")], "--output is required"),
    (["--feeds", "/nonexistent/feeds.yaml", "--output", "OUT"], "cannot read feed list"),
    (["--feeds", str(SAMPLES / "feeds.yaml"), "--output", "OUT", "--dedup_shards", "0"],
     "--dedup_shards >= 1"),
    (["--feeds", str(SAMPLES / "feeds.yaml"), "--output", "OUT", "--dedup_horizon_hours", "-1"],
     "--dedup_horizon_hours must be > 0"),
    (["--feeds", str(SAMPLES / "feeds.yaml"), "--output", "OUT", "--streaming",
      "--file_period_s", "0"], "--file_period_s must be > 0 seconds, not 0"),
    (["--feeds", str(SAMPLES / "feeds.yaml"), "--output", "OUT", "--max_in_flight", "0"],
     "--max_in_flight must be >= 1 record, not 0"),
])
def test_missing_inputs_are_clear_errors(args, message, tmp_path, capsys):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert main(["run", *args]) == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"),
                 "--output", str(blocker / "out")]) == 2
    assert "cannot create --output folder" in capsys.readouterr().err


def test_inspect_json_summary(tmp_path, capsys):
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 22 and summary["duplicates"] == 4
    assert summary["dead_letters"] == 4
    assert summary["by_outlet"]["Nordic Wire"] == 4
    assert summary["by_language"]["de"] == 3
    assert summary["by_topic"]["medtop:15000000 sport"] == 2
    assert summary["by_topic"]["medtop:17000000 weather"] == 3
    assert summary["dead_letters_by_reason"] == {"invalid_link": 2, "empty_item": 1,
                                                 "not_a_feed": 1}


def test_inspect_text_summary_and_missing_path(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no .avro files" in capsys.readouterr().err
