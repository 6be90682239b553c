"""Near-duplicate detection: wirewatch's core vs datasketch MinHashLSH (default, tuned) vs rensa.

One command, one run, one corpus (``benchmarks/corpus.py``)::

    .venv/bin/python benchmarks/bench_dedup.py            # table as in the README
    .venv/bin/python benchmarks/bench_dedup.py --sweep    # how NearDupConfig's defaults were picked
    .venv/bin/python benchmarks/bench_dedup.py --scale    # 10k, 100k, 1M residents in the horizon

Every contender sees the articles in event-time order and answers, for each one, "which earlier
article does this repeat, if any". Each contender runs in its own child process (so peak memory is
its own) ``--repeats`` times; the table shows medians. Throughput is articles per CPU-second of
the child (fingerprint + index + verify; the corpus is built before the clock starts), i.e. per
core. Accuracy:

- *article P/R*: "is this article a copy" against the labels (a copy is any non-earliest member of
  a story group);
- *pair P/R*: the link "article -> the earlier article it repeats" is right when both are in the
  same group;
- *hard neg merged*: links between an article and its labelled hard negative (must be 0).

``--scale`` uses ``corpus.ScaleStream`` (generated text, near copies and related stories planted
at known places): the horizon is first filled with N residents, then a window of articles is
decided against them and timed slice by slice (median of the slices, CPU time of the child,
text generation outside the clock). Each contender and size runs in its own child process.

The last table streams the corpus over and over (new ids, times moving forward) through
``NearDupIndex`` with a 48 h horizon and prints the state it holds: flat, bounded by the horizon.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import HOUR_MS, Article, ScaleStream, generate
from wirewatch.core.neardup import (
    Fingerprints,
    NearDupConfig,
    NearDupIndex,
    entries,
    fingerprint,
    shard_of,
)

HORIZON_MS = 48 * HOUR_MS
# What a Python user writes to get the same tokens: words, and single characters for scripts
# written without spaces.
_NO_SPACE = "\u0e00-\u0eff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_NO_SPACE}]|[^\W_{_NO_SPACE}]+")


# --- contenders: each takes the articles in time order and returns {id: earlier id or None} ---

def run_wirewatch(articles: list[Article], config: NearDupConfig, batch: int = 250
                  ) -> dict[str, str | None]:
    index = NearDupIndex(config)
    out: dict[str, str | None] = {}
    for start in range(0, len(articles), batch):
        chunk = articles[start: start + batch]
        index.expire(chunk[0].time_ms - HORIZON_MS)
        fps = fingerprint([a.text for a in chunk], config)
        keys, owner, methods = entries(fps)
        verdicts = index.add([a.id for a in chunk], np.array([a.time_ms for a in chunk]), fps,
                             keys, owner, methods)
        for a, v in zip(chunk, verdicts, strict=True):
            out[a.id] = v.event_id if v else None
    return out


def _shingles(text: str, k: int) -> list[bytes]:
    tokens = _TOKEN.findall(text.casefold())
    if len(tokens) < k:
        return [" ".join(tokens).encode()] if tokens else []
    return [" ".join(tokens[i: i + k]).encode() for i in range(len(tokens) - k + 1)]


def _earliest(candidates, order: dict[str, tuple[int, str]]) -> str | None:
    return min(candidates, key=order.__getitem__) if candidates else None


def run_datasketch(articles: list[Article], threshold: float, shingle: int,
                   verify: float | None) -> dict[str, str | None]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sketches: dict[str, MinHash] = {}
    order = {a.id: (a.time_ms, a.id) for a in articles}
    out: dict[str, str | None] = {}
    for a in articles:
        m = MinHash(num_perm=128)
        m.update_batch(_shingles(a.text, shingle))
        found = lsh.query(m)
        if verify is not None:
            found = [c for c in found if m.jaccard(sketches[c]) >= verify]
        out[a.id] = _earliest(found, order)
        lsh.insert(a.id, m)
        sketches[a.id] = m
    return out


def run_rensa(articles: list[Article], threshold: float, shingle: int) -> dict[str, str | None]:
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=threshold, num_perm=128, num_bands=32)
    sketches = []
    out: dict[str, str | None] = {}
    for i, a in enumerate(articles):
        m = RMinHash(num_perm=128, seed=42)
        m.update([s.decode() for s in _shingles(a.text, shingle)])
        found = [articles[j].id for j in lsh.query(m) if m.jaccard(sketches[j]) >= threshold]
        out[a.id] = min(found) if found else None  # keys are in time order already
        lsh.insert(i, m)
        sketches.append(m)
    return out


CONTENDERS = {
    "wirewatch core": lambda arts: run_wirewatch(arts, NearDupConfig()),
    "datasketch default": lambda arts: run_datasketch(arts, 0.9, 5, None),
    "datasketch tuned": lambda arts: run_datasketch(arts, 0.3, 3, 0.3),
    "rensa tuned": lambda arts: run_rensa(arts, 0.3, 3),
}
NOTES = {
    "wirewatch core": ("OPH 128 bins, 40x3 + 32x2 lead bands, 2 shared keys, containment >= 0.4, "
                       "word 3-shingles"),
    "datasketch default": "MinHashLSH(threshold=0.9), 128 perms, word 5-shingles",
    "datasketch tuned": "threshold 0.3 + Jaccard check, word 3-shingles",
    "rensa tuned": "RMinHashLSH(0.3, 128, 32 bands) + Jaccard check, word 3-shingles",
}


# --- scoring ---

def score(articles: list[Article], verdict: dict[str, str | None]) -> dict[str, float]:
    group = {a.id: a.group for a in articles}
    first: dict[int, str] = {}
    for a in articles:  # articles are in (time, id) order
        first.setdefault(a.group, a.id)
    truth = {a.id: first[a.group] != a.id for a in articles}
    related = {a.id: int(a.edits.split(":")[1]) for a in articles if a.kind == "hard_negative"}
    flagged = {i for i, v in verdict.items() if v is not None}
    copies = {i for i, t in truth.items() if t}
    right_links = sum(1 for i in flagged if group[verdict[i]] == group[i])
    hard = sum(1 for i in flagged
               if related.get(i) == group[verdict[i]] or related.get(verdict[i]) == group[i])

    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    return {
        "article_p": ratio(len(flagged & copies), len(flagged)),
        "article_r": ratio(len(flagged & copies), len(copies)),
        "pair_p": ratio(right_links, len(flagged)),
        "pair_r": ratio(right_links, len(copies)),
        "hard_merged": hard,
    }


# --- child process: one contender, one run ---

def child(name: str, corpus_path: str) -> None:
    with open(corpus_path, "rb") as f:
        articles = pickle.load(f)
    CONTENDERS[name](articles[:200])  # imports and lazy tables outside the clock
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, wall = time.process_time(), time.perf_counter()
    verdict = CONTENDERS[name](articles)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    result = {"cpu": cpu, "wall": wall, "peak_mb": peak / 1024, **score(articles, verdict)}
    print(json.dumps(result))


def run_child(name: str, corpus_path: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, __file__, "--child", name, "--corpus", corpus_path],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- tables ---

def compare(articles: list[Article], repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.pkl")
        with open(path, "wb") as f:
            pickle.dump(articles, f)
        runs = {name: [run_child(name, path) for _ in range(repeats)] for name in CONTENDERS}
    n = len(articles)
    print(f"\n{n} articles, median of {repeats} runs, one core each\n")
    head = (f"{'contender':20s} {'art/s/core':>10s} {'x dsk':>6s} {'art P':>6s} {'art R':>6s} "
            f"{'pair P':>6s} {'pair R':>6s} {'hardneg':>7s} {'peak MB':>8s}")
    print(head)
    print("-" * len(head))
    base = n / statistics.median(r["cpu"] for r in runs["datasketch default"])
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        rate = n / med["cpu"]
        print(f"{name:20s} {rate:10.0f} {rate / base:6.1f} {med['article_p']:6.3f} "
              f"{med['article_r']:6.3f} {med['pair_p']:6.3f} {med['pair_r']:6.3f} "
              f"{med['hard_merged']:7.0f} {med['peak_mb']:8.1f}")
    print()
    for name, note in NOTES.items():
        print(f"  {name}: {note}")


def _shard_batch(fps: Fingerprints, keys, owner, methods, shard: np.ndarray, s: int):
    """The part of a batch one shard of the Beam transform receives."""
    mine = shard == s
    rows = np.unique(owner[mine])
    sub = Fingerprints(fps.signatures[rows], fps.sizes[rows], fps.keys[rows])
    return rows, sub, keys[mine], np.searchsorted(rows, owner[mine]), methods[mine]


def state_over_stream(articles: list[Article], rounds: int, shard_counts=(1, 2, 4)) -> None:
    """Stream the corpus ``rounds`` times, moving time on, and show the state held.

    Each column splits the index over ``shards`` keys as ``Dedupe(shards=...)`` does (index keys
    include the URL and content-hash keys): every shard an article touches keeps its row.
    """
    config = NearDupConfig()
    indexes = {n: [NearDupIndex(config, HORIZON_MS) for _ in range(n)] for n in shard_counts}
    span = articles[-1].time_ms - articles[0].time_ms + HOUR_MS
    print(f"\nstate over a long stream: {rounds} x {len(articles)} articles, 48 h horizon, "
          "bytes per article in the horizon for 1, 2, 4 shards\n")
    cols = "".join(f" {f'B/art {n} sh':>11s}" for n in shard_counts)
    print(f"{'event days':>10s} {'articles in':>11s} {'in horizon':>10s} {'state MB':>8s}{cols}")
    seen = 0
    for r in range(rounds):
        for start in range(0, len(articles), 2000):
            chunk = articles[start: start + 2000]
            times = np.array([a.time_ms for a in chunk]) + r * span
            ids = [f"{r}-{a.id}" for a in chunk]
            fps = fingerprint([a.text for a in chunk], config)
            keys, owner, methods = entries(fps, [f"{a.url}?{r}" for a in chunk], ids)
            for n, shards in indexes.items():
                shard = shard_of(keys, n)
                for s, index in enumerate(shards):
                    index.expire(int(times[0]) - HORIZON_MS)
                    rows, sub, k, o, m = _shard_batch(fps, keys, owner, methods, shard, s)
                    index.add([ids[i] for i in rows], times[rows], sub, k, o, m)
            seen += len(chunk)
        live = len(indexes[1][0])
        per = "".join(f" {sum(i.nbytes for i in shards) / max(1, live):11.0f}"
                      for shards in indexes.values())
        days = (r + 1) * span / (24 * HOUR_MS)
        print(f"{days:10.1f} {seen:11d} {live:10d} {indexes[1][0].nbytes / 1e6:8.2f}{per}")


def sweep(articles: list[Article]) -> None:
    """Accuracy and speed of a few configurations (how the defaults were chosen)."""
    base = NearDupConfig()
    grid = [base]
    grid += [replace(base, shingle=k) for k in (2, 4, 5)]
    grid += [replace(base, threshold=t) for t in (0.3, 0.5, 0.6, 0.7)]
    grid += [replace(base, min_jaccard=j) for j in (0.0, 0.1, 0.2)]
    grid += [replace(base, bands=b, rows=r) for b, r in ((24, 4), (20, 5), (42, 3))]
    grid += [replace(base, lead_bands=0), replace(base, lead_bands=16, lead_rows=3),
             replace(base, lead=60), replace(base, min_hits=1), replace(base, min_hits=3)]
    print(f"{'config':70s} {'art/s':>7s} {'art P':>6s} {'art R':>6s} {'hard':>4s}")
    for config in grid:
        t = time.process_time()
        verdict = run_wirewatch(articles, config)
        rate = len(articles) / (time.process_time() - t)
        s = score(articles, verdict)
        label = ", ".join(f"{k}={getattr(config, k)}" for k in config.__dataclass_fields__
                          if getattr(config, k) != getattr(base, k)) or "defaults"
        print(f"{label:70s} {rate:7.0f} {s['article_p']:6.3f} {s['article_r']:6.3f} "
              f"{s['hard_merged']:4d}")


# --- scale: residents in the horizon ---

SCALE_BATCH = 1000  # Dedupe's default batch_size
SCALE_SLICE = 2000  # articles per timed slice of the window


class _Expiring:
    """CPU time spent forgetting residents, and how many were forgotten."""

    expire_cpu = 0.0
    expired = 0

    def _expire(self, before_ms: int) -> None:
        started, held = time.process_time(), self.held()
        self.forget(before_ms)
        self.expire_cpu += time.process_time() - started
        self.expired += held - self.held()


class _OwnScale(_Expiring):
    """wirewatch's index, fed in batches as the Beam transform does."""

    def __init__(self) -> None:
        self.config = NearDupConfig()
        self.index = NearDupIndex(self.config, HORIZON_MS)

    def held(self) -> int:
        return len(self.index)

    def forget(self, before_ms: int) -> None:
        self.index.expire(before_ms)

    def decide(self, ids: list[str], times: np.ndarray, texts: list[str]) -> list[str | None]:
        self._expire(int(times[0]) - HORIZON_MS)
        fps = fingerprint(texts, self.config)
        found = self.index.add(ids, times, fps, *entries(fps))
        return [m.event_id if m else None for m in found]

    def candidates(self) -> int:
        return self.index.verified

    def state_bytes(self) -> int:
        return self.index.nbytes


class _LshScale(_Expiring):
    """A MinHash LSH library as tuned on the corpus (threshold 0.3 + Jaccard check), with
    expiry by event time; subclasses say how the library sketches, keys and inserts."""

    def __init__(self) -> None:
        self.sketches: dict[object, object] = {}
        self.times: dict[object, int] = {}
        self.checked = 0

    def held(self) -> int:
        return len(self.times)

    def forget(self, before_ms: int) -> None:
        # ids are in time order: the oldest residents are the first keys of the dicts.
        for old in [k for k, t in itertools.takewhile(lambda kt: kt[1] < before_ms,
                                                      self.times.items())]:
            self.lsh.remove(old)
            del self.sketches[old], self.times[old]

    def decide(self, ids: list[str], times: np.ndarray, texts: list[str]) -> list[str | None]:
        self._expire(int(times[0]) - HORIZON_MS)
        out = []
        for i, t, text in zip(ids, times.tolist(), texts, strict=True):
            key, m = self._key(i), self._sketch(_shingles(text, 3))
            found = self.lsh.query(m)
            self.checked += len(found)
            found = [k for k in found if k in self.sketches
                     and m.jaccard(self.sketches[k]) >= 0.3]
            out.append(self._id(min(found)) if found else None)  # keys sort in time order
            self.lsh.insert(key, m)
            self.sketches[key], self.times[key] = m, t
        return out

    def candidates(self) -> int:
        return self.checked

    def state_bytes(self) -> int:
        return 0  # not measured: the library's own objects; see peak RSS


class _DatasketchScale(_LshScale):
    def __init__(self) -> None:
        from datasketch import MinHashLSH

        super().__init__()
        self.lsh = MinHashLSH(threshold=0.3, num_perm=128)

    def _sketch(self, shingles: list[bytes]) -> object:
        from datasketch import MinHash

        m = MinHash(num_perm=128)
        m.update_batch(shingles)
        return m

    def _key(self, event_id: str) -> str:
        return event_id

    def _id(self, key: str) -> str:
        return key


class _RensaScale(_LshScale):
    def __init__(self) -> None:
        from rensa import RMinHashLSH

        super().__init__()
        self.lsh = RMinHashLSH(threshold=0.3, num_perm=128, num_bands=32)

    def _sketch(self, shingles: list[bytes]) -> object:
        from rensa import RMinHash

        m = RMinHash(num_perm=128, seed=42)
        m.update([sh.decode() for sh in shingles])
        return m

    def _key(self, event_id: str) -> int:
        return int(event_id[1:])  # rensa keys are integers

    def _id(self, key: int) -> str:
        return f"s{key:09d}"


SCALE_CONTENDERS = {"wirewatch core": _OwnScale, "datasketch tuned": _DatasketchScale,
                    "rensa tuned": _RensaScale}


def scale_child(name: str, residents: int, window: int, seed: int) -> None:
    """Fill the horizon with ``residents``, then time the window slice by slice."""
    stream = ScaleStream(residents, window, seed=seed)
    contender = SCALE_CONTENDERS[name]()
    rates, verdict = [], {}
    cpu, done, seen, checked = 0.0, 0, 0, 0
    for ids, times, texts in stream.chunks(SCALE_BATCH):
        measured = seen >= residents
        if measured and not done:
            checked = contender.candidates()  # the window's alone
            contender.expire_cpu, contender.expired = 0.0, 0
        started = time.process_time()
        found = contender.decide(ids, times, texts)
        if measured:
            cpu += time.process_time() - started
            done += len(ids)
            if done % SCALE_SLICE == 0:
                rates.append(SCALE_SLICE / cpu)
                cpu = 0.0
            verdict.update(zip(ids, found, strict=True))
        seen += len(ids)
    rows = np.arange(residents, stream.total)
    source = stream.source[rows]
    got = np.array([int(v[1:]) if v else -1 for v in (verdict[f"s{i:09d}"]
                                                       for i in rows.tolist())])
    flagged = got >= 0
    right = flagged & (got == source)
    print(json.dumps({
        "rate": statistics.median(rates), "candidates": (contender.candidates() - checked) / done,
        # State over the live residents it holds (dead ones not yet dropped count in the state).
        "bytes": contender.state_bytes() / max(1, contender.held()),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "recall": right.sum() / max(1, (source >= 0).sum()),
        "precision": right.sum() / max(1, flagged.sum()),
        "expire_us": 1e6 * contender.expire_cpu / max(1, contender.expired),
        "load": os.getloadavg()[0]}))


def scale(sizes: list[int], others_up_to: int, window: int, seed: int) -> None:
    """The scale table: each contender at each size it can reach, in one run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    print(f"\nscale: synthetic stream (benchmarks/corpus.py ScaleStream, seed {seed}), "
          f"48 h horizon, {window} measured articles after the fill, batches of {SCALE_BATCH}, "
          f"median of {window // SCALE_SLICE} slices of {SCALE_SLICE}\n")
    head = (f"{'contender':18s} {'residents':>9s} {'art/s/core':>10s} {'x own 10k':>9s} "
            f"{'x dsk':>6s} {'cand/art':>8s} {'B/resident':>10s} {'expire us':>9s} "
            f"{'peak MB':>8s} {'recall':>6s} {'prec':>6s} {'load':>5s}")
    print(head)
    print("-" * len(head))
    results: dict[tuple[str, int], dict] = {}
    for size in sizes:
        for name in SCALE_CONTENDERS:
            if name != "wirewatch core" and size > others_up_to:
                continue
            done = subprocess.run(
                [sys.executable, __file__, "--scale-child", name, "--scale-size", str(size),
                 "--window", str(window), "--seed", str(seed)],
                capture_output=True, text=True, env=env, check=True)
            results[name, size] = r = json.loads(done.stdout.strip().splitlines()[-1])
            own10k = results.get(("wirewatch core", sizes[0]), r)["rate"]
            dsk = results.get(("datasketch tuned", size))
            vs_dsk = f"{r['rate'] / dsk['rate']:6.1f}" if dsk else f"{'':6s}"
            state = f"{r['bytes']:10.0f}" if r["bytes"] else f"{'-':>10s}"
            print(f"{name:18s} {size:9d} {r['rate']:10.0f} {r['rate'] / own10k:9.2f} {vs_dsk} "
                  f"{r['candidates']:8.2f} {state} {r['expire_us']:9.2f} {r['peak_mb']:8.0f} "
                  f"{r['recall']:6.3f} {r['precision']:6.3f} {r['load']:5.1f}", flush=True)
        own, dsk = results.get(("wirewatch core", size)), results.get(("datasketch tuned", size))
        if own and dsk:
            print(f"{'':18s} {'':9s} wirewatch / datasketch at {size}: "
                  f"{own['rate'] / dsk['rate']:.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=6000,
                        help="originals in the corpus (copies and hard negatives come on top)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6, help="passes of the long-stream table")
    parser.add_argument("--sweep", action="store_true", help="only the configuration sweep")
    parser.add_argument("--scale", action="store_true",
                        help="only the scale table (10k, 100k, 1M residents)")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="residents in the horizon for --scale")
    parser.add_argument("--others-up-to", type=int, default=100_000,
                        help="largest size datasketch and rensa run at in --scale")
    parser.add_argument("--window", type=int, default=20_000,
                        help="measured articles after the fill in --scale")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--scale-child", help=argparse.SUPPRESS)
    parser.add_argument("--scale-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus)
        return
    if args.scale_child:
        scale_child(args.scale_child, args.scale_size, args.window, args.seed)
        return
    if args.scale:
        scale([int(n) for n in args.sizes.split(",")], args.others_up_to, args.window,
              args.seed)
        return
    articles = generate(args.stories, seed=args.seed)
    if args.sweep:
        sweep(articles)
        return
    compare(articles, args.repeats)
    state_over_stream(articles, args.rounds)


if __name__ == "__main__":
    main()
