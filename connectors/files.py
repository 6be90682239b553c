"""Avro container files: the file sink for article events, dead letters and feed health.

Bounded input is written once, at the end, by Beam's ``WriteToAvro``. Unbounded input is cut
into files by **arrival**: every ``triggering_frequency`` seconds of wall time, whatever reached
the sink in that period goes into a new file (as Flink's file sink rolls part files). Why not
Beam's windowed ``WriteToAvro`` (files = windows of event time): there a record whose event time
is already behind the watermark when it reaches the sink is dropped as late without a trace, a
feed item published before the job started, or a Kafka record read a little slowly; and a window
that fires twice has its first files deleted by the second (``pre_finalize_windowed``). Here
nothing is late: the files live in the global window with a processing-time trigger, so every
record that reaches the sink is written, and the event time stays in the record.

How a stream is written (Flink's rolling part files again): each bundle that reaches the sink is
written at once to a hidden part file (``.<name>-part-...inprogress``), and only a small
:class:`Part` (its path and Kafka offsets) waits for the period; when the period fires, a
file's parts are concatenated into it, it is renamed into place and the parts are deleted. All
files of a sink share one Avro header (schema, codec and sync marker, drawn once per sink), so a
file is the header and then each part's compressed blocks byte for byte: nothing is decoded or
compressed again. Measured with ``benchmarks/bench_streaming.py`` at
500 articles/s and 60 s files: the earlier design, every record of a period held in the
runner's GroupByKey and encoded when the period fired, took 17 s (on a loaded machine) to write
a 28,000-record file after the period had ended, every second of it latency, and held the
period's records twice in memory (runner and worker). A part that a crash leaves behind keeps
its hidden name; nothing reads it, and its records are read again from Kafka (their offsets were
never committed).

Blocks are compressed with ``codec`` (``CODECS``). The default, zstandard, was chosen by
``benchmarks/bench_pipeline.py --codecs``: on the pipeline's article events it wrote 2.6x as
fast as deflate (the Avro default) for 6 % more bytes; snappy wrote faster still but 46 % larger.

Each complete file also reports the Kafka offsets of the records in it (``OFFSETS_WRITTEN``),
for ``CommitWritten``: an offset is committed only once the file holding it has its final name.
A roll that is retried after its file was renamed finds the file (its name is made from its
parts) and reports the offsets again instead of writing it twice.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import NamedTuple

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from wirewatch.connectors.offsets import OFFSETS_WRITTEN, Offsets, offsets_of, runs
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, FEED_HEALTH, parsed_schema

__all__ = ["CODECS", "DEFAULT_CODEC", "OUTPUT_FOLDERS", "Part", "WriteAvroFiles",
           "output_prefix", "run_name"]

#: Avro block codecs a file may use: what fastavro (and so Beam's ``WriteToAvro``) writes with
#: the packages this project installs (snappy through cramjam, zstandard through
#: backports.zstd); every Avro reader knows null and deflate, most know the other two.
CODECS = ("null", "deflate", "snappy", "zstandard")
DEFAULT_CODEC = "zstandard"

#: The folders a run writes under its output folder, one per record kind: all it ever writes.
OUTPUT_FOLDERS = tuple(f"{name}s" for name in (ARTICLE_EVENT, DEAD_LETTER, FEED_HEALTH))


def output_prefix(output: str, name: str) -> str:
    """Files of record kind ``name`` go to ``<output>/<name>s/<name>s-...avro``."""
    return os.path.join(output, f"{name}s", f"{name}s")


def _stamp(written_s: float) -> str:
    """``<UTC time>-<random>``: sorts by time, never the same twice."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(written_s))}-{uuid.uuid4().hex[:8]}"


def rolled_file_name(prefix: str, written_s: float, pane: int, shard: int,
                     tag: str | None = None) -> str:
    """``<prefix>-<UTC time>-<pane>-<shard>-<tag>.avro``: names sort by time; ``tag``
    (default: random) tells files of one time, pane and shard apart."""
    time_part, random_part = _stamp(written_s).split("-")
    return f"{prefix}-{time_part}-{pane:06d}-{shard:03d}-{tag or random_part}.avro"


def _hidden(path: str, suffix: str = "") -> str:
    """``path`` under a name readers skip: ``.<name><suffix>.inprogress`` in its folder."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{suffix}.inprogress")


def run_name() -> str:
    """A name for this run's bounded output files, ``<UTC time>-<random>``: a run appended to
    an output folder (``--append``) must not replace the ``-SSSSS-of-NNNNN`` files of the one
    before."""
    return _stamp(time.time())


class Part(NamedTuple):
    """A hidden part file: one bundle's records, waiting for the period to end. ``written_s``:
    when it was written; ``offsets``: the Kafka offsets of its records, per partition."""

    path: str
    written_s: float
    offsets: tuple[Offsets, ...]


class _Avro(NamedTuple):
    """How every file of one sink is written: the same schema, codec and sync marker, so each
    has the same header and the blocks of one can be appended to another as they are."""

    schema: dict  # parsed already (records.parsed_schema)
    codec: str
    sync_marker: bytes

    def write(self, f, records: list[dict]) -> None:
        fastavro.writer(f, self.schema, records, codec=self.codec, sync_marker=self.sync_marker)

    def header(self) -> bytes:
        empty = io.BytesIO()
        self.write(empty, [])
        return empty.getvalue()


class _WritePartFn(beam.DoFn):
    """Records in; at the end of each bundle, its records in one hidden part file and a
    :class:`Part` out (in the global window, at the earliest timestamp of the records), and on
    ``OFFSETS_WRITTEN`` their Kafka offsets as ``staged`` (out of memory, not yet durable)."""

    def __init__(self, prefix: str, avro: _Avro, sink: int) -> None:
        self._prefix = prefix
        self._avro = avro
        self._sink = sink

    def start_bundle(self) -> None:
        self._records: list[dict] = []
        self._earliest: Timestamp | None = None

    def process(self, record: dict, timestamp=beam.DoFn.TimestampParam) -> None:
        self._records.append(record)
        if self._earliest is None or timestamp < self._earliest:
            self._earliest = timestamp

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if not self._records:
            return
        written_s = time.time()
        path = _hidden(f"{self._prefix}-{_stamp(written_s)}", "-part")
        with FileSystems.create(path) as f:
            self._avro.write(f, self._records)
        part = Part(path, written_s, tuple(offsets_of(self._records, self._sink)))
        self._records = []
        yield WindowedValue(part, self._earliest, (window.GlobalWindow(),))
        for offsets in part.offsets:
            yield beam.pvalue.TaggedOutput(OFFSETS_WRITTEN, WindowedValue(
                offsets._replace(staged=True), self._earliest, (window.GlobalWindow(),)))


class _RollFileFn(beam.DoFn):
    """(shard, parts) in; the path of one new Avro file per shard and trigger firing out, with
    every part's records, and on ``OFFSETS_WRITTEN`` the Kafka offsets it holds, once it has its
    final name."""

    def __init__(self, prefix: str, avro: _Avro, sink: int) -> None:
        self._prefix = prefix
        self._avro = avro
        self._sink = sink

    def setup(self) -> None:
        self._header = self._avro.header()

    def process(self, element: tuple[int, Iterable[Part]],
                pane=beam.DoFn.PaneInfoParam) -> Iterator:
        shard, parts = element
        parts = sorted(parts, key=lambda part: (part.written_s, part.path))  # arrival order
        # Named by its parts: a retry of this roll after the rename finds the file done.
        tag = hashlib.sha1("\n".join(p.path for p in parts).encode()).hexdigest()[:8]
        final = rolled_file_name(self._prefix, parts[0].written_s, pane.index, shard, tag)
        if not FileSystems.exists(final):
            partial = _hidden(final)  # readers list "*.avro": complete files only
            with FileSystems.create(partial) as f:
                f.write(self._header)
                for part in parts:
                    with FileSystems.open(part.path) as written:
                        blocks = written.read()
                    if not blocks.startswith(self._header):
                        raise ValueError(f"{part.path} was not written by this sink")
                    f.write(blocks[len(self._header):])
            FileSystems.rename([partial], [final])
        with suppress(BeamIOError):  # some deleted by an earlier attempt of this roll already
            FileSystems.delete([part.path for part in parts])
        yield final
        merged: dict[tuple[str, int], list[int]] = {}
        for part in parts:
            for offsets in part.offsets:
                merged.setdefault((offsets.topic, offsets.partition), []).extend(offsets.each())
        for (topic, partition), offsets in sorted(merged.items()):
            yield beam.pvalue.TaggedOutput(OFFSETS_WRITTEN,
                                           Offsets(topic, partition, self._sink, runs(offsets)))


class WriteAvroFiles(beam.PTransform):
    """Write dicts of schema ``name`` (``article_event``, ``dead_letter``, ``feed_health``).

    In: dicts in the schema's shape. Bounded input: out, the paths written,
    ``<output>/<name>s/<name>s-SSSSS-of-NNNNN.avro`` (``<name>s-<run>-SSSSS-...`` with ``run``,
    see :func:`run_name`), once at the end. Unbounded input needs
    ``triggering_frequency`` (seconds): a new file per shard every period that has records,
    named by the time its first records were written (see the module docstring for why not
    windows of event time, and how parts become files); out, a dict: ``"paths"`` and
    ``OFFSETS_WRITTEN``, the Kafka offsets each complete file holds, reported as sink number
    ``sink`` (and, ``staged``, those each part file holds). ``num_shards``: files
    per period (0: the runner decides for bounded input, one file for unbounded input).
    ``codec``: the Avro block codec, one of ``CODECS``.
    """

    def __init__(self, output: str, name: str, *, triggering_frequency: int | None = None,
                 num_shards: int = 0, sink: int = 0, run: str | None = None,
                 codec: str = DEFAULT_CODEC) -> None:
        super().__init__()
        if triggering_frequency is not None and triggering_frequency <= 0:
            raise ValueError(f"triggering_frequency must be > 0 seconds, not "
                             f"{triggering_frequency}")
        if num_shards < 0:
            raise ValueError(f"num_shards must be >= 0, not {num_shards}")
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, not {codec!r}")
        self._codec = codec
        self._sync_marker = os.urandom(16)  # one per sink: its parts and files share a header
        self._schema = parsed_schema(name)  # fails here, not in a worker, if the name is wrong
        self._prefix = output_prefix(output, name)
        # Unbounded files are named by time already; bounded ones only get a run name if asked.
        self._bounded_prefix = f"{self._prefix}-{run}" if run else self._prefix
        self._triggering_frequency = triggering_frequency
        self._num_shards = num_shards
        self._sink = sink

    def expand(self, records: beam.PCollection) -> beam.PCollection | dict:
        if records.is_bounded:
            return records | "WriteToAvro" >> beam.io.WriteToAvro(
                self._bounded_prefix, schema=self._schema, codec=self._codec,
                file_name_suffix=".avro", num_shards=self._num_shards)
        if not self._triggering_frequency:
            raise ValueError("unbounded input needs triggering_frequency (seconds per file)")
        shards = max(1, self._num_shards)
        files = (self._prefix, _Avro(self._schema, self._codec, self._sync_marker), self._sink)
        parts = records | "WriteParts" >> beam.ParDo(_WritePartFn(*files)).with_outputs(
            OFFSETS_WRITTEN, main="parts")
        rolled = (parts.parts
                  | "EveryPeriod" >> beam.WindowInto(
                      window.GlobalWindows(),
                      trigger=trigger.Repeatedly(
                          trigger.AfterProcessingTime(self._triggering_frequency)),
                      accumulation_mode=trigger.AccumulationMode.DISCARDING)
                  | "Shard" >> beam.Map(lambda part: (random.randrange(shards), part))
                  .with_output_types(tuple[int, Part])
                  | "GroupIntoFiles" >> beam.GroupByKey()
                  | "RollFiles" >> beam.ParDo(_RollFileFn(*files))
                  .with_outputs(OFFSETS_WRITTEN, main="paths"))
        return {"paths": rolled.paths,
                OFFSETS_WRITTEN: (parts[OFFSETS_WRITTEN], rolled[OFFSETS_WRITTEN])
                | "StagedAndWritten" >> beam.Flatten()}
