"""What crosses Dedupe's shuffles: probes to the shards, verdicts and events to the join.

Each record carries a whole sketched batch (a bundle's worth of articles), not one article, so
a runner moves and stores a few large elements a second instead of thousands of small ones
(Prism's cost is counted in elements, bundles and timer firings, not bytes). Arrays travel as
raw bytes: fast to encode, and the same bytes on every runner.
"""

# No ``from __future__ import annotations`` here: Beam reads the NamedTuples' field types at run
# time to build their row schemas, and string annotations would make every field a pickled "any".

from collections.abc import Sequence
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np

from wirewatch.core.neardup import Fingerprints, Match

__all__ = ["Decision", "Probes", "RecordCoder", "Sketched", "Verdicts", "gather", "verdicts"]


class Probes(NamedTuple):
    """One shard's probes from one sketched batch: what deciding needs of each article.

    Columns, one row a probe: ``rows`` (int32) the article's row in its batch, ``ids`` its
    event_id, ``times`` (int64) its event time in ms, ``signatures`` (uint8, ``bins`` a probe),
    ``sizes`` (uint32) its shingle count; then its index keys in this shard, probe after probe:
    ``key_counts`` (uint32) how many, ``keys`` (uint64) and ``methods`` (uint8). ``until``: the
    end of the whole batch's last tick of event time, where its parts meet again in the join.
    """

    batch: str
    until: int
    rows: bytes
    ids: tuple[str, ...]
    times: bytes
    signatures: bytes
    sizes: bytes
    key_counts: bytes
    keys: bytes
    methods: bytes

    def event_times(self) -> np.ndarray:
        return np.frombuffer(self.times, np.int64)

    def select(self, mask: np.ndarray) -> "Probes":
        """The probes where ``mask`` is true, with their keys."""
        counts = np.frombuffer(self.key_counts, np.uint32)
        per_key = np.repeat(mask, counts)
        bins = len(self.signatures) // max(1, len(self.ids))
        return Probes(
            self.batch, self.until, np.frombuffer(self.rows, np.int32)[mask].tobytes(),
            tuple(i for i, keep in zip(self.ids, mask.tolist(), strict=True) if keep),
            self.event_times()[mask].tobytes(),
            np.frombuffer(self.signatures, np.uint8).reshape(-1, bins)[mask].tobytes(),
            np.frombuffer(self.sizes, np.uint32)[mask].tobytes(), counts[mask].tobytes(),
            np.frombuffer(self.keys, np.uint64)[per_key].tobytes(),
            np.frombuffer(self.methods, np.uint8)[per_key].tobytes())


class Decision(NamedTuple):
    """Probes of several batches, laid out for :meth:`NearDupIndex.add` (see :func:`gather`)."""

    ids: list[str]
    times: np.ndarray
    fingerprints: Fingerprints
    keys: np.ndarray
    owner: np.ndarray
    methods: np.ndarray
    batches: list[str]  # per probe: the batch its verdict goes back to
    rows: np.ndarray  # per probe: its row in that batch
    untils: dict[str, int]  # per batch: its latest event time


def gather(parts: Sequence[Probes], bins: int) -> Decision:
    """All probes of ``parts`` as one decision batch."""
    ids = [i for p in parts for i in p.ids]
    counts = np.concatenate([np.frombuffer(p.key_counts, np.uint32) for p in parts])
    fps = Fingerprints(
        signatures=np.frombuffer(b"".join(p.signatures for p in parts), np.uint8
                                 ).reshape(-1, bins),
        sizes=np.frombuffer(b"".join(p.sizes for p in parts), np.uint32),
        keys=np.zeros((len(ids), 0), np.uint64))
    return Decision(
        ids, np.frombuffer(b"".join(p.times for p in parts), np.int64), fps,
        np.frombuffer(b"".join(p.keys for p in parts), np.uint64),
        np.repeat(np.arange(len(ids)), counts),
        np.frombuffer(b"".join(p.methods for p in parts), np.uint8),
        [p.batch for p in parts for _ in p.ids],
        np.frombuffer(b"".join(p.rows for p in parts), np.int32),
        {p.batch: p.until for p in parts})


class Verdicts(NamedTuple):
    """One shard's verdicts for some rows of one sketched batch: per row, the earliest verified
    match in the shard (``matches[i] == ""``: none) and whether it was decided late. ``until``
    as in :class:`Probes`."""

    batch: str
    until: int
    rows: tuple[int, ...]
    matches: tuple[str, ...]
    match_times: tuple[int, ...]
    similarities: tuple[float, ...]
    methods: tuple[int, ...]
    late: tuple[bool, ...]

    def each(self) -> list[tuple[int, Match | None, bool]]:
        """(row, match or None, late) per verdict."""
        return [(row, Match(m, t, s, how) if m else None, late) for row, m, t, s, how, late
                in zip(self.rows, self.matches, self.match_times, self.similarities,
                       self.methods, self.late, strict=True)]


def verdicts(decision: Decision, matches: Sequence[Match | None], late: np.ndarray
             ) -> list[Verdicts]:
    """The verdicts of a decision, one record per batch they go back to."""
    by_batch: dict[str, list[int]] = {}
    for i, batch in enumerate(decision.batches):
        by_batch.setdefault(batch, []).append(i)
    out = []
    for batch, probes in by_batch.items():
        found = [matches[i] for i in probes]
        out.append(Verdicts(
            batch, decision.untils[batch], tuple(decision.rows[probes].tolist()),
            tuple(m.event_id if m else "" for m in found),
            tuple(m.event_time if m else 0 for m in found),
            tuple(m.similarity if m else 0.0 for m in found),
            tuple(m.method if m else 0 for m in found),
            tuple(late[probes].tolist())))
    return out


class Sketched(NamedTuple):
    """The articles of one sketched batch, to be joined with ``probes`` verdict rows (one per
    shard an article touched), and the batch's dead letters. ``until`` as in :class:`Probes`."""

    until: int
    events: tuple[Any, ...]  # article event dicts: a schema has no type for them, so pickled
    probes: int
    letters: tuple[Any, ...] = ()


class RecordCoder(beam.coders.Coder):
    """Beam's schema (row) encoding of a NamedTuple above under a Python coder of its own.
    Registered as ``RowCoder`` itself, a record crossed a Flink job server's Java GroupByKey as
    a row the Java side decodes, and the Flink job servers served here (Beam 2.62, 2.70)
    misread Python 2.77's rows ("varint overflow", EOF, heap exhaustion); as an opaque Python
    coder the Java side only moves the bytes."""

    def __init__(self, record_type: type) -> None:
        self._record_type = record_type
        self._row = beam.coders.RowCoder.from_type_hint(record_type, None)

    @classmethod
    def from_type_hint(cls, typehint: type, registry: object) -> "RecordCoder":
        return cls(typehint)

    def encode(self, value: tuple) -> bytes:
        return self._row.encode(value)

    def decode(self, encoded: bytes) -> tuple:
        return self._row.decode(encoded)

    def is_deterministic(self) -> bool:
        return self._row.is_deterministic()

    def to_type_hint(self) -> type:
        return self._record_type

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._record_type is other._record_type

    def __hash__(self) -> int:
        return hash((type(self), self._record_type))
