"""Both topic taggers give the answers they gave before they were made cheaper, in any batch size.

``tests/data/topics_before.json`` holds, per text, the topics (code and score as printed) of the
learned tagger and of the keyword tagger and whether each supports the text's language (what
``topics_tagger`` says), as main gave them at d6989db, before the change that made tagging
cheaper. The texts: the team's held-out eval set (headline, and headline + lead), the sample
feeds' articles (title, lead and body as Tag reads them, in the feed's language), the bench
corpus (``benchmarks/corpus.py``, 2,000 stories, seed 7, each article in its own language) and
the tricky texts below. Regenerate it only on purpose, from the code whose answers are the
reference::

    .venv/bin/python -m tests.test_topic_answers
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.bench_tagging import TOPIC_EVAL, _topic_items
from benchmarks.corpus import generate
from tests.conftest import REPO, SAMPLES
from wirewatch.connectors.rss.feedlist import load_feed_list
from wirewatch.connectors.rss.parse import parse_feed
from wirewatch.core.article import Rejected, build_event
from wirewatch.core.topic_model import MODEL_CHARS, LearnedTopicTagger
from wirewatch.core.topics import MAX_CHARS, KeywordTopicTagger, topic_text

BEFORE = REPO / "tests" / "data" / "topics_before.json"
SENTENCE = "The government presents a plan for provincial hospitals and their staff. "


def _tricky() -> list[tuple[str, str | None]]:
    """Texts at the edges of what the taggers read: nothing to read, markup, huge, odd scripts,
    characters that NFKC or lower-casing change, words cut at the model's and the keywords'
    limits, and languages with no definitions or none at all."""
    near = [SENTENCE * 20, "Σ" * 5 + " " + SENTENCE * 20, "İ" * 40 + " " + SENTENCE * 20]
    # a word or a phrase across the model's or the keywords' limit
    cut = [filler + " parliament election start-up funding" for filler in (
        "x" * (MODEL_CHARS - 10), "y " * (MODEL_CHARS // 2 - 13), "z " * (MAX_CHARS // 2 - 6),
        "w " * (MAX_CHARS // 2 - 18))]
    texts = [
        ("", "en"), ("   \n\t ", "en"), ("😀🎉👍", "en"), ("— !? …", "de"), ("12345", "en"),
        ("<div><b>Storm</b> warning: heavy snow and ice tonight</div>", "en"),
        ("<p>Le gouvernement &amp; le parlement votent le budget</p>", "fr"),
        ("Arsenal beat Chelsea 3-1 as striker scores twice in the derby. " * 16_000, "en"),
        ("Apple 发布 new iPhone, 股价 rises 5%", "zh"),
        ("Apple 发布 new iPhone, 股价 rises 5%", "en"),
        ("大雨と暴風に警戒、気象庁が警報を発表", "ja"), ("ฝนตกหนักในกรุงเทพ น้ำท่วมถนน", "th"),
        ("ﬁnance ﬁrms: ＢＡＮＫ raises ｒａｔｅｓ ①②", "en"), ("ΣΟΦΟΣ ΛΟΓΟΣ εκλογές βουλή", "el"),
        ("snake_case_words and start-up funding round for fin-tech start_up", "en"),
        ("Parliament passes the budget", "und"), ("Parliament passes the budget", None),
        ("Parliament passes the budget", "xx-Unknown"), ("Bundestag stimmt ab", "nn"),
        ("Regjeringen vil ikke endre skatten etter valget", "nn"),
        (SENTENCE, "en"), (SENTENCE.upper(), "en"), (SENTENCE * 40, "en"),
        ("Der Bundestag stimmt über den Haushalt der Regierung ab. " * 30, "de"),
        # NFKC makes each of these 18 characters: past what the keyword definitions read
        ("\ufdfa election parliament " * 60, "en"), ("\ufdfa انتخابات البرلمان " * 60, "ar"),
    ]
    texts += [(t, "en") for t in near]
    texts += [(t[: MODEL_CHARS + k], "en") for t in near for k in (-1, 0, 1, 3)]
    texts += [(t[: MAX_CHARS + k], "en") for t in near for k in (-1, 0, 1)]
    texts += [(t, "en") for t in cut]
    return texts


def sample_events() -> list[dict]:
    """The sample feeds' article events, as Tag receives them (the rejected ones left out)."""
    out = []
    for spec in load_feed_list(SAMPLES / "feeds.yaml"):
        for raw in parse_feed(Path(spec.path).read_bytes(), spec, 1_795_132_800_000).articles:
            try:
                out.append(build_event(raw))
            except Rejected:
                continue
    return out


def _sample_articles() -> list[tuple[str, str | None]]:
    return [(topic_text(e["title"], e["summary"], e["body"]), e["language_hint"])
            for e in sample_events()]


def corpora() -> dict[str, list[tuple[str, str | None]]]:
    """(text, language) per corpus, in a fixed order."""
    held = _topic_items(TOPIC_EVAL)
    return {
        "eval headlines": [(i[2], i[0]) for i in held],
        "eval headline + lead": [(i[3], i[0]) for i in held],
        "sample feeds": _sample_articles(),
        "bench corpus": [(topic_text(a.title, a.text), a.lang) for a in generate(2000, seed=7)],
        "tricky": _tricky(),
    }


def _taggers() -> dict[str, LearnedTopicTagger | KeywordTopicTagger]:
    return {"learned": LearnedTopicTagger(), "keywords": KeywordTopicTagger()}


def answers(tagger, items: list[tuple[str, str | None]], batch: int) -> list[str]:
    """One line per text: whether its language is supported, then code:score of each topic."""
    texts, languages = [t for t, _ in items], [lang for _, lang in items]
    found = []
    for i in range(0, len(items), batch):
        found += tagger.tag_batch(texts[i : i + batch], languages[i : i + batch])
    return [f"{int(tagger.supports(lang))} " + " ".join(f"{t.code[7:9]}:{t.score}" for t in ts)
            for lang, ts in zip(languages, found, strict=True)]


@pytest.fixture(scope="module")
def before() -> dict:
    return json.loads(BEFORE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def texts() -> dict[str, list[tuple[str, str | None]]]:
    return corpora()


@pytest.mark.parametrize("name", ["learned", "keywords"])
@pytest.mark.parametrize("batch", [256, 10, 1])
def test_same_topics_and_scores_as_before(before, texts, name, batch):
    tagger = _taggers()[name]
    for corpus, items in texts.items():
        if batch < 10 and corpus == "bench corpus":
            items = items[:500]  # one by one: a sample is enough, the rest is batched above
        want = before[name][corpus][: len(items)]
        assert len(want) == len(items), corpus
        now = answers(tagger, items, batch)
        changed = [(i, w, n) for i, (w, n) in enumerate(zip(want, now, strict=True)) if w != n]
        assert not changed, f"{corpus}: {len(changed)} answers changed, e.g. {changed[:3]}"


if __name__ == "__main__":
    found = corpora()
    reference = {name: {corpus: answers(tagger, items, 256) for corpus, items in found.items()}
                 for name, tagger in _taggers().items()}
    BEFORE.write_text(json.dumps(reference, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print({name: {c: len(a) for c, a in r.items()} for name, r in reference.items()},
          file=sys.stderr)
