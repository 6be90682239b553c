"""Avro container files: the file sink for article events and dead letters."""

from __future__ import annotations

import os

import apache_beam as beam

from wirewatch.schemas.records import parsed_schema

__all__ = ["WriteAvroFiles", "output_prefix"]


def output_prefix(output: str, name: str) -> str:
    """Files of record kind ``name`` go to ``<output>/<name>s/<name>s-SSSSS-of-NNNNN.avro``."""
    return os.path.join(output, f"{name}s", f"{name}s")


class WriteAvroFiles(beam.PTransform):
    """Write dicts of schema ``name`` (``article_event`` or ``dead_letter``) to Avro files.

    In: dicts in the schema's shape. Batch runs write once at the end; streaming runs need
    ``triggering_frequency`` (seconds), which closes a set of files that often: files are
    windows of the records' timestamps (their event time), so a record already behind the
    watermark when it reaches the sink (a feed item published yesterday, read today) is dropped
    there as late; see "Known limitations" in the README.
    """

    def __init__(self, output: str, name: str, *, triggering_frequency: int | None = None,
                 num_shards: int = 0) -> None:
        super().__init__()
        self._schema = parsed_schema(name)  # fails here, not in a worker, if the name is wrong
        self._prefix = output_prefix(output, name)
        self._triggering_frequency = triggering_frequency
        self._num_shards = num_shards

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        return records | "WriteToAvro" >> beam.io.WriteToAvro(
            self._prefix,
            schema=self._schema,
            file_name_suffix=".avro",
            num_shards=self._num_shards,
            triggering_frequency=self._triggering_frequency,
        )
