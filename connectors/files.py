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

Blocks are compressed with ``codec`` (``CODECS``). The default, zstandard, was chosen by
``benchmarks/bench_pipeline.py --codecs``: on the pipeline's article events it wrote 2.6x as
fast as deflate (the Avro default) for 6 % more bytes; snappy wrote faster still but 46 % larger.

Each complete file also reports the Kafka offsets of the records in it (``OFFSETS_WRITTEN``),
for ``CommitWritten``: an offset is committed only once the file holding it has its final name.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import trigger, window

from wirewatch.connectors.offsets import OFFSETS_WRITTEN, offsets_of
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, FEED_HEALTH, parsed_schema

__all__ = ["CODECS", "DEFAULT_CODEC", "OUTPUT_FOLDERS", "WriteAvroFiles", "output_prefix",
           "run_name"]

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


def rolled_file_name(prefix: str, written_s: float, pane: int, shard: int) -> str:
    """``<prefix>-<UTC time written>-<pane>-<shard>-<random>.avro``: names sort by time, and two
    files never share a name (a retried bundle or a restarted job writes new ones)."""
    time_part, random_part = _stamp(written_s).split("-")
    return f"{prefix}-{time_part}-{pane:06d}-{shard:03d}-{random_part}.avro"


def run_name() -> str:
    """A name for this run's bounded output files, ``<UTC time>-<random>``: a run appended to
    an output folder (``--append``) must not replace the ``-SSSSS-of-NNNNN`` files of the one
    before."""
    return _stamp(time.time())


class _WriteRolledFileFn(beam.DoFn):
    """(shard, records) in; the path of one new Avro file per shard and trigger firing out,
    and on ``OFFSETS_WRITTEN`` the Kafka offsets it holds, once it has its final name."""

    def __init__(self, prefix: str, schema: dict, sink: int, codec: str) -> None:
        self._prefix = prefix
        self._schema = schema  # parsed already (records.parsed_schema)
        self._sink = sink
        self._codec = codec

    def process(self, element: tuple[int, Iterable[dict]],
                pane=beam.DoFn.PaneInfoParam) -> Iterator:
        shard, records = element
        final = rolled_file_name(self._prefix, time.time(), pane.index, shard)
        folder, name = os.path.split(final)
        # Readers list "*.avro": the file only gets that name once it is complete.
        partial = os.path.join(folder, f".{name}.inprogress")
        records = list(records)
        with FileSystems.create(partial) as f:
            fastavro.writer(f, self._schema, records, codec=self._codec)
        FileSystems.rename([partial], [final])
        yield final
        for offsets in offsets_of(records, self._sink):
            yield beam.pvalue.TaggedOutput(OFFSETS_WRITTEN, offsets)


class WriteAvroFiles(beam.PTransform):
    """Write dicts of schema ``name`` (``article_event``, ``dead_letter``, ``feed_health``).

    In: dicts in the schema's shape. Bounded input: out, the paths written,
    ``<output>/<name>s/<name>s-SSSSS-of-NNNNN.avro`` (``<name>s-<run>-SSSSS-...`` with ``run``,
    see :func:`run_name`), once at the end. Unbounded input needs
    ``triggering_frequency`` (seconds): a new file per shard every period that has records,
    named by the time it was written (see the module docstring for why not windows of event
    time); out, a ``DoOutputsTuple``: the paths (main) and ``OFFSETS_WRITTEN``, the Kafka
    offsets each complete file holds, reported as sink number ``sink``. ``num_shards``: files
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
        self._schema = parsed_schema(name)  # fails here, not in a worker, if the name is wrong
        self._prefix = output_prefix(output, name)
        # Unbounded files are named by time already; bounded ones only get a run name if asked.
        self._bounded_prefix = f"{self._prefix}-{run}" if run else self._prefix
        self._triggering_frequency = triggering_frequency
        self._num_shards = num_shards
        self._sink = sink

    def expand(self, records: beam.PCollection) -> beam.PCollection | beam.pvalue.DoOutputsTuple:
        if records.is_bounded:
            return records | "WriteToAvro" >> beam.io.WriteToAvro(
                self._bounded_prefix, schema=self._schema, codec=self._codec,
                file_name_suffix=".avro", num_shards=self._num_shards)
        if not self._triggering_frequency:
            raise ValueError("unbounded input needs triggering_frequency (seconds per file)")
        shards = max(1, self._num_shards)
        return (records
                | "EveryPeriod" >> beam.WindowInto(
                    window.GlobalWindows(),
                    trigger=trigger.Repeatedly(
                        trigger.AfterProcessingTime(self._triggering_frequency)),
                    accumulation_mode=trigger.AccumulationMode.DISCARDING)
                | "Shard" >> beam.Map(lambda record: (random.randrange(shards), record))
                | "GroupIntoFiles" >> beam.GroupByKey()
                | "WriteFiles" >> beam.ParDo(
                    _WriteRolledFileFn(self._prefix, self._schema, self._sink, self._codec)
                ).with_outputs(OFFSETS_WRITTEN, main="paths"))
