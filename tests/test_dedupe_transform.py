"""The Dedupe transform on the DirectRunner: batch input, and TestStream for event-time order,
late data, expiry and windows."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import timedelta

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.portability import common_urns
from apache_beam.runners.pipeline_context import PipelineContext
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from benchmarks.corpus import generate
from wirewatch.core.article import build_event
from wirewatch.pipelines import dedupe
from wirewatch.pipelines.dedupe import LATE_NOTE, Dedupe
from wirewatch.pipelines.dedupe.records import Part
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, RawArticle, is_valid, source

HOUR_MS = 3600 * 1000
T0 = 1_793_998_800_000  # on the hour, so hourly windows start at T0
STORY = ("The port authority said on Tuesday that container traffic fell by a tenth in the third "
         "quarter as shipping lines diverted vessels around the cape, and that it expects volumes "
         "to recover slowly next year once the new terminal opens to the largest ships. Dock "
         "workers have warned that automation at the new terminal will cost hundreds of jobs and "
         "their union has called a meeting for Friday to decide on further action.")
OTHER = ("Heavy rain flooded streets in the old town overnight and the fire brigade pumped water "
         "out of dozens of cellars, while the river rose to its highest level in twelve years and "
         "the city closed two bridges to traffic until the water recedes later this week.")


def event(outlet: str, n: int, body: str, hours: float) -> dict:
    raw = RawArticle(
        source=source("rss", outlet, guid=f"{outlet}-{n}"),
        url=f"https://{outlet.lower()}.example/{n}", title=f"{outlet} {n}", content=body,
        published_ms=int(T0 + hours * HOUR_MS), fetched_ms=T0 + 100 * HOUR_MS)
    return build_event(raw)


def copy_of(body: str) -> str:
    """A wire copy: one word changed, outlet boilerplate after."""
    return body.replace("slowly", "gradually") + " Subscribe to our newsletter for more."


def _stamped(e: dict) -> window.TimestampedValue:
    return window.TimestampedValue(e, e["event_time"] / 1000)


def _verdict(e: dict) -> tuple:
    return (e["title"], e["dedup"]["is_duplicate"], e["dedup"]["duplicate_of"],
            e["dedup"]["method"])


def check_batch(events: list, expected: list, **kwargs) -> None:
    """Dedupe ``events`` (bounded input) and compare (title, is_dup, duplicate_of, method)."""
    with TestPipeline() as p:
        out = p | beam.Create(events) | beam.Map(_stamped) | Dedupe(**kwargs)
        assert_that(out.events | beam.Map(_verdict), equal_to(expected))


def test_copies_point_at_the_earliest_record_by_any_method():
    original = event("Wire", 1, STORY, 0)
    near = event("Harbour", 2, copy_of(STORY), 3)
    same_body = event("Metro", 3, STORY, 5)
    same_url = {**event("Other", 4, OTHER, 6), "canonical_url": original["canonical_url"]}
    unrelated = event("Rain", 5, OTHER, 1)
    oid = original["event_id"]
    check_batch([same_url, near, unrelated, same_body, original], [
        ("Wire 1", False, None, None),
        ("Harbour 2", True, oid, "near"),
        ("Metro 3", True, oid, "exact_content"),
        ("Other 4", True, oid, "exact_url"),
        ("Rain 5", False, None, None),
    ], shards=3)


def test_output_records_are_valid_and_keep_their_fields():
    original, near = event("Wire", 1, STORY, 0), event("Harbour", 2, copy_of(STORY), 3)

    def check(got):
        by_title = {e["title"]: e for e in got}
        assert all(is_valid(e, ARTICLE_EVENT) for e in got)
        dup = by_title["Harbour 2"]
        assert 0.5 < dup["dedup"]["similarity"] < 1.0
        assert {k: v for k, v in dup.items() if k != "dedup"} == {
            k: v for k, v in near.items() if k != "dedup"}

    with TestPipeline() as p:
        out = p | beam.Create([near, original]) | Dedupe()
        assert_that(out.events, check)


def test_bad_events_become_dead_letters_and_the_rest_goes_on():
    good = event("Wire", 1, STORY, 0)
    broken = {**event("Harbour", 2, STORY, 1), "event_time": "yesterday"}

    def check_letters(letters):
        assert sorted(x["reason"] for x in letters) == [
            "field 'event_time' missing or not int", "not an article event dict: str"]
        assert all(is_valid(x, DEAD_LETTER) and x["stage"] == "dedupe" for x in letters)

    with TestPipeline() as p:
        out = p | beam.Create([good, broken, "not a dict"]) | Dedupe()
        assert_that(out.events | beam.Map(lambda e: e["title"]), equal_to(["Wire 1"]))
        assert_that(out.dead_letters, check_letters, label="letters")


def test_verdicts_do_not_depend_on_the_number_of_shards():
    articles = generate(25, seed=5)
    events = [build_event(RawArticle(
        source=source("rss", a.outlet, guid=a.id), url=a.url, title=a.title, content=a.text,
        published_ms=a.time_ms, fetched_ms=a.time_ms + HOUR_MS)) for a in articles]
    by_id = {e["event_id"]: a for e, a in zip(events, articles, strict=True)}
    first: dict[int, str] = {}
    for e in sorted(events, key=lambda e: (e["event_time"], e["event_id"])):
        first.setdefault(by_id[e["event_id"]].group, e["event_id"])
    # The labels: a copy points into its own group (the corpus has no hard negative merged).
    copies = {e["title"] for e in events if first[by_id[e["event_id"]].group] != e["event_id"]}

    def flagged_are_copies(titles):
        assert set(titles) <= copies and len(titles) >= 0.9 * len(copies)

    with TestPipeline() as p:
        created = p | beam.Create(events) | beam.Map(_stamped)
        one = (created | "OneShard" >> Dedupe(shards=1)).events | "V1" >> beam.Map(_verdict)
        five = (created | "FiveShards" >> Dedupe(shards=5)).events | "V5" >> beam.Map(_verdict)
        same = ({"one": one | "K1" >> beam.Map(lambda v: (v[0], v)),
                 "five": five | "K5" >> beam.Map(lambda v: (v[0], v))}
                | beam.CoGroupByKey()
                | beam.Map(lambda kv: list(kv[1]["one"]) == list(kv[1]["five"]))
                | beam.CombineGlobally(all))
        assert_that(same, equal_to([True]), label="same")
        assert_that(one | beam.Filter(lambda v: v[1]) | beam.Map(lambda v: v[0]),
                    flagged_are_copies, label="copies")



def _corpus_events(stories: int, seed: int) -> list[dict]:
    return [build_event(RawArticle(
        source=source("rss", a.outlet, guid=a.id), url=a.url, title=a.title, content=a.text,
        published_ms=a.time_ms, fetched_ms=a.time_ms + HOUR_MS)) for a in generate(stories, seed)]


def _dedup_row(e: dict) -> tuple:
    return (e["title"], e["dedup"]["duplicate_of"], e["dedup"]["method"],
            e["dedup"]["similarity"], tuple(e["notes"]))


def test_bounded_input_gives_the_verdicts_of_the_stream_however_it_is_chunked(
        monkeypatch, tmp_path):
    # Bounded input takes the GroupByKey path, in chunks with expiry between them; a stream
    # whose watermark passes everything at once takes the state-and-timers path: the same
    # verdicts.
    events = _corpus_events(25, seed=11)
    horizon = timedelta(hours=30)  # shorter than the corpus' week: expiry between chunks counts

    with TestPipeline() as p:
        created = p | beam.Create(events) | beam.Map(_stamped)
        for chunk in (3, 4096):
            monkeypatch.setattr(dedupe.decide, "DECIDE_CHUNK", chunk)
            ((created | f"Chunk{chunk}" >> Dedupe(horizon, shards=3)).events
             | f"Rows{chunk}" >> beam.Map(lambda e: repr(_dedup_row(e)))
             | f"Write{chunk}" >> beam.io.WriteToText(str(tmp_path / f"c{chunk}")))

    def read(name: str) -> list[str]:
        return sorted(line for f in tmp_path.glob(f"{name}*")
                      for line in f.read_text().splitlines())

    chunked, whole = read("c3"), read("c4096")
    assert len(whole) == len(events)
    assert sum("None, None, None" not in r for r in whole) >= 5  # copies were found
    assert chunked == whole
    stream = (TestStream()
              .advance_watermark_to(min(e["event_time"] for e in events) / 1000 - 1)
              .add_elements([_stamped(e) for e in events])
              .advance_watermark_to(max(e["event_time"] for e in events) / 1000 + 1)
              .advance_watermark_to_infinity())
    p = TestPipeline(options=_streaming())
    streamed = ((p | stream | Dedupe(horizon, shards=3)).events
                | beam.Map(lambda e: repr(_dedup_row(e))))
    assert_that(streamed, equal_to(whole))
    p.run().wait_until_finish()

@pytest.mark.parametrize("bad", [{"horizon": timedelta(0)}, {"horizon": 3600}, {"shards": 0}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        Dedupe(**bad)


def _streaming() -> PipelineOptions:
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    return options


def _at(hours: float) -> float:
    return (T0 + hours * HOUR_MS) / 1000


class _Row(beam.DoFn):
    def process(self, e, w=beam.DoFn.WindowParam):
        start = None if isinstance(w, window.GlobalWindow) else int(w.start) * 1000
        yield (e["title"], e["dedup"]["duplicate_of"], LATE_NOTE in e["notes"], start)


def _check(stream: TestStream, expected: list, **kwargs) -> None:
    p = TestPipeline(options=_streaming())
    events = p | stream
    if kwargs.pop("windowed", False):
        events = events | beam.WindowInto(window.FixedWindows(3600))
    rows = (events | Dedupe(**kwargs)).events | "Rows" >> beam.ParDo(_Row())
    assert_that(rows, equal_to(expected))
    p.run().wait_until_finish()


def test_stream_decides_in_event_time_order_not_arrival_order():
    original, near = event("Wire", 1, STORY, 0), event("Harbour", 2, copy_of(STORY), 1)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(near)])  # the copy arrives first ...
              .add_elements([_stamped(original)])  # ... the original before the watermark
              .advance_watermark_to(_at(5))
              .advance_watermark_to_infinity())
    _check(stream, [("Wire 1", None, False, None),
                    ("Harbour 2", original["event_id"], False, None)])


def test_copy_read_late_is_still_flagged_and_noted():
    original = event("Wire", 1, STORY, 0)
    other = event("Rain", 2, OTHER, 3)
    late = event("Harbour", 3, copy_of(STORY), 1)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(original), _stamped(other)])
              .advance_watermark_to(_at(4))
              # event time 1 h, read at 4.5 h: Normalise stamps it with its read time
              .add_elements([window.TimestampedValue(late, _at(4.5))])
              .advance_watermark_to(_at(6))
              .advance_watermark_to_infinity())
    _check(stream, [("Wire 1", None, False, None), ("Rain 2", None, False, None),
                    ("Harbour 3", original["event_id"], True, None)])


def test_event_behind_the_watermark_still_goes_out_once():
    """Against the input contract (a source stamped it behind its own watermark): the article
    is neither dropped nor held back, whatever panes the runner fires for it."""
    original = event("Wire", 1, STORY, 0)
    late = event("Harbour", 3, copy_of(STORY), 1)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(original)])
              .advance_watermark_to(_at(4))
              .add_elements([_stamped(late)])  # stamped 1 h, watermark already at 4 h
              .advance_watermark_to(_at(6))
              .advance_watermark_to_infinity())
    p = TestPipeline(options=_streaming())
    titles = (p | stream | Dedupe()).events | beam.Map(lambda e: e["title"])
    assert_that(titles, equal_to(["Wire 1", "Harbour 3"]))
    p.run().wait_until_finish()


def test_residents_expire_after_the_horizon():
    original = event("Wire", 1, STORY, 0)
    within = event("Harbour", 2, copy_of(STORY), 5)
    beyond = event("Metro", 3, copy_of(STORY).replace("Dock", "Port"), 20)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(original)])
              .advance_watermark_to(_at(1))
              .add_elements([_stamped(within)])
              .advance_watermark_to(_at(15))  # original (t=0) expires at 10 h, copy at 15 h
              .add_elements([_stamped(beyond)])
              .advance_watermark_to(_at(30))
              .advance_watermark_to_infinity())
    _check(stream, [("Wire 1", None, False, None),
                    ("Harbour 2", original["event_id"], False, None),
                    ("Metro 3", None, False, None)],
           horizon=timedelta(hours=10))


def test_copy_in_a_later_window_is_flagged_and_stays_in_its_window():
    original = event("Wire", 1, STORY, 0.5)
    near = event("Harbour", 2, copy_of(STORY), 2.5)
    stream = (TestStream()
              .advance_watermark_to(_at(-1))
              .add_elements([_stamped(original)])
              .advance_watermark_to(_at(1))
              .add_elements([_stamped(near)])
              .advance_watermark_to(_at(5))
              .advance_watermark_to_infinity())
    _check(stream, [("Wire 1", None, False, T0), ("Harbour 2", original["event_id"], False,
                                                   T0 + 2 * HOUR_MS)],
           windowed=True)


def test_runs_behind_a_splittable_source_on_the_direct_runner():
    # The reason not to build on Beam's Deduplicate: its processing-time timer cannot share a
    # DirectRunner pipeline with an SDF source. Ours uses event-time timers only.
    from tests.feedserver import FeedServer, Route, rss
    from wirewatch.connectors.rss.feedlist import FeedSpec
    from wirewatch.connectors.rss.schedule import SchedulePolicy
    from wirewatch.connectors.rss.source import WatchFeeds
    from wirewatch.pipelines.normalise import Normalise

    policy = SchedulePolicy(min_interval_s=0.5, max_interval_s=0.5, jitter=0)
    with FeedServer() as server:
        # Both items in one feed, read in one poll: from two feeds, the second feed's first
        # poll could come late on a loaded machine, and a record behind the watermark goes
        # out without its verdict (README, Known limitations): seen once in ~15 loaded runs.
        items = [("a1", "Port strike"), ("b1", "Port strike")]
        feeds = [FeedSpec(server.add("/A", Route(body=rss("A", items))), "A", interval_s=0.5)]
        with TestPipeline() as p:
            read = p | WatchFeeds(feeds, policy=policy, stop_after_s=1.0, idle_sleep_s=0.05)
            assert read.events.is_bounded is False
            deduped = (read.events | Normalise()).events | Dedupe()
            # Same text, same time: the smaller event_id is canonical, the other its copy.
            assert_that(deduped.events | beam.Map(lambda e: (e["dedup"]["method"],
                                                             e["dedup"]["is_duplicate"])),
                        equal_to([(None, False), ("exact_content", True)]))


def test_join_lets_a_batch_out_without_its_late_verdicts_and_notes_it():
    from wirewatch.pipelines.dedupe.join import INCOMPLETE_NOTE, join

    article = event("Wire", 1, STORY, 0)
    out = list(join(("batch", [Part.batch(0, (article,), (), probes=3)])))
    assert [o.value["dedup"]["is_duplicate"] for o in out] == [False]
    assert INCOMPLETE_NOTE in out[0].value["notes"]
    assert list(join(("batch", []))) == []  # verdicts after their batch went out: dropped


def test_normalise_never_stamps_an_item_before_it_was_read():
    from wirewatch.pipelines.normalise import Normalise

    def raw(published_h: float) -> RawArticle:
        return RawArticle(source=source("rss", "Wire", guid=f"g{published_h}"),
                          url=f"https://wire.example/{published_h}", title="Port strike",
                          content=STORY, published_ms=int(T0 + published_h * HOUR_MS),
                          fetched_ms=T0 + 2 * HOUR_MS)

    with TestPipeline() as p:
        read = p | beam.Create([raw(1), raw(3)]) | beam.Map(
            lambda r: window.TimestampedValue(r, _at(2)))  # both read at 2 h
        stamps = (read | Normalise()).events | beam.ParDo(_Stamp())
        assert_that(stamps, equal_to([_at(2), _at(3)]))


class _Stamp(beam.DoFn):
    def process(self, e, t=beam.DoFn.TimestampParam):
        yield float(t)


def test_dedupe_records_cross_shuffles_as_opaque_deterministic_bytes():
    """Rows, but under a Python coder: a Java GroupByKey (Flink's job server) only moves them."""
    coder = beam.coders.registry.get_coder(Part)
    verdicts = Part(1795094400999, rows=b"\0\0\0\0", matches=["e9"], match_times=bytes(8),
                    similarities=bytes(8), methods=b"\2", late=b"\1")  # sequences: lists
    assert coder.is_deterministic()
    assert coder.decode(coder.encode(verdicts)) == verdicts
    assert type(coder.decode(coder.encode(verdicts))) is Part
    urn = coder.to_runner_api(PipelineContext()).spec.urn
    assert urn != common_urns.coders.ROW.urn


def test_dedupe_records_decode_to_their_own_type_in_another_process():
    """A runner with several SDK workers (or a Flink task) unpickles the coder in a process that
    never built the record's schema: it must still decode a ``Part``, with its methods."""
    coder = beam.coders.registry.get_coder(Part)
    blob = pickler.dumps(coder)
    encoded = coder.encode(Part(7, articles=b"x", probes=1))
    decoded_in_a_fresh_process = subprocess.run(
        [sys.executable, "-c",
         "import sys, base64\n"
         "from apache_beam.internal import pickler\n"
         "coder = pickler.loads(base64.b64decode(sys.argv[1]))\n"
         "value = coder.decode(base64.b64decode(sys.argv[2]))\n"
         "print(f'{type(value).__module__}.{type(value).__qualname__} {value.probes}')",
         base64.b64encode(blob).decode(), base64.b64encode(encoded).decode()],
        capture_output=True, text=True, check=True).stdout.strip()
    assert decoded_in_a_fresh_process == "wirewatch.pipelines.dedupe.records.Part 1"
