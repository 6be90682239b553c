"""Language detection: every backend, the confusable pairs, ``und``, hints, determinism."""

import json
import subprocess
import sys
import unicodedata

import pytest

from wirewatch.core.language import (
    BACKENDS,
    GROUPS,
    UND,
    CascadeDetector,
    detection_text,
    make_detector,
    normalise_code,
)
from wirewatch.core.language.markers import WEIGHT, Markers
from wirewatch.core.language.ngrams import NgramModel

# One news-style sentence per language; long enough that every backend should agree.
SENTENCES = {
    "en": "The government announced on Tuesday that it will raise taxes on fuel next year.",
    "de": "Die Bundesregierung hat am Dienstag angekündigt, die Steuern auf Kraftstoff im "
    "nächsten Jahr zu erhöhen.",
    "fr": "Le gouvernement a annoncé mardi qu'il augmentera les taxes sur les carburants l'an "
    "prochain.",
    "es": "El Gobierno anunció el martes que subirá los impuestos sobre el combustible el año "
    "que viene.",
    "it": "Il governo ha annunciato martedì che aumenterà le tasse sul carburante il prossimo "
    "anno.",
    "nl": "De regering heeft dinsdag aangekondigd dat ze volgend jaar de belasting op brandstof "
    "verhoogt.",
    "sv": "Regeringen meddelade på tisdagen att den kommer att höja skatten på bränsle nästa år.",
    "da": "Regeringen meddelte tirsdag, at den vil hæve afgifterne på brændstof efter nytår, "
    "hvad mange bilister frygter.",
    "no": "Regjeringen kunngjorde tirsdag at den vil øke avgiftene på drivstoff etter nyttår, "
    "noe mange bilister frykter.",
    "pt": "O governo anunciou na terça-feira que vai aumentar os impostos sobre os combustíveis "
    "no próximo ano.",
    "pl": "Rząd ogłosił we wtorek, że w przyszłym roku podniesie podatki od paliwa.",
    "ru": "Правительство объявило во вторник, что в следующем году повысит налоги на топливо.",
    "ar": "أعلنت الحكومة يوم الثلاثاء أنها سترفع الضرائب على الوقود في العام المقبل.",
    "tr": "Hükümet salı günü yaptığı açıklamada gelecek yıl akaryakıt vergilerini artıracağını "
    "duyurdu.",
    "zh": "政府星期二宣布，明年将提高燃油税，这对很多司机来说是个坏消息。",
}

# Pairs a small model confuses; the default backend must tell them apart.
TRAPS = [
    ("no", "Regjeringen vil ikke endre skatten etter valget, sier statsministeren"),
    ("da", "Regeringen vil ikke ændre skatten efter valget, siger statsministeren"),
    ("nn", "Regjeringa vil ikkje endre skatten etter valet, seier statsministeren"),
    ("sv", "Regeringen vill inte ändra skatten efter valet, säger statsministern"),
    ("nl", "De regering wil de belasting na de verkiezingen niet veranderen"),
    ("af", "Die regering wil nie die belasting na die verkiesing verander nie"),
    ("ru", "Правительство не будет менять налоги после выборов"),
    ("uk", "Уряд не змінюватиме податки після виборів"),
    ("zh", "政府选举后不会改变税收"),
    ("zh-Hant", "政府選舉後不會改變稅收"),
    ("ja", "政府は選挙後に税金を変えない"),
    ("ko", "정부는 선거 후 세금을 바꾸지 않는다"),
    ("el", "Η κυβέρνηση δεν θα αλλάξει τους φόρους"),
    # Bosnian, Croatian, Serbian (Latin); Malay and Indonesian: the lexical markers' ground
    ("hr", "Tko će platiti tisuću kuna kazne?"),
    ("sr", "Gde je nestalo mleko iz prodavnica"),
    ("sr", "Ministar: treba da se poveća plata"),
    ("bs", "Kahva poskupjela za sedmicu, lahko je reći zašto"),
    ("ms", "Kerajaan umum cukai baharu"),
    ("id", "Pemerintah umumkan pajak baru"),
]


@pytest.fixture(scope="module")
def cascade():
    return make_detector("cascade")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_names_the_main_languages(backend):
    detector = make_detector(backend)
    guesses = detector.detect_batch(list(SENTENCES.values()))
    assert [g.code for g in guesses] == list(SENTENCES)
    assert all(0.0 < g.confidence <= 1.0 and g.method for g in guesses)


@pytest.mark.parametrize(("expected", "text"), TRAPS, ids=[t[0] for t in TRAPS])
def test_default_backend_tells_confusable_languages_apart(cascade, expected, text):
    assert cascade.detect_batch([text])[0].code == expected


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("text", ["", "   ", "12345 !!!", "€ 3,50 – 4 %"])
def test_no_language_signal_gives_und(backend, text):
    guess = make_detector(backend).detect_batch([text])[0]
    assert guess.code == UND


@pytest.mark.parametrize("backend", ["cascade", "fasttext", "lingua"])
def test_a_lone_ticker_gives_und(backend):
    # langdetect is left out: it calls "AAPL" Tagalog with probability 0.9998.
    assert [g.code for g in make_detector(backend).detect_batch(["AAPL", "NYSE"])] == [UND, UND]


@pytest.mark.parametrize(
    ("text", "candidates", "expected"),
    [
        # tko, tisuć: Croatian; ć: not Slovenian
        ("Tko je rekao da je tisuća malo?", GROUPS["south-slavic"],
         {"hr": 3 * WEIGHT, "bs": WEIGHT, "sr": WEIGHT}),
        ("Hiljade ljudi, saopštila je policija", GROUPS["south-slavic"],
         {"bs": WEIGHT, "sr": 2 * WEIGHT}),
        # vrijem, promjen: ijekavian (Bosnian and Croatian), once each
        ("Vrijeme je za promjene", GROUPS["south-slavic"], {"bs": 2 * WEIGHT, "hr": 2 * WEIGHT}),
        ("Vrijeme je za promjene", ("hr", "sl"), {"hr": 2 * WEIGHT}),  # only the candidates
        ("Kva skjer med skatten?", GROUPS["nordic"], {"nn": WEIGHT}),
        ("Kerajaan umum cukai baharu", GROUPS["malay"], {"ms": 2 * WEIGHT}),
        ("tisućljeće", ("hr", "sl"), {"hr": 2 * WEIGHT}),  # a stem inside a word
        ("Kva skjer", GROUPS["south-slavic"], {}),  # markers of another group do not count
        ("", GROUPS["malay"], {}),
    ],
)
def test_lexical_markers_give_evidence_to_their_labels(text, candidates, expected):
    assert Markers.load().scores(text, candidates) == expected


def test_marker_look_ups_find_what_a_substring_search_finds():
    # whole words and word beginnings are set look-ups, the rest substring searches: the same
    # answers as searching the normalised line for every marker, a marker counted once
    from wirewatch.core.language.ngrams import normalised

    markers = Markers.load()
    texts = [f"Na{m}i{m.upper()}-{m.strip()}{m}kraj" for m, _ in markers.entries]
    texts += ["Mjesec, mjeseca i mjesečevog", "ko ko kolo", "tisućljeće tisuća", "", "  "]
    for group in GROUPS.values():
        for text in texts:
            line, expected = normalised(text), {}
            for marker, labels in markers.entries:
                if marker in line:
                    for label in labels & set(group):
                        expected[label] = expected.get(label, 0.0) + WEIGHT
            assert markers.scores(text, group) == expected, (text, group)


def test_every_marker_points_inside_one_group_of_the_judge():
    judge = NgramModel.load()
    groups = [frozenset(g) for g in GROUPS.values()]
    for marker, labels in Markers.load().entries:
        assert marker == marker.lower() and marker.strip(), marker
        assert all(label in judge for label in labels), marker
        assert any(labels <= g for g in groups), marker


def test_script_decides_alone(cascade):
    guess = cascade.detect_batch(["Η κυβέρνηση δεν θα αλλάξει τους φόρους"])[0]
    assert (guess.code, guess.confidence, guess.method) == ("el", 1.0, "cascade:script")


def test_declared_language_settles_a_close_call(cascade):
    text = "Regeringen vil ikke ændre skatten"  # Danish spelling, but close to Norwegian
    assert cascade.detect_batch([text])[0].code == "da"
    hinted = cascade.detect_batch([text], hints=["nb-NO"])[0]
    assert (hinted.code, hinted.method) == ("no", "cascade:hint")


def test_declared_language_does_not_override_clear_text(cascade):
    text = "The government will not change taxes after the election, the minister said"
    assert cascade.detect_batch([text], hints=["de"])[0].code == "en"
    assert cascade.detect_batch(["Правительство не будет менять налоги"], ["en"])[0].code == "ru"


def test_hints_must_match_the_texts():
    with pytest.raises(ValueError, match="2 hints for 1 texts"):
        CascadeDetector().detect_batch(["text"], hints=["en", "de"])


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown language backend 'cld9'"):
        make_detector("cld9")


@pytest.mark.parametrize(
    ("tag", "code"),
    [("en-US", "en"), ("nb-NO", "no"), ("nb", "no"), ("no", "no"), ("nn", "nn"),
     ("zh-TW", "zh-Hant"), ("zh-Hant-HK", "zh-Hant"), ("zh-CN", "zh"), ("pt_BR", "pt"),
     ("", None), (None, None), ("  ", None)],
)
def test_normalise_code(tag, code):
    assert normalise_code(tag) == code


def test_detection_text_joins_title_and_lead_and_cuts_at_a_word():
    text = detection_text("Title here", "lead " * 100 + "http://x.example/a", max_chars=50)
    assert text.startswith("Title here lead lead")
    assert len(text) <= 50 and text.endswith("lead")
    assert detection_text(None, None) == ""


_RUN = """
import json, sys
from wirewatch.core.language import make_detector
texts = json.loads(open(sys.argv[1], encoding="utf-8").read())
out = {}
for name in ("cascade", "langdetect"):  # cascade runs fastText and lingua
    out[name] = [[g.code, g.confidence, g.method] for g in make_detector(name).detect_batch(texts)]
print(json.dumps(out))
"""


def test_identical_output_in_separate_processes(tmp_path):
    # Every prefix of every sentence: short prefixes are where an unseeded langdetect wavers.
    texts = []
    for sentence in list(SENTENCES.values()) + [t for _, t in TRAPS]:
        words = sentence.split()
        texts += [" ".join(words[:n]) for n in range(2, len(words) + 1)]
    inputs = tmp_path / "texts.json"
    inputs.write_text(json.dumps(texts), encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, "-c", _RUN, str(inputs)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])["cascade"]) == len(texts)


# Mixed scripts, ties between two scripts (the first to appear wins), Kana inside Han,
# Simplified and Traditional characters, letters outside every listed script, a non-BMP letter.
SCRIPT_CASES = [
    "", "plain Latin text", "Привет мир", "Привет Γειά", "Γειά Привет", "ab Привет",
    "東京で会議が開かれた", "国会で議論", "國會議員說", "国會", "漢字 カ",
    "漢字漢字漢字漢字漢字漢字 カタ",
    "ሰላም ነው", "שלום עולם and more Latin words than Hebrew ones here", "𝔸𝔹ℂ Привет",
    "ᚠᚢᚦ runes", "١٢٣ مرحبا", "한국어 日本語 中文", "mixed кириллица and Latin letters",
    "😀😀 Привет 😀", "𠀀𠀁𠀂 中文", "𐌰𐌱𐌲𐌳 Привет", "\U0001d400\U0001d401 ab",
]


@pytest.mark.parametrize("text", SCRIPT_CASES)
def test_batch_script_lookup_matches_the_per_character_one(text):
    from wirewatch.core.language import _HANS, _HANT, _dominant_script, _scripts

    script = _dominant_script(text)
    if script == "Han":
        hans, hant = sum(c in _HANS for c in text), sum(c in _HANT for c in text)
        script = "zh-Hant" if hant > hans else "zh"
    assert _scripts([text]) == [script]
    assert _scripts([text, *SCRIPT_CASES])[0] == script  # the batch changes nothing


def test_word_features_are_the_crc_of_their_strings():
    import itertools
    import zlib

    from wirewatch.core.language.ngrams import _hashed_words

    lines = [" vlada je usvojila novi zakon ", " ", " čak ђ 中文 "]
    buckets, owners = _hashed_words(lines, 16)
    expected, owned = [], []
    for i, line in enumerate(lines):
        words = line.split()
        features = [f"W{w}" for w in words] + [f"B{a} {b}" for a, b in itertools.pairwise(words)]
        expected += [zlib.crc32(f.encode()) & 0xFFFF for f in features]
        owned += [i] * len(features)
    assert buckets.tolist() == expected
    assert owners.tolist() == owned


def test_judge_scores_each_text_only_under_its_candidates():
    model = NgramModel.load()
    texts = ["Vlada je usvojila novi zakon o porezu", "", "Vláda schválila nový zákon",
             "Serikali imetangaza mpango mpya wa kodi", "Vlada je usvojila novi zakon o porezu"]
    groups = [("bs", "hr", "sr", "sl"), ("cs", "sk"), ("cs", "sk"), ("sw", "so", "ha"), ("hr",)]
    answers = model.best(texts, groups)
    alone = [model.best([t], [g])[0] for t, g in zip(texts, groups, strict=True)]
    assert answers == alone  # a text's answer does not depend on its neighbours
    assert answers[4] == ("hr", 1.0)
    assert all(label in g for (label, _), g in zip(answers, groups, strict=True))


@pytest.mark.parametrize("backend", ["cascade", "fasttext"])
def test_decomposed_accents_read_as_the_composed_text_does(backend):
    """fastText reads Yoruba whose accents are separate characters (NFD) as Russian; the
    detectors see every text composed (NFC), as the models were trained."""
    composed = ("Ọmọ ẹgbẹ́ ilé ìgbìmọ̀ aṣòfin kan sọ pé inú ẹgbẹ́ náà kò dùn sí àbá tí wọ́n "
                "gbé kalẹ̀ fún orúkọ tuntun náà.")
    decomposed = unicodedata.normalize("NFD", composed)
    assert detection_text(decomposed) == unicodedata.normalize("NFC", composed)
    detector = make_detector(backend)
    assert detector.detect_batch([decomposed]) == detector.detect_batch([composed])
    if backend == "cascade":
        assert detector.detect_batch([decomposed])[0].code == "yo"
