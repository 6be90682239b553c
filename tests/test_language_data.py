"""The team's news items that train the language judge: well-formed, split in two without
overlap, and sharing no headline or lead with the held-out sets."""

import csv
from pathlib import Path

from benchmarks.train_language import LABELS, NEWS, news_items

HERE = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
HELD_OUT = [HERE / "language_headlines.tsv", HERE / "topics" / "eval.tsv"]
WRITTEN_FOR_LANGUAGE_ID = HERE / "language_train.tsv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def test_the_language_items_name_a_language_of_the_judge_a_headline_and_a_lead():
    rows = _rows(WRITTEN_FOR_LANGUAGE_ID)
    assert rows
    for row in rows:
        assert list(row) == ["lang", "title", "lead"]
        assert row["lang"] in LABELS and row["title"].strip() and row["lead"].strip(), row


def _held_out() -> set[str]:
    return {_norm(row[field]) for path in HELD_OUT for row in _rows(path)
            for field in ("title", "lead")}


def test_train_and_dev_split_every_item_once():
    train, dev = news_items("train"), news_items("dev")
    held_out = _held_out()
    kept = [row for path in NEWS for row in _rows(path)
            if _norm(row["title"]) not in held_out and _norm(row["lead"]) not in held_out]
    assert len(train) + len(dev) == len(kept)
    assert {title for _, title, _ in train}.isdisjoint(title for _, title, _ in dev)
    assert 0.15 < len(dev) / (len(train) + len(dev)) < 0.25


def test_no_held_out_headline_or_lead_is_in_any_news_item():
    held_out = _held_out()
    shared = [title for split in ("train", "dev") for _, title, lead in news_items(split)
              if _norm(title) in held_out or _norm(lead[len(title) + 1:]) in held_out]
    assert shared == []


def test_the_language_items_share_nothing_with_the_held_out_sets():
    held_out = _held_out()
    assert [row["title"] for row in _rows(WRITTEN_FOR_LANGUAGE_ID)
            if _norm(row["title"]) in held_out or _norm(row["lead"]) in held_out] == []
