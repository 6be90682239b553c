"""Naive Bayes over hashed character n-grams and words: the judge inside a group of languages.

    model = NgramModel.load()                              # core/data/language/ngrams.npz
    model.best(["Vlada je usvojila novi zakon"], [("bs", "hr", "sr", "sl")])
    # -> [("hr", 0.71)]  (the label and its share of the group's likelihood)

fastText's small model names the language family well but confuses its close members (bs/hr/sr,
id/ms, gl/pt/es...). A multinomial naive Bayes over character 1-5-grams, whole words and word
pairs, trained on a few hundred sentences per language (``benchmarks/train_language.py``,
SIB-200's train split), tells them apart (words and pairs: +0.4 % short, +0.3 % leads on the
group languages of SIB-200's dev split; hr leads 72 -> 77 %). Features are hashed into
``2**bits`` buckets so that a whole batch is scored with numpy (the n-grams hashed without a
Python loop, a word with one CRC-32); weights are log-probabilities quantised to int8
(the same scale for every column, so sums compare across columns).
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import re
import zlib
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
# Below this many buckets per label, ``_totals`` gathers by bucket rather than by label row
# (measured: 40 labels, 1,500 buckets 145 -> 49 us; 300,000 buckets 18 -> 38 ms).
_BY_BUCKET = 1000
_CRC_W = zlib.crc32(b"W")  # the running CRC-32 of a word feature's tag, and of a pair's
_CRC_B = zlib.crc32(b"B")


def normalised(text: str) -> str:
    """Lower case, every run of non-letters one space, a space at both ends (word edges)."""
    return f" {_NON_LETTERS.sub(' ', text.lower()).strip()} "


def hashed_ngrams(texts: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids of the features of every text (character n-grams of ``ORDERS``, each word,
    each pair of adjacent words), and for each feature the index of its text. Texts are
    normalised first; n-grams never cross two texts."""
    lines = [normalised(t) for t in texts]
    joined = "\0".join(lines)
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
    words, word_owners = _hashed_words(lines, bits)
    buckets.append(words)
    owners.append(word_owners)
    return np.concatenate(buckets), np.concatenate(owners)


def _hashed_words(lines: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Buckets of each word ("W" + word) and word pair ("B" + pair) of normalised lines: a
    whole word (tisuća, stoljeća) is one feature where its n-grams are several weak ones. CRC-32
    rather than ``hash()``, which changes from process to process.

    CRC-32 continues from a running value, so "W" + word is the word's bytes from the CRC of
    "W", and "B" + a + " " + b is b's bytes from the CRC of "B" + a + " ": no feature string is
    built, each word is encoded once.
    """
    mask = (1 << bits) - 1
    buckets: list[int] = []
    counts: list[int] = []
    crc32 = zlib.crc32
    for line in lines:
        # one encode a line: a normalised line's only whitespace is the ASCII space, and no
        # byte of a multi-byte UTF-8 character is below 0x80, so its words split the same
        words = line.encode("utf-8").split()
        buckets += [crc32(w, _CRC_W) & mask for w in words]
        buckets += [crc32(b, crc32(a + b" ", _CRC_B)) & mask
                    for a, b in itertools.pairwise(words)]
        counts.append(max(2 * len(words) - 1, 0))
    owners = np.repeat(np.arange(len(lines), dtype=np.int64), counts)
    return np.array(buckets, dtype=np.int64), owners


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

    @functools.cached_property
    def _by_bucket(self) -> np.ndarray:
        """``weights`` transposed, a bucket's weights side by side: one text's few hundred
        buckets read under 40 labels without copying 40 label rows of ``2**bits``."""
        return np.ascontiguousarray(self.weights.T)

    def __contains__(self, label: str) -> bool:
        return label in self._rows

    def _totals(self, buckets: np.ndarray, counts: np.ndarray,
                candidates: Sequence[Sequence[str]], column: Mapping[int, int]) -> np.ndarray:
        """(texts, columns) float32 sums of each text's weights under each of its candidates
        (``buckets`` grouped by text, ``counts`` a text); 0 where a label is not a candidate.

        By the set of texts that have a label as a candidate, all the labels of a set at once:
        the work is the n-grams of each text times its own candidates, not times every label of
        the chunk (a batch mixes groups of 2-6 labels with the 40 of the African languages),
        and one gather for a text alone, however many candidates it has.
        """
        starts = np.cumsum(counts) - counts
        texts_of: dict[int, list[int]] = {}
        for i, labels in enumerate(candidates):
            for label in labels:
                texts_of.setdefault(self._rows[label], []).append(i)
        rows_of: dict[tuple[int, ...], list[int]] = {}
        for row, listed in texts_of.items():
            rows_of.setdefault(tuple(listed), []).append(row)
        totals = np.zeros((len(counts), len(column)), dtype=np.float32)
        for listed, rows in rows_of.items():
            first, last = listed[0], listed[-1]
            if last - first + 1 == len(listed):  # texts side by side (the caller sorts them so)
                mine = np.arange(first, last + 1)
                mine_buckets = buckets[starts[first]: starts[last] + counts[last]]
                firsts = starts[mine] - starts[first]
            else:
                mine = np.array(listed)
                lengths = counts[mine]
                firsts = np.cumsum(lengths) - lengths
                mine_buckets = buckets[np.arange(firsts[-1] + lengths[-1])
                                       + np.repeat(starts[mine] - firsts, lengths)]
            if not len(mine_buckets):
                continue
            # float32 sums of int8 weights stay exact (a text has far fewer than 2**17 n-grams)
            if len(mine_buckets) < _BY_BUCKET * len(rows):  # few texts: a bucket's row
                gathered = self._by_bucket.take(mine_buckets, axis=0)[:, rows].T
            else:  # many: whole label rows copied once, then read in long runs
                gathered = np.take(self.weights[rows], mine_buckets, axis=1)
            gathered = gathered.astype(np.float32)
            # a text without n-grams gets its neighbour's sum here: the caller zeroes it
            totals[np.ix_(mine, [column[row] for row in rows])] = np.add.reduceat(
                gathered, np.minimum(firsts, len(mine_buckets) - 1), axis=1).T
        return totals

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
        rows = sorted({self._rows[label] for c in candidates for label in c})
        column = {row: j for j, row in enumerate(rows)}
        order = np.argsort(owners, kind="stable")  # five sorted runs (one per order): cheap
        totals = self._totals(buckets[order], counts, candidates, column) if len(order) else (
            np.zeros((len(texts), len(rows))))
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
