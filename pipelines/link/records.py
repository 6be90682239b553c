"""What crosses Link's shuffles: profiles to the decider, verdicts and articles to the join.

Each record carries a whole batch (a bundle's worth of articles), not one article, as Dedupe's
do: a runner moves a few elements a second instead of thousands. Records are encoded with
Dedupe's :class:`~wirewatch.pipelines.dedupe.records.RecordCoder` (Beam's row encoding under
a Python coder of its own, so a Flink job server's Java side only moves the bytes). What a row
schema has no type for (article dicts, core profiles) is pickled once per batch into a bytes
field: a ``tuple[Any, ...]`` field is pickled once per item, and a runner that decodes what it
groups (FnApiRunner's GroupByKey decodes and re-encodes every value) then unpickles and pickles
every article again; a bytes field it only copies.
"""

# No ``from __future__ import annotations`` here: Beam reads the NamedTuples' field types at run
# time to build their row schemas. Optional[...] as in Dedupe's records (Beam 2.77 makes
# ``bytes | None`` a pickled "any" field).
# ruff: noqa: UP045

import pickle
from collections.abc import Sequence
from typing import NamedTuple, Optional

from wirewatch.core.stories import StoryProfile

__all__ = ["Part", "Profiles"]


class Profiles(NamedTuple):
    """The story profiles of one batch, in batch order: ``rows`` their rows in the batch,
    ``duplicate_of`` each one's ``dedup.duplicate_of`` ("" for none), ``profiles`` the
    :class:`wirewatch.core.stories.StoryProfile` of each, pickled as one tuple (a core type has
    no row schema; see :meth:`of` and :meth:`each`). ``until``: the end of the batch's last
    tick of element time, where its parts meet again in the join."""

    batch: str
    until: int
    rows: tuple[int, ...]
    duplicate_of: tuple[str, ...]
    profiles: bytes

    @classmethod
    def of(cls, batch: str, until: int, rows: Sequence[int], duplicate_of: Sequence[str],
           profiles: Sequence[StoryProfile]) -> "Profiles":
        return cls(batch, until, tuple(rows), tuple(duplicate_of),
                   pickle.dumps(tuple(profiles), pickle.HIGHEST_PROTOCOL))

    def each(self) -> tuple[StoryProfile, ...]:
        """The profiles, in the order of ``rows``."""
        return pickle.loads(self.profiles)


class Part(NamedTuple):
    """One part of a batch, as the join groups them under the batch id: either the batch itself
    (``articles`` set) or the decider's verdicts for some of its rows (``rows`` set). One
    record kind, so the join's GroupByKey has one row coder (two kinds made it a union, which
    Beam pickles whole).

    - The batch: ``articles``, its article event dicts and the dead letters of input that was
      not an article at all, pickled once for the whole batch (see :meth:`batch`);
      ``unlinked_rows``, rows whose profile could not be made, and ``unlinked_reasons`` why
      (each is its own story).
    - Verdicts, per row of the batch (a ``Story`` record's fields): ``story_ids``,
      ``linked_by``, ``similarities``; ``notes[i]`` is "" or what the verdict says beside
      (capped, late, failed); ``failures[i]`` is "" or why linking failed (the join makes it a
      dead letter).

    ``until`` as in :class:`Profiles`.
    """

    until: int
    articles: Optional[bytes] = None
    unlinked_rows: Optional[tuple[int, ...]] = None
    unlinked_reasons: Optional[tuple[str, ...]] = None
    rows: Optional[tuple[int, ...]] = None
    story_ids: Optional[tuple[str, ...]] = None
    linked_by: Optional[tuple[str, ...]] = None
    similarities: Optional[tuple[float, ...]] = None
    notes: Optional[tuple[str, ...]] = None
    failures: Optional[tuple[str, ...]] = None

    @classmethod
    def batch(cls, until: int, events: Sequence[dict], letters: Sequence[dict],
              unlinked_rows: Sequence[int] = (), unlinked_reasons: Sequence[str] = ()
              ) -> "Part":
        return cls(until, articles=pickle.dumps((tuple(events), tuple(letters)),
                                                pickle.HIGHEST_PROTOCOL),
                   unlinked_rows=tuple(unlinked_rows), unlinked_reasons=tuple(unlinked_reasons))

    def events_and_letters(self) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
        """The batch's article events and dead letters (fresh objects: the join fills them in
        place)."""
        return pickle.loads(self.articles)
