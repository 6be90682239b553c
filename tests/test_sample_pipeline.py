"""The batch pipeline on the bundled samples, end to end through the ``wirewatch`` command."""

from __future__ import annotations

from pathlib import Path

import fastavro
import pytest

from tests.conftest import SAMPLES
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import (
    ARTICLE_EVENT,
    DEAD_LETTER,
    FEED_HEALTH,
    is_valid,
    parsed_schema,
    read_records,
)

FETCHED_AT = 1_795_132_800_000  # 2026-11-20T00:00:00Z: pinned so every field is reproducible


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("out")
    code = main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(out),
                 f"--fetched_at_ms={FETCHED_AT}"])
    assert code == 0
    found: dict[str, list[dict]] = {ARTICLE_EVENT: [], DEAD_LETTER: [], FEED_HEALTH: []}
    for kind, record in read_records(sorted(Path(out).rglob("*.avro"))):
        found[kind].append(record)
    found["dir"] = out
    return found


def test_files_are_avro_with_the_project_schemas(output):
    files = sorted(Path(output["dir"]).rglob("*.avro"))
    assert {f.parent.name for f in files} == {"article_events", "dead_letters", "feed_healths"}
    for f in files:
        with f.open("rb") as fh:
            name = fastavro.reader(fh).writer_schema["name"]
        expected = {"article_events": ARTICLE_EVENT, "dead_letters": DEAD_LETTER,
                    "feed_healths": FEED_HEALTH}[f.parent.name]
        assert name == parsed_schema(expected)["name"]
    for event in output[ARTICLE_EVENT]:
        assert is_valid(event, ARTICLE_EVENT)
    for letter in output[DEAD_LETTER]:
        assert is_valid(letter, DEAD_LETTER)


def _by_title(events):
    return {e["title"]: e for e in events}


# (outlet, title, language, duplicate of (title) or None, method)
EXPECTED = [
    ("Nordic Wire", "Dock workers in Rotterdam walk out over automation plans", "en", None, None),
    ("Nordic Wire", "Storm Ingrid cuts power to 200,000 homes in northern Germany", "en",
     None, None),
    ("Nordic Wire", "Central bank holds rates, signals cut early next year", "en", None, None),
    ("Nordic Wire", "Researchers map the deep ocean floor with autonomous drones", "en",
     None, None),
    ("Harbour Daily", "Europe's biggest port grinds to a halt as dockers strike", "en",
     "Dock workers in Rotterdam walk out over automation plans", "exact_content"),
    ("Harbour Daily", "Rates unchanged, but a cut is coming, central bank says", "en",
     "Central bank holds rates, signals cut early next year", "near"),  # wire copy + boilerplate
    ("Harbour Daily", "New ferry line to link the harbour with the islands from spring", "en",
     None, None),
    ("Berliner Abendpost", 'Sturm "Ingrid" legt Norddeutschland lahm', "de", None, None),
    ("Berliner Abendpost", "Senat beschließt Mietendeckel für Neubauten", "de", None, None),
    ("Berliner Abendpost", "Hertha gewinnt Derby gegen Union mit 2:1", "de", None, None),
    ("Le Courrier du Matin", "Rotterdam : les dockers en grève contre l'automatisation du port",
     "fr", None, None),
    ("Le Courrier du Matin", "Le gouvernement présente un plan pour les hôpitaux de province",
     "fr", None, None),
    ("Le Courrier du Matin", "Festival du film : le jury dévoile sa sélection", "fr", None, None),
    ("El Diario Austral", "El Gobierno aprueba un plan de regadío contra la sequía", "es",
     None, None),
    ("El Diario Austral", "La selección gana en el último minuto y se clasifica para el Mundial",
     "es", None, None),
    ("El Diario Austral", "Científicos descubren una nueva especie de rana en los Andes", "es",
     None, None),
    ("Gazzetta del Lago", "Il lago raggiunge il livello più basso degli ultimi vent'anni", "it",
     None, None),
    ("Gazzetta del Lago", "Il museo civico riapre dopo tre anni di restauri", "it", None, None),
    ("Dagens Kust", "Regeringen vill bygga ut järnvägen längs Norrlandskusten", "sv", None, None),
    ("Dagens Kust", "Rekordmånga besökare på höstens bokmässa", "sv", None, None),
    ("Metro Evening", "Drones map the sea bed off Norway", "en",
     "Researchers map the deep ocean floor with autonomous drones", "exact_url"),
    ("Metro Evening", "Storm Ingrid: trains to Denmark halted, homes without power", "en",
     "Storm Ingrid cuts power to 200,000 homes in northern Germany", "exact_url"),
]


def test_exact_records_for_the_sample_set(output):
    events = _by_title(output[ARTICLE_EVENT])
    assert len(events) == len(output[ARTICLE_EVENT]), "titles are unique in the samples"
    got = []
    for title, e in events.items():
        dup = e["dedup"]["duplicate_of"]
        dup_title = next(t for t, o in events.items() if o["event_id"] == dup) if dup else None
        got.append((e["source"]["outlet"], title, e["language"]["code"], dup_title,
                    e["dedup"]["method"]))
    assert sorted(got) == sorted(EXPECTED)
    for e in events.values():
        assert e["dedup"]["is_duplicate"] == (e["dedup"]["duplicate_of"] is not None)
        assert e["topics_tagger"] == "learned-1"  # every sample event has a language
    best = {title: (e["topics"][0]["code"] if e["topics"] else None)
            for title, e in events.items()}
    assert {title: best[title] for title in BEST_TOPIC} == BEST_TOPIC


# The best topic of some samples (the rest: see benchmarks/bench_tagging.py for quality).
BEST_TOPIC = {
    "Storm Ingrid cuts power to 200,000 homes in northern Germany": "medtop:17000000",
    "Europe's biggest port grinds to a halt as dockers strike": "medtop:09000000",
    "Central bank holds rates, signals cut early next year": "medtop:04000000",
    "Hertha gewinnt Derby gegen Union mit 2:1": "medtop:15000000",
    "Festival du film : le jury dévoile sa sélection": "medtop:01000000",
    "Científicos descubren una nueva especie de rana en los Andes": "medtop:13000000",
    "Il lago raggiunge il livello più basso degli ultimi vent'anni": None,
}


def test_one_record_field_by_field(output):
    event = _by_title(output[ARTICLE_EVENT])[
        "Dock workers in Rotterdam walk out over automation plans"]
    body = event.pop("body")
    assert body.startswith("Thousands of dock workers stopped work at the port of Rotterdam")
    assert body.count("\n") == 2  # three paragraphs
    assert event["language"].pop("confidence") > 0.9
    assert event.pop("topics")[0]["code"] == "medtop:09000000"  # labour
    assert event == {
        "schema_version": 1,
        "event_id": "13a3d07fbf89d279aa1948c515c8fb30",
        "source": {"kind": "rss", "outlet": "Nordic Wire",
                   "feed_url": "https://nordicwire.example/rss/top.xml", "topic": None,
                   "partition": None, "offset": None, "guid": "nw-2026-11-18-0001",
                   "path": None},
        "url": "https://nordicwire.example/world/2026/11/18/rotterdam-dock-strike",
        "canonical_url": "https://nordicwire.example/world/2026/11/18/rotterdam-dock-strike",
        "title": "Dock workers in Rotterdam walk out over automation plans",
        "summary": "Thousands of dock workers stopped work at Europe's largest port on Wednesday.",
        "authors": ["Anna Lindqvist"],
        "media_urls": ["https://nordicwire.example/img/rotterdam-strike.jpg"],
        "published_time": 1_794_983_400_000,  # 2026-11-18T07:30:00+01:00
        "updated_time": None,
        "fetched_time": FETCHED_AT,
        "event_time": 1_794_983_400_000,
        "event_time_source": "published",
        "notes": [],
        "language": {"code": "en", "method": "cascade:fasttext"},
        "topics_tagger": "learned-1",
        "dedup": {"content_hash": event["dedup"]["content_hash"], "is_duplicate": False,
                  "duplicate_of": None, "similarity": None, "method": None},
        "pipeline_version": "0.1.0",
        "language_hint": "en",
        "story": {"story_id": "13a3d07fbf89d279aa1948c515c8fb30", "linked_by": "first",
                  "similarity": 1.0},
    }


# The samples' stories of more than one article (titles, earliest first); every other article
# is a story of its own. A copy is in its original's story; reports in other languages join by
# the names they share (Rotterdam; Ingrid).
STORIES = [
    ["Dock workers in Rotterdam walk out over automation plans",
     "Europe's biggest port grinds to a halt as dockers strike",
     "Rotterdam : les dockers en grève contre l'automatisation du port"],
    ["Storm Ingrid cuts power to 200,000 homes in northern Germany",
     'Sturm "Ingrid" legt Norddeutschland lahm',
     "Storm Ingrid: trains to Denmark halted, homes without power"],
    ["Central bank holds rates, signals cut early next year",
     "Rates unchanged, but a cut is coming, central bank says"],
    ["Researchers map the deep ocean floor with autonomous drones",
     "Drones map the sea bed off Norway"],
]
_ORDER = lambda e: (e["event_time"], e["event_id"])  # noqa: E731


def _stories(events: list[dict]) -> list[list[str]]:
    """Titles per story of more than one article, earliest first."""
    stories: dict[str, list[dict]] = {}
    for e in events:
        stories.setdefault(e["story"]["story_id"], []).append(e)
    return sorted([e["title"] for e in sorted(members, key=_ORDER)]
                  for members in stories.values() if len(members) > 1)


def test_stories_of_the_sample_set_hold_their_reports_and_their_first_article_names_them(
        output):
    events = output[ARTICLE_EVENT]
    found = _stories(events)
    for story in STORIES:
        assert any(set(story) <= set(titles)
                   for titles in found), story
    by_id = {e["event_id"]: e for e in events}
    for e in events:
        members = [m for m in events if m["story"]["story_id"] == e["story"]["story_id"]]
        first = min(members, key=_ORDER)
        assert first["event_id"] == e["story"]["story_id"] == first["story"]["story_id"]
        assert first["story"]["linked_by"] == "first"
        if e["dedup"]["is_duplicate"]:
            assert e["story"] == {**by_id[e["dedup"]["duplicate_of"]]["story"],
                                  "linked_by": "duplicate", "similarity": 1.0}
        elif e is not first:
            assert e["story"]["linked_by"] == "names" and 0 < e["story"]["similarity"] <= 1


def test_no_unrelated_sample_articles_share_a_story(output):
    # With the 48 h time decay two pairs merged through one shared key each (Senat / Santé,
    # Denmark); the 12 h decay keeps them apart.
    assert _stories(output[ARTICLE_EVENT]) == sorted(STORIES)


def test_absurd_date_falls_back_to_fetch_time_and_says_so(output):
    event = _by_title(output[ARTICLE_EVENT])["Festival du film : le jury dévoile sa sélection"]
    assert event["published_time"] is None
    assert event["event_time"] == FETCHED_AT and event["event_time_source"] == "fetched"
    assert event["notes"] == ["published date more than a day after fetch time: ignored"]


def test_bad_input_becomes_dead_letters_with_reasons(output):
    got = sorted((d["stage"], d["error_type"], d["source"]["outlet"]) for d in output[DEAD_LETTER])
    assert got == [
        ("normalise", "empty_item", "Berliner Abendpost"),       # link but no title or text
        ("normalise", "invalid_link", "Gazzetta del Lago"),      # javascript: link
        ("normalise", "invalid_link", "Harbour Daily"),          # no link; id is a tag: URI
        ("parse", "not_a_feed", "Broken Outlet"),                # an HTML error page
    ]
    broken = next(d for d in output[DEAD_LETTER] if d["stage"] == "parse")
    assert b"502 Bad Gateway" in broken["payload"]
    for letter in output[DEAD_LETTER]:
        assert letter["reason"] and letter["payload"]


def test_run_reports_what_it_wrote(tmp_path, capsys):
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(tmp_path)]) == 0
    assert "wrote 22 article events (4 duplicates) and 4 dead letters" in capsys.readouterr().out


def test_one_health_record_per_feed_says_how_its_read_went(output):
    health = {h["outlet"]: h for h in output[FEED_HEALTH]}
    assert len(health) == len(output[FEED_HEALTH]) >= 8
    assert health["Broken Outlet"]["outcome"] == "not_a_feed"
    assert health["Broken Outlet"]["error_kind"] == "not_a_feed"
    assert health["Nordic Wire"]["outcome"] == "new" and health["Nordic Wire"]["items"] > 0
    for record in health.values():
        assert is_valid(record, FEED_HEALTH) and record["time"] == FETCHED_AT
