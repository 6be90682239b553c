"""Language identification for article text: one interface, several backends.

Every backend answers ``detect_batch(texts, hints)`` with one :class:`LanguageGuess` per text:
a BCP-47 code (or ``und`` when it cannot tell), a confidence in [0, 1] and the method that
decided. All backends are deterministic: the same text gives the same guess in every process.

Backends (``BACKENDS``, built by :func:`make_detector`):

- ``cascade`` (the default): Unicode script first (Hangul, Kana, Han, Greek, Hebrew, Thai...
  decide alone; Han is split into Simplified ``zh`` and Traditional ``zh-Hant`` by characters
  that exist in only one of the two), then fastText's small language-ID model (``lid.176.ftz``,
  shipped in ``core/data/``, see NOTICE) and, when fastText lands in a group of
  confusable languages (da/no/nn/sv, nl/af), lingua restricted to that group decides inside
  it, weighed together with marker words that only some of the group's languages use
  (Danish "af/efter", Norwegian "av/etter", Nynorsk "ikkje/eit", Afrikaans "nie/die"...).
  The feed's declared language is a prior: it wins when the text does not contradict it
  (fastText gives it some probability, or it is in the group the text fell in).
- ``fasttext``: fastText alone.
- ``lingua``: lingua over all its languages, high-accuracy mode (accurate, slow).
- ``langdetect``: the design's first choice, seeded so that it is deterministic.

Shared output rules: a text with fewer than 4 letters is ``und`` (method ``too-short``); an
answer below the backend's threshold is ``und`` (0.20; langdetect 0.80, as it is sure of itself
even on noise).

Output codes: ISO 639-1 where one exists, else ISO 639-3, so valid BCP-47 primary subtags.
Norwegian Bokmål is ``no`` (the code feeds declare and that the shared test data uses; ``nb``
hints are read as ``no``), Nynorsk is ``nn``. Chinese is ``zh`` (Simplified) or ``zh-Hant``.
Nothing is downloaded at run time: every model ships inside an installed wheel.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "UND",
    "CascadeDetector",
    "FastTextDetector",
    "LangdetectDetector",
    "LanguageDetector",
    "LanguageGuess",
    "LinguaDetector",
    "detection_text",
    "make_detector",
    "normalise_code",
]

UND = "und"
# Below this confidence a backend answers ``und`` rather than guess.
MIN_CONFIDENCE = 0.20
# Fewer letters than this carry no language signal (tickers, numbers, one word).
MIN_LETTERS = 4
# Title + lead is what identifies the language; more text only costs time.
MAX_CHARS = 300

# Unicode scripts that name one language on their own.
_SCRIPT_LANGUAGE = {
    "Hangul": "ko",
    "Kana": "ja",
    "Greek": "el",
    "Hebrew": "he",
    "Thai": "th",
    "Georgian": "ka",
    "Armenian": "hy",
    "Ethiopic": "am",
    "Bengali": "bn",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Gujarati": "gu",
    "Gurmukhi": "pa",
    "Khmer": "km",
    "Lao": "lo",
    "Myanmar": "my",
    "Sinhala": "si",
    "Tibetan": "bo",
}
_SCRIPT_RANGES = {
    "Cyrillic": "\u0400-\u052f",
    "Greek": "\u0370-\u03ff\u1f00-\u1fff",
    "Arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "Hebrew": "\u0590-\u05ff",
    "Devanagari": "\u0900-\u097f",
    "Bengali": "\u0980-\u09ff",
    "Gurmukhi": "\u0a00-\u0a7f",
    "Gujarati": "\u0a80-\u0aff",
    "Tamil": "\u0b80-\u0bff",
    "Telugu": "\u0c00-\u0c7f",
    "Kannada": "\u0c80-\u0cff",
    "Malayalam": "\u0d00-\u0d7f",
    "Sinhala": "\u0d80-\u0dff",
    "Thai": "\u0e00-\u0e7f",
    "Lao": "\u0e80-\u0eff",
    "Tibetan": "\u0f00-\u0fff",
    "Myanmar": "\u1000-\u109f",
    "Georgian": "\u10a0-\u10ff",
    "Ethiopic": "\u1200-\u137f",
    "Khmer": "\u1780-\u17ff",
    "Armenian": "\u0530-\u058f",
    "Hangul": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "Kana": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f",
    "Han": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
}
_SCRIPT_RES = {name: re.compile(f"[{ranges}]") for name, ranges in _SCRIPT_RANGES.items()}
_NON_LATIN = re.compile(r"[^\x00-\u024f\u1e00-\u1eff\u2000-\u206f]")
_LETTER = re.compile(r"[^\W\d_]")
_URL = re.compile(r"https?://\S+|www\.\S+")

# Languages a non-unique script can mean; fastText's answers are filtered to these.
_SCRIPT_CANDIDATES = {
    "Cyrillic": frozenset(
        ["ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "tt", "ba", "cv", "ce", "os"]
    ),
    "Arabic": frozenset(["ar", "fa", "ur", "ps", "ug", "ku", "ckb", "sd", "arz", "azb"]),
    "Devanagari": frozenset(["hi", "mr", "ne", "sa", "bh", "new", "mai"]),
}

# Characters written one way in Simplified and another in Traditional Chinese (the common
# ones, paired position by position); a text leans to the set it uses more.
_HANS = frozenset(
    "们这说国会为时发对经过还进开关来个见长门问间东车语电话学觉实点当体与从后区华应无现业场"
    "济议员记报导让认识总统选举战争军队医疗药党决机构网络条约变历样线术务产动费几权视听书买卖"
    "号极乐头随类义钱铁阳阴风飞马鸟龙齐边达运将组织数据环境调查级际传统传闻价湾韩庆气"
)
_HANT = frozenset(
    "們這說國會為時發對經過還進開關來個見長門問間東車語電話學覺實點當體與從後區華應無現業場"
    "濟議員記報導讓認識總統選舉戰爭軍隊醫療藥黨決機構網絡條約變歷樣線術務產動費幾權視聽書買賣"
    "號極樂頭隨類義錢鐵陽陰風飛馬鳥龍齊邊達運將組織數據環境調查級際傳統傳聞價灣韓慶氣"
)

# Groups of languages that fastText's small model confuses on short text; lingua, restricted
# to the group, decides inside it.
NORDIC = frozenset({"da", "no", "nn", "sv"})
LOW_FRANCONIAN = frozenset({"nl", "af"})
CONFUSABLE_GROUPS: tuple[frozenset[str], ...] = (NORDIC, LOW_FRANCONIAN)

# Words that occur in only some languages of a group; each one present adds a point to every
# language that has it, which lingua's confidences then weigh. Nordic: Bokmål/Danish
# "en/et/ikke/jeg" against Nynorsk "ein/eit/ikkje/eg", Danish "af/efter/hvad" against
# Norwegian "av/etter/hva", Swedish "och/inte/är". Afrikaans "die/nie/'n/vir" against Dutch
# "de/een/niet/voor".
_MARKER_WORDS = {
    "da": "af efter hvad blev havde været mellem nogle noget bliver siger tager giver ud uden uge "
    "lidt lige måske endnu gennem igennem mod blandt anden andet nyt fik gik vores sprog sig mig "
    "dig hun ikke jeg fra hele hvordan hvem hvorfor være flere mens bare kommer nu selv en et "
    "kaldet gået",
    "no": "ikke jeg hun fra hele hvordan hvem hvorfor være flere mens bare kommer etter av ut opp "
    "uten mot kanskje gjennom blant litt annen annet nytt seg meg deg hva noe noen mye vært ble "
    "sier hadde fikk gikk selv nå en et å kalt gått dersom",
    "nn": "ikkje eg ein eit frå dei desse noko nokon nokre mykje heile òg ho kjem berre fekk gjekk "
    "korleis kven kvifor vere vore blei vart seier fleire medan sjølv kva etter av ut opp utan mot "
    "kanskje gjennom blant litt nytt seg meg deg hadde no å kalla gått dersom",
    "sv": "och inte är också mycket från säger hade blev sig mig dig vad hur vid efter av ut utan "
    "mot nytt nu att en",
    "af": "die nie n vir word deur baie sal hulle hy sy ek jy julle nuwe gesê wees",
    "nl": "de een niet zijn wordt worden werd naar bij hij zij ik voor nieuwe veel heeft hebben "
    "deze door ze je zo",
}
# Word endings with the same role: -hed/-het/-heit, -tion/-sjon.
_MARKER_SUFFIXES = {
    "da": ("hed", "heden", "tion", "tionen"),
    "no": ("het", "heten", "sjon", "sjonen"),
    "nn": ("heit", "heita", "sjon", "sjonen"),
    "sv": ("het", "heten", "tion", "tionen"),
    "af": ("heid", "sie"),
    "nl": ("heid", "tie"),
}
_MARKERS = {code: frozenset(words.split()) for code, words in _MARKER_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")
# How much one marker word counts against lingua's log-confidence.
_MARKER_WEIGHT = 1.0

# fastText at least this sure, backed by this many more marker words than any rival in the
# group, skips lingua (on SIB-200 this halves lingua calls on paragraphs and changes no answer
# of the 15 main languages).
SURE = 0.5
SURE_MARGIN = 2.0
# A group member ranked second or third with this probability still brings its group in.
GROUP_PULL = 0.15
# fastText's cost grows with the text and this much names the language (or its group).
FASTTEXT_CHARS = 160

# Input tags that name the same language as one of our output codes.
_ALIASES = {
    "nb": "no",
    "nob": "no",
    "nno": "nn",
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "zh-cn": "zh",
    "zh-sg": "zh",
    "zh-hans": "zh",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hant": "zh-Hant",
}


@dataclass(frozen=True)
class LanguageGuess:
    """One backend's answer for one text: ``code`` is BCP-47 or ``und``."""

    code: str
    confidence: float
    method: str


class LanguageDetector(Protocol):
    """What every backend offers."""

    name: str

    def detect_batch(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[LanguageGuess]:
        """One guess per text; ``hints`` (same length, or None) are declared languages."""
        ...


@functools.lru_cache(maxsize=4096)
def normalise_code(tag: str | None) -> str | None:
    """A declared or detected language tag as one of our output codes, None if empty.

    ``en-US`` -> ``en``, ``nb-NO`` -> ``no``, ``zh-TW`` -> ``zh-Hant``, ``pt_BR`` -> ``pt``.
    """
    if not tag:
        return None
    tag = tag.strip().replace("_", "-").lower()
    if not tag:
        return None
    if tag in _ALIASES:
        return _ALIASES[tag]
    if tag.startswith("zh"):
        return "zh-Hant" if "hant" in tag or tag.endswith(("-tw", "-hk", "-mo")) else "zh"
    primary = tag.split("-", 1)[0]
    return _ALIASES.get(primary, primary)


def detection_text(title: str | None, lead: str | None = None, max_chars: int = MAX_CHARS) -> str:
    """Title and lead joined into the one line the detectors read, cut at a word boundary."""
    # twice the need before cleaning: a lead can be a whole body, links and spaces shrink it
    text = " ".join(part for part in (title, lead) if part)[: 2 * max_chars]
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    text = " ".join(text.split())  # one line: fastText reads up to a newline
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    return text


@functools.lru_cache(maxsize=65536)
def _char_script(ch: str) -> str | None:
    """The script of one letter (``Other`` outside our table), None for a non-letter."""
    if not ch.isalpha():
        return None
    for name, rx in _SCRIPT_RES.items():
        if rx.match(ch):
            return name
    return "Other"


def _dominant_script(text: str) -> str:
    """The script of most non-Latin letters, or ``Latin`` when they are a minority."""
    if not _NON_LATIN.search(text):
        return "Latin"
    counts: Counter[str] = Counter()
    for ch, n in Counter(text).items():  # each distinct character looked up once
        script = _char_script(ch)
        if script is not None:
            counts[script] += n
    letters = sum(counts.values())
    counts.pop("Other", None)
    # Japanese mixes Kana into Han: any real share of Kana makes it Japanese.
    if counts["Kana"] >= max(2, 0.1 * counts["Han"]):
        return "Kana"
    if not counts:
        return "Latin"
    name, count = counts.most_common(1)[0]
    return name if count * 2 >= letters else "Latin"


def _han_variant(text: str) -> str:
    hans = sum(ch in _HANS for ch in text)
    hant = sum(ch in _HANT for ch in text)
    return "zh-Hant" if hant > hans else "zh"


def _too_short(text: str) -> bool:
    return len(_LETTER.findall(text[:64])) < MIN_LETTERS


def _hinted(hints: Sequence[str | None] | None, count: int) -> list[str | None]:
    if hints is None:
        return [None] * count
    if len(hints) != count:
        raise ValueError(f"{len(hints)} hints for {count} texts")
    return [normalise_code(h) for h in hints]


def _finish(
    code: str | None, confidence: float, method: str, threshold: float = MIN_CONFIDENCE
) -> LanguageGuess:
    if not code or confidence < threshold:
        return LanguageGuess(UND, round(confidence, 4), method)
    return LanguageGuess(code, round(confidence, 4), method)


@functools.cache
def _fasttext_model():
    import fasttext

    # Shipped in core/data/ (CC BY-SA 3.0, see NOTICE); fasttext-predict only loads and predicts.
    path = importlib.resources.files("wirewatch.core") / "data" / "lid.176.ftz"
    with importlib.resources.as_file(path) as model_path:
        return fasttext.load_model(str(model_path))


@functools.cache
def _lingua_detector(codes: frozenset[str] | None):
    """lingua for ``codes`` (None: all its languages)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if codes is None:
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        iso = {"no": "NB"}
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(getattr(IsoCode639_1, iso.get(c, c.upper())) for c in sorted(codes))
        )
    if codes is not None:  # a small group loads in well under a second; all 75 would not
        builder = builder.with_preloaded_language_models()
    return builder.build()


@functools.cache
def _lingua_codes() -> frozenset[str]:
    from lingua import Language

    return frozenset(_lingua_code(language) for language in Language.all())


@functools.cache
def _fasttext_code(label: str) -> str:
    return normalise_code(label.removeprefix("__label__")) or UND


def _lingua_code(language) -> str:
    return normalise_code(language.iso_code_639_1.name) or UND


@functools.lru_cache(maxsize=200_000)
def _marked(word: str, group: frozenset[str]) -> tuple[str, ...]:
    """The members of ``group`` whose marker words (or endings) include ``word``."""
    return tuple(
        member for member in sorted(group)
        if word in _MARKERS.get(member, ())
        or (len(word) > 5 and word.endswith(_MARKER_SUFFIXES.get(member, ())))
    )


class _OneAtATime:
    """The batch loop and output rules of the backends that read one text at a time."""

    method: str
    threshold = MIN_CONFIDENCE

    def detect_batch(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[LanguageGuess]:
        _hinted(hints, len(texts))  # checked, but these backends take no prior
        out = []
        for text in texts:
            text = detection_text(text)
            if _too_short(text):
                out.append(LanguageGuess(UND, 0.0, "too-short"))
                continue
            code, p = self._best(text)
            out.append(_finish(code, p, self.method, self.threshold))
        return out

    def _best(self, text: str) -> tuple[str | None, float]:
        raise NotImplementedError


class FastTextDetector(_OneAtATime):
    """fastText's small language-ID model (176 languages), nothing else."""

    name = "fasttext"
    method = "fasttext-lid176"

    def __init__(self, top_k: int = 5) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.top_k = top_k

    def ranked(self, text: str) -> list[tuple[str, float]]:
        """(code, probability) best first; ``text`` must already be one prepared line."""
        labels, probs = _fasttext_model().predict(text, k=self.top_k)
        return [(_fasttext_code(label), float(p)) for label, p in zip(labels, probs, strict=True)]

    def _best(self, text: str) -> tuple[str | None, float]:
        return self.ranked(text)[0]


class LinguaDetector(_OneAtATime):
    """lingua over all its 75 languages, high-accuracy mode."""

    name = "lingua"
    method = "lingua-2"

    def _best(self, text: str) -> tuple[str | None, float]:
        best = _lingua_detector(None).compute_language_confidence_values(text)[0]
        return _lingua_code(best.language), best.value


class LangdetectDetector(_OneAtATime):
    """langdetect (Google's language-detection port) with a fixed seed, so deterministic."""

    name = "langdetect"
    method = "langdetect-1.0.9"
    # langdetect is sure of itself even on noise ("AAPL" is Tagalog at 0.9998): only a high
    # probability means something.
    threshold = 0.80

    # One lock for every instance: langdetect's state is process-global (the seed, and a profile
    # factory published before its profiles are loaded), and runners call detectors of
    # several DoFn instances from several threads of one worker.
    _lock = threading.Lock()

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def detect_batch(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[LanguageGuess]:
        from langdetect import DetectorFactory

        # DetectorFactory.seed is process-global state; hold it for the whole batch.
        with self._lock:
            DetectorFactory.seed = self.seed
            return super().detect_batch(texts, hints)

    def _best(self, text: str) -> tuple[str | None, float]:
        from langdetect import detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        try:
            top = detect_langs(text)[0]
        except LangDetectException:  # no usable features in the text
            return None, 0.0
        return normalise_code(top.lang), top.prob


class CascadeDetector:
    """Script, then fastText, then lingua inside a confusable group; the hint as a prior."""

    name = "cascade"

    def __init__(
        self,
        groups: Sequence[frozenset[str]] = CONFUSABLE_GROUPS,
        hint_min_probability: float = 0.05,
    ) -> None:
        self.groups = tuple(frozenset(g) for g in groups)
        self.hint_min_probability = hint_min_probability
        self._fasttext = FastTextDetector(top_k=8)

    def detect_batch(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[LanguageGuess]:
        return [self.detect(t, h) for t, h in zip(texts, _hinted(hints, len(texts)), strict=True)]

    def detect(self, text: str, hint: str | None = None) -> LanguageGuess:
        """One text; ``hint`` is an already normalised declared language or None."""
        text = detection_text(text)
        if _too_short(text):
            return LanguageGuess(UND, 0.0, "too-short")
        script = _dominant_script(text)
        if script == "Han":
            return LanguageGuess(_han_variant(text), 1.0, "cascade:script")
        if script in _SCRIPT_LANGUAGE:
            return LanguageGuess(_SCRIPT_LANGUAGE[script], 1.0, "cascade:script")
        ranked = self._fasttext.ranked(text[:FASTTEXT_CHARS])
        allowed = _SCRIPT_CANDIDATES.get(script)
        if allowed is not None:
            ranked = [(c, p) for c, p in ranked if c in allowed] or ranked
        code, p = ranked[0]
        method = "cascade:fasttext"
        group = self._group_for(ranked)
        if group is not None:
            code, p, method = self._within(group, text, code, p)
        if hint and hint != code:
            probability = dict(ranked).get(hint, 0.0)
            if (group is not None and hint in group) or probability >= self.hint_min_probability:
                return LanguageGuess(hint, round(max(p, 0.5), 4), "cascade:hint")
        return _finish(code, p, method)

    def _group_for(self, ranked: list[tuple[str, float]]) -> frozenset[str] | None:
        """The confusable group to decide in: fastText's answer's own, or one of whose
        members fastText ranks close behind (Afrikaans often comes out as German first);
        the answer itself then stays a candidate."""
        top = ranked[0][0]
        for group in self.groups:
            if top in group:
                return group
        if top not in _lingua_codes():
            return None
        for code, p in ranked[1:3]:
            for group in self.groups:
                if code in group and p >= GROUP_PULL:
                    return group | {top}
        return None

    @staticmethod
    def _within(group: frozenset[str], text: str, code: str, p: float) -> tuple[str, float, str]:
        """Decide inside ``group`` where fastText said ``code`` with probability ``p``.

        Marker words decide alone when they clearly back a confident fastText (most long
        texts); otherwise lingua, restricted to the group, weighs in with them.
        """
        markers = dict.fromkeys(group, 0.0)
        for word in _WORD.findall(text.lower()):
            for member in _marked(word, group):
                markers[member] += _MARKER_WEIGHT
        runner_up = max(v for k, v in markers.items() if k != code)
        if p >= SURE and markers[code] - runner_up >= SURE_MARGIN:
            return code, p, "cascade:fasttext+markers"
        detector = _lingua_detector(group)
        score = {
            _lingua_code(c.language): math.log(c.value + 0.1)
            for c in detector.compute_language_confidence_values(text)
        }
        for member in score:
            score[member] += markers.get(member, 0.0)
        best = max(sorted(score), key=score.__getitem__)
        # The combined scores are log-odds; their softmax is the confidence.
        total = sum(math.exp(value - score[best]) for value in score.values())
        return best, 1.0 / total, "cascade:lingua+markers"


BACKENDS = {
    "cascade": CascadeDetector,
    "fasttext": FastTextDetector,
    "lingua": LinguaDetector,
    "langdetect": LangdetectDetector,
}
DEFAULT_BACKEND = "cascade"


def make_detector(name: str = DEFAULT_BACKEND) -> LanguageDetector:
    """A detector by backend name; raises ValueError naming the choices otherwise."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown language backend {name!r}; one of {sorted(BACKENDS)}") from None
