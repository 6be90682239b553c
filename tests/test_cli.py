"""What the ``wirewatch`` command says: help, and clear errors before a pipeline starts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from wirewatch.pipelines.cli import main, summarise
from wirewatch.schemas.records import ARTICLE_EVENT, read_records


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
    (["--feeds", str(SAMPLES / "feeds.yaml"), "--output", "OUT", "--append", "--overwrite"],
     "give one of them"),
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


def _run_samples(out: Path, *extra: str) -> int:
    return main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(out), *extra])


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _records(folder: Path) -> int:
    return summarise([str(folder)])["records"]


def test_a_second_run_into_the_same_folder_is_refused_and_says_what_to_do(tmp_path, capsys):
    assert _run_samples(tmp_path) == 0
    before = {p: p.read_bytes() for p in _files(tmp_path)}
    capsys.readouterr()
    assert _run_samples(tmp_path) == 2
    err = capsys.readouterr().err
    assert f"--output folder {tmp_path} is not empty" in err
    assert "article_events, dead_letters, feed_healths" in err
    assert "--overwrite" in err and "--append" in err
    assert {p: p.read_bytes() for p in _files(tmp_path)} == before  # nothing touched


def test_overwrite_removes_what_earlier_runs_wrote(tmp_path):
    assert _run_samples(tmp_path) == 0
    # what a streaming run leaves beside a batch run's files: batch runs never replace it
    stale = tmp_path / "article_events" / "article_events-20260101T000000Z-000000-000-abcd.avro"
    stale.write_bytes(next((tmp_path / "article_events").glob("*.avro")).read_bytes())
    assert _records(tmp_path) == 44
    assert _run_samples(tmp_path, "--overwrite") == 0
    assert not stale.exists()
    assert _records(tmp_path) == 22


def test_overwrite_never_removes_files_wirewatch_did_not_write(tmp_path, capsys):
    (tmp_path / "article_events").mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert _run_samples(tmp_path, "--overwrite") == 2
    assert "also holds notes.txt: choose another folder" in capsys.readouterr().err
    assert notes.read_text() == "mine" and (tmp_path / "article_events").is_dir()


def test_append_keeps_the_earlier_run(tmp_path):
    assert _run_samples(tmp_path) == 0
    first = _files(tmp_path)
    assert _run_samples(tmp_path, "--append") == 0
    # the batch files of the appended run carry a run name, so they replace none of the first's
    assert set(first) < set(_files(tmp_path))
    assert _records(tmp_path) == 44


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
    # What inspect counts, from the records themselves (how well the samples are linked is
    # tests/test_sample_pipeline.py's business)
    events = [r for kind, r in read_records(sorted(tmp_path.rglob("*.avro")))
              if kind == ARTICLE_EVENT]
    sizes = sorted(Counter(e["story"]["story_id"] for e in events).values(), reverse=True)
    assert summary["stories"] == len(sizes) and len(summary["biggest_stories"]) == 10
    for story in summary["biggest_stories"]:
        members = sorted((e for e in events if e["story"]["story_id"] == story["story_id"]),
                         key=lambda e: (e["event_time"], e["event_id"]))
        assert story == {
            "story_id": members[0]["event_id"], "size": len(members),
            "languages": dict(sorted(Counter(e["language"]["code"] for e in members).items(),
                                     key=lambda kv: (-kv[1], kv[0]))),
            "outlets": dict(sorted(Counter(e["source"]["outlet"] for e in members).items(),
                                   key=lambda kv: (-kv[1], kv[0]))),
            "first_time_ms": members[0]["event_time"],
            "last_time_ms": max(e["event_time"] for e in members),
            "headline": members[0]["title"]}
    assert [s["size"] for s in summary["biggest_stories"]] == sizes[:10]
    assert summary["biggest_stories"][0]["size"] >= 3  # Rotterdam, Ingrid: 3 reports at least
    assert main(["inspect", str(tmp_path), "--stories", "2"]) == 0
    text = capsys.readouterr().out
    assert f"22 article events, 4 duplicates, {len(sizes)} stories, 4 dead letters" in text
    assert f"biggest stories (2 of {len(sizes)};" in text
    first, second, third = summary["biggest_stories"][:3]
    began = time.strftime("%Y-%m-%d %H:%M", time.gmtime(first["first_time_ms"] / 1000))
    assert f"{first['size']:6d}  {began} .. " in text
    for story in (first, second):
        assert story["headline"] in text
    assert third["headline"] not in text  # not among the 2 asked for
    assert main(["inspect", str(tmp_path), "--stories", "-1"]) == 2
    assert "--stories must be >= 0" in capsys.readouterr().err


def test_inspect_text_summary_and_missing_path(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no .avro files" in capsys.readouterr().err
