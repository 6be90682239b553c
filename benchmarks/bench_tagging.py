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

Topics: (a) the SIB-200 sentences (all splits) of the 12 topic languages, with SIB's labels
mapped to IPTC where they map; a prediction of an unmapped topic on a mapped sentence is neither
counted right nor wrong, geography sentences only feed the confusion table; (b) our labelled
headlines and leads in ``benchmarks/data/topics_headlines.tsv`` (written by the team, 20+ per
topic in 9 languages, several topics allowed per item).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

from wirewatch.core.language import BACKENDS, make_detector
from wirewatch.core.topics import IPTC_LABELS, KeywordTopicTagger, topic_text

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
SIB = SHARED / "sib200"
LABELLED = HERE / "data" / "topics_headlines.tsv"

TOPIC_LANGUAGES = {
    "eng_Latn": "en", "deu_Latn": "de", "fra_Latn": "fr", "spa_Latn": "es", "ita_Latn": "it",
    "nld_Latn": "nl", "swe_Latn": "sv", "dan_Latn": "da", "nob_Latn": "no", "por_Latn": "pt",
    "pol_Latn": "pl", "rus_Cyrl": "ru",
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


def _pr(tp: Counter, fp: Counter, fn: Counter, key) -> str:
    p = tp[key] / (tp[key] + fp[key]) if tp[key] + fp[key] else float("nan")
    r = tp[key] / (tp[key] + fn[key]) if tp[key] + fn[key] else float("nan")
    return f"{100 * p:.0f} | {100 * r:.0f}"


def _score(items, tagger) -> tuple[Counter, Counter, Counter, Counter]:
    """items: (language, gold codes, judged codes, text, gold name); counts per language and
    topic, and the confusion of gold name -> best predicted topic."""
    tp, fp, fn, confusion = Counter(), Counter(), Counter(), Counter()
    for language, gold, judged, text, name in items:
        predicted = [t.code for t in tagger.tag(text, language)]
        confusion[(name, predicted[0][7:9] if predicted else "-")] += 1
        for code in gold:
            hit = code in predicted
            for key in (language, code, "all"):
                (tp if hit else fn)[key] += 1
        for code in predicted:
            if code in judged and code not in gold:
                for key in (language, code, "all"):
                    fp[key] += 1
    return tp, fp, fn, confusion


def _print_scores(title: str, items, tagger, codes) -> None:
    tp, fp, fn, confusion = _score(items, tagger)
    print(f"### {title}: precision | recall (%)\n")
    languages = sorted({i[0] for i in items})
    print("| " + " | ".join(["all", *languages]) + " |")
    print("|" + "---:|" * (len(languages) + 1))
    print("| " + " | ".join(_pr(tp, fp, fn, k).replace(" | ", "/") for k in ["all", *languages])
          + " |\n")
    print("| topic | P | R |\n|---|---:|---:|")
    for code in codes:
        print(f"| {code[7:9]} {IPTC_LABELS[code]} | {_pr(tp, fp, fn, code)} |")
    names = sorted({i[4] for i in items})
    cols = sorted({c for _, c in confusion})
    print("\nConfusion: gold -> best predicted topic ('-' = none)\n\n| gold | "
          + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols))
    for name in names:
        print(f"| {name} | " + " | ".join(str(confusion[(name, c)] or "") for c in cols) + " |")
    print()


def topic_tables(repeat: int) -> None:
    tagger = KeywordTopicTagger()
    print(f"## Topics (tagger {tagger.name}, threshold {tagger.threshold})\n")
    judged = set(SIB_TO_IPTC.values())
    sib = []
    for flores, language in TOPIC_LANGUAGES.items():
        for name in ("train", "dev", "test"):
            path = SIB / "annotated" / flores / f"{name}.tsv"
            with path.open(encoding="utf-8") as f:
                for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                    if row[0] == "index_id":
                        continue
                    gold = {SIB_TO_IPTC[row[1]]} if row[1] in SIB_TO_IPTC else set()
                    sib.append((language, gold, judged, _unquote(row[2]), row[1]))
    _print_scores("(a) SIB-200 sentences, SIB labels mapped to IPTC", sib, tagger,
                  sorted(judged))
    labelled = []
    with LABELLED.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            gold = {f"medtop:{c}000000" for c in row["topics"].split(",")}
            labelled.append((row["lang"], gold, set(IPTC_LABELS),
                             topic_text(row["title"], row["lead"]), row["topics"][:2]))
    _print_scores("(b) labelled headlines + leads", labelled, tagger, sorted(IPTC_LABELS))
    articles = [(i[3], i[0]) for i in labelled] * 20
    paragraphs = [(r["text"], r["lang"]) for r in _jsonl("paragraphs.jsonl")]
    paragraphs = [p for p in paragraphs if tagger.supports(p[1])]

    def run(batch):
        tagger.tag_batch([t for t, _ in batch], [lang for _, lang in batch])

    print("| input | articles/s on one core |\n|---|---:|")
    print(f"| headline + lead (labelled set x20) | {_speed(run, articles, repeat):,.0f} |")
    print(f"| SIB paragraphs (~350 chars) | {_speed(run, paragraphs, repeat):,.0f} |\n")


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
