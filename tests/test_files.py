"""The Avro file sink's settings and file names (its streaming behaviour is tested live, on
Prism, in test_streaming_kafka.py and test_streaming_feeds.py)."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import fastavro
import pytest
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import PaneInfo, PaneInfoTiming

from tests.conftest import SAMPLES
from wirewatch.connectors.files import (
    CODECS,
    DEFAULT_CODEC,
    Part,
    WriteAvroFiles,
    _Avro,
    _RollFileFn,
    _WritePartFn,
    output_prefix,
    rolled_file_name,
)
from wirewatch.connectors.offsets import Offsets
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


ON_TIME = PaneInfo(True, True, PaneInfoTiming.ON_TIME, 0, 0)
_SYNC_MARKER = bytes(range(16))


def _avro(name: str, codec: str) -> _Avro:
    return _Avro(parsed_schema(name), codec, _SYNC_MARKER)


def write_parts(prefix: str, name: str, bundles: list[list[dict]], codec: str) -> list[Part]:
    """What the stream's part writer does with each of ``bundles``: a hidden part file each."""
    fn = _WritePartFn(prefix, _avro(name, codec), sink=0)
    parts = []
    for bundle in bundles:
        fn.start_bundle()
        for record in bundle:
            fn.process(record, Timestamp(seconds=1))
        out = list(fn.finish_bundle())
        parts.append(out[0].value)
        # Each part's offsets go out as staged (out of memory), not yet written.
        assert [o.value.value for o in out[1:]] == [o._replace(staged=True)
                                                   for o in out[0].value.offsets]
    return parts


def roll(prefix: str, name: str, parts: list[Part], codec: str) -> list:
    """What the stream's roll does when the period fires: the file's path and the offsets."""
    fn = _RollFileFn(prefix, _avro(name, codec), sink=0)
    fn.setup()
    return list(fn.process((0, iter(parts)), pane=ON_TIME))


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
    prefix = output_prefix(str(tmp_path), DEAD_LETTER)
    letters = [dead_letter("read", "not JSON", "invalid_json", b"{",
                           source("kafka", "articles", topic="articles", partition=0, offset=i))
               for i in range(3)]
    path, offsets = roll(prefix, DEAD_LETTER,
                         write_parts(prefix, DEAD_LETTER, [letters[:2], letters[2:]], codec),
                         codec)
    assert _codec_and_count(path) == (codec, 3)
    assert offsets.value.bounds == (0, 3)  # reported once the file has its name


def test_a_retried_roll_reports_its_file_again_and_writes_no_second_one(tmp_path):
    """A roll that failed after the rename (its parts partly deleted) is retried by the
    runner: the offsets it reports must still cover every record, or the commit stalls."""
    prefix = output_prefix(str(tmp_path), DEAD_LETTER)
    letters = [dead_letter("read", "not JSON", "invalid_json", b"{",
                           source("kafka", "articles", topic="articles", partition=0, offset=i))
               for i in range(4)]
    parts = write_parts(prefix, DEAD_LETTER, [letters[:1], letters[1:]], DEFAULT_CODEC)
    first = roll(prefix, DEAD_LETTER, parts, DEFAULT_CODEC)
    again = roll(prefix, DEAD_LETTER, parts, DEFAULT_CODEC)
    assert again[0] == first[0]
    assert again[1].value == first[1].value == Offsets("articles", 0, 0, (0, 4))
    assert [p.name for p in (tmp_path / "dead_letters").iterdir()] == [Path(first[0]).name]
    assert _codec_and_count(first[0]) == (DEFAULT_CODEC, 4)
