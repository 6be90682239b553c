"""IPTC Media Topics from a learned model: fastText one-vs-all over word and character n-grams.

The model (``core/data/topics.ftz``) and its per-topic calibration (``core/data/topics.json``)
ship in the package; ``benchmarks/train_topics.py`` trains both from SIB-200 and the team's own
headlines (CC BY-SA 4.0, see NOTICE). The keyword definitions of ``KeywordTopicTagger`` are
features of the model: each topic whose patterns match adds one token to what it reads.

    tagger = LearnedTopicTagger()
    tagger.tag_batch(["Hertha gewinnt Derby gegen Union mit 2:1"], ["de"])
    -> [[Topic(code='medtop:15000000', label='sport', score=0.97)]]

Every language gets topics (the model read ~200); ``und`` or no language gets none.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
import unicodedata
from collections.abc import Sequence

import numpy

from wirewatch.core.fasttext_models import shipped_model
from wirewatch.core.topics import IPTC_LABELS, MAX_CHARS, KeywordTopicTagger, Topic
from wirewatch.core.topics import words as keyword_words

__all__ = ["DEFAULT_TOPIC_TAGGER", "TOPIC_TAGGERS", "LearnedTopicTagger", "features"]

LABEL = "__label__"
# Scripts written without spaces: each character is a word (the model's word bigrams then give
# character bigrams), so a Japanese headline is not one unseen "word".
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff" \
    "\uf900-\ufaff"
_ANY_UNSPACED = re.compile(f"[{_UNSPACED}]")
# Runs of unspaced characters (split into characters after) or of other word characters: what
# "one unspaced character, or a run of other word characters" gives, in fewer matches.
_RUN = re.compile(rf"[{_UNSPACED}]+|[^\W{_UNSPACED}]+")
# A keyword-definition topic at or above the keyword tagger's threshold reads as "strong".
_STRONG = 3.0
# The model learned from headlines and headline + lead (at most 253 characters in the team
# data): a body's further sentences only thin its scores and cost time (fastText's cost grows
# with the characters), so it reads this much of an article; the keyword fallback reads more.
MODEL_CHARS = 300
# Calibrated scores remembered: the model's raw scores come from a table (fastText's sigmoid),
# so there are a few hundred per topic; the bound is for a model that is not like that.
_MEMO_SCORES = 100_000


def features(text: str, language: str | None, keywords: KeywordTopicTagger) -> str:
    """The one line the model reads: lower-cased words, then one token per keyword topic."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    if len(text) <= MAX_CHARS and _ANY_UNSPACED.search(text) is None:
        # the keyword definitions' words are the model's: split once
        words = keyword_words(text)
        scores = keywords.token_scores(words, language)
    else:  # unspaced scripts, or NFKC made it longer than the keywords read
        scores = keywords.scores(text, language)
        words = []
        for run in _RUN.findall(text):
            if _ANY_UNSPACED.match(run):
                words.extend(run)
            else:
                words.append(run)
    for code, raw in sorted(scores.items()):
        if raw > 0:
            words.append(f"kw{code[7:9]}{'s' if raw >= _STRONG else 'w'}")
    return " ".join(words)


@functools.cache
def _calibration() -> dict:
    path = importlib.resources.files("wirewatch.core") / "data" / "topics.json"
    return json.loads(path.read_text(encoding="utf-8"))


def calibrated(raw: float, a: float, b: float) -> float:
    """Platt scaling of one raw one-vs-all score: sigmoid(a * logit(raw) + b)."""
    raw = min(max(raw, 1e-6), 1 - 1e-6)
    z = a * math.log(raw / (1 - raw)) + b
    return 1 / (1 + math.exp(-min(max(z, -40.0), 40.0)))


class LearnedTopicTagger:
    """Topics from the shipped fastText model, scores calibrated per topic on a dev split.

    A topic is assigned when its calibrated score reaches ``threshold``. Where none does (the
    model is not confident), the keyword definitions' topics are the answer if they have one
    (``keyword_fallback``: explainable, and better on the team dev split and on the sample
    articles' long texts, README, Topics); otherwise the best topic if it reaches ``floor`` (a
    headline rarely names two topics clearly).
    """

    name = "learned-1"

    def __init__(self, keywords: KeywordTopicTagger | None = None,
                 max_topics: int = 4, keyword_fallback: bool = True) -> None:
        spec = _calibration()
        self.keywords = keywords or KeywordTopicTagger()
        self.keyword_fallback = keyword_fallback
        self.threshold: float = spec["threshold"]
        self.floor: float = spec["floor"]
        self.max_topics = max_topics
        if set(spec["platt"]) != set(IPTC_LABELS):
            raise ValueError("topics.json must calibrate every IPTC top-level code")
        self._codes = sorted(IPTC_LABELS)
        self._column = {LABEL + code.removeprefix("medtop:"): i
                        for i, code in enumerate(self._codes)}
        self._a = numpy.array([spec["platt"][code][0] for code in self._codes])
        self._b = numpy.array([spec["platt"][code][1] for code in self._codes])
        self._topics = [(code, IPTC_LABELS[code]) for code in self._codes]
        # (raw score, label) -> (-calibrated score, column): sorts best first, ties in code order
        self._memo: dict[tuple[float, str], tuple[float, int]] = {}
        self._least = self._least_raw()

    def _least_raw(self) -> float:
        """A raw score below which no topic's calibrated score reaches ``floor``: the model need
        not report those topics (they can be neither chosen nor the best that is chosen).

        Calibration rises with the raw score where ``a > 0`` (every shipped topic); fastText
        compares the threshold with its sigmoid output and reports about 1e-5 more than that,
        hence half the least raw score that reaches the floor (0 when one cannot tell).
        """
        if not (self._a > 0).all() or not 0 < self.floor < 1:
            return 0.0
        logit = math.log(self.floor / (1 - self.floor))
        least = min(1 / (1 + math.exp(-(logit - b) / a))
                    for a, b in zip(self._a.tolist(), self._b.tolist(), strict=True))
        return least / 2 if least > 1e-3 else 0.0

    def supports(self, language: str | None) -> bool:
        return bool(language) and language != "und"

    def scores(self, texts: Sequence[str], languages: Sequence[str | None]
               ) -> list[dict[str, float]]:
        """Calibrated score of every topic, per text (texts in no language get {})."""
        out = []
        for ranked in self._ranked(texts, languages, least=0.0):
            if ranked is None:
                out.append({})
                continue
            # the model reports every topic at least 0; one it did not would score as raw 0
            scores = {code: -self._score(0.0, LABEL + code[7:])[0] for code in self._codes}
            scores.update((self._codes[c], -negative) for negative, c in ranked)
            out.append(scores)
        return out

    def tag_batch(
        self, texts: Sequence[str], languages: Sequence[str | None]
    ) -> list[list[Topic]]:
        out = []
        for text, language, ranked in zip(texts, languages,
                                          self._ranked(texts, languages, self._least),
                                          strict=True):
            if ranked is None:
                out.append([])
            elif (ranked and -ranked[0][0] >= self.threshold) or not self.keyword_fallback:
                out.append(self._chosen(ranked))
            else:
                out.append(self.keywords.tag(text, language) or self._chosen(ranked))
        return out

    def _ranked(self, texts: Sequence[str], languages: Sequence[str | None], least: float
                ) -> list[list[tuple[float, int]] | None]:
        """Per text, (-calibrated score, column) of the topics the model reports at raw scores
        from ``least`` on, best first (ties in code order); None for a text not read at all
        (no language, or no words)."""
        if len(texts) != len(languages):
            raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
        predict = shipped_model("topics.ftz").f.predict
        memo = self._memo  # keyed by the (raw score, label) pairs the model gives
        # All lines first, then the model on each: its tables stay in the CPU's caches from one
        # text to the next (about 5 % less time in batches of 256 on the bench corpus).
        lines = [features(text[:MODEL_CHARS], language, self.keywords)
                 if self.supports(language) else ""
                 for text, language in zip(texts, languages, strict=True)]
        out: list[list[tuple[float, int]] | None] = []
        for line in lines:
            if not line:
                out.append(None)
                continue
            # One line at a time (fasttext-predict 0.9.2.4's list predict is broken), and
            # straight to the binding: its Python wrapper only checks for newlines (features
            # has none) and reshapes what it gives.
            ranked = [memo.get(found) or self._score(*found)
                      for found in predict(line + "\n", -1, least, "strict")]
            ranked.sort()
            out.append(ranked)
        return out

    def _score(self, raw: float, label: str) -> tuple[float, int]:
        """(-calibrated score, column) of one raw score of ``label``: Platt scaling (see
        ``calibrated``) with numpy's arithmetic, which gave the shipped answers."""
        column = self._column[label]
        clipped = numpy.clip(numpy.array([raw]), 1e-6, 1 - 1e-6)
        z = numpy.clip(self._a[column] * numpy.log(clipped / (1 - clipped)) + self._b[column],
                       -40.0, 40.0)
        found = (-float((1 / (1 + numpy.exp(-z)))[0]), column)
        if len(self._memo) < _MEMO_SCORES:
            self._memo[raw, label] = found
        return found

    def _chosen(self, ranked: list[tuple[float, int]]) -> list[Topic]:
        chosen = [found for found in ranked[: self.max_topics] if -found[0] >= self.threshold]
        if not chosen and ranked and -ranked[0][0] >= self.floor:
            chosen = ranked[:1]
        return [Topic(*self._topics[c], round(-negative, 4)) for negative, c in chosen]


# What ``--topic_tagger`` chooses from; each is built once per worker. The learned model is the
# default: on the held-out set it beats the keyword definitions (README, Topics), which cover 12
# languages; they stay as its fallback and as the explainable ``keywords`` tagger.
TOPIC_TAGGERS: dict[str, type] = {"learned": LearnedTopicTagger, "keywords": KeywordTopicTagger}
DEFAULT_TOPIC_TAGGER = "learned"
