"""Naive Bayes over hashed character n-grams: the judge inside a group of related languages.

    model = NgramModel.load()                              # core/data/language/ngrams.npz
    model.best(["Vlada je usvojila novi zakon"], [("bs", "hr", "sr", "sl")])
    # -> [("hr", 0.71)]  (the label and its share of the group's likelihood)

fastText's small model names the language family well but confuses its close members (bs/hr/sr,
id/ms, gl/pt/es...). A multinomial naive Bayes over character 1-5-grams, trained on a few
hundred sentences per language (``benchmarks/train_language.py``, SIB-200's train split),
tells them apart. Features are hashed into ``2**bits`` buckets so that a whole batch is scored
with numpy, without a Python loop over n-grams; weights are log-probabilities quantised to int8
(the same scale for every column, so sums compare across columns).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ORDERS", "NgramModel", "hashed_ngrams", "normalised"]

# n-gram lengths: 1-2 carry the alphabet (ђ, ć, ő), 3-5 the endings and short words.
ORDERS = (1, 2, 3, 4, 5)
_NON_LETTERS = re.compile(r"[\W\d_]+")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits spread well
_BASE = np.uint64(1_000_003)
# Per-text share of the group's likelihood comes from the mean log-likelihood per n-gram;
# raw sums over hundreds of n-grams would make every answer look certain.
_CONFIDENCE_SCALE = 8.0
# Texts scored at once: bounds the (text, label, n-gram) index arrays to some tens of MB.
_CHUNK = 256


def normalised(text: str) -> str:
    """Lower case, every run of non-letters one space, a space at both ends (word edges)."""
    return f" {_NON_LETTERS.sub(' ', text.lower()).strip()} "


def hashed_ngrams(texts: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids of the character n-grams of every text (``ORDERS``), and for each n-gram
    the index of its text. Texts are normalised first; n-grams never cross two texts."""
    joined = "\0".join(normalised(t) for t in texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    length = len(codes)
    owner = np.cumsum(codes == 0)  # the separators count texts: position -> its text
    buckets, owners = [], []
    shift = np.uint64(64 - bits)
    rolling = np.zeros(length, dtype=np.uint64)
    inside = np.ones(length, dtype=bool)
    with np.errstate(over="ignore"):  # the rolling hash wraps around on purpose
        for n in ORDERS:
            span = length - n + 1
            if span <= 0:
                break
            rolling = rolling[:span] * _BASE + codes[n - 1:]
            inside = inside[:span] & (codes[n - 1:] != 0)
            keep = inside if n > 1 else inside & (codes != 32)  # a lone space says nothing
            hashed = (rolling[keep] + np.uint64(n)) * _MULTIPLIER >> shift
            buckets.append(hashed.astype(np.int64))
            owners.append(owner[:span][keep])
    if not buckets:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(buckets), np.concatenate(owners)


@dataclass(frozen=True)
class NgramModel:
    """Quantised log P(n-gram bucket | label) for each label (one row per label)."""

    labels: tuple[str, ...]
    weights: np.ndarray  # int8, (labels, 2**bits)
    scale: float  # one weight unit in nats
    bits: int

    @classmethod
    @functools.cache
    def load(cls) -> NgramModel:
        """The model shipped in ``core/data/language/ngrams.npz``."""
        path = importlib.resources.files("wirewatch.core") / "data" / "language" / "ngrams.npz"
        with importlib.resources.as_file(path) as file, np.load(file) as data:
            return cls(
                labels=tuple(str(label) for label in data["labels"]),
                weights=data["weights"],
                scale=float(data["scale"]),
                bits=int(data["bits"]),
            )

    @functools.cached_property
    def _rows(self) -> dict[str, int]:
        return {label: row for row, label in enumerate(self.labels)}

    def __contains__(self, label: str) -> bool:
        return label in self._rows

    def best(
        self,
        texts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        priors: Sequence[Mapping[str, float] | None] | None = None,
    ) -> list[tuple[str, float]]:
        """For each text, the most likely of its candidate labels and its share of their
        likelihood (ties: the label listed first in the model, so deterministic). ``priors``
        (per text, or None) are log-probabilities of candidates from another model, added to
        their log-likelihoods."""
        priors = priors if priors is not None else [None] * len(texts)
        out: list[tuple[str, float]] = []
        for start in range(0, len(texts), _CHUNK):
            end = start + _CHUNK
            out += self._best(texts[start:end], candidates[start:end], priors[start:end])
        return out

    def _best(
        self,
        texts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        priors: Sequence[Mapping[str, float] | None],
    ) -> list[tuple[str, float]]:
        buckets, owners = hashed_ngrams(texts, self.bits)
        counts = np.bincount(owners, minlength=len(texts))
        # only the labels some text of this chunk may be: callers pass texts of one group
        # side by side, so this is a handful of labels, not all of them
        rows = sorted({self._rows[label] for c in candidates for label in c})
        column = {row: j for j, row in enumerate(rows)}
        order = np.argsort(owners, kind="stable")  # five sorted runs (one per order): cheap
        firsts = np.minimum(np.cumsum(counts) - counts, max(len(order) - 1, 0))
        # float32 sums of int8 weights stay exact (a text has far fewer than 2**17 n-grams)
        gathered = np.take(self.weights[rows], buckets[order], axis=1).astype(np.float32)
        totals = (np.add.reduceat(gathered, firsts, axis=1).T if len(order)
                  else np.zeros((len(texts), len(rows))))
        totals[counts == 0] = 0.0
        allowed = np.zeros(totals.shape, dtype=bool)
        allowed[np.repeat(np.arange(len(texts)), [len(c) for c in candidates]),
                [column[self._rows[label]] for c in candidates for label in c]] = True
        totals *= self.scale  # in nats from here on
        for i, prior in enumerate(priors):
            for label, logp in (prior or {}).items():
                totals[i, column[self._rows[label]]] += logp
        per_ngram = totals / np.maximum(counts, 1)[:, None]
        scores = np.where(allowed, per_ngram, -np.inf)
        winners = np.argmax(scores, axis=1)
        best = scores[np.arange(len(texts)), winners][:, None]
        shares = 1.0 / np.exp(_CONFIDENCE_SCALE * (scores - best)).sum(axis=1)
        return [(self.labels[rows[w]], float(p)) for w, p in zip(winners, shares, strict=True)]
