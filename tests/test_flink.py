"""The sample pipeline on an embedded Flink (Beam's job server, LOOPBACK workers) gives the same
records as on the DirectRunner: same ids, duplicate flags, languages and story ids; and its log no
ERROR.

Needs the job server provisioned by ``deploy/local/flink.sh`` (``make provision``); without it
the test fails and says so (Beam would otherwise try to download it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.live_job import stop_problems
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, read_records

FETCHED_AT = 1_795_132_800_000


def _run(out: Path, *runner_args: str) -> dict[str, list[dict]]:
    code = main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(out),
                 f"--fetched_at_ms={FETCHED_AT}", *runner_args])
    assert code == 0
    found: dict[str, list[dict]] = {}
    for kind, record in read_records(sorted(out.rglob("*.avro"))):
        found.setdefault(kind, []).append(record)
    return found


def _verdicts(events: list[dict]) -> dict[str, tuple]:
    return {e["event_id"]: (e["dedup"]["is_duplicate"], e["dedup"]["duplicate_of"],
                            e["dedup"]["method"], e["language"]["code"], e["story"]["story_id"],
                            e["story"]["linked_by"]) for e in events}


@pytest.mark.flink
@pytest.mark.slow
@pytest.mark.usefixtures("provisioned_flink")
def test_sample_on_embedded_flink_matches_the_direct_runner(tmp_path, capfd):
    direct = _run(tmp_path / "direct")
    capfd.readouterr()
    flink = _run(tmp_path / "flink", "--runner=FlinkRunner", "--flink_master=[local]",
                 "--parallelism=2")
    # A successful run logs no ERROR and no traceback: the worker's reports of the job server
    # hanging up on it at the end (CANCELLED "Multiplexer hanging up") are not errors.
    problems = stop_problems(capfd.readouterr().err, any_error=True)
    assert not problems, "\n---\n".join(problems[:5])

    assert len(direct[ARTICLE_EVENT]) == 22  # the sample set; guards against two empty runs
    assert _verdicts(flink[ARTICLE_EVENT]) == _verdicts(direct[ARTICLE_EVENT])
    # Whole records too: with the fetch time pinned, nothing in a record depends on the runner.
    key = lambda e: e["event_id"]  # noqa: E731
    assert sorted(flink[ARTICLE_EVENT], key=key) == sorted(direct[ARTICLE_EVENT], key=key)
    reasons = lambda letters: sorted((d["stage"], d["error_type"]) for d in letters)  # noqa: E731
    assert reasons(flink[DEAD_LETTER]) == reasons(direct[DEAD_LETTER])
