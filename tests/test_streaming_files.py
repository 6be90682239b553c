"""Hidden files that a stopped streaming run leaves beside its output, and who removes them.

A killed run leaves its part files (and a file its roll was writing) under hidden
``.<name>-....inprogress`` names; nothing reads them, and their records are read again from
Kafka. :func:`remove_stale`, which each streaming run calls once when it starts (live, in
``test_streaming_durability.py``), deletes only those of its own sink old enough to be no live
job's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.test_files import roll, write_parts
from wirewatch.connectors.files import STALE_AFTER_S, output_prefix, remove_stale
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, dead_letter, source

CODEC = "null"


def _age(path: Path, seconds: float, text: str | None = None) -> Path:
    """Make ``path`` (written with ``text`` first, if given) last modified ``seconds`` ago."""
    if text is not None:
        path.write_text(text)
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def _letter(i: int) -> dict:
    return dead_letter("read", "not JSON", "invalid_json", b"{",
                       source("kafka", "articles", topic="articles", partition=0, offset=i))


def test_only_this_sinks_hidden_files_older_than_the_limit_are_removed(tmp_path):
    prefix = output_prefix(str(tmp_path), DEAD_LETTER)
    os.makedirs(os.path.dirname(prefix))
    old, young, rolled = write_parts(prefix, DEAD_LETTER,
                                     [[_letter(0)], [_letter(1)], [_letter(2)]], CODEC)
    (complete, *_) = roll(prefix, DEAD_LETTER, [rolled], CODEC)  # a file and its offsets
    folder = Path(prefix).parent
    old_enough, too_young = STALE_AFTER_S + 60, STALE_AFTER_S - 60
    stale_part = _age(Path(old.path), old_enough)
    live_part = _age(Path(young.path), too_young)  # another live job's, its roll running late
    stale_partial = _age(folder / f".{Path(complete).name}.inprogress", old_enough,
                         "a roll killed while it wrote")
    old_complete = _age(Path(complete), old_enough)
    not_ours = _age(folder / ".notes.inprogress", old_enough, "someone else's")
    other_prefix = output_prefix(str(tmp_path), ARTICLE_EVENT)  # another sink of the run
    os.makedirs(os.path.dirname(other_prefix))
    other = _age(Path(f"{os.path.dirname(other_prefix)}/.{Path(other_prefix).name}-x-part"
                      ".inprogress"), old_enough, "")

    removed = remove_stale(prefix, time.time() - STALE_AFTER_S)

    assert sorted(removed) == sorted([str(stale_part), str(stale_partial)])
    assert not stale_part.exists() and not stale_partial.exists()
    assert live_part.exists() and old_complete.exists() and not_ours.exists() and other.exists()
    # A second run (or one racing this one) finds nothing left to remove, and does not fail.
    assert remove_stale(prefix, time.time() - STALE_AFTER_S) == []


def test_an_output_folder_that_does_not_exist_yet_has_nothing_to_remove(tmp_path):
    assert remove_stale(output_prefix(str(tmp_path / "new"), ARTICLE_EVENT), time.time()) == []
