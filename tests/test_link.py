"""The Link transform on the DirectRunner: bounded input, and TestStream for event-time order,
late data, the horizon and the cap; bad input as dead letters. The texts are written for these
tests (a fictional mine accident in Kiruna, reported in Swedish and Dutch)."""

from __future__ import annotations

import functools
import gc
import json
import pickle
import random
import tempfile
from datetime import timedelta
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.runners.pipeline_context import PipelineContext
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from wirewatch.core.article import build_event
from wirewatch.core.stories import StoryLinker, story_profile
from wirewatch.pipelines.link import INCOMPLETE_NOTE, Link
from wirewatch.pipelines.link import decide as link_decide
from wirewatch.pipelines.link.decide import LATE_NOTE
from wirewatch.pipelines.link.join import JoinFn
from wirewatch.pipelines.link.records import Part, Profiles
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, RawArticle, is_valid, source

HOUR_MS = 3600 * 1000
T0 = 1_793_998_800_000

SWEDISH = ("Ras i gruvan i Kiruna: 14 gruvarbetare instängda",
           "Fjorton gruvarbetare är instängda efter ett ras i LKAB:s gruva i Kiruna på "
           "måndagskvällen. Räddningstjänsten i Norrbotten säger att kontakt har etablerats med "
           "de instängda på nivå 1365.")
DUTCH = ("Veertien mijnwerkers vast na instorting in Zweedse mijn",
         "In de ijzerertsmijn van LKAB in het Zweedse Kiruna zitten veertien mijnwerkers vast. "
         "Volgens de hulpdiensten in Norrbotten is er contact met de mannen op niveau 1365.")
# The same place and week, another event: a story of its own.
DERBY = ("Kiruna vinner derbyt mot Luleå",
         "Kiruna IF vann på tisdagen derbyt mot Luleå HF med 4-2 inför fullsatt läktare.")


def event(outlet: str, n: int, text: tuple[str, str], hours: float, *,
          duplicate_of: dict | None = None) -> dict:
    """An article event published ``hours`` after T0 and read a second later."""
    published = int(T0 + hours * HOUR_MS)
    made = build_event(RawArticle(
        source=source("rss", outlet, guid=f"{outlet}-{n}"),
        url=f"https://{outlet.lower().replace(' ', '')}.example/{n}", title=text[0],
        content=text[1], published_ms=published, fetched_ms=published + 1000))
    if duplicate_of is not None:
        made["dedup"] = {**made["dedup"], "is_duplicate": True,
                         "duplicate_of": duplicate_of["event_id"], "similarity": 1.0,
                         "method": "exact_content"}
    return made


def _stamped(e: dict) -> window.TimestampedValue:
    at = e.get("event_time", T0) if isinstance(e, dict) else T0  # bad input too
    return window.TimestampedValue(e, at / 1000)


def _row(e: dict) -> tuple:
    return (e["title"], e["story"]["story_id"], e["story"]["linked_by"],
            LATE_NOTE in e["notes"])


def _linked(events: list, **kwargs) -> tuple[list[dict], list[dict]]:
    """Link ``events`` (bounded input); the events and dead letters that come out."""
    with tempfile.TemporaryDirectory() as out:
        with TestPipeline() as p:
            linked = (p | beam.Create(events, reshuffle=False) | beam.Map(_stamped)
                      | Link(**kwargs))
            for name, records in (("events", linked.events), ("letters", linked.dead_letters)):
                (records | f"Json{name}" >> beam.Map(json.dumps, default=_bytes)
                 | f"Write{name}" >> beam.io.WriteToText(f"{out}/{name}"))
        return tuple([json.loads(line) for f in sorted(Path(out).glob(f"{name}*"))
                      for line in f.read_text().splitlines()] for name in ("events", "letters"))


def _bytes(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def test_reports_in_two_languages_share_a_story_a_copy_joins_and_another_event_does_not():
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 2)
    copy = event("Wire Copy", 3, SWEDISH, 1, duplicate_of=sv)
    derby = event("Norrlandsposten", 4, DERBY, 20)
    events, letters = _linked([derby, copy, nl, sv])
    assert letters == []
    got = {e["title"] + e["source"]["outlet"]: e["story"] for e in events}
    assert got[SWEDISH[0] + "Norrlandsposten"] == {
        "story_id": sv["event_id"], "linked_by": "first", "similarity": 1.0}
    assert got[SWEDISH[0] + "Wire Copy"] == {
        "story_id": sv["event_id"], "linked_by": "duplicate", "similarity": 1.0}
    dutch = got[DUTCH[0] + "De Avondkrant"]
    assert dutch["story_id"] == sv["event_id"] and dutch["linked_by"] == "names"
    assert 0.25 <= dutch["similarity"] <= 1.0
    assert got[DERBY[0] + "Norrlandsposten"]["story_id"] == derby["event_id"]
    for e in events:
        assert is_valid(e, ARTICLE_EVENT)


def test_story_id_is_the_earliest_article_whatever_the_input_order():
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 2)
    same_time = event("Aftonkusten", 5, SWEDISH, 0)  # a tie in event time: smallest id first
    articles = [sv, nl, same_time, event("Norrlandsposten", 4, DERBY, 20)]
    first = min(sv["event_id"], same_time["event_id"])
    runs = []
    for seed in (1, 2, 3):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        runs.append(sorted(_row(e) for e in _linked(shuffled)[0]))
    assert runs[0] == runs[1] == runs[2]
    assert {r[1] for r in runs[0] if r[0] != DERBY[0]} == {first}


def test_stories_end_after_the_horizon_also_between_chunks(monkeypatch):
    # The Dutch report comes 50 h after the Swedish one: within the default 72 h horizon it
    # joins; past a 40 h one it is a story of its own, also when the stories are forgotten
    # between chunks of bounded input (the filler makes several chunks of 2).
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 50)
    filler = [event("Filler", n, (f"Note {n}", "nothing named here at all"), 41 + n)
              for n in range(6)]
    for chunk in (2, 4096):
        monkeypatch.setattr(link_decide, "DECIDE_CHUNK", chunk)
        got = {e["title"]: e["story"]["story_id"]
               for e in _linked([sv, nl, *filler], horizon=timedelta(hours=40))[0]}
        assert got[DUTCH[0]] == nl["event_id"] and got[SWEDISH[0]] == sv["event_id"]
    got = {e["title"]: e["story"]["story_id"] for e in _linked([sv, nl, *filler])[0]}
    assert got[DUTCH[0]] == sv["event_id"]


def test_a_story_at_its_size_cap_continues_in_a_successor_and_says_so():
    reports = [event(f"Outlet {n}", n, SWEDISH if n % 2 else DUTCH, n) for n in range(3)]
    events = sorted(_linked(reports, max_size=2)[0], key=lambda e: e["event_time"])
    assert [e["story"]["linked_by"] for e in events] == ["first", "names", "capped"]
    assert events[2]["story"]["story_id"] == events[2]["event_id"]
    assert any(events[0]["event_id"] in note for note in events[2]["notes"])


def test_articles_with_nothing_to_link_by_are_each_a_story_of_their_own():
    odd = [("", "12 345 678 90"),  # only numbers
           ("no names at all", "just lower case words and nothing else in here"),
           ("EVERY WORD IN CAPITALS HERE", "ALL CAPS BODY WITH NO REAL NAME IN IT AT ALL"),
           ("Every Word Capitalised In Headline Case", "Every Word Is Capitalised Here Too"),
           ("ꦲꦤꦕꦫꦏ", "ꦲꦤꦕꦫꦏ ꦢꦠꦱꦮꦭ"),  # Javanese script
           ("Big body", "Lorem ipsum Dolor " * 60_000)]  # ~1 MB
    articles = [event("Odd", n, text, n) for n, text in enumerate(odd)]
    events, letters = _linked(articles)
    assert letters == []
    assert sorted(e["story"]["story_id"] for e in events) == sorted(
        a["event_id"] for a in articles)


def test_bad_input_becomes_link_dead_letters_and_unprofiled_articles_go_on_alone():
    good = event("Norrlandsposten", 1, SWEDISH, 0)
    broken = {**event("De Avondkrant", 2, DUTCH, 1), "summary": 17}  # profiling fails on it
    events, letters = _linked([good, broken, "not an article",
                               {k: v for k, v in good.items() if k != "event_time"}])
    assert sorted((d["stage"], d["error_type"]) for d in letters) == [
        ("link", "InvalidEvent"), ("link", "InvalidEvent"), ("link", "LinkFailed")]
    for letter in letters:
        assert is_valid({**letter, "payload": letter["payload"].encode()}, DEAD_LETTER)
        assert letter["reason"]
    out = {e["event_id"]: e for e in events}
    assert set(out) == {good["event_id"], broken["event_id"]}
    alone = out[broken["event_id"]]
    assert alone["story"]["story_id"] == broken["event_id"]
    assert any("story profile failed" in note for note in alone["notes"])


@pytest.mark.parametrize("bad", [{"horizon": timedelta(0)}, {"threshold": 0.0},
                                 {"threshold": 1.5}, {"max_size": 0}, {"batch_size": 0}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        Link(**bad)


def test_link_records_cross_shuffles_as_opaque_bytes():
    """Rows under a Python coder, as Dedupe's: a Java GroupByKey (Flink's job server) only moves
    them."""
    coder = beam.coders.registry.get_coder(Part)
    verdicts = Part(1795094400999, rows=[0, 3], story_ids=["e1", "e1"],
                    linked_by=["first", "names"], similarities=[1.0, 0.4], notes=["", ""],
                    failures=["", ""])  # sequences come back as lists
    e = event("Norrlandsposten", 1, SWEDISH, 0)
    batch = Part.batch(1795094400999, [e], [], [], [])
    assert coder.is_deterministic()
    assert coder.decode(coder.encode(verdicts)) == verdicts
    assert coder.decode(coder.encode(batch)).events_and_letters() == ((e,), ())
    assert coder.to_runner_api(PipelineContext()).spec.urn != common_urns.coders.ROW.urn
    profiles = Profiles.of("b1", 0, [0], [""], [story_profile(e)])
    coder = beam.coders.registry.get_coder(Profiles)
    assert coder.decode(coder.encode(profiles)).each() == (story_profile(e),)


def test_join_lets_a_batch_out_without_its_verdicts_and_notes_it():
    e = event("Norrlandsposten", 1, SWEDISH, 0)
    [out] = list(JoinFn().process(("b1", [Part.batch(0, [e], [])]), window.GlobalWindow()))
    assert out.value["story"] == {"story_id": e["event_id"], "linked_by": "first",
                                  "similarity": 1.0}
    assert INCOMPLETE_NOTE in out.value["notes"]


def _at(hours: float) -> float:
    return (T0 + hours * HOUR_MS) / 1000


def test_a_linker_rebuilt_from_its_snapshot_and_log_is_the_linker_that_decided():
    """What a restarted decider does: the snapshot plus the panes fed since give the same
    linker, so the stories go on the same."""
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 2)
    copy = event("Wire Copy", 3, SWEDISH, 1, duplicate_of=sv)
    derby = event("Norrlandsposten", 4, DERBY, 20)
    part = Profiles.of("b1", 0, (0, 1, 2, 3), ("", "", sv["event_id"], ""),
                       [story_profile(e) for e in (sv, nl, copy, derby)])
    rows = link_decide._rows([part])
    live = StoryLinker()
    snapshot = pickle.dumps(live)
    log = [link_decide._decide(live, rows[:2], None)[0],
           link_decide._decide(live, rows[2:], None)[0]]
    rebuilt = pickle.loads(snapshot)
    for pane in log:
        link_decide._apply(rebuilt, pane)
    assert pickle.dumps(rebuilt) == pickle.dumps(live)
    later = story_profile(event("Aftonkusten", 5, SWEDISH, 30))
    assert rebuilt.link(later) == live.link(later)


def _check(stream: TestStream, expected: list) -> None:
    p = TestPipeline(options=PipelineOptions(streaming=True))
    rows = (p | stream | Link()).events | "Rows" >> beam.Map(_row)
    assert_that(rows, equal_to(expected))
    p.run().wait_until_finish()


@pytest.mark.parametrize("snapshot_every", [1, 60])
def test_stream_links_in_event_time_order_not_arrival_order(monkeypatch, snapshot_every):
    monkeypatch.setattr(link_decide, "SNAPSHOT_EVERY", snapshot_every)
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 2)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(nl)])  # the later report arrives first ...
              .add_elements([_stamped(sv)])  # ... the earlier one before the watermark
              .advance_watermark_to(_at(5))
              .advance_watermark_to_infinity())
    _check(stream, [(SWEDISH[0], sv["event_id"], "first", False),
                    (DUTCH[0], sv["event_id"], "names", False)])


def test_report_read_late_is_still_linked_and_noted():
    sv, derby = event("Norrlandsposten", 1, SWEDISH, 0), event("Norrlandsposten", 4, DERBY, 3)
    # Published at 2 h, read at 4.5 h (after the derby was linked); Dedupe hands it on stamped
    # with its event time, behind the watermark: Link waits for it by its read time.
    nl = {**event("De Avondkrant", 2, DUTCH, 2), "fetched_time": int(_at(4.5) * 1000)}
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(sv), _stamped(derby)])
              .advance_watermark_to(_at(4))
              .add_elements([_stamped(nl)])
              .advance_watermark_to(_at(6))
              .advance_watermark_to_infinity())
    _check(stream, [(SWEDISH[0], sv["event_id"], "first", False),
                    (DERBY[0], derby["event_id"], "first", False),
                    (DUTCH[0], sv["event_id"], "names", True)])


def test_report_behind_the_watermark_still_goes_out_once():
    """Against the input contract (stamped behind the watermark and read before it): the
    article is neither dropped nor held back, whatever panes the runner fires for it."""
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 1)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(sv)])
              .advance_watermark_to(_at(4))
              .add_elements([_stamped(nl)])
              .advance_watermark_to(_at(6))
              .advance_watermark_to_infinity())
    p = TestPipeline(options=PipelineOptions(streaming=True))
    titles = (p | stream | Link()).events | beam.Map(lambda e: e["title"])
    assert_that(titles, equal_to([SWEDISH[0], DUTCH[0]]))
    p.run().wait_until_finish()


def test_an_article_delivered_again_in_a_later_tick_is_in_its_first_story_and_counted_once():
    """At-least-once input: Kafka redelivers an article after a restart, a tick later; it gets
    the story (and verdict) of its first delivery, and the story did not grow by it."""
    sv, nl = event("Norrlandsposten", 1, SWEDISH, 0), event("De Avondkrant", 2, DUTCH, 2)
    again = {**nl, "fetched_time": int(_at(3) * 1000)}
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(sv), _stamped(nl)])
              .advance_watermark_to(_at(2.5))
              .add_elements([window.TimestampedValue(again, _at(3))])
              .advance_watermark_to(_at(5))
              .advance_watermark_to_infinity())
    p = TestPipeline(options=PipelineOptions(streaming=True))
    rows = (p | stream | Link()).events | "Rows" >> beam.Map(
        lambda e: (e["title"], e["story"]["story_id"], e["story"]["linked_by"],
                   e["story"]["similarity"]))
    linker = StoryLinker()
    first = [linker.link(story_profile(e)) for e in (sv, nl)]
    assert_that(rows, equal_to([(SWEDISH[0], sv["event_id"], "first", 1.0),
                                *[(DUTCH[0], sv["event_id"], "names", first[1].similarity)] * 2]))
    p.run().wait_until_finish()


def test_a_snapshot_read_without_the_collector_is_the_same_linker_and_the_collector_resumes():
    linker = StoryLinker()
    for n, text in enumerate((SWEDISH, DUTCH, DERBY)):
        linker.link(story_profile(event("Norrlandsposten", n, text, n)))
    read = link_decide.without_gc(functools.partial(pickle.loads, pickle.dumps(linker)))
    assert read.__getstate__() == linker.__getstate__()
    assert gc.isenabled()
