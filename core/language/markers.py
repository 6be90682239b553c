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
        found = self._for(frozenset(candidates))
        if found is None:
            return {}
        line = normalised(text)
        words = set(line.split())
        # " word " is in the line if the word is one of its words, " stem" if a word begins with
        # it: set look-ups where a South Slavic text was searched for some hundred markers
        hits = [found.words[word] for word in words & found.words.keys()]
        begun = {stem: labels for word in words for n in found.key_lengths  # a stem once
                 for stem, labels in found.stems.get(word[:n], ()) if word.startswith(stem)}
        hits += begun.values()
        hits += [labels for marker, labels in found.others if marker in line]
        out: dict[str, float] = {}
        for labels in hits:
            for label in labels:
                out[label] = out.get(label, 0.0) + WEIGHT
        return out

    def _for(self, candidates: frozenset[str]) -> _Lookup | None:
        """The markers that point to some candidate, each with those candidates (sorted), by
        kind; None if there are none."""
        if candidates not in self._by_candidates:  # a handful of sets in a process: the groups
            lookup = _Lookup({}, {}, (), [])
            stems = []
            for marker, labels in self.entries:
                if labels.isdisjoint(candidates):
                    continue
                mine = tuple(sorted(labels & candidates))
                inner = marker.strip()
                if marker.startswith(" ") and inner and " " not in inner:
                    if marker.endswith(" "):
                        lookup.words[inner] = mine
                    else:
                        stems.append((inner, mine))
                else:
                    lookup.others.append((marker, mine))
            for stem, mine in stems:  # by their first _KEY letters (all of a shorter one)
                lookup.stems.setdefault(stem[:_KEY], []).append((stem, mine))
            lookup.key_lengths = tuple(sorted({min(len(stem), _KEY) for stem, _ in stems}))
            empty = not (lookup.words or lookup.stems or lookup.others)
            self._by_candidates[candidates] = None if empty else lookup
        return self._by_candidates[candidates]


@dataclass
class _Lookup:
    """One candidate set's markers: whole words, word beginnings, and the rest (several words,
    or letters anywhere in a word), each with the labels it points to."""

    words: dict[str, tuple[str, ...]]
    stems: dict[str, list[tuple[str, tuple[str, ...]]]]  # by their first _KEY letters
    key_lengths: tuple[int, ...]  # the lengths of those keys (a stem can be shorter)
    others: list[tuple[str, tuple[str, ...]]]


# Word beginnings are looked up by this many first letters, then compared whole.
_KEY = 3
