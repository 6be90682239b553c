"""The cascade gives the answers it gave before it was made cheaper, in any batch size.

``tests/data/language_before.json`` holds, per text, the cascade's answer (code, confidence,
method) as main gave it at 9383695, before the change that made detection cheaper. The texts,
each built as Tag builds them (``detection_text`` of title and lead) with the feed's declared
language as the hint: the team's headline set (headline, and headline + lead), the held-out
topic set's headline + lead, the sample feeds' articles, the bench corpus (``benchmarks/
corpus.py``, seed 7, its first 1,000 articles) and the tricky texts below. Regenerate it only
on purpose, from the code whose answers are the reference::

    .venv/bin/python -m tests.test_language_answers
"""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks.bench_tagging import OWN_HEADLINES, TOPIC_EVAL, _topic_items
from benchmarks.corpus import generate
from tests.conftest import REPO
from tests.test_topic_answers import sample_events
from wirewatch.core.language import CascadeDetector, detection_text

BEFORE = REPO / "tests" / "data" / "language_before.json"


def _tricky() -> list[tuple[str, str | None]]:
    """Texts at the cascade's edges: nothing to read, markup, huge, emoji, mixed scripts, close
    languages (bs/hr/sr, Cyrillic, Nordic, Ibero-Romance), African languages, wrong hints."""
    return [
        ("", None), ("   \n\t ", "en"), ("😀🎉👍", None),
        ("😀 Storm warning for the coast 🌊", None),
        ("— !? …", "de"), ("12345 AAPL +3.2%", None), ("xxxxxxxxxxxxxxxx", None),
        ("<div><b>Storm</b> warning: heavy snow and ice tonight</div>", "en"),
        ("<script>var x = 1;</script><p>Le gouvernement &amp; le parlement votent</p>", "fr"),
        ("Arsenal beat Chelsea 3-1 as striker scores twice in the derby. " * 16_000, "en"),
        ("Apple 发布 new iPhone, 股价 rises 5%", None), ("東京都知事選挙の結果", None),
        ("經濟議員選舉", None), ("经济议员选举", None), ("ฝนตกหนักในกรุงเทพ น้ำท่วมถนน", None),
        ("Москва и Киев: переговоры Russia Ukraine talks", None), ("ΣΟΦΟΣ ΛΟΓΟΣ εκλογές", "el"),
        ("\ud800 broken surrogate text about the weather", None),
        ("Vlada je usvojila novi zakon o porezima", None),
        ("Vlada je usvojila novi zakon o porezima", "sr"),
        ("Tko je rekao da je tisuća malo? Povijest grada", None),
        ("Vijeće ministara usvojilo budžet, historija", "bs"),
        ("Влада је усвојила нови закон о порезима", None),
        ("Владата го усвои новиот закон за даноци", None),
        ("Regjeringen vil ikke endre skatten etter valget", "nn"),
        ("Regeringen vill inte ändra skatten efter valet", None),
        ("O governo galego aprobou os orzamentos para o ano que vén", None),
        ("Die regering het die nuwe begroting in die parlement aangekondig", None),
        ("Pemerintah mengumumkan anggaran baru untuk tahun depan", "ms"),
        ("Gwamnatin tarayya ta sanar da sabon kasafin kudi na shekara mai zuwa", None),
        ("Ọ̀gá àgbà ìjọba àpapọ̀ ti kéde ètò ìsúná tuntun fún ọdún tó ń bọ̀", None),
        ("Gọọmentị etiti ekwuputala mmefu ego ọhụrụ maka afọ na-abịa", None),
        ("Mootummaan federaalaa baajata haaraa waggaa dhufuuf beeksiseera", None),
        ("Serikali imetangaza bajeti mpya kwa mwaka ujao wa fedha", None),
        ("Uhulumeni uzomemezele isabelomali esisha sonyaka ozayo", None),
        ("Hulumende imemezele uhlahlo-lwabiwo mali olutsha lonyaka ozayo", None),
        ("Mɛ ɖé lɛ ɖò azɔ̌ wɛ ɖò tò ɔ mɛ", None),
        ("የኢትዮጵያ መንግሥት አዲስ በጀት አጸደቀ", None), ("መንግስቲ ኤርትራ ሓድሽ በጀት ኣጽዲቑ", None),
        ("Parliament passes the budget", "xx-Unknown"), ("Bundestag stimmt ab", "nn"),
        ("Le parlement adopte le budget", "zh-TW"),
    ]


def _sample_articles() -> list[tuple[str, str | None]]:
    return [(detection_text(e["title"], e["summary"] or e["body"]), e["language_hint"])
            for e in sample_events()]


def _own_headlines() -> list[tuple[str, str, str]]:
    rows = OWN_HEADLINES.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(row.split("\t")) for row in rows]  # lang, title, lead


def corpora() -> dict[str, list[tuple[str, str | None]]]:
    """(detection text, hint) per corpus, in a fixed order."""
    own = _own_headlines()
    return {
        "team headlines": [(detection_text(title), None) for _, title, _ in own],
        "team headline + lead": [(detection_text(title, lead), None) for _, title, lead in own],
        "eval headline + lead": [(detection_text(i[2], i[3]), None)
                                 for i in _topic_items(TOPIC_EVAL)],
        "sample feeds": _sample_articles(),
        "bench corpus": [(detection_text(a.title, a.text), None)
                         for a in generate(2000, seed=7)[:1000]],
        "tricky": [(detection_text(text), hint) for text, hint in _tricky()],
    }


def answers(detector: CascadeDetector, items: list[tuple[str, str | None]], batch: int
            ) -> list[str]:
    """One line per text: code, confidence and method."""
    found = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        found += detector.detect_batch([t for t, _ in chunk], [h for _, h in chunk])
    return [f"{g.code} {g.confidence} {g.method}" for g in found]


@pytest.fixture(scope="module")
def stored_and_texts() -> tuple[dict, dict[str, list[tuple[str, str | None]]]]:
    return json.loads(BEFORE.read_text(encoding="utf-8")), corpora()


@pytest.mark.parametrize("batch", [256, 10, 1])
def test_same_language_answers_as_before(stored_and_texts, batch):
    stored, texts = stored_and_texts
    detector = CascadeDetector()
    for corpus, items in texts.items():
        assert len(stored[corpus]) == len(items), corpus
        now = answers(detector, items, batch)
        changed = [(i, was, is_) for i, (was, is_) in enumerate(zip(stored[corpus], now,
                                                                    strict=True)) if was != is_]
        assert not changed, f"{corpus}: {len(changed)} answers changed, e.g. {changed[:3]}"


if __name__ == "__main__":
    found = corpora()
    reference = {corpus: answers(CascadeDetector(), items, 256) for corpus, items in found.items()}
    BEFORE.write_text(json.dumps(reference, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print({c: len(a) for c, a in reference.items()}, file=sys.stderr)
