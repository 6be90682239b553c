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

__all__ = ["DEFAULT_TOPIC_TAGGER", "TOPIC_TAGGERS", "LearnedTopicTagger", "features"]

LABEL = "__label__"
# Scripts written without spaces: each character is a word (the model's word bigrams then give
# character bigrams), so a Japanese headline is not one unseen "word".
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff" \
    "\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")
# A keyword-definition topic at or above the keyword tagger's threshold reads as "strong".
_STRONG = 3.0
# The model learned from headlines and headline + lead (at most 253 characters in the team
# data): a body's further sentences only thin its scores and cost time (fastText's cost grows
# with the characters), so it reads this much of an article; the keyword fallback reads more.
MODEL_CHARS = 300


def features(text: str, language: str | None, keywords: KeywordTopicTagger) -> str:
    """The one line the model reads: lower-cased words, then one token per keyword topic."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    words = _WORD.findall(text)
    for code, raw in sorted(keywords.scores(text, language).items()):
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

    def supports(self, language: str | None) -> bool:
        return bool(language) and language != "und"

    def scores(self, texts: Sequence[str], languages: Sequence[str | None]
               ) -> list[dict[str, float]]:
        """Calibrated score of every topic, per text (texts in no language get {})."""
        matrix, read = self._calibrated(texts, languages)
        return [dict(zip(self._codes, map(float, row), strict=True)) if ok else {}
                for row, ok in zip(matrix, read, strict=True)]

    def tag_batch(
        self, texts: Sequence[str], languages: Sequence[str | None]
    ) -> list[list[Topic]]:
        matrix, read = self._calibrated(texts, languages)
        # Best first; a stable sort keeps equal scores in code order.
        order = numpy.argsort(-matrix, axis=1, kind="stable")
        out = []
        for text, language, row, ranks, ok in zip(texts, languages, matrix, order, read,
                                                  strict=True):
            if not ok:
                out.append([])
            elif row[ranks[0]] >= self.threshold or not self.keyword_fallback:
                out.append(self._chosen(row, ranks))
            else:
                out.append(self.keywords.tag(text, language) or self._chosen(row, ranks))
        return out

    def _calibrated(self, texts: Sequence[str], languages: Sequence[str | None]
                    ) -> tuple[numpy.ndarray, list[bool]]:
        """Calibrated scores (texts x topics, columns in code order), and whether each text was
        read at all (a language, and words)."""
        if len(texts) != len(languages):
            raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
        raw = numpy.zeros((len(texts), len(self._codes)))
        read = []
        model = shipped_model("topics.ftz")
        for i, (text, language) in enumerate(zip(texts, languages, strict=True)):
            line = (features(text[:MODEL_CHARS], language, self.keywords)
                    if self.supports(language) else "")
            read.append(bool(line))
            if line:  # one line at a time: fasttext-predict 0.9.2.4's list predict is broken
                labels, probs = model.predict(line, k=-1, threshold=0.0)
                raw[i, [self._column[name] for name in labels]] = probs
        # Platt scaling, all topics of all texts at once (see ``calibrated``).
        raw = numpy.clip(raw, 1e-6, 1 - 1e-6)
        z = numpy.clip(self._a * numpy.log(raw / (1 - raw)) + self._b, -40.0, 40.0)
        return 1 / (1 + numpy.exp(-z)), read

    def _chosen(self, scores: numpy.ndarray, ranks: numpy.ndarray) -> list[Topic]:
        chosen = [int(c) for c in ranks[: self.max_topics] if scores[c] >= self.threshold]
        if not chosen and scores[ranks[0]] >= self.floor:
            chosen = [int(ranks[0])]
        return [Topic(self._codes[c], IPTC_LABELS[self._codes[c]], round(float(scores[c]), 4))
                for c in chosen]


# What ``--topic_tagger`` chooses from; each is built once per worker. The learned model is the
# default: on the held-out set it beats the keyword definitions (README, Topics), which cover 12
# languages; they stay as its fallback and as the explainable ``keywords`` tagger.
TOPIC_TAGGERS: dict[str, type] = {"learned": LearnedTopicTagger, "keywords": KeywordTopicTagger}
DEFAULT_TOPIC_TAGGER = "learned"
