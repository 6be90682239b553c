"""Curated lexical markers that tell close members of a group of related languages apart.

    markers = Markers.load()                       # core/data/language/markers.tsv
    markers.scores("Tko je rekao da je tisuća malo?", ("bs", "hr", "sr", "sl"))
    # -> {"hr": 2 * WEIGHT}  (nats for each label that some marker points to)

The n-gram judge (``ngrams.py``) learns from a few hundred sentences a language; for Bosnian,
Croatian and Serbian (Latin) those differ in a handful of words it may never have seen:
tisuća/hiljada, povijest/historija/istorija, ijekavian vrijeme vs ekavian vreme, Serbian
"treba da" + present. The team lists such words with their grounding in ``markers.tsv``; each
hit adds ``WEIGHT`` nats to its labels' log-likelihood, as evidence from outside the training
text.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass, field

from wirewatch.core.language.ngrams import normalised

__all__ = ["WEIGHT", "Markers"]

# Nats a marker adds to each of its labels (chosen on SIB-200's dev split, bench_tagging.py).
WEIGHT = 10.0


@dataclass(frozen=True)
class Markers:
    """Marker string -> the labels it is evidence for."""

    entries: tuple[tuple[str, frozenset[str]], ...]
    _by_candidates: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    @functools.cache
    def load(cls) -> Markers:
        """The markers shipped in ``core/data/language/markers.tsv``."""
        path = importlib.resources.files("wirewatch.core") / "data" / "language" / "markers.tsv"
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                marker, labels, _why = line.split("\t")
                entries.append((marker, frozenset(labels.split(","))))
        return cls(tuple(entries))

    def scores(self, text: str, candidates: Iterable[str]) -> dict[str, float]:
        """Nats of marker evidence for each candidate that some marker in ``text`` points to."""
        entries = self._for(frozenset(candidates))
        if not entries:
            return {}
        line = normalised(text)
        out: dict[str, float] = {}
        for marker, labels in entries:
            if marker in line:
                for label in labels:
                    out[label] = out.get(label, 0.0) + WEIGHT
        return out

    def _for(self, candidates: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The markers that point to some candidate, each with those candidates (sorted)."""
        found = self._by_candidates.get(candidates)
        if found is None:  # a handful of candidate sets in a process: the groups
            found = tuple((marker, tuple(sorted(labels & candidates)))
                          for marker, labels in self.entries if not labels.isdisjoint(candidates))
            self._by_candidates[candidates] = found
        return found
