"""Language and topic tagging: accuracy and speed, every backend side by side.

    python benchmarks/bench_tagging.py               # both tables (lingua/langdetect: ~3 min)
    python benchmarks/bench_tagging.py --language --fast    # cascade and fastText only
    python benchmarks/bench_tagging.py --topics

Language: ``../shared/data/sib200/`` (``$WIREWATCH_SHARED_DATA``) paragraphs and 60-character
"headlines" in 21 languages. Accuracy is over the 15 main languages (en de fr es it nl sv da no
pt pl ru ar tr zh), as the targets are; "held-out" counts only sentences of SIB-200's dev and
test splits (the marker words of the cascade were chosen looking at train-split errors only);
"extra" is the 6 confusable extras (nn af uk ca gl zh-Hant). Speed is texts per CPU-second of
this process (one core), the median of ``--repeat`` runs after a warm-up.

Topics: (a) the held-out news set ``benchmarks/data/topics/eval.tsv`` (written by the team, 29
languages, never used to train or tune anything; see its README), headline alone and headline +
lead, for the learned model, the keyword definitions and a TF-IDF + logistic regression fitted on
the team's training items; (b) SIB-200's test split of the 21 languages in shared data (the
learned model trained on SIB-200's train split only); (c) speed, with language detection.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
import zlib
from collections import Counter
from pathlib import Path

from wirewatch.core.language import BACKENDS, make_detector
from wirewatch.core.topic_model import LearnedTopicTagger
from wirewatch.core.topics import IPTC_LABELS, KeywordTopicTagger, Topic, topic_text

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
SIB = SHARED / "sib200"
TOPIC_EVAL = HERE / "data" / "topics" / "eval.tsv"
TOPIC_TRAIN = [HERE / "data" / "topics" / "train.tsv", HERE / "data" / "topics_headlines.tsv"]

# The SIB-200 folders in shared data and the language code a detector would give each.
FLORES_CODES = {
    "afr_Latn": "af", "arb_Arab": "ar", "cat_Latn": "ca", "dan_Latn": "da", "deu_Latn": "de",
    "eng_Latn": "en", "fra_Latn": "fr", "glg_Latn": "gl", "ita_Latn": "it", "nld_Latn": "nl",
    "nno_Latn": "nn", "nob_Latn": "no", "pol_Latn": "pl", "por_Latn": "pt", "rus_Cyrl": "ru",
    "spa_Latn": "es", "swe_Latn": "sv", "tur_Latn": "tr", "ukr_Cyrl": "uk", "zho_Hans": "zh",
    "zho_Hant": "zh-Hant",
}
SIB_TO_IPTC = {
    "science/technology": "medtop:13000000", "politics": "medtop:11000000",
    "sports": "medtop:15000000", "health": "medtop:07000000",
    "entertainment": "medtop:01000000", "travel": "medtop:10000000",
}


def _unquote(text: str) -> str:
    """Undo the upstream CSV quoting (once or twice) of texts that contain a quotation mark."""
    for _ in range(2):
        if len(text) > 1 and text[0] == '"' and text[-1] == '"':
            text = text[1:-1].replace('""', '"')
    return text


def _splits() -> dict[int, str]:
    split = {}
    for name in ("train", "dev", "test"):
        with (SIB / "annotated" / "eng_Latn" / f"{name}.tsv").open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row[0] != "index_id":
                    split[int(row[0])] = name
    return split


def _jsonl(name: str) -> list[dict]:
    with (SIB / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _speed(run, texts: list, repeat: int) -> float:
    run(texts[: max(1, len(texts) // 20)])  # warm-up: models load, memo tables fill
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run(texts)
        times.append(time.process_time() - start)
    return len(texts) / statistics.median(times)


def language_table(backends: list[str], repeat: int) -> None:
    split = _splits()
    data = {"paragraphs": _jsonl("paragraphs.jsonl"), "headlines": _jsonl("headlines.jsonl")}
    print("## Language identification (SIB-200; accuracy %, speed texts/s on one core)\n")
    print("| backend | kind | core acc | core held-out | extra acc | und % | speed | "
          "top confusions (core) |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name in backends:
        detector = make_detector(name)
        for kind, records in data.items():
            texts = [r["text"] for r in records]
            speed = _speed(detector.detect_batch, texts, repeat if name in FAST else 1)
            _language_row(name, kind, detector.detect_batch(texts), records, split, speed)
            if name == "cascade":  # the feed's declared language as the prior
                hints = [r["lang"] for r in records]
                _language_row("cascade + feed language", kind,
                              detector.detect_batch(texts, hints), records, split, None)
    print()


def _language_row(name, kind, guesses, records, split, speed) -> None:
    core = [(g.code, r) for g, r in zip(guesses, records, strict=True) if r["core"]]
    held = [(c, r) for c, r in core if split[r["ids"][0]] != "train"]
    extra = [(g.code, r) for g, r in zip(guesses, records, strict=True) if not r["core"]]

    def acc(pairs):
        return 100 * sum(c == r["lang"] for c, r in pairs) / len(pairs)

    und = 100 * sum(c == "und" for c, _ in core) / len(core)
    wrong = Counter(f"{r['lang']}→{c}" for c, r in core if c != r["lang"])
    top = ", ".join(f"{k} {v}" for k, v in wrong.most_common(4))
    shown = "" if speed is None else f"{speed:,.0f}"
    print(f"| {name} | {kind} | {acc(core):.2f} | {acc(held):.2f} | {acc(extra):.2f} | "
          f"{und:.2f} | {shown} | {top} |")


def _topic_items(path: Path) -> list[tuple[str, set[str], str, str]]:
    """(language, gold codes, headline, headline + lead) of a team-written TSV."""
    with path.open(encoding="utf-8") as f:
        return [(row["lang"], {f"medtop:{c}000000" for c in row["topics"].split(",")},
                 row["title"], topic_text(row["title"], row["lead"]))
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


class _TfidfLogistic:
    """The baseline a user would try first: TF-IDF (hashed words and character 3-grams) and a
    softmax logistic regression, fitted on the team's training headlines and leads only."""

    name = "tfidf-lr"
    dims = 1 << 14

    def __init__(self, texts: list[str], gold: list[str]) -> None:
        import numpy as np

        self.np = np
        self.codes = sorted(set(gold))
        x = self._counts(texts)
        self.idf = np.log((1 + len(texts)) / (1 + (x > 0).sum(axis=0))) + 1
        x = self._weighted(x)
        y = np.zeros((len(texts), len(self.codes)), dtype=np.float32)
        y[np.arange(len(texts)), [self.codes.index(g) for g in gold]] = 1
        self.w = np.zeros((self.dims, len(self.codes)), dtype=np.float32)
        for _ in range(300):  # full-batch gradient descent, L2 1e-4
            p = self._softmax(x @ self.w)
            self.w -= 2.0 * (x.T @ (p - y) / len(texts) + 1e-4 * self.w)

    def _counts(self, texts: list[str]):
        x = self.np.zeros((len(texts), self.dims), dtype=self.np.float32)
        for i, text in enumerate(texts):
            text = text.lower()
            grams = text.split() + [text[j:j + 3] for j in range(len(text) - 2)]
            for g in grams:
                x[i, zlib.crc32(g.encode()) % self.dims] += 1
        return x

    def _weighted(self, x):
        x = self.np.log1p(x) * self.idf
        return x / (self.np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)

    def _softmax(self, z):
        z = self.np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def tag_batch(self, texts: list[str], languages: list) -> list[list[Topic]]:
        best = (self._weighted(self._counts(texts)) @ self.w).argmax(axis=1)
        return [[Topic(self.codes[b], IPTC_LABELS[self.codes[b]], 1.0)] for b in best]


def _top1(tagger, texts: list[str], languages: list[str], gold: list[set[str]]):
    """Per text: (right, has a topic) of the best topic."""
    out = tagger.tag_batch(texts, languages)
    return [(bool(ts) and ts[0].code in g, bool(ts)) for ts, g in zip(out, gold, strict=True)]


def _pct(flags: list[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.1f}" if flags else "-"


def topic_tables(repeat: int) -> None:
    train = [i for path in TOPIC_TRAIN for i in _topic_items(path)]
    baseline = _TfidfLogistic([t for i in train for t in (i[2], i[3])],
                              [min(i[1]) for i in train for _ in (0, 1)])
    taggers = [LearnedTopicTagger(), KeywordTopicTagger(), baseline]
    held = _topic_items(TOPIC_EVAL)
    languages = [i[0] for i in held]
    gold = [i[1] for i in held]
    print(f"## Topics: {len(held)} held-out news items ({TOPIC_EVAL.name}, written by the team, "
          f"{len(set(languages))} languages, never used to train or tune)\n")
    print("Top-1 % (the best topic is one of the item's topics) on the headline alone (h) and on "
          "headline + lead (h+l); cov: % of headlines with a topic.\n")
    head = " | ".join(f"{t.name} h | {t.name} h+l | {t.name} cov" for t in taggers)
    print(f"| language | n | {head} |\n|---|---:|" + "---:|" * (3 * len(taggers)))
    results = {}
    for t in taggers:
        results[t.name] = (_top1(t, [i[2] for i in held], languages, gold),
                           _top1(t, [i[3] for i in held], languages, gold))
    for language in ["all", *sorted(set(languages))]:
        rows = [k for k, lang in enumerate(languages) if language in ("all", lang)]
        cells = []
        for t in taggers:
            h, hl = results[t.name]
            cells += [_pct([h[k][0] for k in rows]), _pct([hl[k][0] for k in rows]),
                      _pct([h[k][1] for k in rows])]
        print(f"| {language} | {len(rows)} | " + " | ".join(cells) + " |")
    print()
    _sib_table(taggers)
    _topic_speed(held, repeat)


def _sib_table(taggers) -> None:
    """Top-1 on SIB-200's test split (the learned model trained on train, calibrated on dev)."""
    items = []
    for lang_dir in sorted((SIB / "annotated").iterdir()):
        language = FLORES_CODES.get(lang_dir.name)
        with (lang_dir / "test.tsv").open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row[0] != "index_id" and row[1] in SIB_TO_IPTC:
                    items.append((language, {SIB_TO_IPTC[row[1]]}, _unquote(row[2])))
    print(f"### SIB-200 test split, {len(items)} sentences in {len(FLORES_CODES)} languages "
          "(its 6 labels that map to IPTC; geography left out): top-1 %\n")
    print("| " + " | ".join(t.name for t in taggers) + " |\n|" + "---:|" * len(taggers))
    cells = [_pct([r for r, _ in _top1(t, [i[2] for i in items], [i[0] for i in items],
                                       [i[1] for i in items])]) for t in taggers]
    print("| " + " | ".join(cells) + " |\n")


def _topic_speed(held, repeat: int) -> None:
    articles = [(i[3], i[0]) for i in held] * 10
    detector = make_detector("cascade")
    learned, keywords = LearnedTopicTagger(), KeywordTopicTagger()

    def both(batch):  # what Tag does: language first, then topics in that language
        codes = [g.code for g in detector.detect_batch([t for t, _ in batch])]
        learned.tag_batch([t for t, _ in batch], codes)

    print("| headline + lead (held-out set x10), one core | articles/s |\n|---|---:|")
    for name, tagger in (("learned-1 topics", learned), ("keywords-1 topics", keywords)):
        speed = _speed(lambda b, tg=tagger: tg.tag_batch([t for t, _ in b], [x for _, x in b]),
                       articles, repeat)
        print(f"| {name} | {speed:,.0f} |")
    print(f"| cascade language + learned-1 topics | {_speed(both, articles, repeat):,.0f} |")
    print(f"\nload average {os.getloadavg()[0]:.2f}\n")


FAST = {"cascade", "fasttext"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--language", action="store_true", help="language table only")
    parser.add_argument("--topics", action="store_true", help="topic tables only")
    parser.add_argument("--fast", action="store_true", help="skip lingua and langdetect (slow)")
    parser.add_argument("--repeat", type=int, default=3, help="speed runs; the median counts")
    args = parser.parse_args()
    if not SIB.is_dir():
        raise SystemExit(f"SIB-200 data not found at {SIB}: set WIREWATCH_SHARED_DATA")
    both = not (args.language or args.topics)
    if args.language or both:
        backends = ["cascade", "fasttext"] + ([] if args.fast else ["lingua", "langdetect"])
        assert set(backends) <= set(BACKENDS)
        language_table(backends, args.repeat)
    if args.topics or both:
        topic_tables(args.repeat)


if __name__ == "__main__":
    main()
