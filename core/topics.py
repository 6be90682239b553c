"""IPTC Media Topics for article text, from reviewable keyword definitions (no Beam import).

The definitions live in ``core/data/topics/`` (one YAML file per top-level topic, patterns with
weights per language; the folder's README says how they read and score). The tagger reads them
once, indexes them per language and then tags a text with one look-up per distinct word (set
operations for the words it has seen before).

    tagger = KeywordTopicTagger()
    tagger.tag_batch(["Hertha gewinnt Derby gegen Union mit 2:1"], ["de"])
    -> [[Topic(code='medtop:15000000', label='sport', score=0.73)]]

A text in a language without definitions gets no topics (``supports(code)`` says which have
them); Nynorsk is read with the Bokmål definitions.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

__all__ = [
    "IPTC_LABELS",
    "KeywordTopicTagger",
    "Topic",
    "TopicTagger",
    "topic_text",
    "words",
]

# Raw score a topic needs, and the share of the best topic's score, to be assigned.
THRESHOLD = 3.0
RELATIVE = 1 / 3
MAX_TOPICS = 4
# Title, lead and the start of the body carry the topic; the rest costs time.
MAX_CHARS = 1200
# Stems shorter than this would match too much ("art*" is also "article").
MIN_STEM = 4
# Words remembered per language (whether and which patterns they start).
_MEMO_WORDS = 500_000
# Languages read with another language's definitions.
_FALLBACK = {"nn": "no"}
# libyaml's loader where PyYAML was built with it: the definitions load ~10x faster (setup of
# every worker that tags).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Topic:
    """One IPTC Media Topic assigned to a text; ``score`` in [0, 1]."""

    code: str
    label: str
    score: float


class TopicTagger(Protocol):
    """What every topic tagger offers."""

    name: str

    def supports(self, language: str | None) -> bool:
        """Whether texts in ``language`` can get topics at all."""
        ...

    def tag_batch(
        self, texts: Sequence[str], languages: Sequence[str | None]
    ) -> list[list[Topic]]:
        """Topics, best first, for each text in its language (a BCP-47 code or None)."""
        ...


def _load_labels() -> dict[str, str]:
    text = (importlib.resources.files("wirewatch.core") / "data/topics/iptc.yaml").read_text(
        encoding="utf-8"
    )
    return yaml.load(text, Loader=_LOADER)


IPTC_LABELS: dict[str, str] = _load_labels()


def topic_text(
    title: str | None, summary: str | None = None, body: str | None = None,
    max_chars: int = MAX_CHARS,
) -> str:
    """What the tagger reads: title, lead and the start of the body."""
    return " ".join(part for part in (title, summary, body) if part)[:max_chars]


def words(text: str) -> list[str]:
    """The lower-case words the keyword definitions are matched against, of the first
    ``MAX_CHARS`` characters."""
    return _TOKEN.findall(text[:MAX_CHARS].lower())


# A phrase after its first word: the words that must follow, and the pattern's id.
_Rest = tuple[tuple[str, ...], int]


class _Index:
    """One language's patterns, keyed by what a single word can match.

    Every pattern hangs off its first word, exactly (``words``) or by stem (``stems``); a
    single-word pattern has no rest, a phrase has the words that must follow.
    """

    def __init__(self) -> None:
        self.words: dict[str, list[_Rest]] = {}
        self.stems: dict[str, list[_Rest]] = {}
        self.stem_lengths: list[int] = []
        # pattern id -> (topic index, weight)
        self.patterns: list[tuple[int, float]] = []
        # Words looked up before, those that start a pattern, and their patterns.
        self._seen: set[str] = set()
        self._starts: set[str] = set()
        self._entries: dict[str, tuple[_Rest, ...]] = {}

    def add(self, pattern: str, topic: int, weight: float, where: str) -> None:
        # The tokeniser splits at hyphens, so "start-up" is the phrase start_up.
        parts = pattern.lower().replace("-", "_").split("_")
        if any(not p.rstrip("*") for p in parts):
            raise ValueError(f"{where}: empty word in pattern {pattern!r}")
        if any("*" in p[:-1] for p in parts):
            raise ValueError(f"{where}: '*' inside a word in {pattern!r}")
        first, rest = parts[0], (tuple(parts[1:]), len(self.patterns))
        self.patterns.append((topic, weight))
        if first.endswith("*"):
            stem = first[:-1]
            if len(stem) < MIN_STEM and len(parts) == 1:
                raise ValueError(f"{where}: stem {pattern!r} shorter than {MIN_STEM} letters")
            self.stems.setdefault(stem, []).append(rest)
        else:
            self.words.setdefault(first, []).append(rest)

    def freeze(self) -> None:
        self.stem_lengths = sorted({len(s) for s in self.stems})

    def starting_with(self, token: str) -> tuple[_Rest, ...]:
        """The patterns whose first word matches ``token``."""
        entries = list(self.words.get(token, ()))
        for n in self.stem_lengths:
            if n > len(token):
                break
            entries += self.stems.get(token[:n], ())
        return tuple(entries)

    def matched(self, tokens: list[str]) -> set[int]:
        """Ids of the patterns that match somewhere in ``tokens`` (lower-case words in order).

        Each distinct word is looked up once, the words seen before (vocabulary repeats) with
        set operations: most words start no pattern, so a text costs little more than making
        its set of words. A phrase is checked only where its first word occurs.
        """
        unique = set(tokens)
        starts = [(token, self._entries[token]) for token in unique & self._starts]
        for token in unique - self._seen:
            entries = self.starting_with(token)
            if entries:
                starts.append((token, entries))
            if len(self._seen) < _MEMO_WORDS:  # bounded: a stream of new words must not grow it
                self._seen.add(token)
                if entries:
                    self._starts.add(token)
                    self._entries[token] = entries
        found: set[int] = set()
        for token, entries in starts:
            for rest, pid in entries:
                if not rest or (pid not in found and _phrase_found(rest, tokens, token)):
                    found.add(pid)
        return found


def _phrase_matches(rest: tuple[str, ...], tokens: list[str], start: int) -> bool:
    if start + len(rest) > len(tokens):
        return False
    for want, got in zip(rest, tokens[start : start + len(rest)], strict=True):
        if want.endswith("*"):
            if not got.startswith(want[:-1]):
                return False
        elif want != got:
            return False
    return True


def _phrase_found(rest: tuple[str, ...], tokens: list[str], first: str) -> bool:
    """Whether ``rest`` follows some occurrence of ``first`` in ``tokens``."""
    at = tokens.index(first)
    while True:
        if _phrase_matches(rest, tokens, at + 1):
            return True
        try:
            at = tokens.index(first, at + 1)
        except ValueError:
            return False


class KeywordTopicTagger:
    """Weighted keyword patterns per topic and language, in data files one can review."""

    name = "keywords-1"

    def __init__(
        self, threshold: float = THRESHOLD, relative: float = RELATIVE,
        max_topics: int = MAX_TOPICS, definitions: Path | None = None,
    ) -> None:
        """``definitions``: a folder of topic YAML files (default: the ones shipped here)."""
        if threshold <= 0:
            raise ValueError("threshold must be > 0")
        if not 0 <= relative <= 1:
            raise ValueError("relative must be in [0, 1]")
        self.threshold = threshold
        self.relative = relative
        self.max_topics = max_topics
        self.codes = sorted(IPTC_LABELS)
        self._indexes: dict[str, _Index] = {}
        folder = definitions or importlib.resources.files("wirewatch.core") / "data/topics"
        files = sorted(f for f in folder.iterdir() if f.name.endswith(".yaml")
                       and f.name != "iptc.yaml")
        for f in files:
            spec = yaml.load(f.read_text(encoding="utf-8"), Loader=_LOADER)
            if not isinstance(spec, dict) or not isinstance(spec.get("patterns"), dict):
                raise ValueError(f"{f.name}: expected code, label and patterns")
            code = spec.get("code")
            if code not in IPTC_LABELS:
                raise ValueError(f"{f.name}: unknown IPTC code {code!r}")
            if spec.get("label") != IPTC_LABELS[code]:
                raise ValueError(f"{f.name}: label {spec.get('label')!r} is not IPTC's "
                                 f"{IPTC_LABELS[code]!r}")
            topic = self.codes.index(code)
            for language, tiers in spec["patterns"].items():
                if not isinstance(language, str):  # YAML reads a bare no: as False
                    raise ValueError(f"{f.name}: language key {language!r} must be quoted")
                index = self._indexes.setdefault(language, _Index())
                for weight, patterns in tiers.items():
                    for pattern in str(patterns).split():
                        index.add(pattern, topic, float(weight), f"{f.name} {language}")
        for index in self._indexes.values():
            index.freeze()

    @property
    def languages(self) -> list[str]:
        return sorted(self._indexes)

    def supports(self, language: str | None) -> bool:
        return self._index_for(language) is not None

    def _index_for(self, language: str | None) -> _Index | None:
        if not language:
            return None
        return self._indexes.get(_FALLBACK.get(language, language))

    def scores(self, text: str, language: str | None) -> dict[str, float]:
        """Raw score per topic code (only topics with a match), for review and tests."""
        if self._index_for(language) is None:
            return {}
        return self.token_scores(words(text), language)

    def token_scores(self, tokens: list[str], language: str | None) -> dict[str, float]:
        """``scores`` of a text already split by ``words``."""
        index = self._index_for(language)
        if index is None:
            return {}
        raw: dict[str, float] = {}
        for pid in sorted(index.matched(tokens)):  # one order of the sums, whatever the weights
            topic, weight = index.patterns[pid]
            code = self.codes[topic]
            raw[code] = raw.get(code, 0.0) + weight
        return raw

    def tag(self, text: str, language: str | None) -> list[Topic]:
        raw = self.scores(text, language)
        if not raw:
            return []
        best = max(raw.values())
        floor = max(self.threshold, self.relative * best)
        chosen = sorted(
            ((score, code) for code, score in raw.items() if score >= floor),
            key=lambda item: (-item[0], item[1]),
        )[: self.max_topics]
        return [
            Topic(code, IPTC_LABELS[code], round(score / (score + self.threshold), 4))
            for score, code in chosen
        ]

    def tag_batch(
        self, texts: Sequence[str], languages: Sequence[str | None]
    ) -> list[list[Topic]]:
        if len(texts) != len(languages):
            raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
        return [self.tag(t, lang) for t, lang in zip(texts, languages, strict=True)]
