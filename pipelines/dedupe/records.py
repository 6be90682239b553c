"""What crosses Dedupe's shuffles: probes to the shards, verdicts and events to the join.

Each record carries a whole sketched batch (a bundle's worth of articles), not one article, so
a runner moves and stores a few large elements a second instead of thousands of small ones
(Prism's cost is counted in elements, bundles and timer firings, not bytes). Arrays travel as
raw bytes: fast to encode, and the same bytes on every runner.
"""

# No ``from __future__ import annotations`` here: Beam reads the NamedTuples' field types at run
# time to build their row schemas, and string annotations would make every field a pickled "any".
# Optional[...] for the same reason: Beam 2.77 makes ``bytes | None`` a pickled "any" field and
# ``Optional[bytes]`` a nullable bytes field.
# ruff: noqa: UP045

import pickle
from collections.abc import Sequence
from typing import NamedTuple, Optional

import apache_beam as beam
import numpy as np

from wirewatch.core.neardup import Fingerprints, Match

__all__ = ["Decision", "Part", "Probes", "RecordCoder", "gather", "verdicts"]


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


class Part(NamedTuple):
    """One part of a sketched batch, as the join groups them under the batch id: either the
    batch itself (``articles`` set) or one shard's verdicts for some of its rows (``rows`` set).

    One record kind, so the join's GroupByKey has one row coder (two kinds made it a pickled
    union).

    - The batch: ``articles``, its article event dicts and dead letters pickled once for the
      whole batch (a schema has no type for the dicts, and one pickle beats one per article);
      ``probes``, how many verdict rows its shards will send.
    - Verdicts, per row of the batch: ``rows`` (int32), the earliest verified match in the shard
      (``matches[i] == ""``: none) with its ``match_times`` (int64), ``similarities``
      (float64) and ``methods`` (uint8), and ``late`` (bool) whether it was decided late.

    ``until`` as in :class:`Probes`.
    """

    until: int
    articles: Optional[bytes] = None
    probes: Optional[int] = None
    rows: Optional[bytes] = None
    matches: Optional[tuple[str, ...]] = None
    match_times: Optional[bytes] = None
    similarities: Optional[bytes] = None
    methods: Optional[bytes] = None
    late: Optional[bytes] = None

    @classmethod
    def batch(cls, until: int, events: Sequence[dict], letters: Sequence[dict], probes: int
              ) -> "Part":
        return cls(until, articles=pickle.dumps((tuple(events), tuple(letters)),
                                                pickle.HIGHEST_PROTOCOL), probes=probes)

    def events_and_letters(self) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
        """The batch's article events and dead letters."""
        return pickle.loads(self.articles)

    def each(self) -> list[tuple[int, Match | None, bool]]:
        """(row, match or None, late) per verdict."""
        return [(row, Match(m, t, s, how) if m else None, late) for row, m, t, s, how, late
                in zip(np.frombuffer(self.rows, np.int32).tolist(), self.matches,
                       np.frombuffer(self.match_times, np.int64).tolist(),
                       np.frombuffer(self.similarities, np.float64).tolist(),
                       np.frombuffer(self.methods, np.uint8).tolist(),
                       np.frombuffer(self.late, bool).tolist(), strict=True)]


def verdicts(decision: Decision, matches: Sequence[Match | None], late: np.ndarray
             ) -> list[tuple[str, Part]]:
    """The verdicts of a decision: (batch id, part) for each batch they go back to."""
    by_batch: dict[str, list[int]] = {}
    for i, batch in enumerate(decision.batches):
        by_batch.setdefault(batch, []).append(i)
    out = []
    for batch, probes in by_batch.items():
        found = [matches[i] for i in probes]
        out.append((batch, Part(
            decision.untils[batch], rows=decision.rows[probes].astype(np.int32).tobytes(),
            matches=tuple(m.event_id if m else "" for m in found),
            match_times=np.array([m.event_time if m else 0 for m in found], np.int64).tobytes(),
            similarities=np.array([m.similarity if m else 0.0 for m in found],
                                  np.float64).tobytes(),
            methods=np.array([m.method if m else 0 for m in found], np.uint8).tobytes(),
            late=np.asarray(late[probes], bool).tobytes())))
    return out


def _rough_size(value: object) -> int:
    """Encoded bytes of one field value, roughly: exact enough for Beam's size metrics."""
    if isinstance(value, str | bytes):
        return len(value) + 2
    if value is None or isinstance(value, int | float):
        return 8
    return 1024  # a pickled object (an article event, a story profile)


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

    def estimate_size(self, value: tuple) -> int:
        """About the encoded size, without encoding: Beam samples the size of the elements a
        step outputs (the first ten of every bundle), and ``Coder``'s default encodes each
        sampled record a second time, a whole batch of articles for a batch record."""
        return sum(sum(map(_rough_size, field)) if isinstance(field, tuple)
                   else _rough_size(field) for field in value)

    def is_deterministic(self) -> bool:
        return self._row.is_deterministic()

    def __reduce__(self) -> tuple:
        # Pickled as its record type (by reference), not as its RowCoder: a RowCoder unpickled
        # in a process that never built the type's schema (a second SDK worker, a Flink task)
        # decodes into a generated BeamSchema_... tuple class, without the record's methods.
        return type(self), (self._record_type,)

    def to_type_hint(self) -> type:
        return self._record_type

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._record_type is other._record_type

    def __hash__(self) -> int:
        return hash((type(self), self._record_type))
