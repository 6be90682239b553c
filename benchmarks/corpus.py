"""A labelled corpus of news-length articles for the near-duplicate benchmarks.

Deterministic for a seed. Each story is an *original* (300-900 words) in one of several
languages (en, de, fr, es, ru, and zh/ja written without spaces), from an outlet that may wrap
its articles in boilerplate. Stories get:

- **copies**: the same story republished by another outlet: new headline, 1-10 % of words
  substituted/deleted/inserted, and some of: sentences dropped, sentences added, the outlet's
  boilerplate before/after, or cut short to its first 25-60 % (a summary of the full text);
- **hard negatives**: a different story on the same topic by the same outlet: same topic
  vocabulary and named entities, the same boilerplate, and one or two sentences quoted from the
  original (a shared statement). They must never be merged.

Words are synthetic (per-language syllables, Zipf-distributed frequencies, a small set of very
frequent function words), which keeps the generator self-contained while giving the statistics
that matter for shingling: frequent short n-grams shared by unrelated texts, topic words shared by
related ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["HOUR_MS", "Article", "ScaleStream", "generate"]

HOUR_MS = 3600 * 1000
_T0 = 1_790_000_000_000  # 2026-09-21

# (syllables, join words with spaces?)
_LANGS = {
    "en": ("ba be bi bo bu ca co da de di do fa fe fi ga go ha he hi la le li lo ma me mi mo "
           "na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve wa we ya th st "
           "er an en in on ar or", True),
    "de": ("ab be de di ei en er ge hei ich ke lich mal ne sch schw sta te un ver zu ung keit "
           "ba bu da do fa fe fu ga ha he hu ka ko la le lo ma me mu na no ra re ro sa se so "
           "ta to wa we", True),
    "fr": ("la le les de des du en un une ou au eau ai oi on an in ba be ca ce co da de fa "
           "fe ga ge ja je la li ma me mo na ne pa pe po qu ra re ri sa se so ta te to va ve "
           "tion ment", True),
    "es": ("la el de en ca co da de do fa fe ga go ha ja jo la le li lo ma me mi mo na ne ni "
           "no pa pe pi po que ra re ri ro sa se si so ta te ti to va ve ci ción mente", True),
    "ru": ("ба бе би бо ва ве ви во га го да де ди до жа за зе ка ко ла ле ли ло ма ме ми мо "
           "на не ни но па пе по ра ре ри ро са се си со та те ти то ча чи ша ще ть ый ой ая",
           True),
    "zh": ("".join(chr(c) for c in range(0x4E00, 0x4E00 + 2400, 1)), False),
    "ja": ("".join(chr(c) for c in range(0x3041, 0x3094))
           + "".join(chr(c) for c in range(0x5000, 0x5000 + 900)), False),
}
_SENTENCE_END = {True: ". ", False: "。"}
# Share of function words, general words, topic words and named entities in a sentence.
_KIND_CDF = np.cumsum([0.38, 0.42, 0.17])


def _zipf_cdf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1)
    # Without its last entry (1.0), searchsorted(cdf, u, "right") is always a valid index.
    return np.cumsum(weights / weights.sum())[:-1]


@dataclass(frozen=True)
class Article:
    """One labelled article. ``group`` is shared by an original and its copies."""

    id: str
    time_ms: int
    lang: str
    outlet: str
    url: str
    title: str
    text: str
    group: int
    kind: str  # "original", "copy", "hard_negative"
    edits: str  # what was done to make a copy, "" otherwise


class _Language:
    def __init__(self, name: str, rng: np.random.Generator, n_topics: int) -> None:
        syllables, self.spaced = _LANGS[name]
        units = syllables.split() if self.spaced else list(syllables)
        self.name = name
        self.rng = rng

        def words(n: int, lo: int, hi: int) -> list[str]:
            out: set[str] = set()
            while len(out) < n:
                sizes = rng.integers(lo, hi + 1, size=n)
                picks = rng.integers(len(units), size=(n, hi))
                out.update("".join(units[j] for j in row[:k])
                           for k, row in zip(sizes, picks, strict=True))
            return sorted(out)[:n]

        span = (2, 4) if self.spaced else (1, 2)
        self.function = words(60, 1, 1 if not self.spaced else 2)
        self.general = words(6000, *span)
        self.topics = [words(150, *span) for _ in range(n_topics)]
        self.entities = [[" ".join(words(2, *span)) if self.spaced else "".join(words(2, *span))
                          for _ in range(8)] for _ in range(n_topics)]
        self.general_cdf = _zipf_cdf(len(self.general))
        self.function_cdf = _zipf_cdf(len(self.function))

    def draw(self, topic: int, n: int) -> list[str]:
        """``n`` words of running text on ``topic``."""
        rng = self.rng
        kind = np.searchsorted(_KIND_CDF, rng.random(n), side="right")
        function = np.searchsorted(self.function_cdf, rng.random(n), side="right")
        general = np.searchsorted(self.general_cdf, rng.random(n), side="right")
        topical = rng.integers(len(self.topics[topic]), size=n)
        entity = rng.integers(8, size=n)
        pools = (self.function, self.general, self.topics[topic], self.entities[topic])
        picks = (function, general, topical, entity)
        return [pools[k][picks[k][i]] for i, k in enumerate(kind.tolist())]

    def sentences(self, topic: int, n_words: int) -> list[list[str]]:
        """Sentences of 8-25 words, at least ``n_words`` in all."""
        lengths = self.rng.integers(8, 26, size=n_words // 8 + 1)
        ends = np.cumsum(lengths)
        ends = ends[: int(np.searchsorted(ends, n_words)) + 1]
        words = self.draw(topic, int(ends[-1]))
        return [words[a:b] for a, b in zip([0, *ends[:-1].tolist()], ends.tolist(), strict=True)]

    def sentence(self, topic: int) -> list[str]:
        return self.sentences(topic, 1)[0]

    def word(self) -> str:
        return self.general[int(np.searchsorted(self.general_cdf, self.rng.random(), "right"))]

    def join(self, sentences: list[list[str]]) -> str:
        sep = " " if self.spaced else ""
        end = _SENTENCE_END[self.spaced]
        text = "".join(sep.join(s).capitalize() + end for s in sentences if s)
        return text.strip()


class _Generator:
    def __init__(self, seed: int, languages: tuple[str, ...], n_topics: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.langs = {name: _Language(name, self.rng, n_topics) for name in languages}
        self.n_topics = n_topics
        self.outlets = {}
        for name, lang in self.langs.items():
            self.outlets[name] = [
                (f"{name}-outlet-{i}",
                 [lang.sentence(0)[:int(self.rng.integers(4, 10))]],
                 [lang.sentence(1) for _ in range(int(self.rng.integers(1, 3)))])
                for i in range(12)]

    def story(self, lang: _Language, topic: int) -> list[list[str]]:
        return lang.sentences(topic, int(self.rng.integers(300, 901)))

    def wrap(self, lang: str, outlet: int, body: list[list[str]], p: float) -> list[list[str]]:
        _, before, after = self.outlets[lang][outlet]
        rng = self.rng
        return (before if rng.random() < p else []) + body + (after if rng.random() < p else [])

    def copy(self, lang: _Language, topic: int, body: list[list[str]]) -> tuple[
            list[list[str]], list[str]]:
        rng = self.rng
        edits = []
        sentences = [list(s) for s in body]
        if rng.random() < 0.25:
            keep = max(2, int(len(sentences) * rng.uniform(0.25, 0.6)))
            sentences = sentences[:keep]
            edits.append("cut")
        if rng.random() < 0.4 and len(sentences) > 4:
            for _ in range(int(rng.integers(1, 4))):
                del sentences[int(rng.integers(len(sentences)))]
            edits.append("drop")
        if rng.random() < 0.3:
            for _ in range(int(rng.integers(1, 3))):
                sentences.insert(int(rng.integers(len(sentences) + 1)), lang.sentence(topic))
            edits.append("add")
        rate = rng.uniform(0.01, 0.10)
        edits.append(f"words{rate:.0%}")
        for s in sentences:
            for i in reversed(range(len(s))):
                if rng.random() < rate:
                    op = rng.random()
                    if op < 0.6:
                        s[i] = lang.word()
                    elif op < 0.8 and len(s) > 1:
                        del s[i]
                    else:
                        s.insert(i, lang.word())
        return sentences, edits


def generate(n_stories: int, seed: int = 7, copy_rate: float = 0.35, hard_rate: float = 0.3,
             languages: tuple[str, ...] = tuple(_LANGS), span_hours: float = 24 * 7,
             n_topics: int = 20) -> list[Article]:
    """``n_stories`` originals plus their copies and hard negatives, in event-time order."""
    gen = _Generator(seed, languages, n_topics)
    rng = gen.rng
    out: list[Article] = []

    def emit(lang: _Language, outlet: int, sentences, time_ms, group, kind, edits=""):
        name = gen.outlets[lang.name][outlet][0]
        i = len(out)
        out.append(Article(
            id=f"{seed:04d}{i:08d}", time_ms=int(time_ms), lang=lang.name, outlet=name,
            url=f"https://{name}.example/{i}", title=lang.join([lang.sentence(0)[:8]]),
            text=lang.join(sentences), group=group, kind=kind, edits=edits))

    for story in range(n_stories):
        lang = gen.langs[languages[story % len(languages)]]
        topic = int(rng.integers(gen.n_topics))
        outlet = int(rng.integers(12))
        t0 = _T0 + rng.uniform(0, span_hours) * HOUR_MS
        body = gen.story(lang, topic)
        group = len(out)
        emit(lang, outlet, gen.wrap(lang.name, outlet, body, 0.5), t0, group, "original")
        if rng.random() < copy_rate:
            for _ in range(int(rng.integers(1, 4))):
                other = int(rng.integers(12))
                sentences, edits = gen.copy(lang, topic, body)
                if rng.random() < 0.5:
                    sentences = gen.wrap(lang.name, other, sentences, 1.0)
                    edits.append("boilerplate")
                emit(lang, other, sentences, t0 + rng.uniform(0.05, 36) * HOUR_MS, group, "copy",
                     "+".join(edits))
        if rng.random() < hard_rate:
            for _ in range(int(rng.integers(1, 3))):
                related = gen.story(lang, topic)
                for _ in range(int(rng.integers(1, 3))):
                    related.insert(int(rng.integers(len(related))),
                                   body[int(rng.integers(len(body)))])
                emit(lang, outlet, gen.wrap(lang.name, outlet, related, 0.5),
                     t0 + rng.uniform(0, 48) * HOUR_MS, len(out), "hard_negative",
                     f"related-to:{group}")
    out.sort(key=lambda a: (a.time_ms, a.id))
    return out

_QUANTILES = 1 << 18


class ScaleStream:
    """A long synthetic stream for the scale benchmark, generated chunk by chunk.

    ``residents`` articles fill a 48 h horizon (one every ``48 h / residents``), then come
    ``window`` measured articles. In the window every ``plant_every``-th article is a planted
    near copy of an earlier original still in the horizon (word edits at 1-10 %, sometimes cut
    short, sometimes wrapped in another outlet's boilerplate, as :func:`generate` does), and the
    one half-way between is a *related* story (same outlet, language and topic, quoting one or
    two sentences of an earlier original) that must not be merged. ``source[i]`` is the original
    a planted copy repeats (-1: not a copy).

    The words come from the same per-language vocabularies as :func:`generate` (Zipf general
    words, frequent function words, topic words and entities, outlet boilerplate), drawn with
    array operations so that a million articles take seconds, not the minutes a per-word loop
    would; texts carry no sentence punctuation (the tokenizer ignores it).
    """

    def __init__(self, residents: int, window: int, seed: int = 7, plant_every: int = 10,
                 n_topics: int = 20, horizon_ms: int = 48 * HOUR_MS) -> None:
        self.residents, self.window = residents, window
        self.total = residents + window
        self.step_ms = horizon_ms / residents
        self._seed = seed
        rng = np.random.Generator(np.random.PCG64(seed))
        self._langs = [_Language(name, rng, n_topics) for name in _LANGS]
        self._vocab = [np.array([*lang.function, *lang.general, *itertools.chain(*lang.topics),
                                 *itertools.chain(*lang.entities)], dtype=object)
                       for lang in self._langs]
        # Inverse CDFs as look-up tables: a random index is a Zipf draw, no search per word.
        at = (np.arange(_QUANTILES) + 0.5) / _QUANTILES
        self._inverse = [(np.searchsorted(lang.function_cdf, at, side="right"),
                          np.searchsorted(lang.general_cdf, at, side="right"))
                         for lang in self._langs]
        n = self.total
        self.lang = rng.integers(len(_LANGS), size=n)
        self.topic = rng.integers(n_topics, size=n)
        self.outlet = rng.integers(12, size=n)
        self.n_topics = n_topics
        # Boilerplate per (language, outlet): a lead-in before and one or two sentences after.
        self._wrap = [[(self._draw(lang_i, np.array([0]), np.array([int(rng.integers(4, 10))]),
                                   rng),
                        self._draw(lang_i, np.array([1]), np.array([int(rng.integers(8, 40))]),
                                   rng))
                       for _ in range(12)] for lang_i in range(len(self._langs))]
        self.kind = np.zeros(n, np.int8)  # 0 original, 1 planted copy, 2 related story
        self.source = np.full(n, -1, np.int64)
        self.related_to = np.full(n, -1, np.int64)
        at = np.arange(residents, n)
        copies = at[(at - residents) % plant_every == 0]
        related = at[(at - residents) % plant_every == plant_every // 2]
        self.kind[copies], self.kind[related] = 1, 2
        originals = np.flatnonzero(self.kind == 0)
        reach = int(0.95 * residents)  # sources well inside the horizon
        for rows, target in ((copies, self.source), (related, self.related_to)):
            lo = np.searchsorted(originals, np.maximum(rows - reach, 0))
            hi = np.searchsorted(originals, rows)
            target[rows] = originals[lo + (rng.random(len(rows)) * (hi - lo)).astype(np.int64)]
            self.lang[rows], self.topic[rows] = self.lang[target[rows]], self.topic[target[rows]]
        self.outlet[related] = self.outlet[self.related_to[related]]
        self._needed = set(self.source[copies].tolist()) | set(
            self.related_to[related].tolist())
        self._kept: dict[int, np.ndarray] = {}

    def _draw(self, lang_i: int, topics: np.ndarray, lengths: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        """Word ids (into the language's vocabulary) of running text, texts one after another."""
        lang = self._langs[lang_i]
        total = int(lengths.sum())
        kind = np.searchsorted(_KIND_CDF, rng.random(total), side="right")
        topic = np.repeat(topics, lengths)
        n_fun, n_gen, n_top = len(lang.function), len(lang.general), len(lang.topics[0])
        function_of, general_of = self._inverse[lang_i]
        ids = function_of[rng.integers(_QUANTILES, size=total)]
        general = n_fun + general_of[rng.integers(_QUANTILES, size=total)]
        topical = n_fun + n_gen + topic * n_top + rng.integers(n_top, size=total)
        entity = (n_fun + n_gen + self.n_topics * n_top + topic * 8
                  + rng.integers(8, size=total))
        ids[kind == 1] = general[kind == 1]
        ids[kind == 2] = topical[kind == 2]
        ids[kind == 3] = entity[kind == 3]
        return ids

    def _wrapped(self, i: int, body: np.ndarray, p: float, rng: np.random.Generator
                 ) -> np.ndarray:
        before, after = self._wrap[self.lang[i]][self.outlet[i]]
        return np.concatenate(([before] if rng.random() < p else [])
                              + [body] + ([after] if rng.random() < p else []))

    def _copy(self, i: int, rng: np.random.Generator) -> np.ndarray:
        words = self._kept[int(self.source[i])]
        if rng.random() < 0.25:  # cut short to its first 25-60 %
            words = words[: max(16, int(len(words) * rng.uniform(0.25, 0.6)))]
        rate = rng.uniform(0.01, 0.10)
        op = rng.random(len(words))
        edit = rng.random(len(words)) < rate
        fresh = self._draw(int(self.lang[i]), self.topic[i: i + 1], np.array([len(words)]), rng)
        words = np.where(edit & (op < 0.6), fresh, words)  # substituted
        inserted = edit & (op >= 0.8)
        words = np.insert(words, np.flatnonzero(inserted), fresh[inserted])
        keep = np.ones(len(words), bool)
        keep[np.flatnonzero(edit & (op >= 0.6) & (op < 0.8))
             + np.cumsum(inserted)[edit & (op >= 0.6) & (op < 0.8)]] = False  # deleted
        words = words[keep]
        if rng.random() < 0.5:
            self.outlet[i] = rng.integers(12)
            words = self._wrapped(i, words, 1.0, rng)
        return words

    def _related(self, i: int, rng: np.random.Generator) -> np.ndarray:
        quoted = self._kept[int(self.related_to[i])]
        body = self._draw(int(self.lang[i]), self.topic[i: i + 1],
                          np.array([int(rng.integers(300, 901))]), rng)
        for _ in range(int(rng.integers(1, 3))):
            at, size = int(rng.integers(len(quoted) - 25)), int(rng.integers(8, 26))
            spot = int(rng.integers(len(body)))
            body = np.concatenate((body[:spot], quoted[at: at + size], body[spot:]))
        return self._wrapped(i, body, 0.5, rng)

    def chunks(self, size: int) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
        """(ids, event times in ms, texts) of ``size`` articles at a time, in time order."""
        for start in range(0, self.total, size):
            stop = min(start + size, self.total)
            rng = np.random.Generator(np.random.PCG64([self._seed, start]))
            rows = np.arange(start, stop)
            words: dict[int, np.ndarray] = {}
            for lang_i in range(len(self._langs)):
                mine = rows[(self.lang[rows] == lang_i) & (self.kind[rows] == 0)]
                lengths = rng.integers(300, 901, size=len(mine))
                drawn = np.split(self._draw(lang_i, self.topic[mine], lengths, rng),
                                 np.cumsum(lengths)[:-1])
                for i, body in zip(mine.tolist(), drawn, strict=True):
                    words[i] = self._wrapped(i, body, 0.5, rng)
                    if i in self._needed:
                        self._kept[i] = words[i]
            for i in rows[self.kind[rows] != 0].tolist():
                words[i] = self._copy(i, rng) if self.kind[i] == 1 else self._related(i, rng)
            texts = []
            for i in rows.tolist():
                lang = self._langs[self.lang[i]]
                texts.append((" " if lang.spaced else "").join(
                    self._vocab[self.lang[i]][words[i]].tolist()))
            yield ([f"s{i:09d}" for i in rows.tolist()],
                   (_T0 + rows * self.step_ms).astype(np.int64), texts)
