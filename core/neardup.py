"""Near-duplicate detection: tokens, shingles, one-permutation MinHash, LSH bands, verification.

Pure logic on numpy arrays, no Beam. Everything works on a *batch* of texts at once: the texts
are joined, decoded to one array of code points and cut into tokens, shingles and sketches by
array operations, so there is no Python loop per word (a per-word loop caps a core at ~10k
articles/s; this runs several times faster).

- **Tokens**: runs of letters, marks and digits (any script, case folded). Scripts written
  without spaces (Han, Kana, Thai, Lao, Khmer, Myanmar, Tibetan) give one token per character,
  so shingles there are character n-grams.
- **Shingles**: ``shingle`` consecutive tokens, hashed to 64 bits.
- **Sketch**: one-permutation MinHash (OPH): the top bits of a shingle hash pick one of ``bins``
  bins, each bin keeps its smallest value; empty bins borrow from the next non-empty bin
  (rotation densification). Cost is one pass over the shingles instead of one per permutation.
- **Bands**: ``bands`` x ``rows`` bins hash to the LSH keys. Two texts are candidates when they
  share at least ``min_hits`` keys: unrelated texts that share a little (an outlet's boilerplate,
  a quoted sentence) meet in one band now and then, and that happens once per resident, so a
  single shared key would make the candidates per text grow with the index; two shared keys
  are rare enough by chance that the candidates stay flat up to millions of residents, while a
  copy shares a dozen or more.
- **Verification** uses the stored signature: only the low 8 bits of each bin are kept (b-bit
  MinHash, 128 B per text), which estimates Jaccard J after correcting for chance matches. The
  decision measure is the *containment* of the shorter text in the longer,
  ``|A & B| / min(|A|, |B|)``, computed from J and the shingle counts: a copy cut short to a
  third of the original has J ~ 0.3 but containment ~ 1.
- The **lead** of each text (its first ``lead`` shingles) gets its own sketch and bands, so a copy
  cut short still shares LSH keys with its original although its full-text Jaccard is low.

:class:`NearDupIndex` keeps residents (earlier texts) in a few sorted runs of keys and decides a
batch in (event time, id) order: each text's verdict is the earliest verified earlier resident.
The benchmark and the Beam transform both use it; the transform shards it by LSH key.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xxhash

__all__ = [
    "EXACT_CONTENT",
    "EXACT_URL",
    "METHODS",
    "NEAR",
    "Fingerprints",
    "Match",
    "NearDupConfig",
    "NearDupIndex",
    "entries",
    "estimate",
    "exact_key",
    "fingerprint",
    "shard_of",
]

#: Method codes, strongest first; ``METHODS[code]`` is the name written to the record.
EXACT_URL, EXACT_CONTENT, NEAR = 0, 1, 2
METHODS = ("exact_url", "exact_content", "near")

_U64 = np.uint64
_MAX64 = np.iinfo(np.uint64).max
# Code points at or above this are rare (historic scripts, emoji): they count as separators.
_TABLE_SIZE = 0x30000
_CHAR_TOKEN = np.uint32(1 << 31)
# Scripts written without spaces between words: one token per character.
_CHAR_TOKEN_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x2FFFF),  # CJK extensions B-F
)


@functools.cache
def _char_table() -> np.ndarray:
    """What each code point becomes: 0 for a separator, else its lower case code point, with
    the top bit set for characters that are tokens on their own (scripts without spaces).

    One table look-up per character replaces case folding and classification.
    """
    # Every code point has an entry (zero from _TABLE_SIZE on), so the look-up needs no bounds
    # handling: ``take(mode="wrap")`` never wraps and skips the per-element clip.
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint32)
    for cp in range(_TABLE_SIZE):
        c = chr(cp)
        if unicodedata.category(c)[0] in "LMN":
            low = c.lower()
            table[cp] = ord(low) if len(low) == 1 else cp
    for lo, hi in _CHAR_TOKEN_RANGES:
        span = table[lo: min(hi, _TABLE_SIZE - 1) + 1]
        span[span != 0] |= _CHAR_TOKEN
    return table


@functools.cache
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i mod 2**32 for i < n (n a power of two, so few sizes are cached)."""
    inverse = pow(_POLY, -1, 1 << 32)
    with np.errstate(over="ignore"):
        up = np.multiply.accumulate(np.full(n, _POLY, np.uint32), dtype=np.uint32)
        down = np.multiply.accumulate(np.full(n, inverse, np.uint32), dtype=np.uint32)
    one = np.ones(1, dtype=np.uint32)
    return np.concatenate((one, up[:-1])), np.concatenate((one, down[:-1]))


def _constants(seed: int, n: int) -> np.ndarray:
    """``n`` odd 64-bit multipliers, the same on every machine."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(0, _MAX64, size=n, dtype=np.uint64, endpoint=True) | _U64(1)


# Token hashes are 32 bits: half the memory traffic of 64 over every character, and a chance
# collision between two words (~1 in 4e9 pairs) only merges them in the shingles they are in.
_POLY = 0x7F4A7C15  # odd, so it has an inverse mod 2**32
_SHINGLE_MULT = _constants(0x5EED_0002, 16)
_BAND_MULT = _constants(0x5EED_0003, 64)
_BAND_SALT = _constants(0x5EED_0004, 256)
_DENSIFY = _U64(0x9E3779B97F4A7C15)
_BLOCK = 4096  # slots per block of NearDupIndex's expiry minima
_NEVER = np.iinfo(np.int64).max  # a block minimum with no live resident
# Halves of a packed index entry (see NearDupIndex).
_KEY = _U64(0xFFFFFFFF_00000000)
_REF = _U64(0xFFFFFFFF)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> _U64(27))) * _U64(0x94D049BB133111EB)
        return h ^ (h >> _U64(31))


@dataclass(frozen=True)
class NearDupConfig:
    """How texts are compared. Defaults come from ``benchmarks/bench_dedup.py --sweep`` (accuracy
    on the labelled corpus) and ``--scale`` (candidates per text as the index grows).

    ``threshold`` applies to the containment of the shorter text in the longer one.
    ``min_jaccard`` guards against a short text that happens to sit inside a long one (e.g. a
    two-line item made of outlet boilerplate). ``min_hits``: LSH keys two texts must share to be
    compared (counted per index, so per shard in the Beam transform). The lead is 160 shingles
    into 64 bins: a shorter lead (60) made an outlet's lead-in boilerplate a large share of it,
    and with 2 rows per band its articles met each other in the lead bands by the hundred.
    """

    shingle: int = 3
    bins: int = 128
    bands: int = 40
    rows: int = 3
    lead: int = 160
    lead_bands: int = 32
    lead_rows: int = 2
    threshold: float = 0.4
    min_jaccard: float = 0.05
    min_hits: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.shingle <= len(_SHINGLE_MULT):
            raise ValueError(f"shingle must be in 1..{len(_SHINGLE_MULT)}, got {self.shingle}")
        if self.bins < 8 or self.bins & (self.bins - 1) or self.bins > 1024:
            raise ValueError(f"bins must be a power of two in 8..1024, got {self.bins}")
        for name, bands, rows in (("bands", self.bands, self.rows),
                                  ("lead_bands", self.lead_bands, self.lead_rows)):
            if bands < 0 or rows < 1 or bands * rows > self.bins or rows > len(_BAND_MULT):
                raise ValueError(f"{name} x rows must fit in bins: {bands} x {rows} > {self.bins}")
        if self.lead_bands and self.lead < 1:
            raise ValueError("lead must be >= 1 shingle when lead_bands > 0")
        if not 0.0 < self.threshold <= 1.0 or not 0.0 <= self.min_jaccard <= 1.0:
            raise ValueError("threshold must be in (0, 1] and min_jaccard in [0, 1]")
        if self.min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {self.min_hits}")

    @property
    def keys_per_text(self) -> int:
        return self.bands + self.lead_bands


@dataclass
class Fingerprints:
    """Sketches of a batch of texts, one row per text.

    ``signatures``: (n, bins) uint8, low 8 bits of each OPH bin (what verification compares).
    ``sizes``: shingle count per text (0 = no tokens: such a text is never a near copy).
    ``keys``: (n, bands + lead_bands) uint64 LSH keys; rows of empty texts are meaningless.
    """

    signatures: np.ndarray
    sizes: np.ndarray
    keys: np.ndarray

    def __len__(self) -> int:
        return len(self.sizes)


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - ends + lengths, lengths)


def _tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """32-bit (unmixed) hash of every token of every text, and where each text's tokens begin
    (n + 1 offsets: text i has tokens ``first[i]:first[i + 1]``).

    Token hashes are polynomial hashes read off one running sum over the whole batch:
    ``C[i] = sum(c[j] * P**j, j <= i)``, so a token starting at s hashes to
    ``(C[s'-1] - C[s-1]) * P**-s`` with s' the next token's start: separators are 0, so C does
    not move between one token's end and the next token's start, and token ends are never needed.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    # NUL separates texts (and leads, so every token has a predecessor).
    cps = np.frombuffer(("\0" + "\0".join(texts)).encode("utf-32-le"), dtype=np.uint32)
    chars = np.take(_char_table(), cps, mode="wrap")
    word = chars != 0
    # Characters that continue a word: not separators (0 wraps to the top) and not tokens alone.
    joins = (chars - np.uint32(1)) < (_CHAR_TOKEN - np.uint32(1))
    # A token starts at a word character unless it and its predecessor both join.
    starts = np.flatnonzero(word[1:] > (joins[1:] & joins[:-1])) + 1
    if not len(starts):
        return np.zeros(0, np.uint32), np.zeros(len(texts) + 1, np.int64)
    up, down = _powers(1 << int(len(chars) - 1).bit_length())
    with np.errstate(over="ignore"):
        running = np.multiply(chars, up[: len(chars)])
        np.cumsum(running, dtype=np.uint32, out=running)
        before = running[starts - 1]
        # Not mixed here: shingle hashes are mixed once they are combined.
        hashes = (np.append(before[1:], running[-1]) - before) * down[starts]
    text_starts = np.concatenate(([1], np.cumsum(lengths + 1)[:-1] + 1))
    # Few searches of many sorted tokens: where each text's tokens begin.
    return hashes, np.append(np.searchsorted(starts, text_starts), len(starts))


def _shingles(hashes: np.ndarray, first: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mixed shingle hashes, grouped by text in text order, and how many each text has.

    A text shorter than ``k`` tokens has its tokens as shingles.
    """
    tokens = np.diff(first)
    hashes = hashes.astype(_U64)
    n = len(hashes)
    counts = np.maximum(tokens - (k - 1), 0)
    if n >= k:
        with np.errstate(over="ignore"):
            sh = hashes[: n - k + 1] * _SHINGLE_MULT[0]
            for j in range(1, k):
                sh += hashes[j: n - k + 1 + j] * _SHINGLE_MULT[j]
        # The last k - 1 shingle starts of each text run into the next one.
        cut = (first[1:, None] - np.arange(1, k)).ravel()
        valid = np.ones(len(sh), bool)
        valid[cut[(cut >= 0) & (cut < len(sh))]] = False
        sh = sh[valid]
    else:
        sh = np.zeros(0, _U64)
    short = np.flatnonzero((tokens > 0) & (tokens < k))
    if len(short):
        owner = np.concatenate((np.repeat(np.arange(len(tokens)), counts),
                                np.repeat(short, tokens[short])))
        sh = np.concatenate((sh, hashes[_spans(first[short], tokens[short])]))
        sh = sh[np.argsort(owner, kind="stable")]
        counts[short] = tokens[short]
    return _mix(sh), counts


def _oph(sh: np.ndarray, owner: np.ndarray, n_texts: int, bins: int) -> np.ndarray:
    """(n_texts, bins) one-permutation MinHash with rotation densification (64-bit values).

    Rows of texts without shingles stay all-ones.
    """
    shift = _U64(64 - (bins.bit_length() - 1))
    slot = owner * bins + (sh >> shift).astype(np.int64)
    mins = np.full(n_texts * bins, _MAX64, dtype=_U64)
    np.minimum.at(mins, slot, sh & (_MAX64 >> _U64(bins.bit_length() - 1)))
    # Each empty bin takes the next non-empty bin to its right (circularly), shifted by the
    # distance so two texts agree there only if they agree on the source bin. Few bins are
    # empty, so the search steps over the empty ones only, one bin further per step.
    empty = np.flatnonzero(mins == _MAX64)
    row, col = empty // bins, empty % bins
    # Texts without shingles stay all-ones.
    keep = np.bincount(row, minlength=n_texts)[row] < bins
    row, col, empty = row[keep], col[keep], empty[keep]
    src = np.empty_like(empty)
    dist = np.zeros(len(empty), _U64)
    todo = np.arange(len(empty))
    step = 1
    while len(todo):
        at = row[todo] * bins + (col[todo] + step) % bins
        found = mins[at] != _MAX64
        src[todo[found]], dist[todo[found]] = at[found], step
        todo = todo[~found]
        step += 1
    with np.errstate(over="ignore"):
        mins[empty] = _mix(mins[src] + dist * _DENSIFY)
    return mins.reshape(n_texts, bins)


def _band_keys(mins: np.ndarray, bands: int, rows: int, salt: int) -> np.ndarray:
    """(n, bands) LSH keys: each band's ``rows`` bins hashed with the band number."""
    n = len(mins)
    if not bands:
        return np.zeros((n, 0), _U64)
    cut = mins[:, : bands * rows].reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        acc = (cut * _BAND_MULT[:rows]).sum(axis=2, dtype=_U64)
        return _mix(acc ^ _BAND_SALT[salt: salt + bands])


def fingerprint(texts: Sequence[str], config: NearDupConfig = NearDupConfig()) -> Fingerprints:
    """Sketch a batch of texts (one call per batch: the work is in array operations)."""
    n = len(texts)
    hashes, first = _tokens(texts)
    sh, sizes = _shingles(hashes, first, config.shingle)
    rows = np.arange(n)
    mins = _oph(sh, np.repeat(rows, sizes), n, config.bins)
    keys = _band_keys(mins, config.bands, config.rows, 0)
    if config.lead_bands:
        lead = np.minimum(sizes, config.lead)
        lead_bins = 1 << (config.lead_bands * config.lead_rows - 1).bit_length()
        lead_mins = _oph(sh[_spans(np.cumsum(sizes) - sizes, lead)], np.repeat(rows, lead), n,
                         max(8, lead_bins))
        keys = np.concatenate(
            (keys, _band_keys(lead_mins, config.lead_bands, config.lead_rows, config.bands)),
            axis=1)
    sizes = sizes.astype(np.uint32)
    return Fingerprints(signatures=(mins & _U64(0xFF)).astype(np.uint8), sizes=sizes, keys=keys)


def shard_of(keys: np.ndarray, shards: int) -> np.ndarray:
    """Shard of each index key: from its high 32 bits (the index keeps the low 32)."""
    return ((np.asarray(keys, dtype=_U64) >> _U64(32)) % _U64(shards)).astype(np.int64)


def exact_key(kind: int, value: str) -> int:
    """Index key of an exact identity (a canonical URL, a content hash)."""
    return xxhash.xxh3_64_intdigest(f"{METHODS[kind]}\x1f{value}".encode())


def entries(fps: Fingerprints, urls: Sequence[str] | None = None,
            content_hashes: Sequence[str] | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index entries of a batch: (keys, owner row, method) for LSH bands and exact identities.

    Texts without shingles get no band entries (their sketches are all alike).
    """
    n, width = fps.keys.shape
    has_text = np.flatnonzero(fps.sizes > 0)
    keys = [fps.keys[has_text].ravel()]
    owner = [np.repeat(has_text, width)]
    methods = [np.full(len(has_text) * width, NEAR, np.uint8)]
    for kind, values in ((EXACT_URL, urls), (EXACT_CONTENT, content_hashes)):
        if values is not None:
            keys.append(np.fromiter((exact_key(kind, v) for v in values), _U64, count=n))
            owner.append(np.arange(n))
            methods.append(np.full(n, kind, np.uint8))
    return np.concatenate(keys), np.concatenate(owner), np.concatenate(methods)


def estimate(sig_a: np.ndarray, sig_b: np.ndarray, size_a: np.ndarray, size_b: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard and containment (shorter in longer) estimated from 8-bit signatures, row-wise."""
    bins = sig_a.shape[1]
    agree = (sig_a == sig_b).sum(axis=1) / bins
    chance = 1.0 / 256
    jaccard = np.clip((agree - chance) / (1 - chance), 0.0, 1.0)
    small = np.minimum(size_a, size_b).astype(np.float64)
    total = size_a.astype(np.float64) + size_b
    with np.errstate(divide="ignore", invalid="ignore"):
        contain = np.where(small > 0, jaccard * total / ((1 + jaccard) * small), 0.0)
    return jaccard, np.clip(contain, 0.0, 1.0)


@dataclass(frozen=True)
class Match:
    """The earliest verified earlier resident a text repeats."""

    event_id: str
    event_time: int
    similarity: float
    method: int

    def before(self, other: Match | None) -> bool:
        """Commutative choice between matches from different shards: earliest, then strongest."""
        if other is None:
            return True
        return ((self.event_time, self.event_id, self.method)
                < (other.event_time, other.event_id, other.method))


class _Grow:
    """A numpy array that grows by doubling (amortised O(1) append of a block of rows)."""

    def __init__(self, dtype: np.dtype, width: int = 0) -> None:
        self.shape_tail = (width,) if width else ()
        self.data = np.zeros((16, *self.shape_tail), dtype=dtype)
        self.size = 0

    def extend(self, rows: np.ndarray) -> None:
        if rows.dtype.kind == "S" and rows.dtype.itemsize > self.data.dtype.itemsize:
            self.data = self.data.astype(rows.dtype)  # ids longer than any so far
        need = self.size + len(rows)
        if need > len(self.data):
            grown = np.zeros((max(need, 2 * len(self.data)), *self.shape_tail), self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size: need] = rows
        self.size = need

    def view(self) -> np.ndarray:
        return self.data[: self.size]

    def keep(self, rows: np.ndarray | slice) -> None:
        kept = self.view()[rows]
        self.data = np.zeros((max(16, 2 * len(kept)), *self.shape_tail), self.data.dtype)
        self.data[: len(kept)] = kept
        self.size = len(kept)


def _directory(run: np.ndarray) -> np.ndarray:
    """Where each bucket of a sorted run starts (one more entry for the end), buckets being the
    top bits of the key, as many bits as give ~4 entries a bucket: ~1 byte per entry."""
    bits = max(1, (len(run) // 4).bit_length())
    counts = np.bincount((run >> _U64(64 - bits)).astype(np.intp), minlength=1 << bits)
    dtype = np.int32 if len(run) < 1 << 31 else np.int64
    return np.concatenate(([0], np.cumsum(counts))).astype(dtype)


@dataclass
class NearDupIndex:
    """Residents within the horizon, and the decision for each new batch.

    Entries are (key, resident, method) triples: band keys (method NEAR, verified on the
    signatures once a pair shares ``config.min_hits`` of them) and exact keys (EXACT_URL,
    EXACT_CONTENT, verified by equality). A Beam shard holds only the entries whose key maps to
    it, plus those residents' signatures. A text never matches a resident more than
    ``horizon_ms`` older than itself (None: no limit). ``verified`` counts the pairs whose
    signatures were compared (the cost that must not grow with the index).
    """

    config: NearDupConfig = field(default_factory=NearDupConfig)
    horizon_ms: int | None = None

    def __post_init__(self) -> None:
        self._ids = _Grow(np.dtype("S32"))
        self._times = _Grow(np.dtype(np.int64))
        self._sizes = _Grow(np.dtype(np.uint32))
        self._sigs = _Grow(np.dtype(np.uint8), self.config.bins)
        self._alive = _Grow(np.dtype(bool))
        self._live = 0
        # Per block of _BLOCK slots, the earliest event time of its live residents (int64 max:
        # none), so expiry reads only the blocks that hold a resident to forget, not every
        # resident per batch (3 ms a batch at a million).
        self._block_min = _Grow(np.dtype(np.int64))
        # Entries packed as key << 32 | ref (key: low 32 bits of the index key; ref: resident
        # slot * 4 + method), in sorted runs, largest (oldest) first. One sorted array would
        # take a copy of every entry per batch (an insert), hundreds of MB a batch at a million
        # residents; runs merge only with runs of similar size, so an entry is copied a few
        # times in its life and a batch searches a handful of runs.
        self._runs: list[np.ndarray] = []
        # Per run, where each bucket of keys (their top bits) starts: a look-up reads its
        # bucket (~4 entries) instead of binary-searching a run of millions (a cache miss a
        # level, ~1 us a key at a million residents).
        self._dirs: list[np.ndarray] = []
        self.verified = 0

    def __len__(self) -> int:
        return self._live

    @property
    def nbytes(self) -> int:
        """Bytes of resident data (arrays at their used size, dead residents not yet compacted
        included): what a snapshot of this index holds."""
        per_resident = self._ids.data.dtype.itemsize + 8 + 4 + self.config.bins + 1
        return self._alive.size * per_resident + sum(map(len, self._runs)) * (4 + 4)

    def add(self, ids: Sequence[str], times: np.ndarray, fps: Fingerprints,
            entry_keys: np.ndarray, entry_owner: np.ndarray, entry_methods: np.ndarray
            ) -> list[Match | None]:
        """Decide a batch, then keep it as residents.

        ``entry_keys``/``entry_owner``/``entry_methods`` list the keys of each text (owner = row
        in the batch). The batch is decided in (event time, id) order, so the verdicts do not
        depend on the order of the batch; a text only ever matches a strictly earlier resident.
        """
        n = len(ids)
        if n == 0:
            return []
        times = np.asarray(times, dtype=np.int64)
        id_bytes = np.array([i.encode() for i in ids], dtype=np.bytes_)
        base = self._alive.size
        self._ids.extend(id_bytes)
        self._times.extend(times)
        self._sizes.extend(fps.sizes)
        self._sigs.extend(fps.signatures)
        self._alive.extend(np.ones(n, bool))
        self._live += n
        self._note_blocks(base)
        # Only the low 32 bits are kept (the high ones pick the shard): a chance collision costs
        # one signature check, and 4 bytes per entry are saved.
        refs = (base + np.asarray(entry_owner, _U64)) * _U64(4) + np.asarray(entry_methods, _U64)
        # Sorted once: the search, the pairs within the batch and the merge all use it.
        batch = np.sort((np.asarray(entry_keys, dtype=_U64) << _U64(32)) | refs)
        found = [self._pairs_with_run(run, starts, batch, base)
                 for run, starts in zip(self._runs, self._dirs, strict=True)]
        verdict = self._verify(np.concatenate((*found, self._pairs_within(batch, base))), base, n)
        self._push(batch)
        return verdict

    def _push(self, run: np.ndarray) -> None:
        """Keep ``run`` (sorted) as the newest run; merge while the one before it is less than
        4 times its size, so sizes fall geometrically and there are ~log4(entries / batch)."""
        if not len(run):
            return
        runs, dirs = self._runs, self._dirs
        runs.append(run)
        dirs.append(np.zeros(0, np.int64))
        while len(runs) > 1 and len(runs[-2]) < 4 * len(runs[-1]):
            newer = runs.pop()
            dirs.pop()
            # A stable sort of two sorted runs is one linear merge (timsort finds the runs).
            runs[-1] = np.sort(np.concatenate((runs[-1], newer)), kind="stable")
        dirs[-1] = _directory(runs[-1])

    @staticmethod
    def _pairs(refs_a: np.ndarray, refs_b: np.ndarray, base: int) -> np.ndarray:
        """Candidate pairs as packed integers ``text << 34 | resident << 2 | method`` (text: row
        in the batch, resident: slot), so counting the keys a pair shares is one sort of plain
        integers and no resident row is read before a pair has enough of them. A pair's method
        is the weaker entry's (a URL key only ever meets a URL key: the kind is in the key hash).
        """
        text = (refs_a >> _U64(2)) - _U64(base)
        return (text << _U64(34)) | (refs_b & ~_U64(3)) | np.maximum(refs_a & _U64(3),
                                                                     refs_b & _U64(3))

    def _pairs_with_run(self, run: np.ndarray, starts: np.ndarray, batch: np.ndarray,
                        base: int) -> np.ndarray:
        """Pairs of the batch's entries with the residents in ``run`` sharing their key: every
        entry of the key's bucket is read and those with the same key kept."""
        bucket = (batch >> _U64(64 - (len(starts) - 1).bit_length() + 1)).astype(np.intp)
        lo = starts[bucket]
        counts = starts[bucket + 1] - lo
        at = _spans(lo, counts)
        owner = np.repeat(batch, counts)
        same = (run[at] ^ owner) < _U64(1 << 32)  # equal keys (the high halves)
        return self._pairs(owner[same] & _REF, run[at[same]] & _REF, base)

    def _pairs_within(self, batch: np.ndarray, base: int) -> np.ndarray:
        keys, refs = batch >> _U64(32), batch & _REF
        found = [np.zeros(0, _U64)]
        d = 1
        while d < len(keys):
            same = np.flatnonzero(keys[d:] == keys[:-d])
            if not len(same):
                break
            # Both directions: batch order is not time order; _verify keeps the earlier one.
            found.append(self._pairs(refs[same + d], refs[same], base))
            found.append(self._pairs(refs[same], refs[same + d], base))
            d += 1
        return np.concatenate(found)

    def _verify(self, pairs: np.ndarray, base: int, n: int) -> list[Match | None]:
        verdict: list[Match | None] = [None] * n
        # One row per (text, resident) with its strongest method (the sort puts it first); a
        # pair met only in bands counts once per key it shares and needs ``min_hits`` of them.
        pairs = np.sort(pairs)
        first = np.ones(len(pairs) + 1, bool)
        first[1:-1] = (pairs[1:] >> _U64(2)) != (pairs[:-1] >> _U64(2))
        starts = np.flatnonzero(first)
        pairs = pairs[starts[:-1]]
        pairs = pairs[((pairs & _U64(3)) < _U64(NEAR)) | (np.diff(starts) >= self.config.min_hits)]
        if not len(pairs):
            return verdict
        a = (pairs >> _U64(34)).astype(np.int64) + base
        b = ((pairs >> _U64(2)) & _U64((1 << 32) - 1)).astype(np.int64)
        method = (pairs & _U64(3)).astype(np.int64)
        times, ids = self._times.view(), self._ids.view()
        same_time = times[b] == times[a]
        # Two records with one id and time are one article read twice: the first kept repeats.
        earlier = ((times[b] < times[a]) | (same_time & (ids[b] < ids[a]))
                   | (same_time & (ids[b] == ids[a]) & (b < a)))
        if self.horizon_ms is not None:
            earlier &= times[a] - times[b] <= self.horizon_ms
        keep = (a != b) & self._alive.view()[b] & earlier
        a, b, method = a[keep], b[keep], method[keep]
        self.verified += int((method == NEAR).sum())
        sigs, sizes = self._sigs.view(), self._sizes.view()
        jaccard, contain = estimate(sigs[a], sigs[b], sizes[a], sizes[b])
        near_ok = ((contain >= self.config.threshold) & (jaccard >= self.config.min_jaccard)
                   & (sizes[a] > 0) & (sizes[b] > 0))
        ok = (method < NEAR) | near_ok
        a, b, method, contain = a[ok], b[ok], method[ok], contain[ok]
        similarity = np.where(method < NEAR, 1.0, contain)
        order = np.lexsort((method, ids[b], times[b], a))
        a, b, method, similarity = a[order], b[order], method[order], similarity[order]
        first = np.ones(len(a), bool)
        first[1:] = a[1:] != a[:-1]
        a, b = a[first], b[first]
        # Plain Python values first: one conversion per array, not one per element.
        for row, rid, rtime, sim, how in zip((a - base).tolist(), ids[b].tolist(),
                                             times[b].tolist(),
                                             similarity[first].round(4).tolist(),
                                             method[first].tolist(), strict=True):
            verdict[row] = Match(rid.decode(), rtime, sim, how)
        return verdict

    def _note_blocks(self, first: int) -> None:
        """Recompute the block minima from the block holding slot ``first`` on."""
        lo = first // _BLOCK * _BLOCK
        times = np.where(self._alive.view()[lo:], self._times.view()[lo:], _NEVER)
        mins = np.minimum.reduceat(times, np.arange(0, len(times), _BLOCK)) if len(times) else []
        self._block_min.size = lo // _BLOCK
        self._block_min.extend(np.asarray(mins, np.int64))

    def expire(self, before_ms: int) -> bool:
        """Forget residents older than ``before_ms``.

        Storage is compacted once a fifth of it is a dead prefix (residents arrive roughly in
        time order, so the dead ones are mostly the first slots), or half of it is dead, so
        memory follows the live residents; returns True when it was (a stored snapshot is then
        worth rewriting).
        """
        block_min = self._block_min.view()
        due = np.flatnonzero(block_min < before_ms)
        if not len(due):
            return False
        size = self._alive.size
        lengths = np.minimum(_BLOCK, size - due * _BLOCK)
        rows = _spans(due * _BLOCK, lengths)
        times, alive = self._times.view()[rows], self._alive.view()[rows]
        dying = alive & (times < before_ms)
        self._alive.view()[rows[dying]] = False
        self._live -= int(dying.sum())
        alive &= ~dying
        block_min[due] = np.minimum.reduceat(np.where(alive, times, _NEVER),
                                             np.cumsum(lengths) - lengths)
        # The first live slot (argmax stops at the first True).
        prefix = int(self._alive.view().argmax()) if self._live else size
        if prefix * 5 >= size:
            self._compact(prefix)
            return True
        if (size - self._live) * 2 >= size:
            self._compact(None)
            return True
        return False

    def _compact(self, prefix: int | None) -> None:
        """Drop the first ``prefix`` slots (all dead), or every dead slot (None).

        Slots keep their order, so each run stays sorted: dropping a prefix only subtracts
        from every entry's slot, and no run is merged again (the rebuild cost 15.7 us per
        expired resident at a million, this ~3).
        """
        runs = []
        if prefix is not None:
            cut = _U64(4 * prefix)
            for run in self._runs:
                runs.append(run[(run & _REF) >= cut] - cut)
            for grow in (self._ids, self._times, self._sizes, self._sigs, self._alive):
                grow.keep(slice(prefix, None))
        else:
            alive = self._alive.view().copy()
            remap = (np.cumsum(alive) - 1).astype(_U64)
            for run in self._runs:
                slot = (run & _REF) >> _U64(2)
                run = run[alive[slot]]
                slot = (run & _REF) >> _U64(2)
                runs.append((run & ~_REF) | (remap[slot] << _U64(2)) | (run & _U64(3)))
            for grow in (self._ids, self._times, self._sizes, self._sigs, self._alive):
                grow.keep(alive)
        self._runs = [run for run in runs if len(run)]
        self._dirs = [_directory(run) for run in self._runs]
        self._note_blocks(0)

    def snapshot(self, start: int = 0) -> tuple:
        """Residents from slot ``start`` on (all: 0) with their entries, as plain arrays.

        ``restore`` of a full snapshot and the ones taken since rebuilds an equal index.
        """
        entries = np.concatenate(
            [np.zeros(0, _U64), *(run[(run & _REF) >= _U64(4 * start)] for run in self._runs)])
        return (self._ids.view()[start:], self._times.view()[start:],
                self._sizes.view()[start:], self._sigs.view()[start:],
                self._alive.view()[start:], (entries >> _U64(32)).astype(np.uint32),
                ((entries & _REF) - _U64(4 * start)).astype(np.uint32))

    @property
    def slots(self) -> int:
        """Resident slots in use (the ``start`` of the next incremental snapshot)."""
        return self._alive.size

    @classmethod
    def restore(cls, config: NearDupConfig, horizon_ms: int | None, snapshots) -> NearDupIndex:
        index = cls(config, horizon_ms)
        entries = [np.zeros(0, _U64)]
        for ids, times, sizes, sigs, alive, snap_keys, snap_refs in snapshots:
            base = index._alive.size
            for grow, rows in ((index._ids, ids), (index._times, times),
                               (index._sizes, sizes), (index._sigs, sigs),
                               (index._alive, alive)):
                grow.extend(rows)
            entries.append((np.asarray(snap_keys, _U64) << _U64(32))
                           | (np.asarray(snap_refs, _U64) + _U64(4 * base)))
        index._push(np.sort(np.concatenate(entries)))
        index._live = int(index._alive.view().sum())
        index._note_blocks(0)
        return index

    def oldest(self) -> int | None:
        """Event time of the oldest live resident, if any (when the next expiry is due)."""
        return int(self._block_min.view().min()) if self._live else None
