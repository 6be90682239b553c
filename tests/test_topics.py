"""IPTC topic tagging from keyword definitions: the shipped files, each language, the rules."""

from pathlib import Path

import pytest

from wirewatch.core import topics
from wirewatch.core.topics import IPTC_LABELS, KeywordTopicTagger, Topic, topic_text

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "no", "pt", "pl", "ru"]
SPORT, POLITICS, WEATHER = "medtop:15000000", "medtop:11000000", "medtop:17000000"
CRIME = "medtop:02000000"

# One sport, one politics and one weather headline per language.
HEADLINES = {
    "en": ("Arsenal beat Chelsea in derby as striker scores twice",
           "Parliament rejects prime minister's budget in late-night vote",
           "Heatwave: forecasters warn of 35C temperatures"),
    "de": ("Bayern gewinnt Spitzenspiel in der Bundesliga, Stürmer trifft doppelt",
           "Bundestag stimmt über Haushalt ab, Opposition kritisiert Regierung",
           "Unwetterwarnung: Gewitter und Starkregen erwartet"),
    "fr": ("Le PSG s'impose en Ligue 1, doublé de l'attaquant",
           "L'Assemblée nationale rejette le budget du gouvernement",
           "Canicule : Météo-France place 12 départements en vigilance orange"),
    "es": ("El Real Madrid gana el derbi y sigue líder de LaLiga con dos goles",
           "El Congreso rechaza los presupuestos del Gobierno",
           "La Aemet avisa de tormentas y granizo por la ola de calor"),
    "it": ("La Juventus vince il derby, doppietta dell'attaccante in Serie A",
           "Il Parlamento approva la legge di bilancio del governo",
           "Maltempo: allerta meteo per temporali e grandinate"),
    "nl": ("Ajax wint de topper in de eredivisie, spits scoort twee keer",
           "Tweede Kamer stemt in met begroting van het kabinet",
           "KNMI waarschuwt voor onweer en zware windstoten, code oranje"),
    "sv": ("Malmö FF vann derbyt i allsvenskan efter två mål",
           "Riksdagen röstar om regeringens budget, oppositionen kritisk",
           "SMHI varnar för snöstorm och kraftigt snöfall"),
    "da": ("FC København vandt derbyet i Superligaen efter to mål",
           "Folketinget stemmer om regeringens finanslov, oppositionen kritisk",
           "DMI varsler storm og skybrud med kraftig nedbør"),
    "no": ("Rosenborg vant toppkampen i Eliteserien etter to mål",
           "Stortinget stemmer over regjeringens statsbudsjett, opposisjonen kritisk",
           "Meteorologene sender ut farevarsel om uvær og kraftig nedbør"),
    "pt": ("O Benfica venceu o clássico com dois golos do avançado",
           "Parlamento aprova o orçamento do Governo com votos da oposição",
           "IPMA emite aviso laranja por causa da onda de calor e temperaturas altas"),
    "pl": ("Legia wygrała mecz w Ekstraklasie, napastnik strzelił dwa gole",
           "Sejm przyjął budżet rządu, opozycja krytykuje premiera",
           "IMGW ostrzega przed burzami i ulewami, upał do 35 stopni"),
    "ru": ("«Спартак» выиграл матч в чемпионате, нападающий забил два гола",
           "Госдума приняла бюджет правительства, оппозиция против",
           "Синоптики предупреждают о грозах и ливнях, сильный ветер и жара"),
}


@pytest.fixture(scope="module")
def tagger():
    return KeywordTopicTagger()


def test_seventeen_top_level_topics_with_iptc_labels():
    assert sorted(IPTC_LABELS) == [f"medtop:{n:02d}000000" for n in range(1, 18)]
    assert IPTC_LABELS["medtop:16000000"] == "conflict, war and peace"


def test_every_language_has_definitions(tagger):
    assert set(LANGUAGES) <= set(tagger.languages)
    assert tagger.supports("nn")  # read with the Bokmål definitions
    assert not tagger.supports("zh") and not tagger.supports("und") and not tagger.supports(None)


@pytest.mark.parametrize("language", LANGUAGES)
def test_headlines_per_language(tagger, language):
    sport, politics, weather = HEADLINES[language]
    assert tagger.tag(sport, language)[0].code == SPORT
    assert tagger.tag(politics, language)[0].code == POLITICS
    assert tagger.tag(weather, language)[0].code == WEATHER


def test_several_topics_best_first(tagger):
    topics = tagger.tag("Former minister sentenced to prison for corruption, the court "
                        "ruled; the opposition demands a new election", "en")
    assert {t.code for t in topics} >= {CRIME, POLITICS}
    assert [t.score for t in topics] == sorted((t.score for t in topics), reverse=True)
    assert all(0.5 <= t.score < 1 and t.label == IPTC_LABELS[t.code] for t in topics)


def test_nothing_scores_gives_no_topics(tagger):
    assert tagger.tag("The quick brown fox jumps over the lazy dog", "en") == []
    assert tagger.tag("", "en") == []


def test_language_without_definitions_gives_no_topics(tagger):
    assert tagger.tag("Arsenal beat Chelsea in derby as striker scores twice", "zh") == []
    assert tagger.tag("Arsenal beat Chelsea in derby as striker scores twice", "und") == []


def test_batch_checks_lengths(tagger):
    assert tagger.tag_batch(["Heatwave and thunderstorms forecast"], ["en"])[0][0].code == WEATHER
    with pytest.raises(ValueError, match="1 languages for 2 texts"):
        tagger.tag_batch(["a", "b"], ["en"])


def test_topic_text_reads_title_lead_and_start_of_body():
    assert topic_text("Title", None, "body " * 1000, max_chars=20) == "Title body body body"
    assert topic_text(None, "Lead") == "Lead"


def _definitions(tmp_path: Path, body: str, code="medtop:15000000", label="sport") -> Path:
    (tmp_path / "iptc.yaml").write_text("ignored: by the loader\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(f"code: {code}\nlabel: {label}\npatterns:\n{body}",
                                     encoding="utf-8")
    return tmp_path


def test_patterns_words_stems_phrases_hyphens_and_negative_weights(tmp_path):
    tagger = KeywordTopicTagger(definitions=_definitions(tmp_path, (
        "  en:\n    3: goal football* world_cup play-off*\n    -3: goal_of\n")))
    assert tagger.scores("Footballers", "en") == {SPORT: 3.0}
    assert tagger.scores("the World Cup", "en") == {SPORT: 3.0}
    assert tagger.scores("a play-off place", "en") == {SPORT: 3.0}
    assert tagger.scores("goal, goal, goal!", "en") == {SPORT: 3.0}  # a pattern counts once
    assert tagger.scores("the goal of the policy", "en") == {SPORT: 0.0}
    assert tagger.tag("the goal of the policy", "en") == []
    assert tagger.tag("football", "en") == [Topic(SPORT, "sport", 0.5)]


def test_phrases_at_every_place_and_words_past_the_memo_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(topics, "_MEMO_WORDS", 3)  # remembers the first three words it meets
    tagger = KeywordTopicTagger(definitions=_definitions(tmp_path, (
        "  en:\n    3: world_cup football*\n    1: cup_final\n")))
    filler = " ".join(f"word{i}" for i in range(8))
    # the phrase's first word again later, where the phrase does follow
    assert tagger.scores(f"world news, {filler}, world cup", "en") == {SPORT: 3.0}
    assert tagger.scores(f"{filler} footballers", "en") == {SPORT: 3.0}  # never remembered
    assert tagger.scores("cup cup cup final", "en") == {SPORT: 1.0}
    assert tagger.scores("the world", "en") == {}
    assert len(tagger._indexes["en"]._seen) == 3


@pytest.mark.parametrize(("body", "code", "label", "error"), [
    ("  en:\n    3: art*\n", "medtop:15000000", "sport", "shorter than 4 letters"),
    ("  en:\n    3: foot*ball\n", "medtop:15000000", "sport", "inside a word"),
    ("  no:\n    3: fotball\n", "medtop:15000000", "sport", "must be quoted"),
    ("  en:\n    3: goal\n", "medtop:99000000", "sport", "unknown IPTC code"),
    ("  en:\n    3: goal\n", "medtop:15000000", "sports", "is not IPTC's"),
])
def test_bad_definitions_are_clear_errors(tmp_path, body, code, label, error):
    with pytest.raises(ValueError, match=error):
        KeywordTopicTagger(definitions=_definitions(tmp_path, body, code, label))


def test_options_are_validated():
    with pytest.raises(ValueError, match="threshold"):
        KeywordTopicTagger(threshold=0)
    with pytest.raises(ValueError, match="relative"):
        KeywordTopicTagger(relative=2)
