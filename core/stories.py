"""Stories: one ``story_id`` for every report of the same event, across outlets and languages.

Pure logic, no Beam. An article becomes a :class:`StoryProfile` (its *keys*: names and numbers
that survive translation), and a :class:`StoryLinker` decides online, in event-time order,
which live story each profile joins:

    linker = StoryLinker()
    linker.link(story_profile(swedish_report))  # StoryVerdict('a1..', linked_by='first', ..)
    linker.link(story_profile(dutch_report))    # StoryVerdict('a1..', linked_by='names', ..)

**Keys.** Names are the words that carry a story across languages: capitalised words that are
not function words (``data/stories/function_words.txt``), acronyms, and numbers. A capitalised
word at the start of a sentence, or in a headline written in headline case or all caps, counts
only if the rest of the text confirms it (capitalised elsewhere), since there the capital says
nothing. Names are transliterated to ASCII (``anyascii``: Сирия -> Siriya, سوريا -> swry) and
reduced to a *consonant skeleton*: up to two inflection endings are cut, vowels and h dropped
(in Arabic and Hebrew w, v and y too: they write long vowels; Arabic's تش is the ch of
foreign names), letters that scripts and
languages write differently merged (c/k/q, s/z/x, b/p, f/v/w), and at most
:data:`SKELETON_MAX` consonants kept: Syrien, Syrië, Syria, Siriya, swry -> ``sr``; Hasakah,
Hasaké, حسكة -> ``sk``. Numbers are kept as digits without thousands separators (``1,300``,
``1.300`` and ``1 300`` -> ``#1300``; ``7,8`` -> ``#7.8``). Text in scripts without case
(Arabic, Hebrew, Devanagari, ...) has no capital to go by: every word that is not a function
word is a candidate, and rarity sorts them out. In Japanese and Chinese, Katakana runs are names
(they mostly spell foreign ones), Han runs give character pairs, Hiragana is grammar. Only the
title, the lead and the start of the body are read (:data:`MAX_CHARS`: bounded time for 1 MB
bodies) and at most :data:`MAX_KEYS` keys are kept, numbers and Han pairs included.

**Linking.** Each key weighs its rarity in the stream so far (IDF counted in-stream, in a table
that halves every :data:`IDF_HALF_LIFE` articles so it stays bounded), times a factor for weak
keys (numbers, short skeletons) and for keys no earlier article had (:data:`UNSEEN_WEIGHT`: in
German, where every noun is capitalised, and in scripts without case most of those are words,
not names; they cannot link and should not dilute much). A story keeps how often each key
occurs in its articles (the :data:`STORY_KEYS` most frequent). The similarity of an article to
a story is ``sum(w_k * share_k) / sqrt(W_article * W_story)`` over shared keys, where
``share_k`` is the share of the story's articles with key ``k``, times a time decay from the
story's last article (1 / (1 + gap / :data:`DECAY_MS`)). Numbers confirm but do not link on
their own: a story shared only through numbers scores 0. The best story at or above
``threshold`` is joined (ties: the smaller story id); otherwise the article opens a story
whose id is its own event_id. Fed in (event time, event_id) order, that is the event_id of the
story's earliest article, the same on every runner and rerun.

**Bounds.** A story expires ``horizon_ms`` after its last article; a story that reaches
``max_size`` articles is closed and the next article that would join it opens a successor
(``linked_by='capped'``, with a note naming the predecessor), which inherits its keys. Each
key's postings keep the :data:`POSTINGS` stories it was most recently seen in (with its count
there, so scoring reads no story until the candidates are summed), so the work per article does
not grow with the number of live stories. An article linked again (its event_id delivered a
second time while its story is live: streaming input is at least once) gets its first verdict
and counts nothing.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import math
import operator
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from anyascii import anyascii

__all__ = [
    "LINKED_BY",
    "StoryLinker",
    "StoryProfile",
    "StoryVerdict",
    "story_profile",
    "story_text",
]

# How a verdict was reached: first article of its story; joined by shared names; a duplicate
# in its original's story; opened a successor of a story that reached max_size.
LINKED_BY = ("first", "names", "duplicate", "capped")

# Title, lead and the start of the body name the event; the rest costs time. Profiling costs
# about its length (a regex pass and a look-up per word): 1,000 characters (headline and the
# first paragraphs) cost half of 2,000 on bench_pipeline's corpus. Every report of the team's
# story set (at most 235) and every sample item (at most 784) fits whole.
MAX_CHARS = 1000
MAX_KEYS = 40
# Keys a story remembers (its most frequent), and stories a key's postings remember.
STORY_KEYS = 64
POSTINGS = 32
# The in-stream document frequencies halve every this many articles (bounded table).
IDF_HALF_LIFE = 1 << 13
# Weight factors of keys that also occur by chance: numbers, skeletons of 2 letters.
NUMBER_WEIGHT = 0.5
SHORT_WEIGHT = 0.6
# Weight factor of a key no other article has had: in a language whose nouns are all capitalised
# (German) or a script without case, most of those are words, not names.
UNSEEN_WEIGHT = 0.25
# A skeleton keeps its first consonants only: inflections and compounds differ after them
# (Afghanistan / Afganistan'da, Cherson / chersońskim, Erdogan / Erdoğan'ın).
SKELETON_MAX = 4
# Time decay: similarity x 1 / (1 + gap / DECAY_MS), gap from the story's last article.
# 12 h: a report of another event at the same place with the same actors a day or two later (a
# drone strike on the SDF near Hasakah after the IS attack on its prison) shares most names.
DECAY_MS = 12 * 3600 * 1000
# Similarity an article needs to join a story (bench_stories.py --sweep shows the trade-off).
THRESHOLD = 0.15
# A segment is headline-cased (or all caps) when this share of its words starts upper case.
HEADLINE_SHARE = 0.7

# A number with thousands separators (1,200 / 1.200 / 1 200) or a decimal (7,8 / 7.8) is one
# word; so is a run of one script among Han, Katakana and Hiragana (Japanese and Chinese put
# no spaces between words, Katakana mostly spells foreign names).
# Character ranges of Han (CJK ideographs) and of Kana (Hiragana and Katakana), and the
# characters that end a sentence: one definition each for the patterns below.
_HAN_RANGES = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA_RANGES = r"\u3040-\u30ff"
_SENTENCE_ENDS = ".!?:;。！？\n"
_WORD = re.compile(r"\d{1,3}(?:[.,'’\u00a0\u202f ]\d{3})+(?!\d)|\d+[.,]\d{1,2}(?!\d)"
                   rf"|[\u30a0-\u30ff]+|[{_HAN_RANGES}]+|[\u3040-\u309f]+"
                   rf"|[^\W{_KANA_RANGES}{_HAN_RANGES}]+")
_ENDS = frozenset(_SENTENCE_ENDS)
# Words and the sentence ends between them, in one pass (a word is sentence-initial when a
# sentence end or nothing comes before it). No word starts with a sentence end character, so
# the words are the ones _WORD finds alone. Tried first, what most words are: one that starts
# with a letter (as _WORD's last branch; its number branches need a digit first), and the
# ends; the regex tries its branches at every character, the common ones first cost least.
# The lookahead first: a character no token starts with (a space, a comma, a quote: a fifth
# of a text) fails one class test there instead of every branch (findall ~20 % faster; the
# class holds every branch's first characters, so the tokens are the same).
_TOKEN_BRANCHES = (rf"[^\W\d{_KANA_RANGES}{_HAN_RANGES}][^\W{_KANA_RANGES}{_HAN_RANGES}]*"
                   f"|[{_SENTENCE_ENDS}]|{_WORD.pattern}")
_TOKEN = re.compile(rf"(?=[\w{_SENTENCE_ENDS}{_KANA_RANGES}{_HAN_RANGES}])(?:{_TOKEN_BRANCHES})")
_THOUSANDS = re.compile(r"[.,'’\u00a0\u202f ](?=\d{3}(?!\d))")
# Inflection and adjective endings cut before the skeleton (longest first), if 3 letters remain.
_ENDINGS = frozenset(
    ("ien", "ije", "ija", "iya", "iyah", "ia", "ie", "ya", "ah", "eh", "en", "es", "an", "ns",
     "je", "ian", "ians", "isch", "ische", "ischen", "ese", "isk", "iska", "iske", "ska", "ske",
     "ais", "aise", "ienne", "iens", "ens", "ov", "om", "ow", "em", "ym", "ego", "ogo",
     "a", "e", "i", "o", "s", "y", "u"))
_ENDING_LENGTHS = sorted({len(e) for e in _ENDINGS}, reverse=True)
_VOWELS = frozenset("aeiouyh")
# Scripts that write long vowels with consonant letters (waw, yod): w, v and y are vowels there.
_SEMITIC_VOWELS = frozenset("aeiouyhwv")
_DIGRAPHS = (("sch", "s"), ("sz", "s"), ("cz", "k"), ("ch", "k"), ("ck", "k"), ("ph", "f"),
             ("dj", "j"))
# Sounds that scripts and languages write differently: one letter each (b/p: Arabic has no p;
# f/v/w: Arabic has no v, German writes w).
_SKELETON_MAP = str.maketrans({"c": "k", "q": "k", "z": "s", "x": "s", "p": "b", "v": "f",
                               "w": "f"})
# Arabic prefixes written onto the word: the article and the conjunctions/prepositions before it.
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_SEMITIC = re.compile(r"[\u0590-\u06ff\u0750-\u077f\u08a0-\u08ff]")
# Han (and Thai, Lao, Khmer, Myanmar) runs have no spaces: one key per pair of characters.
_HAN = re.compile(rf"[{_HAN_RANGES}\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")


class StoryProfile(NamedTuple):
    """What linking needs of one article: small and picklable, computed in parallel."""

    event_id: str
    event_time_ms: int
    title: str
    language: str | None
    outlet: str | None
    keys: tuple[str, ...]


class StoryVerdict(NamedTuple):
    """The story an article is in, how it got there (one of :data:`LINKED_BY`) and the
    similarity that decided it (1.0 for first articles and duplicates)."""

    story_id: str
    linked_by: str
    similarity: float
    note: str | None


@functools.cache
def _function_words() -> frozenset[str]:
    path = importlib.resources.files("wirewatch.core") / "data" / "stories" / "function_words.txt"
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0]
        if ":" in line:
            words.update(line.split(":", 1)[1].split())
    return frozenset(words)


def story_text(title: str, summary: str, body: str) -> str:
    """The part of an article that names its event: title, lead, start of the body."""
    lead = summary if summary else body
    text = f"{title}\n{lead}"
    if summary and body and not body.startswith(summary[:80]):
        text = f"{text}\n{body}"
    return text[:MAX_CHARS]


def _skeleton(word: str, semitic: bool = False) -> str:
    """Consonant skeleton of a transliterated, lower-case word (see the module docstring)."""
    for _ in range(2):  # the longest ending that leaves 3 letters, twice
        for length in _ENDING_LENGTHS:
            if len(word) - length >= 3 and word[-length:] in _ENDINGS:
                word = word[:-length]
                break
    for digraph, letter in _DIGRAPHS:
        word = word.replace(digraph, letter)
    vowels = _SEMITIC_VOWELS if semitic else _VOWELS
    out = []
    for ch in word:
        if ch not in vowels:
            ch = ch.translate(_SKELETON_MAP)
            if not out or ch != out[-1]:
                out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1 << 16)
def _name_key(word: str) -> str | None:
    """The key of a name as written (any script), or None if nothing of it is left. Cached:
    transliteration is the dearest part of a profile, and a stream repeats its names."""
    semitic = _SEMITIC.match(word) is not None
    if semitic:
        for prefix in _ARABIC_PREFIXES:
            if word.startswith(prefix) and len(word) > len(prefix) + 2:
                word = word[len(prefix):]
                break
        else:
            if word[0] == "و" and len(word) > 4:
                word = word[1:]
    ascii_word = "".join(ch for ch in anyascii(word).lower() if "a" <= ch <= "z")
    if semitic:
        # Arabic spells the ch of foreign names (Chandrayaan, Chile) ta-shin: the skeleton's ch.
        ascii_word = ascii_word.replace("tsh", "ch")
    if len(ascii_word) < 2:
        return None
    skeleton = _skeleton(ascii_word, semitic)
    return skeleton[:SKELETON_MAX] if len(skeleton) >= 2 else ascii_word


class _Token(NamedTuple):
    """What one token of a text says by itself, before its context (see :func:`_token`)."""

    word: str
    end: bool  # a sentence end, not a word
    tally: int  # 1: a cased word that starts with a letter (counted for headline case)
    capitals: int  # 1: such a word that starts with a capital
    capital: bool  # starts with a capital letter
    lower: str
    # The token's keys in any context (numbers, names in scripts without case; () for none),
    # or None: a cased word that is a name only in some contexts (see _keys).
    keys: tuple[str, ...] | None
    han: bool  # a run of Han (Thai, Lao, ...) letters: its character pairs are keys
    function: bool  # a function word
    acronym: bool  # 2-6 letters, all capitals: a name unless its segment shouts
    matters: bool  # gives a key in some context


_END = _Token("", True, 0, 0, False, "", (), False, False, False, False)
_MATTERS = operator.attrgetter("matters")
_CAPITAL = operator.attrgetter("capital")
_TALLY = operator.attrgetter("tally")
_CAPITALS = operator.attrgetter("capitals")
# A _Token from a tuple without NamedTuple's checks (a miss costs this on every new word).
_new_token = functools.partial(tuple.__new__, _Token)


# Tokens classified so far (a text repeats its words and a stream its vocabulary), so that a
# profile is one regex pass and one look-up per word; emptied when it reaches TOKENS_CACHED
# (~300 bytes a token: ~20 MB a worker process when full; bench_pipeline's corpus has ~52,000
# distinct words besides its Han runs). Safe across a worker's threads: a profile only reads it
# and adds to it, and works on its own list of the tokens it found.
_TOKENS: dict[str, _Token] = {}
TOKENS_CACHED = 1 << 16


# Every run of Han characters (a clause of Chinese, a word of Japanese) is this one token, read
# with its text where keys are taken (_keys): a run seldom comes again, so runs are neither
# cached nor classified one by one (half the distinct tokens of bench_pipeline's corpus).
_HAN_RUN = _Token("", False, 0, 0, False, "", (), True, False, False, True)


def _tokens(text: str) -> tuple[list[str], list[_Token]]:
    """The tokens of ``text`` (words and sentence ends, :data:`_TOKEN`) and what each says."""
    if len(_TOKENS) >= TOKENS_CACHED:
        _TOKENS.clear()
    words = _TOKEN.findall(text)
    tokens = list(map(_TOKENS.get, words))
    if None in tokens:  # classify the new words and put them in place (both maps run in C)
        new = {}
        for word in itertools.compress(words, map(operator.not_, tokens)):
            first = word[0]
            # _TOKEN's only tokens that start with a Han character are runs of Han.
            new[word] = _HAN_RUN if ("\u4e00" <= first <= "\u9fff" or "\u3400" <= first <= "\u4dbf"
                                     or "\uf900" <= first <= "\ufaff") else _token(word)
        tokens = list(map(new.get, words, tokens))
        _TOKENS.update(item for item in new.items() if item[1] is not _HAN_RUN)
    return words, tokens


def _token(token: str) -> _Token:
    """What ``token`` says by itself."""
    if len(token) == 1 and token in _ENDS:
        return _END
    first = token[0]
    if first.isdigit():
        number = _THOUSANDS.sub("", token).replace(",", ".")
        found = ("#" + (number.lstrip("0") or "0")[:12],) if number.replace(
            ".", "", 1).isdigit() else ()
        return _new_token((token, False, 0, 0, False, token, found, False, False, False,
                           bool(found)))
    if "\u3040" <= first <= "\u309f":  # Hiragana: grammar, not names
        return _new_token((token, False, 0, 0, False, token, (), False, False, False, False))
    lower = token.lower()
    cased = lower != token.upper()
    capital = first.isupper()
    tally = int(cased and first.isalpha())
    acronym = 2 <= len(token) <= 6 and token.isupper()
    function = lower in _function_words()
    static: tuple[str, ...] | None = None
    han = False
    if len(token) < 2 or (function and not acronym):
        static = ()
    elif _HAN.match(token):
        static, han = (), True
    elif not cased:
        key = _name_key(token)
        static = () if key is None else (key,)
    elif not capital and not acronym:  # a lower-case word is no name anywhere
        static = ()
    return _new_token((token, False, tally, tally and int(capital), capital, lower, static, han,
                       function, acronym, han or static is None or bool(static)))


def _han_pairs(run: str) -> list[str]:
    """The distinct character pairs of a Han run in order, at most MAX_KEYS (a sentence of
    Chinese is one run: only its first pairs can be kept)."""
    pairs: dict[str, None] = {}
    for i in range(len(run) - 1):
        pairs[run[i:i + 2]] = None
        if len(pairs) >= MAX_KEYS:
            break
    return list(pairs)


def _keys(title: str, rest: str) -> tuple[str, ...]:
    """Keys of an article, in order of first occurrence (title first), at most MAX_KEYS."""
    segments = []
    # Words capitalised somewhere the capital means something: not sentence-initial, not in
    # a headline-cased or all-caps segment. They confirm capitals where it means nothing.
    confirmed: set[str] = set()
    for text in (title, rest):
        words, tokens = _tokens(text)
        cased = sum(map(_TALLY, tokens))
        loud = cased >= 4 and sum(map(_CAPITALS, tokens)) >= HEADLINE_SHARE * cased
        segments.append((words, tokens, loud))
        # (token before, token): a word is sentence-initial when a sentence end (or nothing)
        # comes before it. Picked in C: most words are neither capitalised nor keys (and zip
        # reuses its tuple for each word compress drops).
        if not loud:
            confirmed.update(t.lower for before, t in itertools.compress(
                zip((_END, *tokens), tokens, strict=False), map(_CAPITAL, tokens))
                if not before.end)
    keys: dict[str, None] = {}
    for words, tokens, loud in segments:
        for before, token, word in itertools.compress(
                zip((_END, *tokens), tokens, words, strict=False), map(_MATTERS, tokens)):
            found = token.keys
            if token.han:
                if token is _HAN_RUN and word in _function_words():
                    continue
                found = _han_pairs(word)
            elif found is None:  # a cased word: a name where its capital means something
                # An acronym is a name even where it spells a function word (IS, US, AND).
                acronym = token.acronym and not loud
                if not acronym and (token.function or not token.capital or (
                        (before.end or loud) and token.lower not in confirmed)):
                    continue
                key = _name_key(token.word)
                if key is None:
                    continue
                found = (key,)
            for key in found:
                keys[key] = None
                if len(keys) >= MAX_KEYS:
                    return tuple(keys)
    return tuple(keys)


def story_profile(article: Mapping[str, Any]) -> StoryProfile:
    """The profile of an article event (``schemas/article_event.avsc``: event_id, event_time,
    title, summary, body, language, source); missing fields count as empty."""
    language = article.get("language")
    if isinstance(language, Mapping):
        language = language.get("code")
    source = article.get("source")
    outlet = source.get("outlet") if isinstance(source, Mapping) else None
    title = unicodedata.normalize("NFC", (article.get("title") or "")[:MAX_CHARS])
    summary = article.get("summary") or ""
    body = article.get("body") or ""
    rest = unicodedata.normalize("NFC", story_text("", summary[:MAX_CHARS], body[:MAX_CHARS]))
    return StoryProfile(
        event_id=article["event_id"],
        event_time_ms=int(article["event_time"]),
        title=title[:300],
        language=language,
        outlet=outlet,
        keys=_keys(title, rest[: max(0, MAX_CHARS - len(title))]),
    )


class _Story:
    """A live story: its id, size, last event time and key counts."""

    __slots__ = ("closed", "counts", "last_ms", "mass", "size", "story_id")

    def __init__(self, story_id: str, last_ms: int) -> None:
        self.story_id = story_id
        self.size = 0
        self.last_ms = last_ms
        self.counts: dict[str, int] = {}
        self.mass = 0.0  # W_story under the weights of its last update
        self.closed = False


class StoryLinker:
    """Online story linking for one shard of state; feed it profiles in (event time, event_id)
    order. Picklable: its pickle is the state snapshot of the Beam step, in builtin
    containers only (lists, tuples, plain dicts), which pickle reads at C speed."""

    def __init__(self, horizon_ms: int = 72 * 3600 * 1000, threshold: float = THRESHOLD,
                 max_size: int = 1000) -> None:
        if horizon_ms <= 0 or max_size < 1 or not 0.0 < threshold <= 1.0:
            raise ValueError(f"need horizon_ms > 0, max_size >= 1, 0 < threshold <= 1; got "
                             f"{horizon_ms}, {max_size}, {threshold}")
        self.horizon_ms = horizon_ms
        self.threshold = threshold
        self.max_size = max_size
        # Live stories, least recently joined first (expiry pops from the front).
        self._stories: OrderedDict[str, _Story] = OrderedDict()
        # key -> {story id: the key's count in that story} for the stories it was last seen
        # in, least recently joined first (at most POSTINGS).
        self._postings: dict[str, dict[str, int]] = {}
        # article event_id -> its verdict (story_id, linked_by, similarity, note), for its
        # duplicates and its second delivery; dropped with the story.
        self._members: dict[str, tuple[str, str, float, str | None]] = {}
        self._members_of: dict[str, list[str]] = {}
        self._df: dict[str, float] = {}
        self._articles = 0.0
        self._since_halving = 0

    def __len__(self) -> int:
        return len(self._stories)

    def __getstate__(self) -> tuple:
        stories = [(s.story_id, s.size, s.last_ms, s.counts, s.mass, s.closed)
                   for s in self._stories.values()]
        return (self.horizon_ms, self.threshold, self.max_size, stories, self._postings,
                self._members, self._df, self._articles, self._since_halving)

    def __setstate__(self, state: tuple) -> None:
        if not isinstance(state, tuple):  # pickled whole, before the linker had this format
            raise ValueError("this linker snapshot predates the current format (wirewatch "
                             "9fae4d9 and earlier); start the link step without its state")
        (self.horizon_ms, self.threshold, self.max_size, stories, self._postings,
         self._members, self._df, self._articles, self._since_halving) = state
        self._stories = OrderedDict()
        self._members_of = {}
        for story_id, size, last_ms, counts, mass, closed in stories:
            story = self._stories[story_id] = _Story(story_id, last_ms)
            story.size, story.counts, story.mass, story.closed = size, counts, mass, closed
            self._members_of[story_id] = []
        for event_id, verdict in self._members.items():
            self._members_of[verdict[0]].append(event_id)

    def _weight(self, key: str, df: float) -> float:
        idf = math.log((self._articles + 1.0) / (df + 1.0)) + 1.0
        if df <= 0.0:
            idf *= UNSEEN_WEIGHT
        if key[0] == "#":
            return idf * NUMBER_WEIGHT
        if len(key) <= 2:
            return idf * SHORT_WEIGHT
        return idf

    def _count(self, keys: Iterable[str]) -> None:
        df = self._df
        for key in keys:
            df[key] = df.get(key, 0.0) + 1.0
        self._articles += 1.0
        self._since_halving += 1
        if self._since_halving >= IDF_HALF_LIFE:
            self._since_halving = 0
            self._articles /= 2.0
            # A key seen once in a half-life is forgotten: the table holds the keys of the
            # last IDF_HALF_LIFE articles and the recurring ones, not every name ever seen.
            self._df = {k: v / 2.0 for k, v in df.items() if v >= 2.0}

    def _score(self, profile: StoryProfile) -> tuple[_Story | None, float]:
        """The best live story for a profile and its similarity (0.0 if none)."""
        df = self._df
        weights = {k: self._weight(k, df.get(k, 0.0)) for k in profile.keys}
        mass = sum(weights.values())
        if mass <= 0.0:
            return None, 0.0
        # sum(w_k * count_k) per story a name of the profile is posted in: the postings carry
        # the counts, so this loop (the hot one) touches no story.
        dots: dict[str, float] = {}
        numbers = []
        postings = self._postings
        for key, weight in weights.items():
            if key[0] == "#":
                numbers.append((key, weight))
                continue
            posting = postings.get(key)
            if posting:
                for story_id, count in posting.items():
                    dots[story_id] = dots.get(story_id, 0.0) + weight * count
        best, best_score = None, 0.0
        stories = self._stories
        earliest = profile.event_time_ms - self.horizon_ms
        for story_id in sorted(dots):
            story = stories[story_id]
            if story.last_ms < earliest or story.closed:
                continue
            dot = dots[story_id]
            # Numbers only add to stories a name found (they never link alone).
            for key, weight in numbers:
                count = story.counts.get(key)
                if count:
                    dot += weight * count
            gap = max(0, profile.event_time_ms - story.last_ms)
            score = dot / story.size / math.sqrt(mass * story.mass) / (1.0 + gap / DECAY_MS)
            if score > best_score:
                best, best_score = story, score
        return best, min(best_score, 1.0)

    def _join(self, story: _Story, profile: StoryProfile) -> None:
        story.size += 1
        story.last_ms = max(story.last_ms, profile.event_time_ms)
        self._stories.move_to_end(story.story_id)
        counts = story.counts
        for key in profile.keys:
            counts[key] = counts.get(key, 0) + 1
        if len(counts) > 2 * STORY_KEYS:
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            story.counts = counts = dict(ranked[:STORY_KEYS])
            self._unpost(story.story_id, (k for k, _ in ranked[STORY_KEYS:]))
        # Full weights here, although the article's unseen keys weigh less: a story whose other
        # keys nobody else had must not look like a strong match for one shared name.
        df = self._df
        story.mass = sum(self._weight(k, df.get(k, 1.0)) * c
                         for k, c in counts.items()) / story.size
        story_id = story.story_id
        postings = self._postings
        for key, count in counts.items():
            posting = postings.get(key)
            if posting is None:
                postings[key] = {story_id: count}
                continue
            # Least recently joined first: re-inserting moves the story to the end.
            posting.pop(story_id, None)
            posting[story_id] = count
            if len(posting) > POSTINGS:
                del posting[next(iter(posting))]

    def _unpost(self, story_id: str, keys: Iterable[str]) -> None:
        for key in keys:
            posting = self._postings.get(key)
            if posting is not None:
                posting.pop(story_id, None)
                if not posting:
                    del self._postings[key]

    def _open(self, profile: StoryProfile, inherit: _Story | None = None) -> _Story:
        story = _Story(profile.event_id, profile.event_time_ms)
        self._stories[story.story_id] = story
        self._members_of[story.story_id] = []
        if inherit is not None:
            # The successor starts from its predecessor's key shares, as one article's worth.
            story.counts = {k: 1 for k, c in inherit.counts.items() if 2 * c >= inherit.size}
            story.size = 0
        self._join(story, profile)
        return story

    def link(self, profile: StoryProfile, duplicate_of: str | None = None) -> StoryVerdict:
        """The story of one article; a duplicate goes to its original's story if that is live.

        An article linked before (its event_id delivered again while its story is live: input
        is at least once) gets the verdict of its first delivery and counts nothing again."""
        known = self._members.get(profile.event_id)
        if known is not None:
            return StoryVerdict(*known)
        verdict = self._decide(profile, duplicate_of)
        self._members[profile.event_id] = tuple(verdict)
        self._members_of[verdict.story_id].append(profile.event_id)
        return verdict

    def _decide(self, profile: StoryProfile, duplicate_of: str | None) -> StoryVerdict:
        if duplicate_of is not None:
            original = self._members.get(duplicate_of)
            if original is not None:
                story_id = original[0]
                story = self._stories[story_id]
                story.last_ms = max(story.last_ms, profile.event_time_ms)
                self._stories.move_to_end(story_id)
                return StoryVerdict(story_id, "duplicate", 1.0, None)
        story, score = self._score(profile)
        self._count(profile.keys)
        if story is None or score < self.threshold:
            self._open(profile)
            return StoryVerdict(profile.event_id, "first", 1.0, None)
        if story.size >= self.max_size:
            story.closed = True
            successor = self._open(profile, inherit=story)
            return StoryVerdict(
                successor.story_id, "capped", score,
                f"story {story.story_id} reached {self.max_size} articles; continued here")
        self._join(story, profile)
        return StoryVerdict(story.story_id, "names", score, None)

    def expire(self, now_ms: int) -> int:
        """Drop stories whose last article is older than the horizon at ``now_ms``; how many."""
        cutoff = now_ms - self.horizon_ms
        dropped = 0
        while self._stories:
            story_id, story = next(iter(self._stories.items()))
            if story.last_ms >= cutoff:
                break
            del self._stories[story_id]
            self._unpost(story_id, story.counts)
            for member in self._members_of.pop(story_id):
                self._members.pop(member, None)
            dropped += 1
        return dropped
