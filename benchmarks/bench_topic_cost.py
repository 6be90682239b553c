"""What topic tagging and Tag's core work cost per article, one text at a time and in batches,
beside another checkout of wirewatch measured in the same run.

    python benchmarks/bench_topic_cost.py                      # this checkout alone
    git worktree add /tmp/wirewatch-main main
    python benchmarks/bench_topic_cost.py --against /tmp/wirewatch-main --repeat 5
    python benchmarks/bench_topic_cost.py --against /tmp/wirewatch-main --pipeline --repeat 6
    python benchmarks/bench_topic_cost.py --against /tmp/wirewatch-main --language --repeat 7

Per article, CPU time of this process (one core), for batches of 1 (a streaming bundle of one),
10 and 256 (Tag's default batch): the learned topic tagger's ``tag_batch`` (each text in its own
language) and Tag's ``tag_events`` (the cascade's language, then topics, as the pipeline calls
them), on (a) the held-out topic set's headline + lead (``benchmarks/data/topics/eval.tsv``, 491
short texts) and (b) the bench corpus of ``bench_pipeline.py`` (``benchmarks/corpus.py``, seed 7,
its first 1,000 articles of ~3,000 characters; the learned model reads 300, the keyword fallback
1,200); below the table, fastText's own predict on the same lines, the floor of topic tagging.
One process per checkout warms every measurement up once, then the two time one pass of each
measurement in turns (a second or less each, so both see the same load), ``--repeat`` rounds;
the table gives the medians (the ratio: the median of the rounds' ratios) and the load average.
``--pipeline`` instead runs the whole pipeline on ``bench_pipeline.py``'s JSON-lines corpus
(DirectRunner, without Link) with and without Tag in each child, in turns, and gives Tag's CPU
us per article: the difference, steadier than rows of separate ``bench_pipeline.py`` runs.
``--language`` instead gives the default language cascade's ``detect_batch`` alone on the texts
Tag gives it (``detection_text`` of title and lead), same corpora and batches.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCHES = (1, 10, 256)
# Where each package of the distribution lives in a checkout (pyproject's package-dir).
PACKAGES = {"wirewatch": "wirewatch", "wirewatch.core": "core",
            "wirewatch.pipelines": "pipelines", "wirewatch.connectors": "connectors",
            "wirewatch.schemas": "schemas"}


class _Checkout:
    """Imports wirewatch's packages from another checkout (an installed one stays untouched)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, name: str, path=None, target=None):
        if name not in PACKAGES:
            return None
        folder = self.root / PACKAGES[name]
        return importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)])


def _texts() -> dict[str, tuple[list[dict], list[str]]]:
    """Per corpus: article events (title, summary, body) and each text's own language."""
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.corpus import generate

    with (HERE / "data" / "topics" / "eval.tsv").open(encoding="utf-8", newline="") as f:
        held = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    corpus = generate(2000, seed=7)[:1000]
    return {
        "eval headline + lead": (
            [{"title": r["title"], "summary": r["lead"], "body": None, "language_hint": None}
             for r in held], [r["lang"] for r in held]),
        "bench corpus": ([{"title": a.title, "summary": a.text, "body": None,
                           "language_hint": None} for a in corpus], [a.lang for a in corpus]),
    }


def _pipeline_runs() -> dict:
    """The whole pipeline on the bench corpus as JSON lines (``bench_pipeline.py``'s 2,000
    stories), without Link, without and with Tag: {name: (run, articles)}."""
    import logging
    import tempfile

    from benchmarks.bench_pipeline import run_wirewatch, write_jsonl
    from benchmarks.corpus import generate

    logging.getLogger("apache_beam").setLevel(logging.ERROR)  # "deleting existing files"
    folder = Path(tempfile.mkdtemp(prefix="bench_topic_cost-"))
    articles = generate(2000, seed=7)
    source = f"--input_jsonl={write_jsonl(articles, folder)}"
    return {f"pipeline|{name}": (lambda a, b, s=skipped: run_wirewatch(source, folder / "out", *s),
                                 len(articles))
            for name, skipped in (("no tag", ("Tag", "Link")), ("tag", ("Link",)))}


def _child(pipeline: bool) -> None:
    """Serves measurements: reads a key ("corpus|what|batch") a line, answers with the us per
    article of one pass (JSON). First line out: which checkout's code it runs."""
    from wirewatch.core.fasttext_models import shipped_model
    from wirewatch.core.language import DEFAULT_BACKEND, detection_text, make_detector
    from wirewatch.core.topic_model import MODEL_CHARS, LearnedTopicTagger, features
    from wirewatch.core.topics import topic_text
    from wirewatch.pipelines import tag

    # checkouts before 2026-12-06 named it _tag
    tag_events = getattr(tag, "tag_events", None) or tag._tag

    tagger, detector = LearnedTopicTagger(), make_detector(DEFAULT_BACKEND)
    model = shipped_model("topics.ftz").f
    runs = {}
    for corpus, (events, languages) in _texts().items():
        texts = [topic_text(e["title"], e["summary"], e["body"]) for e in events]
        runs[f"{corpus}|topics"] = (
            lambda a, b, t=texts, ls=languages: tagger.tag_batch(t[a:b], ls[a:b]), len(texts))
        runs[f"{corpus}|tag"] = (lambda a, b, es=events: tag_events(es[a:b], detector, tagger),
                                 len(events))
        lines = [detection_text(e["title"], e["summary"] or e["body"]) for e in events]
        runs[f"{corpus}|language"] = (
            lambda a, b, ls=lines: detector.detect_batch(ls[a:b], [None] * len(ls[a:b])),
            len(lines))
        # the floor: fastText's predict alone on the lines the model reads, one after another
        lines = [features(t[:MODEL_CHARS], lang, tagger.keywords) + "\n"
                 for t, lang in zip(texts, languages, strict=True)]
        runs[f"{corpus}|model"] = (
            lambda a, b, ls=lines: [model.predict(x, -1, 0.0, "strict") for x in ls[a:b]],
            len(lines))
    if pipeline:
        runs = _pipeline_runs()
    for run, n in runs.values():  # warm-up: models load, memo tables fill
        run(0, n)
    checkout = Path(sys.modules[tag_events.__module__].__file__).parent.parent
    print(json.dumps(str(checkout)), flush=True)
    for line in sys.stdin:
        corpus, what, batch = line.strip().split("|")
        run, n = runs[f"{corpus}|{what}"]
        began = time.process_time()
        for start in range(0, n, int(batch)):
            run(start, start + int(batch))
        print(json.dumps((time.process_time() - began) / n * 1e6), flush=True)


class _Side:
    """One child process measuring one checkout's code."""

    def __init__(self, checkout: Path | None, pipeline: bool) -> None:
        args = [sys.executable, __file__, "--child"] + (["--pipeline"] if pipeline else [])
        self.process = subprocess.Popen(args + ([f"--checkout={checkout}"] if checkout else []),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.code = json.loads(self.process.stdout.readline())

    def measure(self, key: str) -> float:
        self.process.stdin.write(key + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--against", type=Path, help="another checkout to measure beside this")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the median counts")
    parser.add_argument("--pipeline", action="store_true", help="instead: Tag's cost in the "
                        "whole pipeline (bench_pipeline's corpus, without Link, with and without "
                        "Tag, CPU us per article)")
    parser.add_argument("--language", action="store_true", help="instead: the language "
                        "cascade's detect_batch alone on the texts Tag gives it")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.checkout:
            sys.meta_path.insert(0, _Checkout(args.checkout.resolve()))
        _child(args.pipeline)
        return
    sides = {"this": _Side(None, args.pipeline)}
    if args.against:
        sides = {"against": _Side(args.against, args.pipeline), **sides}
    if args.pipeline:
        _pipeline_table(sides, args.repeat)
        return
    corpora = ("eval headline + lead", "bench corpus")
    measured = ("language",) if args.language else ("topics", "tag")
    keys = [f"{corpus}|{what}|{batch}" for corpus in corpora
            for batch in BATCHES for what in measured]
    keys += [] if args.language else [f"{corpus}|model|256" for corpus in corpora]
    times: dict[str, dict[str, list[float]]] = {side: {k: [] for k in keys} for side in sides}
    loads = []
    for r in range(args.repeat):
        for key in keys:  # the two sides in turns, each pass a second or less: same load
            for side in (list(sides) if r % 2 == 0 else list(reversed(sides))):
                times[side][key].append(sides[side].measure(key))
        loads.append(os.getloadavg()[0])
    for side in sides.values():
        side.close()
    median = {side: {k: statistics.median(v) for k, v in t.items()} for side, t in times.items()}
    heads = []
    for what in measured:
        heads += [f"{'Tag' if what == 'tag' else what} {side}" for side in sides]
        heads += ["this/against"] if args.against else []
    print(f"us per article (CPU, one core), medians of {args.repeat} rounds; "
          + ", ".join(f"{name} = {side.code}" for name, side in sides.items()) + "\n")
    print("| texts | batch | " + " | ".join(heads) + " |\n|---|---:|" + "---:|" * len(heads))
    for corpus in corpora:
        for batch in BATCHES:
            cells = []
            for what in measured:
                key = f"{corpus}|{what}|{batch}"
                cells += [f"{median[side][key]:.0f}" for side in sides]
                if args.against:
                    ratios = [t / a for t, a in zip(times["this"][key], times["against"][key],
                                                    strict=True)]
                    cells.append(f"{statistics.median(ratios):.2f}")
            print(f"| {corpus} | {batch} | " + " | ".join(cells) + " |")
    if not args.language:
        print("\nfastText's predict alone on the lines the model reads, one after another: "
              + ", ".join(f"{corpus} {median['this'][f'{corpus}|model|256']:.0f}"
                          for corpus in corpora) + " us")
    print(f"load average {min(loads):.2f}-{max(loads):.2f} (1 min, after each round)")


def _pipeline_table(sides: dict[str, _Side], repeat: int) -> None:
    """Tag's CPU us per article in the pipeline: with Tag minus without, each pair in turns."""
    tag: dict[str, list[float]] = {side: [] for side in sides}
    loads = []
    for r in range(repeat):
        for side in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            without = sides[side].measure("pipeline|no tag|1000000")
            tag[side].append(sides[side].measure("pipeline|tag|1000000") - without)
        loads.append(os.getloadavg()[0])
    for side in sides.values():
        side.close()
    print(f"Tag's CPU us per article in the whole pipeline without Link (bench corpus, 4,169 "
          f"articles; with Tag minus without, medians of {repeat} pairs)\n")
    print("| checkout | code | Tag us per article |\n|---|---|---:|")
    for name, side in sides.items():
        print(f"| {name} | {side.code} | {statistics.median(tag[name]):.0f} |")
    print(f"\nload average {min(loads):.2f}-{max(loads):.2f} (1 min, after each round)")


if __name__ == "__main__":
    main()
