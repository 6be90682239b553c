"""What crosses Link's shuffles: profiles to the decider, verdicts and articles to the join.

Each record carries a whole batch (a bundle's worth of articles), not one article, as Dedupe's
do: a runner moves a few elements a second instead of thousands. Records are encoded with
Dedupe's :class:`~wirewatch.pipelines.dedupe.records.RecordCoder` (Beam's row encoding under
a Python coder of its own, so a Flink job server's Java side only moves the bytes).
"""

# No ``from __future__ import annotations`` here: Beam reads the NamedTuples' field types at run
# time to build their row schemas.

from typing import Any, NamedTuple

__all__ = ["Held", "Profiles", "StoryVerdicts"]


class Profiles(NamedTuple):
    """The story profiles of one batch, in batch order: ``rows`` their rows in the batch,
    ``duplicate_of`` each one's ``dedup.duplicate_of`` ("" for none), ``profiles`` the
    :class:`wirewatch.core.stories.StoryProfile` of each (pickled: a core type has no row
    schema). ``until``: the end of the batch's last tick of element time, where its parts meet
    again in the join."""

    batch: str
    until: int
    rows: tuple[int, ...]
    duplicate_of: tuple[str, ...]
    profiles: tuple[Any, ...]


class StoryVerdicts(NamedTuple):
    """The decider's verdicts for some rows of one batch (a ``Story`` record's fields per
    row); ``notes[i]`` is "" or what the verdict says beside (capped, late,
    failed); ``failures[i]`` is "" or why linking failed (the join makes it a dead letter)."""

    batch: str
    until: int
    rows: tuple[int, ...]
    story_ids: tuple[str, ...]
    linked_by: tuple[str, ...]
    similarities: tuple[float, ...]
    notes: tuple[str, ...]
    failures: tuple[str, ...]


class Held(NamedTuple):
    """The articles of one batch, waiting in the join for their verdicts. ``unlinked_rows``: rows
    whose profile could not be made, ``unlinked_reasons`` why (each is its own story);
    ``letters``: dead letters of input that was not an article at all. ``profiled``: how many
    rows went to the decider."""

    until: int
    events: tuple[Any, ...]  # article event dicts, pickled as Dedupe's are
    profiled: int
    unlinked_rows: tuple[int, ...] = ()
    unlinked_reasons: tuple[str, ...] = ()
    letters: tuple[Any, ...] = ()
