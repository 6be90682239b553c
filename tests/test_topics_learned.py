"""IPTC topics from the shipped fastText model: answers, calibration, bad input, determinism."""

import json
import os
import subprocess
import sys

import pytest

from wirewatch.core.topic_model import (
    MODEL_CHARS,
    TOPIC_TAGGERS,
    LearnedTopicTagger,
    calibrated,
    features,
)
from wirewatch.core.topics import IPTC_LABELS, MAX_CHARS, KeywordTopicTagger
from wirewatch.pipelines.tag import Tag

SPORT, POLITICS, WEATHER = "medtop:15000000", "medtop:11000000", "medtop:17000000"

# Clear headlines in languages the keyword definitions do not have, and in some they do.
HEADLINES = [
    ("en", "Arsenal beat Chelsea 3-1 as striker scores twice in the derby", SPORT),
    ("de", "Bundestag stimmt über den Haushalt der Regierung ab", POLITICS),
    ("ja", "大雨と暴風に警戒、気象庁が警報を発表", WEATHER),
    ("ar", "المنتخب يفوز بالمباراة ويتأهل إلى نهائي كأس العالم", SPORT),
    ("tr", "Meteoroloji'den kuvvetli kar yağışı ve fırtına uyarısı", WEATHER),
]


@pytest.fixture(scope="module")
def tagger():
    return LearnedTopicTagger()


@pytest.mark.parametrize(("language", "text", "code"), HEADLINES)
def test_best_topic_of_clear_headlines(tagger, language, text, code):
    assert tagger.tag_batch([text], [language])[0][0].code == code


def test_topics_are_iptc_best_first_with_scores_in_unit_range(tagger):
    texts = [h[1] for h in HEADLINES]
    for topics in tagger.tag_batch(texts, [h[0] for h in HEADLINES]):
        assert 1 <= len(topics) <= tagger.max_topics
        assert all(t.code in IPTC_LABELS and t.label == IPTC_LABELS[t.code] for t in topics)
        assert all(0 <= t.score <= 1 for t in topics)
        assert [t.score for t in topics] == sorted((t.score for t in topics), reverse=True)


def test_every_topic_is_scored_and_calibrated(tagger):
    [scores] = tagger.scores(["Parliament passes the budget"], ["en"])
    assert sorted(scores) == sorted(IPTC_LABELS)
    assert max(scores, key=scores.get) == POLITICS
    assert calibrated(0.5, 1.0, 0.0) == 0.5
    assert calibrated(1.0, 2.0, 0.0) > 0.999 and calibrated(0.0, 2.0, 0.0) < 0.001


def test_topics_are_the_scores_at_or_above_threshold_best_first(tagger):
    """tag_batch has the model report only topics near the floor; scores has it report all."""
    unsure = ["The government presents a plan for provincial hospitals and their staff",
              "Storm closes schools as rivers flood farmland", "A new day", "Quarterly report"]
    texts = [h[1] for h in HEADLINES] + unsure
    languages = [h[0] for h in HEADLINES] + ["en"] * len(unsure)
    alone = LearnedTopicTagger(keyword_fallback=False)
    for topics, scores in zip(alone.tag_batch(texts, languages),
                              alone.scores(texts, languages), strict=True):
        best = sorted(scores, key=lambda code: (-scores[code], code))
        above = [c for c in best[: alone.max_topics] if scores[c] >= alone.threshold]
        want = above or [best[0]] * (scores[best[0]] >= alone.floor)
        assert [(t.code, t.score) for t in topics] == [(c, round(scores[c], 4)) for c in want]


def test_any_language_but_none_or_und(tagger):
    assert tagger.supports("sw") and tagger.supports("zh-Hant")
    assert not tagger.supports("und") and not tagger.supports(None)
    assert tagger.tag_batch(["Parliament passes the budget"] * 2, ["und", None]) == [[], []]


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀🎉👍", "— !? …"])
def test_texts_without_words_get_no_topics(tagger, text):
    assert tagger.tag_batch([text], ["en"]) == [[]]


def test_html_mixed_script_and_huge_texts_get_a_defined_answer(tagger):
    huge = "Arsenal beat Chelsea 3-1 as striker scores twice in the derby. " * 30_000  # 1.9 MB
    texts = ["<div><b>Storm</b> warning: heavy snow and ice tonight</div>",
             "Apple 发布 new iPhone, 股价 rises 5%", huge, huge[:MAX_CHARS]]
    topics = tagger.tag_batch(texts, ["en", "zh", "en", "en"])
    assert topics[0][0].code == WEATHER
    assert topics[2] == topics[3]  # read up to MAX_CHARS only
    # the model itself reads what it learned from: about a headline and a lead
    assert tagger.scores([huge], ["en"]) == tagger.scores([huge[:MODEL_CHARS]], ["en"])
    assert all(isinstance(t, list) for t in topics)


def test_keyword_definitions_answer_where_the_model_is_not_confident(tagger):
    text = "The government presents a plan for provincial hospitals and their staff"
    [scores] = tagger.scores([text], ["en"])
    assert max(scores.values()) < tagger.threshold  # no topic of the model's own
    assert tagger.tag_batch([text], ["en"]) == [KeywordTopicTagger().tag(text, "en")]
    alone = LearnedTopicTagger(keyword_fallback=False).tag_batch([text], ["en"])[0]
    assert [t.code for t in alone] == [max(scores, key=scores.get)]  # the floor rule


def test_languages_must_match_texts(tagger):
    with pytest.raises(ValueError, match="1 languages for 2 texts"):
        tagger.tag_batch(["a", "b"], ["en"])


def test_features_split_unspaced_scripts_and_add_keyword_topics():
    keywords = KeywordTopicTagger()
    assert features("東京で地震", "ja", keywords) == "東 京 で 地 震"
    line = features("Arsenal beat Chelsea in the derby", "en", keywords)
    assert line.startswith("arsenal beat chelsea in the derby")
    assert "kw15s" in line.split()  # a keyword-definition match for sport, above threshold


def test_tag_step_chooses_the_tagger_by_name():
    assert set(TOPIC_TAGGERS) == {"learned", "keywords"}
    assert Tag().topic_tagger == "learned"
    assert Tag(topic_tagger="keywords").topic_tagger == "keywords"
    with pytest.raises(ValueError, match="unknown topic tagger 'neural'"):
        Tag(topic_tagger="neural")


_SCRIPT = """
import json, sys
from wirewatch.core.topic_model import LearnedTopicTagger
texts = json.loads(sys.argv[1])
out = LearnedTopicTagger().tag_batch([t for t, _ in texts], [lang for _, lang in texts])
print(json.dumps([[(t.code, t.score) for t in ts] for ts in out]))
"""


def test_output_identical_across_processes_and_hash_seeds():
    texts = json.dumps([[h[1], h[0]] for h in HEADLINES]
                       + [["Court jails former minister for corruption", "en"]])
    runs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _SCRIPT, texts], env=env,
                              capture_output=True, text=True, check=True)
        runs.add(done.stdout)
    assert len(runs) == 1
