"""The Avro file sink's settings and file names (its streaming behaviour is tested live, on
Prism, in test_streaming_kafka.py and test_streaming_feeds.py)."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.transforms.periodicsequence import PeriodicImpulse

from wirewatch.connectors.files import WriteAvroFiles, output_prefix, rolled_file_name
from wirewatch.schemas.records import ARTICLE_EVENT


@pytest.mark.parametrize("kwargs, message", [
    ({"triggering_frequency": 0}, "triggering_frequency must be > 0"),
    ({"num_shards": -1}, "num_shards must be >= 0"),
])
def test_bad_settings_are_refused_when_the_sink_is_made(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        WriteAvroFiles(str(tmp_path), ARTICLE_EVENT, **kwargs)


def test_an_unknown_record_kind_is_refused_when_the_sink_is_made(tmp_path):
    with pytest.raises(ValueError, match="no schema called 'article'"):
        WriteAvroFiles(str(tmp_path), "article")


def test_unbounded_input_without_a_file_period_is_refused_when_the_pipeline_is_built(tmp_path):
    p = beam.Pipeline()
    stream = p | PeriodicImpulse(fire_interval=1) | beam.Map(lambda t: {"at": t})
    with pytest.raises(ValueError, match="unbounded input needs triggering_frequency"):
        _ = stream | WriteAvroFiles(str(tmp_path), ARTICLE_EVENT)


def test_rolled_file_names_sort_by_time_and_never_repeat(tmp_path):
    prefix = output_prefix(str(tmp_path), ARTICLE_EVENT)
    assert prefix == str(tmp_path / "article_events" / "article_events")
    first = rolled_file_name(prefix, 1795161600.0, pane=0, shard=0)
    assert first.startswith(f"{prefix}-20261120T080000Z-000000-000-") and first.endswith(".avro")
    later = rolled_file_name(prefix, 1795161601.0, pane=1, shard=0)
    again = {rolled_file_name(prefix, 1795161600.0, pane=0, shard=0) for _ in range(100)}
    assert first < later
    assert len(again) == 100  # a retried bundle or a restarted job writes a new file
