"""The Tag step on DirectRunner: language and topics filled in batches, backend by option."""

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.core.article import build_event
from wirewatch.pipelines.options import WirewatchOptions
from wirewatch.pipelines.tag import Tag
from wirewatch.schemas.records import ARTICLE_EVENT, RawArticle, is_valid, source


def _event(title: str, summary: str = "", hint: str | None = None, n: int = 0) -> dict:
    return build_event(RawArticle(
        source=source("rss", "Wire", feed_url="https://wire.example/rss", guid=f"g{n}"),
        url=f"https://wire.example/a/{n}", title=title, summary=summary,
        fetched_ms=1_795_000_000_000, language_hint=hint))


EVENTS = [
    _event("Arsenal beat Chelsea in derby as striker scores twice",
           "The Premier League leaders won 2-0 at the Emirates.", "en", 1),
    _event("Regeringen vil ikke ændre skatten", "", "nb", 2),  # Danish-looking; the feed says no
    _event("政府选举后不会改变税收", "", None, 3),
    _event("12345", "", None, 4),
]


def test_language_topics_and_tagger_filled_per_event():
    with test_pipeline.TestPipeline() as p:
        tagged = p | beam.Create(EVENTS) | Tag(max_batch_size=3, topic_tagger="keywords")
        assert_that(tagged.events | beam.Map(lambda e: (
            e["title"], e["language"]["code"], tuple(t["code"] for t in e["topics"]),
            e["topics_tagger"])), equal_to([
                (EVENTS[0]["title"], "en", ("medtop:15000000",), "keywords-1"),
                (EVENTS[1]["title"], "no", (), "keywords-1"),
                # no topic definitions for Chinese, no language at all: "not computed"
                (EVENTS[2]["title"], "zh", (), None),
                (EVENTS[3]["title"], "und", (), None),
            ]))
        assert_that(tagged.events | "Valid" >> beam.Map(lambda e: is_valid(e, ARTICLE_EVENT)),
                    equal_to([True] * 4), label="AllValid")
        assert_that(tagged[DEAD_LETTERS], equal_to([]), label="NoDeadLetters")


def test_learned_topics_by_default_in_any_language():
    with test_pipeline.TestPipeline() as p:
        tagged = p | beam.Create([EVENTS[0], *EVENTS[2:]]) | Tag(max_batch_size=3)
        assert_that(tagged.events | beam.Map(lambda e: (
            e["title"], tuple(t["code"] for t in e["topics"])[:1], e["topics_tagger"])),
            equal_to([
                (EVENTS[0]["title"], ("medtop:15000000",), "learned-1"),
                (EVENTS[2]["title"], ("medtop:11000000",), "learned-1"),  # Chinese: politics
                (EVENTS[3]["title"], (), None),  # no language: "not computed"
            ]))


def test_backend_is_chosen_by_name():
    with test_pipeline.TestPipeline() as p:
        tagged = p | beam.Create(EVENTS[:1]) | Tag(language_backend="langdetect")
        assert_that(tagged.events | beam.Map(lambda e: e["language"]),
                    equal_to([{"code": "en", "confidence": pytest.approx(1.0, abs=1e-3),
                               "method": "langdetect-1.0.9"}]))


def test_an_event_that_cannot_be_tagged_goes_on_with_a_dead_letter():
    broken = {**EVENTS[0], "event_id": "b" * 32}
    del broken["title"]
    with test_pipeline.TestPipeline() as p:
        tagged = p | beam.Create([EVENTS[1], broken]) | Tag()
        assert_that(tagged.events | beam.Map(lambda e: (e["event_id"], e["language"]["code"])),
                    equal_to([(EVENTS[1]["event_id"], "no"), ("b" * 32, "und")]))
        assert_that(tagged[DEAD_LETTERS] | beam.Map(lambda d: (d["stage"], d["event_id"],
                                                               d["error_type"])),
                    equal_to([("tag", "b" * 32, "KeyError")]), label="DeadLetter")


def test_unknown_backend_and_batch_size_are_refused():
    with pytest.raises(ValueError, match="unknown language backend 'cld9'"):
        Tag(language_backend="cld9")
    with pytest.raises(ValueError, match="max_batch_size"):
        Tag(max_batch_size=0)


def test_language_backend_option():
    assert WirewatchOptions([]).language_backend == "cascade"
    assert WirewatchOptions(["--language_backend", "fasttext"]).language_backend == "fasttext"
    with pytest.raises(SystemExit):
        WirewatchOptions(["--language_backend", "cld9"]).language_backend  # noqa: B018


def test_each_event_keeps_its_timestamp_and_window():
    """Batching must not move events in time: in a streaming run a batch stamped with the end
    of the global window (what ``BatchElements`` does) would never reach a closing window."""
    events = [_event(f"Headline number {n} about the weather and the storm", n=n)
              for n in range(5)]

    def placed(event, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        return event["title"], int(timestamp), int(window.start)

    with test_pipeline.TestPipeline() as p:
        tagged = (p
                  | beam.Create(events)
                  | beam.Map(lambda e: beam.window.TimestampedValue(e, 100 + 30 * len(e["title"])))
                  | beam.WindowInto(beam.window.FixedWindows(60))
                  | Tag(max_batch_size=2))
        assert_that(tagged.events | beam.Map(placed), equal_to([
            (e["title"], 100 + 30 * len(e["title"]), (100 + 30 * len(e["title"])) // 60 * 60)
            for e in events]))
