"""The Avro file sink's settings and file names (its streaming behaviour is tested live, on
Prism, in test_streaming_kafka.py and test_streaming_feeds.py)."""

from __future__ import annotations

import apache_beam as beam
import fastavro
import pytest
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.windowed_value import PaneInfo, PaneInfoTiming

from tests.conftest import SAMPLES
from wirewatch.connectors.files import (
    CODECS,
    WriteAvroFiles,
    _WriteRolledFileFn,
    output_prefix,
    rolled_file_name,
)
from wirewatch.pipelines.cli import main
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, dead_letter, parsed_schema, source


@pytest.mark.parametrize("kwargs, message", [
    ({"triggering_frequency": 0}, "triggering_frequency must be > 0"),
    ({"num_shards": -1}, "num_shards must be >= 0"),
    ({"codec": "lz4"}, "codec must be one of null, deflate, snappy, zstandard, not 'lz4'"),
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


def _codec_and_count(path) -> tuple[str, int]:
    with open(path, "rb") as f:
        reader = fastavro.reader(f)
        return reader.metadata["avro.codec"], sum(1 for _ in reader)


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_writes_files_that_read_back(tmp_path, codec):
    """Both writers: Beam's WriteToAvro (a bounded run) and the rolled files of a stream."""
    out = tmp_path / "out"
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"), "--output", str(out),
                 f"--avro_codec={codec}"]) == 0
    found = {path.parent.name: _codec_and_count(path) for path in out.rglob("*.avro")}
    assert found["article_events"] == (codec, 22) and found["dead_letters"] == (codec, 4)
    write = _WriteRolledFileFn(output_prefix(str(tmp_path), DEAD_LETTER),
                               parsed_schema(DEAD_LETTER), sink=0, codec=codec)
    letters = [dead_letter("read", "not JSON", "invalid_json", b"{",
                           source("kafka", "articles", topic="articles", partition=0, offset=i))
               for i in range(3)]
    path, offsets = write.process((0, letters),
                                  PaneInfo(True, True, PaneInfoTiming.ON_TIME, 0, 0))
    assert _codec_and_count(path) == (codec, 3)
    assert offsets.value.bounds == (0, 3)  # reported once the file has its name
