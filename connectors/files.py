"""Avro container files: the file sink for article events and dead letters."""

from __future__ import annotations

import os
import time

import apache_beam as beam

from wirewatch.schemas.records import parsed_schema

__all__ = ["WriteAvroFiles", "output_prefix"]


def output_prefix(output: str, name: str) -> str:
    """Files of record kind ``name`` go to ``<output>/<name>s/<name>s-SSSSS-of-NNNNN.avro``."""
    return os.path.join(output, f"{name}s", f"{name}s")


class WriteAvroFiles(beam.PTransform):
    """Write dicts of schema ``name`` (``article_event`` or ``dead_letter``) to Avro files.

    In: dicts in the schema's shape. Batch runs write once at the end; streaming runs need
    ``triggering_frequency`` (seconds), which closes a set of files that often. Streaming files
    are windows of arrival time: a record goes into the file of the period it reached the sink
    in. Its own event time would put a feed item published yesterday behind the watermark,
    where the sink's windows drop it as late; the event time stays in the record.
    """

    def __init__(self, output: str, name: str, *, triggering_frequency: int | None = None,
                 num_shards: int = 0) -> None:
        super().__init__()
        self._schema = parsed_schema(name)  # fails here, not in a worker, if the name is wrong
        self._prefix = output_prefix(output, name)
        self._triggering_frequency = triggering_frequency
        self._num_shards = num_shards

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        if self._triggering_frequency:
            records = records | "StampArrival" >> beam.Map(
                lambda record: beam.window.TimestampedValue(record, time.time()))
        return records | "WriteToAvro" >> beam.io.WriteToAvro(
            self._prefix,
            schema=self._schema,
            file_name_suffix=".avro",
            num_shards=self._num_shards,
            triggering_frequency=self._triggering_frequency,
        )
