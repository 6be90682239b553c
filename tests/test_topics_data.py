"""The team's topic data: well-formed, and the held-out eval set shares no item with training."""

import csv
from pathlib import Path

import pytest

from benchmarks.train_topics import TEAM
from wirewatch.core.topics import IPTC_LABELS

EVAL = Path(TEAM[0]).parent / "eval.tsv"
NUMBERS = {code[7:9] for code in IPTC_LABELS}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _norm(text: str) -> str:
    """Case and spacing do not make a different headline."""
    return " ".join(text.casefold().split())


@pytest.mark.parametrize("path", [*TEAM, EVAL], ids=lambda p: p.name)
def test_every_item_has_a_language_iptc_numbers_a_headline_and_a_lead(path):
    rows = _rows(path)
    assert rows
    for row in rows:
        assert list(row) == ["lang", "topics", "title", "lead"]
        assert row["lang"] and row["title"].strip() and row["lead"].strip(), row
        numbers = row["topics"].split(",")
        assert set(numbers) <= NUMBERS and len(set(numbers)) == len(numbers), row


def test_no_eval_headline_or_lead_is_in_any_training_file():
    held_out = {_norm(row[field]) for row in _rows(EVAL) for field in ("title", "lead")}
    shared = [(path.name, row["title"]) for path in TEAM for row in _rows(path)
              if _norm(row["title"]) in held_out or _norm(row["lead"]) in held_out]
    assert shared == []
