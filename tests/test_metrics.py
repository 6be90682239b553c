"""Pipeline metrics: names, what the end-of-graph Measure steps count, the run summary, and
the Prometheus endpoint."""

from __future__ import annotations

import re
import socket
import urllib.request

import apache_beam as beam
import pytest

from tests.conftest import SAMPLES
from tests.made_records import article_event, failed
from wirewatch.pipelines.cli import main, run_summary
from wirewatch.pipelines.measure import MeasureDeadLetters, MeasureEvents
from wirewatch.pipelines.metrics import (
    DEAD_LETTERS_BY_REASON,
    EVENTS_BY_LANGUAGE,
    EVENTS_WRITTEN,
    counter,
    dead_letter_metric_names,
    event_metric_names,
    parse_name,
)
from wirewatch.pipelines.prometheus import serve, unseen_workers


def test_labelled_names_read_back_and_values_cannot_break_them():
    name = DEAD_LETTERS_BY_REASON.name(stage="normalise", error_type="a,b={c}")
    assert name == "dead_letters_by_reason{stage=normalise,error_type=a_b__c_}"
    assert parse_name(name) == ("dead_letters_by_reason",
                                {"stage": "normalise", "error_type": "a_b__c_"})
    assert parse_name("duplicates") == ("duplicates", {})


def test_wrong_labels_are_refused():
    with pytest.raises(ValueError, match="takes labels"):
        EVENTS_BY_LANGUAGE.name(lang="en")
    with pytest.raises(ValueError, match="takes labels"):
        EVENTS_WRITTEN.name(language="en")
    with pytest.raises(ValueError, match="need a Metric"):
        counter("duplicates", method="near")


def test_what_one_event_and_one_dead_letter_count():
    event = article_event("a", language="de", duplicate_of="f" * 32,
                          topics=(("medtop:15000000", "sport"),))
    assert event_metric_names(event) == [
        "events_written", "events_by_source{source=rss,outlet=Nordic Wire}",
        "events_by_language{language=de}", "events_by_topic{topic=medtop:15000000}",
        "duplicates_by_method{method=exact_content}"]
    assert "events_without_published_time" in event_metric_names(
        article_event("b", published_ms=None))
    assert event_metric_names(article_event("c", story_of=("c" * 32, "first")))[-1] == (
        "stories_opened{linked_by=first}")
    assert event_metric_names(article_event("d", story_of=("c" * 32, "names")))[-1] == (
        "stories_joined{linked_by=names}")
    assert dead_letter_metric_names(failed("parse", "not_a_feed")) == [
        "dead_letters_written", "dead_letters_by_reason{stage=parse,error_type=not_a_feed}"]


def test_run_prints_a_summary_of_the_metrics(tmp_path, capsys):
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("wirewatch run: wrote 22 article events (4 duplicates) and "
                               "4 dead letters")
    assert "  by language: en 9, de 3, es 3, fr 3, it 2, sv 2" in lines
    assert "  duplicates by method: exact_url 2, exact_content 1, near 1" in lines
    [stories] = [x for x in lines if x.startswith("  stories: ")]
    opened, names = re.fullmatch(r"  stories: (\d+) opened; joined by duplicate 4, names (\d+)",
                                 stories).groups()
    assert int(opened) + 4 + int(names) == 22  # every article event opened or joined a story
    assert "  feed polls: new 8, not_a_feed 1" in lines
    assert "  feed poll failures: not_a_feed 1" in lines
    assert ("  dead letters by stage/error_type: normalise/invalid_link 2, normalise/empty_item 1, "
            "parse/not_a_feed 1") in lines
    lag = [x for x in lines if x.startswith("  event-time lag (published -> written)")]
    assert len(lag) == 1 and lag[0].endswith("over 21 events (1 without a published time)")


def test_summary_names_the_eight_largest_and_counts_the_rest():
    counters = {f"events_by_language{{language=l{i}}}": 20 - i for i in range(10)}
    assert run_summary(counters, {}) == [
        "  by language: l0 20, l1 19, l2 18, l3 17, l4 16, l5 15, l6 14, l7 13 (+2 more)"]


def test_summary_of_stories_says_how_many_opened_and_how_the_rest_joined():
    counters = {"stories_opened{linked_by=first}": 7, "stories_opened{linked_by=capped}": 1,
                "stories_joined{linked_by=names}": 3, "stories_joined{linked_by=duplicate}": 5}
    assert run_summary(counters, {}) == [
        "  stories: 8 opened (capped 1); joined by duplicate 5, names 3"]


def test_summary_leaves_out_what_did_not_happen():
    assert run_summary({"events_written": 0}, {}) == []
    assert run_summary({"feed_polls{outcome=ok}": 5, "feed_polls{outcome=error}": 1,
                        "feed_poll_failures{error_kind=timeout}": 1}, {}) == [
        "  feed polls: ok 5, error 1", "  feed poll failures: timeout 1"]


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("wirewatch_")}


def test_prometheus_sees_what_workers_in_this_process_count():
    now = beam.utils.timestamp.Timestamp.now().micros // 1000
    events = [article_event("a", language="de", published_ms=now - 90_000),
              article_event("b", language="de", published_ms=now - 90_000),
              article_event("c", language="fr", published_ms=None)]
    with serve(0) as port:
        with beam.Pipeline() as p:
            _ = p | "Events" >> beam.Create(events) | MeasureEvents()
            _ = (p | "Letters" >> beam.Create([failed("parse", "not_a_feed")])
                 | MeasureDeadLetters())
        scraped = _scrape(port)
    assert scraped['wirewatch_events_by_language_total{language="de"}'] == 2
    assert scraped['wirewatch_events_by_language_total{language="fr"}'] == 1
    assert scraped["wirewatch_events_written_total"] == 3
    assert scraped["wirewatch_events_without_published_time_total"] == 1
    assert scraped['wirewatch_dead_letters_by_reason_total{error_type="not_a_feed",'
                   'stage="parse"}'] == 1
    # two articles published 90 s before they were measured
    assert scraped["wirewatch_event_time_lag_seconds_count"] == 2
    assert scraped['wirewatch_event_time_lag_seconds_bucket{le="60.0"}'] == 0
    assert scraped['wirewatch_event_time_lag_seconds_bucket{le="300.0"}'] == 2


def test_prometheus_port_in_use_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(tmp_path),
                     "--prometheus_port", str(port)]) == 2
    assert f"cannot serve Prometheus metrics on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "unseen"), [
    ([], None),
    (["--direct_running_mode=multi_processing"], "other processes"),
    (["--runner=FlinkRunner"], None),  # embedded Flink: LOOPBACK workers in this process
    (["--runner=FlinkRunner", "--flink_master=flink:8081"], "DOCKER"),
    (["--runner=FlinkRunner", "--flink_master=flink:8081", "--environment_type=LOOPBACK"], None),
    (["--runner=PortableRunner", "--environment_type=EXTERNAL"], "EXTERNAL"),
    (["--runner=DataflowRunner"], "Dataflow"),
])
def test_which_runs_the_prometheus_endpoint_can_see(argv, unseen):
    from apache_beam.options.pipeline_options import PipelineOptions

    found = unseen_workers(PipelineOptions(argv))
    assert found is None if unseen is None else unseen in found
