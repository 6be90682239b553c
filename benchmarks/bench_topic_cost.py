"""What topic tagging and Tag's core work cost per article, one text at a time and in batches,
beside another checkout of wirewatch measured in the same run.

    python benchmarks/bench_topic_cost.py                      # this checkout alone
    git worktree add /tmp/wirewatch-main main
    python benchmarks/bench_topic_cost.py --against /tmp/wirewatch-main --repeat 5

Per article, CPU time of this process (one core), for batches of 1 (a streaming bundle of one),
10 and 256 (Tag's default batch): the learned topic tagger's ``tag_batch`` (each text in its own
language) and Tag's ``_tag`` (the cascade's language, then topics, as the pipeline calls them),
on (a) the held-out topic set's headline + lead (``benchmarks/data/topics/eval.tsv``, 491 short
texts) and (b) the bench corpus of ``bench_pipeline.py`` (``benchmarks/corpus.py``, seed 7, its
first 1,000 articles of ~3,000 characters; the learned model reads 300, the keyword fallback
1,200). Each round starts a fresh process per checkout, in turns (``--against`` first), warms
every measurement up once and times one pass; the table gives the medians over ``--repeat``
rounds and the load average.
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


def _per_article(run, n: int, batch: int) -> float:
    """us per article of one timed pass over n items in batches, after one warm-up pass."""
    def passes() -> None:
        for start in range(0, n, batch):
            run(start, start + batch)
    passes()
    began = time.process_time()
    passes()
    return (time.process_time() - began) / n * 1e6


def measure() -> dict:
    """One pass of every measurement in this process: {"corpus|what|batch": us per article},
    and which checkout's code it ran ("code")."""
    from wirewatch.core.language import DEFAULT_BACKEND, make_detector
    from wirewatch.core.topic_model import LearnedTopicTagger
    from wirewatch.core.topics import topic_text
    from wirewatch.pipelines.tag import _tag

    tagger, detector = LearnedTopicTagger(), make_detector(DEFAULT_BACKEND)
    out: dict = {"code": str(Path(sys.modules[_tag.__module__].__file__).parent.parent)}
    for corpus, (events, languages) in _texts().items():
        texts = [topic_text(e["title"], e["summary"], e["body"]) for e in events]
        for batch in BATCHES:
            out[f"{corpus}|topics|{batch}"] = _per_article(
                lambda a, b, t=texts, ls=languages: tagger.tag_batch(t[a:b], ls[a:b]),
                len(texts), batch)
            out[f"{corpus}|tag|{batch}"] = _per_article(
                lambda a, b, es=events: _tag(es[a:b], detector, tagger), len(events), batch)
    return out


def _round(checkout: Path | None) -> dict:
    args = [sys.executable, __file__, "--child"] + ([f"--checkout={checkout}"] if checkout else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--against", type=Path, help="another checkout to measure beside this")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median counts")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.checkout:
            sys.meta_path.insert(0, _Checkout(args.checkout.resolve()))
        print(json.dumps(measure()))
        return
    sides = {"this": None} if args.against is None else {"against": args.against, "this": None}
    rounds: dict[str, list[dict]] = {side: [] for side in sides}
    loads = []
    for _ in range(args.repeat):
        for side, checkout in sides.items():
            rounds[side].append(_round(checkout))
            loads.append(os.getloadavg()[0])
    median = {side: {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "code"}
              for side, runs in rounds.items()}
    heads = []
    for what in ("topics", "Tag"):
        heads += [f"{what} {side}" for side in sides] + (["this/against"] if args.against else [])
    print(f"us per article (CPU, one core), medians of {args.repeat} rounds; "
          + ", ".join(f"{side} = {runs[0]['code']}" for side, runs in rounds.items()) + "\n")
    print("| texts | batch | " + " | ".join(heads) + " |\n|---|---:|" + "---:|" * len(heads))
    for corpus in dict.fromkeys(k.split("|")[0] for k in median["this"]):
        for batch in BATCHES:
            cells = []
            for what in ("topics", "tag"):
                key = f"{corpus}|{what}|{batch}"
                cells += [f"{median[side][key]:.0f}" for side in sides]
                if args.against:
                    cells.append(f"{median['this'][key] / median['against'][key]:.2f}")
            print(f"| {corpus} | {batch} | " + " | ".join(cells) + " |")
    print(f"\nload average {min(loads):.2f}-{max(loads):.2f} (1 min, after each child)")


if __name__ == "__main__":
    main()
