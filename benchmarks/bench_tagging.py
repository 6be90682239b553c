"""Language and topic tagging: accuracy and speed, every backend side by side.

    python benchmarks/bench_tagging.py               # both tables (lingua/langdetect: ~3 min)
    python benchmarks/bench_tagging.py --language --fast    # cascade and fastText only
    python benchmarks/bench_tagging.py --topics

Language (``--sib``): SIB-200's dev and test splits (``data/annotated/<language>/{dev,test}.tsv``;
the n-gram judge of the cascade trains on train only, ``train_language.py``; ``--split dev,test``
gives one table a split: settings are chosen on dev, test is reported apart), per language:
"short" is a sentence cut to <= 60 characters on a word boundary, "lead" the sentence and the
next one (title + lead). By default the 21 languages of ``../shared/data/sib200/annotated``
(``$WIREWATCH_SHARED_DATA``); ``--sib <clone of SIB-200>/data/annotated`` measures every
language the judge knows. A second table: ``benchmarks/data/language_headlines.tsv``, 131
headlines with their lead in 38 languages written by the team for this benchmark (not news
copied from anywhere). Speed is short texts per CPU-second of this process (one core), the
median of ``--repeat`` runs after a warm-up, beside the load average.

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
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.train_language import LABELS, latin_serbian, sentences
from wirewatch.core.language import AFRICAN, BACKENDS, GROUPS, make_detector
from wirewatch.core.topics import IPTC_LABELS, KeywordTopicTagger, topic_text

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
SIB = SHARED / "sib200"
LABELLED = HERE / "data" / "topics_headlines.tsv"
OWN_HEADLINES = HERE / "data" / "language_headlines.tsv"
SHORT_CHARS = 60
# SIB-200 splits the language table reads: settings are chosen on dev, test is reported apart.
SPLITS = ("dev", "test")
# The 21 languages of ../shared/data/sib200 (SIB-200 folder -> our code).
SHARED_LANGUAGES = {
    "eng_Latn": "en", "deu_Latn": "de", "fra_Latn": "fr", "spa_Latn": "es", "ita_Latn": "it",
    "nld_Latn": "nl", "swe_Latn": "sv", "dan_Latn": "da", "nob_Latn": "no", "por_Latn": "pt",
    "pol_Latn": "pl", "rus_Cyrl": "ru", "arb_Arab": "ar", "tur_Latn": "tr", "zho_Hans": "zh",
    "nno_Latn": "nn", "afr_Latn": "af", "ukr_Cyrl": "uk", "cat_Latn": "ca", "glg_Latn": "gl",
    "zho_Hant": "zh-Hant",
}
SHARED_ROWS = frozenset(SHARED_LANGUAGES.values())
GROUP_ROWS = frozenset({"sr (Latn)", "sr (Cyrl)"} | {c for g in GROUPS.values() for c in g})
AFRICAN_ROWS = frozenset(AFRICAN)

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


def _sib_languages(sib: Path) -> dict[str, tuple[str, str]]:
    """Row name -> (expected code, SIB-200 folder), for every language present under ``sib``."""
    rows = {label: (label, flores) for label, flores in LABELS.items()}
    rows["sr (Latn)"] = rows.pop("sr")
    rows["sr (Cyrl)"] = ("sr", rows.pop("sr-Cyrl")[1])
    rows.update({code: (code, flores) for flores, code in SHARED_LANGUAGES.items()})
    return {row: value for row, value in rows.items() if (sib / value[1]).is_dir()}


def _cut(text: str, limit: int = SHORT_CHARS) -> str:
    """A headline-length prefix: whole words up to ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit]


def language_test_set(sib: Path, sample: int | None = None, splits: tuple[str, ...] = SPLITS
                      ) -> dict[str, tuple[str, list[str], list[str]]]:
    """Row name -> (expected code, short texts, leads) from SIB-200's dev and/or test splits
    (the n-gram judge trains on train). Short: a sentence cut to <= 60 characters; lead: the
    sentence and the next one of the same splits, as title + lead."""
    out = {}
    for row, (code, flores) in _sib_languages(sib).items():
        texts = [t for _, t in sorted(s for split in splits for s in sentences(sib, flores, split))]
        if row == "sr (Latn)":
            texts = [latin_serbian(t) for t in texts]
        leads = [f"{t} {n}" for t, n in zip(texts, texts[1:] + texts[:1], strict=True)]
        out[row] = (code, [_cut(t) for t in texts][:sample], leads[:sample])
    return out


def own_headlines() -> dict[str, tuple[str, list[str], list[str]]]:
    """Row name -> (code, headlines, headline + lead) from the team's own set."""
    rows: dict[str, tuple[str, list[str], list[str]]] = {}
    with OWN_HEADLINES.open(encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            _, short, leads = rows.setdefault(r["lang"], (r["lang"], [], []))
            short.append(r["title"])
            leads.append(f"{r['title']} {r['lead']}")
    return dict(sorted(rows.items()))


def language_table(backends: list[str], repeat: int, sib: Path, sample: int | None,
                   splits: list[str]) -> None:
    first = "" if sample is None else f", first {sample} a language"
    corpora = {
        f"SIB-200 {split} ({sib}{first})": language_test_set(sib, sample,
                                                            tuple(split.split("+")))
        for split in splits
    }
    corpora[f"own headlines ({OWN_HEADLINES.name}, written by the team)"] = own_headlines()
    for title, data in corpora.items():
        _language_corpus(title, data, backends, repeat)


def _language_corpus(title: str, data: dict, backends: list[str], repeat: int) -> None:
    accuracy: dict[tuple[str, str, str], float] = {}
    speed = {}
    for name in backends:
        detector = make_detector(name)
        for kind, slot in (("short", 1), ("lead", 2)):
            texts = [t for row in data.values() for t in row[slot]]
            codes = iter(g.code for g in detector.detect_batch(texts))
            for row, item in data.items():
                got = [next(codes) for _ in item[slot]]
                accuracy[(name, kind, row)] = 100 * sum(c == item[0] for c in got) / len(got)
            if kind == "short":
                speed[name] = _speed(detector.detect_batch, texts, repeat if name in FAST else 1)
    print(f"## Language identification: {title}; accuracy % short (<= {SHORT_CHARS} chars) / "
          f"lead (two sentences); load {os.getloadavg()[0]:.1f}\n")
    print("| language | n | " + " | ".join(f"{b} short | {b} lead" for b in backends) + " |")
    print("|---|---:|" + "---:|---:|" * len(backends))
    for row, item in data.items():
        cells = " | ".join(f"{accuracy[(b, k, row)]:.1f}" for b in backends
                           for k in ("short", "lead"))
        print(f"| {row} | {len(item[1])} | {cells} |")
    subsets = {"group languages": [r for r in data if r in GROUP_ROWS],
               "African": [r for r in data if r in AFRICAN_ROWS],
               "the 21 of ../shared/data/sib200": [r for r in data if r in SHARED_ROWS],
               "all": list(data)}
    for subset, rows in subsets.items():
        if rows:
            cells = " | ".join(
                f"{statistics.mean(accuracy[(b, k, r)] for r in rows):.1f}"
                for b in backends for k in ("short", "lead"))
            print(f"| **macro, {subset}** | {len(rows)} | {cells} |")
    print("| **short texts/s on one core** | | "
          + " | ".join(f"{speed[b]:,.0f} | " for b in backends) + " |\n")


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
    parser.add_argument("--sib", type=Path, default=SIB / "annotated",
                        help="SIB-200's data/annotated folder for the language table (default: "
                        "the 21 languages in ../shared/data; a clone of SIB-200 has them all)")
    parser.add_argument("--split", default="dev+test",
                        help="comma-separated SIB-200 splits for the language table, each its "
                        "own table: dev, test or dev+test (settings are chosen on dev)")
    parser.add_argument("--sample", type=int, help="only the first N texts of each language "
                        "(in Flores id order; lingua and langdetect take minutes on all 93)")
    args = parser.parse_args()
    if not SIB.is_dir():
        raise SystemExit(f"SIB-200 data not found at {SIB}: set WIREWATCH_SHARED_DATA")
    both = not (args.language or args.topics)
    if args.language or both:
        backends = ["cascade", "fasttext"] + ([] if args.fast else ["lingua", "langdetect"])
        assert set(backends) <= set(BACKENDS)
        splits = args.split.split(",")
        if not set(splits) <= {"dev", "test", "dev+test"}:
            parser.error(f"--split: dev, test or dev+test, not {args.split!r}")
        language_table(backends, args.repeat, args.sib, args.sample, splits)
    if args.topics or both:
        topic_tables(args.repeat)


if __name__ == "__main__":
    main()
