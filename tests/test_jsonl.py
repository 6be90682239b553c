"""JSON-lines archives: ``ReadJsonLines`` and ``wirewatch run --input_jsonl``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.io import source_test_utils
from apache_beam.testing.util import assert_that, equal_to

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.connectors.jsonl import MAX_LINE_BYTES, ReadJsonLines, _Lines
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, is_valid, read_records

FETCHED = 1_795_132_800_000


def _article(n: int, **extra) -> str:
    return json.dumps({"url": f"https://e.org/{n}", "outlet": "Wire", "guid": f"g{n}",
                       "title": f"Title {n}", "content": f"Body number {n} of the archive.",
                       "published": 1_795_000_000_000 + n, **extra})


# line number -> (text of the line, error type of its dead letter or None for an article)
LINES = {
    1: (_article(1), None),
    2: ("{not json", "invalid_json"),
    3: ("", None),  # blank: skipped
    4: ('["a", "list"]', "wrong_schema"),
    5: (json.dumps({"outlet": "Wire"}), "missing_field"),
    6: (_article(6, title=7), "wrong_type"),
    7: (_article(7), None),
    8: ("   ", None),  # blank: skipped
    9: (_article(9, published="yesterday"), None),  # bad date: kept, with a note
    10: ("[" * 100_000, "RecursionError"),  # breaks the decoder: named after the exception
    11: ('{"url": "https://e.org/11", "outlet": "Wire", "published": 1' + "0" * 5000 + "}",
         "ValueError"),
    12: (_article(12, title="\ud800"), "UnicodeEncodeError"),  # a lone surrogate, escaped
}


def _write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_bytes((end.join(lines) + end).encode())
    return path


def _read(pattern: str):
    """(events as (url, path, line), dead letters as (error type, path, line)) of a run."""
    with beam.Pipeline() as p:
        read = p | ReadJsonLines(pattern, fetched_ms=FETCHED)
        events = read.events | "E" >> beam.Map(
            lambda a: (a.url, a.source["kind"], a.source["path"], a.source["offset"],
                       a.source["outlet"], a.source["guid"], a.fetched_ms, a.date_note is None))
        letters = read[DEAD_LETTERS] | "D" >> beam.Map(
            lambda d: (d["stage"], d["error_type"], d["source"]["path"], d["source"]["offset"],
                       is_valid(d, DEAD_LETTER)))
        yield events, letters


def test_articles_and_dead_letters_carry_file_and_line(tmp_path):
    path = str(_write(tmp_path / "a.jsonl", [text for text, _ in LINES.values()]))
    for events, letters in _read(path):
        assert_that(events, equal_to([
            (f"https://e.org/{n}", "file", path, n, "Wire", f"g{n}", FETCHED, n != 9)
            for n in (1, 7, 9)]), label="events")
        assert_that(letters, equal_to([
            ("read", error, path, n, True) for n, (_, error) in LINES.items()
            if error]), label="letters")


def test_windows_line_ends_and_a_missing_last_newline_are_read(tmp_path):
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(f"{_article(1)}\r\n{_article(2)}".encode())
    for events, letters in _read(str(path)):
        assert_that(events | beam.Map(lambda e: e[3]), equal_to([1, 2]), label="lines")
        assert_that(letters, equal_to([]), label="none")


def test_a_line_too_long_is_a_dead_letter_and_the_next_line_keeps_its_number(tmp_path):
    huge = _article(2, content="x" * (MAX_LINE_BYTES + 10))
    path = str(_write(tmp_path / "big.jsonl", [_article(1), huge, _article(3)]))
    for events, letters in _read(path):
        assert_that(events | beam.Map(lambda e: e[3]), equal_to([1, 3]), label="lines")
        assert_that(letters, equal_to([("read", "line_too_large", path, 2, True)]),
                    label="letters")


def test_a_glob_reads_every_file_and_gzip_is_decompressed(tmp_path):
    _write(tmp_path / "a.jsonl", [_article(1), _article(2)])
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(_article(3) + "\n" + "oops\n")
    for events, letters in _read(str(tmp_path / "*.jsonl*")):
        assert_that(events | beam.Map(lambda e: (Path(e[2]).name, e[3])),
                    equal_to([("a.jsonl", 1), ("a.jsonl", 2), ("b.jsonl.gz", 1)]), label="ev")
        assert_that(letters | beam.Map(lambda d: (Path(d[2]).name, d[3])),
                    equal_to([("b.jsonl.gz", 2)]), label="letters")


def test_split_ranges_read_every_line_once_with_its_number(tmp_path):
    lines = [_article(n) if n % 7 else "" for n in range(1, 300)]
    path = str(_write(tmp_path / "split.jsonl", lines))
    whole = _Lines(path)
    records = source_test_utils.read_from_source(whole)
    assert [number for _, number, _ in records] == list(range(1, 300))
    assert all(line.rstrip(b"\n").decode() == lines[n - 1] for _, n, line in records)
    splits = [s.source for s in whole.split(desired_bundle_size=997)]
    assert len(splits) > 10
    source_test_utils.assert_sources_equal_reference_source(
        (whole, None, None), [(s, None, None) for s in splits])


def test_dynamic_splits_keep_every_line_once(tmp_path):
    path = str(_write(tmp_path / "dyn.jsonl", [_article(n) for n in range(1, 6)]))
    source_test_utils.assert_split_at_fraction_exhaustive(_Lines(path))


def test_a_pattern_without_files_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="JSON-lines input"):
        ReadJsonLines(str(tmp_path / "none*.jsonl"))


def test_run_command_reads_jsonl_to_avro(tmp_path):
    path = _write(tmp_path / "in.jsonl", [_article(1), _article(1), "{bad", _article(2),
                                          "[" * 100_000])
    out = tmp_path / "out"
    assert main(["run", "--input_jsonl", str(path), "--output", str(out),
                 f"--fetched_at_ms={FETCHED}"]) == 0
    found: dict[str, list[dict]] = {ARTICLE_EVENT: [], DEAD_LETTER: []}
    for kind, record in read_records(sorted(out.rglob("*.avro"))):
        found[kind].append(record)
    duplicate = {e["source"]["offset"]: e["dedup"]["is_duplicate"] for e in found[ARTICLE_EVENT]}
    # lines 1 and 2 are one article read twice: one of them is the copy
    assert sorted(duplicate) == [1, 2, 4] and duplicate[1] != duplicate[2] and not duplicate[4]
    assert [(d["stage"], d["error_type"], d["source"]["offset"])
            for d in sorted(found[DEAD_LETTER], key=lambda d: d["source"]["offset"])] == \
        [("read", "invalid_json", 3), ("read", "RecursionError", 5)]


def test_a_long_last_line_of_a_gzip_file_without_newline_is_a_dead_letter(tmp_path):
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(_article(1) + "\n" + _article(2, content="y" * (MAX_LINE_BYTES + 1)))
    for events, letters in _read(str(tmp_path / "c.jsonl.gz")):
        assert_that(events | beam.Map(lambda e: e[3]), equal_to([1]), label="lines")
        assert_that(letters | beam.Map(lambda d: (d[1], d[3])),
                    equal_to([("line_too_large", 2)]), label="letters")
