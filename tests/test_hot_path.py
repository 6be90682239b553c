"""The hot path (read | normalise | dedupe | tag | write) gives the verdicts it gave before it was
batched, and turns each bad line of a mixed batch into exactly one dead letter.

``tests/data/pipeline_verdicts_before.json`` holds each article's dedup verdict and notes and the
dead letters from main before the batching change, on the bundled sample feeds and on the bench
corpus (``benchmarks/corpus.py``, 2,000 stories, seed 7, as JSON lines). Language and topics
are compared with what the language detector and topic tagger give for the same texts called
directly, so that a new detector or tagger changes them without changing this reference.
Regenerate it only on purpose, from the code whose verdicts are the reference::

    .venv/bin/python -m tests.test_hot_path
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.bench_pipeline import steps_alone, write_jsonl
from benchmarks.corpus import generate
from tests.conftest import REPO, SAMPLES
from wirewatch.core.language import DEFAULT_BACKEND, detection_text, make_detector
from wirewatch.core.topic_model import DEFAULT_TOPIC_TAGGER, TOPIC_TAGGERS
from wirewatch.core.topics import topic_text
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, read_records

BEFORE = REPO / "tests" / "data" / "pipeline_verdicts_before.json"
FETCHED_AT = 1_795_132_800_000  # pinned: event times of undated items are reproducible
STORIES, SEED = 2000, 7


def _run(tmp: Path, *inputs: str) -> tuple[list[dict], list[dict]]:
    """Article events and dead letters of one batch run of the whole pipeline."""
    out = tmp / "out"
    assert main(["run", *inputs, "--output", str(out), f"--fetched_at_ms={FETCHED_AT}"]) == 0
    events, letters = [], []
    for kind, record in read_records(sorted(out.rglob("*.avro"))):
        {ARTICLE_EVENT: events, DEAD_LETTER: letters}.get(kind, []).append(record)
    return events, letters


def verdicts(events: list[dict], letters: list[dict]) -> dict:
    """Per event_id: duplicate_of, method, similarity, notes; and the dead letters as (stage,
    error_type, event_id), sorted."""
    return {
        "events": {e["event_id"]: [
            e["dedup"]["duplicate_of"], e["dedup"]["method"],
            None if e["dedup"]["similarity"] is None else round(e["dedup"]["similarity"], 6),
            e["notes"]]
            for e in sorted(events, key=lambda e: e["event_id"])},
        "dead_letters": sorted([d["stage"], d["error_type"], d["event_id"] or ""]
                               for d in letters),
    }


def _inputs(name: str, tmp: Path) -> list[str]:
    if name == "samples":
        return ["--feeds", str(SAMPLES / "feeds.yaml")]
    tmp.mkdir(parents=True, exist_ok=True)
    return [f"--input_jsonl={write_jsonl(generate(STORIES, seed=SEED), tmp)}"]


@pytest.fixture(scope="module", params=["samples", "bench_corpus"])
def run(request, tmp_path_factory) -> tuple[str, list[dict], list[dict]]:
    """(corpus name, article events, dead letters) of a whole-pipeline run."""
    tmp = tmp_path_factory.mktemp(request.param)
    return request.param, *_run(tmp, *_inputs(request.param, tmp))


def test_same_verdicts_as_before(run):
    name, events, letters = run
    before = json.loads(BEFORE.read_text(encoding="utf-8"))[name]
    now = json.loads(json.dumps(verdicts(events, letters)))
    assert now["dead_letters"] == before["dead_letters"]
    assert now["events"].keys() == before["events"].keys()
    changed = {k: (before["events"][k], v) for k, v in now["events"].items()
               if v != before["events"][k]}
    assert not changed, f"{len(changed)} verdicts changed, e.g. {list(changed.items())[:3]}"
    assert sum(1 for v in now["events"].values() if v[0]) > (10 if name == "bench_corpus" else 1)


def test_language_and_topics_are_the_taggers_own(run):
    """Tagged in batches in the pipeline, each event gets what the detector and the tagger give
    its text called directly."""
    _, events, _ = run
    detector, tagger = make_detector(DEFAULT_BACKEND), TOPIC_TAGGERS[DEFAULT_TOPIC_TAGGER]()
    guesses = detector.detect_batch(
        [detection_text(e["title"], e["summary"] or e["body"]) for e in events],
        [e["language_hint"] for e in events])
    topics = tagger.tag_batch([topic_text(e["title"], e["summary"], e["body"]) for e in events],
                              [g.code for g in guesses])
    for event, guess, found in zip(events, guesses, topics, strict=True):
        assert (event["language"]["code"], event["language"]["method"]) == (guess.code,
                                                                             guess.method)
        assert [t["code"] for t in event["topics"]] == [t.code for t in found]
        assert event["topics_tagger"] == (tagger.name if tagger.supports(guess.code) else None)


def _article(n: int, **extra) -> dict:
    return {"url": f"https://example.org/news/{n}", "outlet": "Mixed Wire", "guid": f"m-{n}",
            "title": f"Harbour council votes on plan number {n}",
            "summary": f"The council met on Tuesday and voted {n} times on the harbour plan "
                       "after a long debate about ferries, cranes and the night shift.",
            "published": 1_795_000_000_000 + n * 60_000, **extra}


# (line, stage, error_type) of each bad line; the good lines are articles 0..9 in between.
BAD = [
    (b"{not json", "read", "invalid_json"),
    (b"[1, 2, 3]", "read", "wrong_schema"),
    (json.dumps({"outlet": "Mixed Wire", "title": "no url"}).encode(), "read", "missing_field"),
    (json.dumps({"url": 5, "outlet": "Mixed Wire"}).encode(), "read", "wrong_type"),
    (json.dumps(_article(90, title=["a", "list"])).encode(), "read", "wrong_type"),
    (b"[" * 100_000, "read", "RecursionError"),
    (b'{"url": "https://example.org/x", "outlet": "o", "published": ' + b"9" * 5000 + b"}",
     "read", "ValueError"),
    (b'{"url": "https://example.org/s", "outlet": "o", "title": "\\ud800"}', "read",
     "UnicodeEncodeError"),
    (json.dumps(_article(91, url="ftp://example.org/file")).encode(), "normalise",
     "invalid_link"),
    (json.dumps({"url": "https://example.org/empty", "outlet": "Mixed Wire"}).encode(),
     "normalise", "empty_item"),
]


@pytest.mark.parametrize("run", ["bench_corpus"], indirect=True)
def test_bench_pipelines_steps_alone_do_the_pipelines_work(run, tmp_path):
    """``bench_pipeline.py``'s no-Beam row is a ceiling of the pipeline only if it does the same
    work: same events, languages, topics and stories; dedup verdicts but for the few that the
    pipeline's shards miss (a copy needs two keys in common within one shard, README)."""
    name, events, _ = run
    alone: list[dict] = []
    spent = steps_alone(Path(_inputs(name, tmp_path)[0].split("=", 1)[1]), alone)
    assert set(spent) == {"read + normalise", "dedupe", "tag", "link", "write"}

    def tags(e: dict) -> tuple:
        return e["language"]["code"], [t["code"] for t in e["topics"]], e["topics_tagger"]

    piped = {e["event_id"]: e for e in events}
    assert {e["event_id"] for e in alone} == piped.keys()
    assert [tags(e) for e in alone] == [tags(piped[e["event_id"]]) for e in alone]
    def verdict(e: dict) -> tuple:
        d = e["dedup"]
        return d["is_duplicate"], d["duplicate_of"], d["method"], d["similarity"]

    same = sum(verdict(e) == verdict(piped[e["event_id"]]) for e in alone)
    assert same >= 0.995 * len(alone), f"{len(alone) - same} dedup verdicts differ"
    same = sum(e["story"]["story_id"] == piped[e["event_id"]]["story"]["story_id"]
               for e in alone)
    assert same >= 0.99 * len(alone), f"{len(alone) - same} stories differ"


def test_mixed_batch_good_ones_out_each_bad_one_dead_lettered_once(tmp_path):
    lines, expected = [], {}
    for n in range(len(BAD)):
        lines.append(json.dumps(_article(n)).encode())
        line, stage, error_type = BAD[n]
        lines.append(line)
        expected[len(lines)] = (stage, error_type)  # 1-based line number of the bad line
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    events, letters = _run(tmp_path, f"--input_jsonl={path}")
    assert sorted(e["source"]["guid"] for e in events) == sorted(f"m-{n}" for n in range(len(BAD)))
    got: dict[int, list[tuple[str, str]]] = {}
    for d in letters:
        assert d["reason"], d
        got.setdefault(d["source"]["offset"], []).append((d["stage"], d["error_type"]))
    assert got == {line: [kind] for line, kind in expected.items()}


if __name__ == "__main__":  # record the reference verdicts from the code checked out now
    import tempfile

    record = {}
    for corpus in ("samples", "bench_corpus"):
        with tempfile.TemporaryDirectory() as tmp:
            record[corpus] = verdicts(*_run(Path(tmp), *_inputs(corpus, Path(tmp))))
    BEFORE.write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":"),
                                 sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {BEFORE}: " + ", ".join(f"{k} {len(v['events'])} events, "
                                          f"{len(v['dead_letters'])} dead letters"
                                          for k, v in record.items()), file=sys.stderr)
