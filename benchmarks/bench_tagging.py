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
language the judge knows. Then the dev split of the team's own news items
(``train_language.news_items``: headline / headline + lead; the judge trains on the rest), and
with ``--ntrex <clone of NTREX>``, the dev documents of NTREX-128 (news in the 62 languages of
the judge that it has, ``train_language.NTREX_FILES``; the judge trains on the other documents),
short and lead as for SIB-200; and ``benchmarks/data/language_headlines.tsv``, 131 headlines with
their lead in 41 languages written by the team for this benchmark (not news copied from
anywhere, never trained on).
Speed is short texts per CPU-second of this process (one core), the median of ``--repeat`` runs
after a warm-up, beside the load average.

Topics: (a) the held-out news set ``benchmarks/data/topics/eval.tsv`` (written by the team, 29
languages, never used to train or tune anything; see its README), headline alone and headline +
lead, for the learned tagger (and its model alone, without the keyword fallback), the keyword
definitions and a TF-IDF + logistic regression fitted on the team's training items; (b)
SIB-200's test split of the 21 languages in shared data (the learned model trained on SIB-200's
train split only); (c) speed, with language detection.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.train_language import (
    LABELS,
    NTREX_FILES,
    latin_serbian,
    news_items,
    ntrex_sentences,
    sentences,
)
from benchmarks.train_topics import TEAM as TOPIC_TRAIN
from wirewatch.core.language import AFRICAN, BACKENDS, GROUPS, make_detector
from wirewatch.core.topic_model import LearnedTopicTagger
from wirewatch.core.topics import IPTC_LABELS, KeywordTopicTagger, Topic, topic_text

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
SIB = SHARED / "sib200"
TOPIC_EVAL = HERE / "data" / "topics" / "eval.tsv"
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
# The judge's two Serbian labels as table rows (both answer ``sr``).
SERBIAN_ROWS = {"sr": "sr (Latn)", "sr-Cyrl": "sr (Cyrl)"}
GROUP_ROWS = frozenset({"sr (Latn)", "sr (Cyrl)"} | {c for g in GROUPS.values() for c in g})
AFRICAN_ROWS = frozenset(AFRICAN)

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
    for label, row in SERBIAN_ROWS.items():
        rows[row] = ("sr", rows.pop(label)[1])
    rows.update({code: (code, flores) for flores, code in SHARED_LANGUAGES.items()})
    return {row: value for row, value in rows.items() if (sib / value[1]).is_dir()}


def _cut(text: str, limit: int = SHORT_CHARS) -> str:
    """A headline-length prefix: whole words up to ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit]


def _short_and_leads(texts: list[str]) -> tuple[list[str], list[str]]:
    """Each sentence cut to a headline (``_cut``), and each with the next one as title + lead
    (the last with the first)."""
    leads = [f"{t} {n}" for t, n in zip(texts, texts[1:] + texts[:1], strict=True)]
    return [_cut(t) for t in texts], leads


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
        short, leads = _short_and_leads(texts)
        out[row] = (code, short[:sample], leads[:sample])
    return out


def ntrex_dev(ntrex: Path) -> dict[str, tuple[str, list[str], list[str]]]:
    """Row name -> (expected code, short texts, leads) from NTREX-128's dev documents, built as
    ``language_test_set`` builds SIB-200's."""
    out = {}
    for label in NTREX_FILES:
        short, leads = _short_and_leads(ntrex_sentences(ntrex, label, "dev"))
        out[SERBIAN_ROWS.get(label, label)] = (label.split("-", 1)[0], short, leads)
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


def team_news_dev() -> dict[str, tuple[str, list[str], list[str]]]:
    """Row name -> (code, headlines, headline + lead) of the team's news items in their dev
    split (``train_language.news_items``; the n-gram judge trains on the rest); Serbian is
    written in Cyrillic there, its Latin row transliterated as in training."""
    rows: dict[str, tuple[str, list[str], list[str]]] = {}
    for code, title, lead in news_items("dev"):
        _, short, leads = rows.setdefault("sr (Cyrl)" if code == "sr" else code, (code, [], []))
        short.append(title)
        leads.append(lead)
    if "sr (Cyrl)" in rows:
        _, short, leads = rows["sr (Cyrl)"]
        rows["sr (Latn)"] = ("sr", [latin_serbian(t) for t in short],
                             [latin_serbian(t) for t in leads])
    return dict(sorted(rows.items()))


def language_table(backends: list[str], repeat: int, sib: Path, sample: int | None,
                   splits: list[str], ntrex: Path | None = None) -> None:
    first = "" if sample is None else f", first {sample} a language"
    corpora = {
        f"SIB-200 {split} ({sib}{first})": language_test_set(sib, sample,
                                                            tuple(split.split("+")))
        for split in splits
    }
    if ntrex is not None:
        corpora[f"NTREX-128 news, its dev documents ({ntrex})"] = ntrex_dev(ntrex)
    corpora["the team's news items, their dev split (never trained on)"] = team_news_dev()
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


def _topic_items(path: Path) -> list[tuple[str, set[str], str, str]]:
    """(language, gold codes, headline, headline + lead) of a team-written TSV."""
    with path.open(encoding="utf-8") as f:
        return [(row["lang"], {f"medtop:{c}000000" for c in row["topics"].split(",")},
                 row["title"], topic_text(row["title"], row["lead"]))
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


class _TfidfLogistic:
    """The baseline a user would try first: TF-IDF (hashed words and character 3-grams) and a
    softmax logistic regression (L-BFGS), fitted on the team's training headlines and leads
    only (the learned model's team data, dev split included)."""

    name = "tfidf-lr"
    dims = 1 << 16

    def __init__(self, texts: list[str], gold: list[str]) -> None:
        import numpy as np

        self.np = np
        self.codes = sorted(set(gold))
        x = self._counts(texts)
        self.idf = np.log((1 + len(texts)) / (1 + np.bincount(x.indices, minlength=self.dims)))
        self.idf += 1
        x = self._weighted(x)
        y = np.zeros((len(texts), len(self.codes)))
        y[np.arange(len(texts)), [self.codes.index(g) for g in gold]] = 1
        from scipy.optimize import minimize

        def loss(flat):  # mean cross-entropy + L2 1e-4, and its gradient
            w = flat.reshape(self.dims, len(self.codes))
            p = self._softmax(x @ w)
            value = -np.log(p[y > 0] + 1e-12).mean() + 0.5e-4 * (flat @ flat)
            return value, (x.T @ (p - y) / len(texts)).ravel() + 1e-4 * flat

        fit = minimize(loss, np.zeros(self.dims * len(self.codes)), jac=True,
                       method="L-BFGS-B", options={"maxiter": 300})
        self.w = fit.x.reshape(self.dims, len(self.codes))

    def _counts(self, texts: list[str]):
        from scipy.sparse import csr_matrix  # scipy: a dev dependency (through datasketch)

        rows, cols = [], []
        for i, text in enumerate(texts):
            text = text.lower()
            grams = text.split() + [text[j:j + 3] for j in range(len(text) - 2)]
            cols += [zlib.crc32(g.encode()) % self.dims for g in grams]
            rows += [i] * len(grams)
        x = csr_matrix((self.np.ones(len(cols), dtype=self.np.float32), (rows, cols)),
                       shape=(len(texts), self.dims))
        x.sum_duplicates()
        return x

    def _weighted(self, x):
        x = x.log1p().multiply(self.idf.astype(self.np.float32)).tocsr()
        norms = self.np.sqrt(x.multiply(x).sum(axis=1)).A1 + 1e-9
        return x.multiply(1 / norms[:, None]).tocsr()

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
    model_alone = LearnedTopicTagger(keyword_fallback=False)
    model_alone.name = "model alone"  # learned-1 without its keyword fallback
    taggers = [LearnedTopicTagger(), model_alone, KeywordTopicTagger(), baseline]
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
        language = SHARED_LANGUAGES.get(lang_dir.name)
        with (lang_dir / "test.tsv").open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row[0] != "index_id" and row[1] in SIB_TO_IPTC:
                    items.append((language, {SIB_TO_IPTC[row[1]]}, _unquote(row[2])))
    print(f"### SIB-200 test split, {len(items)} sentences in {len(SHARED_LANGUAGES)} languages "
          "(its 6 labels that map to IPTC; geography left out): top-1 %\n")
    print("| " + " | ".join(t.name for t in taggers) + " |\n|" + "---:|" * len(taggers))
    cells = [_pct([r for r, _ in _top1(t, [i[2] for i in items], [i[0] for i in items],
                                       [i[1] for i in items])]) for t in taggers]
    print("| " + " | ".join(cells) + " |\n")


def _topic_speed(held, repeat: int) -> None:
    """Articles per CPU-second of what Tag does (language first, then topics in it), beside
    each part alone; one run, medians."""
    texts = [i[3] for i in held] * 10
    languages = [i[0] for i in held] * 10
    detector = make_detector("cascade")

    def language(batch):
        return [g.code for g in detector.detect_batch(batch)]

    runs = {"cascade language alone": language}
    for tagger in (LearnedTopicTagger(), KeywordTopicTagger()):
        runs[f"{tagger.name} topics alone (known language)"] = (
            lambda b, tg=tagger: tg.tag_batch(b, languages[: len(b)]))
        runs[f"cascade language + {tagger.name} topics"] = (
            lambda b, tg=tagger: tg.tag_batch(b, language(b)))
    print("| headline + lead (held-out set x10), one core | articles/s |\n|---|---:|")
    for name, run in runs.items():
        print(f"| {name} | {_speed(run, texts, repeat):,.0f} |")
    print(f"\nload average {os.getloadavg()[0]:.2f}\n")


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
    parser.add_argument("--ntrex", type=Path,
                        help="a clone of NTREX: adds its dev documents (news in 62 of the judge's "
                        "languages; the judge trains on the others) to the language table")
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
        if args.ntrex is not None and not (args.ntrex / "DOCUMENT_IDS.tsv").is_file():
            parser.error(f"--ntrex: no DOCUMENT_IDS.tsv in {args.ntrex}; give a clone of "
                         "github.com/MicrosoftTranslator/NTREX")
        language_table(backends, args.repeat, args.sib, args.sample, splits, args.ntrex)
    if args.topics or both:
        topic_tables(args.repeat)


if __name__ == "__main__":
    main()
