"""Language identification of an article's title and lead (no Beam import)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["LanguageGuess", "detect_langdetect"]

#: Below this probability the answer is ``und``: a wrong language is worse than none.
THRESHOLD = 0.80


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float
    method: str


_LANGDETECT_CODES = {"zh-cn": "zh", "zh-tw": "zh-Hant", "nb": "no"}

# langdetect's state is process-global and not thread-safe (the profile factory is published
# before its profiles are loaded; the seed is a class attribute), and every runner but the
# FnApiRunner (Prism, Flink, Dataflow) runs bundles on several threads of one worker.
_LANGDETECT_LOCK = threading.Lock()


def detect_langdetect(text: str) -> LanguageGuess:
    """langdetect, seeded so the same text gets the same answer in every process."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    try:
        with _LANGDETECT_LOCK:
            DetectorFactory.seed = 0
            best = detect_langs(text)[0]
    except LangDetectException:
        return LanguageGuess("und", 0.0, "langdetect-1.0.9")
    if best.prob < THRESHOLD:
        return LanguageGuess("und", round(best.prob, 4), "langdetect-1.0.9")
    return LanguageGuess(_LANGDETECT_CODES.get(best.lang, best.lang), round(best.prob, 4),
                         "langdetect-1.0.9")
