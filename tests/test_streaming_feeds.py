"""Local streaming on Prism over the RSS connector: ``wirewatch run --streaming --feeds`` on the
bundled samples, in a child process. Every sample item was published before the job started
(far behind the watermark when read), and each still comes out while the job runs, with the
same id, duplicate verdict, language, topics and story id as the batch run; the broken feed
comes out as a dead letter; Ctrl-C (SIGINT to the terminal's whole process group) stops the job
cleanly.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.live_job import LiveJob, stop_problems
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, read_records

PERIOD_S = 3


def _verdicts(out: Path) -> tuple[dict[str, tuple], list[tuple]]:
    """Per event id: what must agree between runs; and (stage, error type) of dead letters."""
    events, letters = {}, []
    for kind, r in read_records(sorted(out.rglob("*.avro"))):
        if kind == ARTICLE_EVENT:
            events[r["event_id"]] = (r["title"], r["dedup"]["is_duplicate"],
                                     r["dedup"]["duplicate_of"], r["dedup"]["method"],
                                     r["language"]["code"], tuple(t["code"] for t in r["topics"]),
                                     r["story"]["story_id"], r["story"]["linked_by"])
        elif kind == DEAD_LETTER:
            letters.append((r["stage"], r["error_type"], r["source"]["feed_url"]))
    return events, letters


@pytest.mark.slow
def test_streaming_over_feeds_writes_what_the_batch_run_writes_then_stops_on_ctrl_c(
        provisioned_prism, tmp_path):
    batch_out, live_out = tmp_path / "batch", tmp_path / "live"
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(batch_out)]) == 0
    expected_events, expected_letters = _verdicts(batch_out)
    assert len(expected_events) == 22  # the samples' events, as test_sample_pipeline pins them

    args = ["run", "--streaming", "--feeds", str(SAMPLES / "feeds.yaml"),
            "--output", str(live_out), f"--file_period_s={PERIOD_S}"]
    with LiveJob("wirewatch", args) as job:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and job.running():
            events, letters = _verdicts(live_out)
            if len(events) >= len(expected_events) and len(letters) >= len(expected_letters):
                break
            time.sleep(0.5)
        assert job.running(), f"the streaming job ended by itself:\n{job.output()[-3000:]}"
        prism = [pid for pid, cmd in job.children() if cmd.startswith(f"{provisioned_prism} ")]
        assert prism, "the job does not run on the cached Prism"
        output = job.stop("ctrl-c")
    assert events == expected_events
    # The first poll of each feed; a later re-poll of the broken feed adds its own letter.
    assert sorted(set(letters)) == sorted(set(expected_letters))
    assert job.process.returncode == 0, output[-3000:]
    assert "stopped on SIGINT" in output, output[-3000:]
    assert not stop_problems(output), "\n---\n".join(stop_problems(output)[:5])
    assert not any(Path(f"/proc/{pid}").exists() for pid in prism), "Prism left running"
