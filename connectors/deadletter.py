"""The dead-letter sink: everything wirewatch could not process, with the reason.

Every step tags its failures with :data:`DEAD_LETTERS`; ``ingest`` flattens them into one
PCollection of ``DeadLetter`` dicts (``schemas/dead_letter.avsc``) and writes it here.
"""

from __future__ import annotations

import apache_beam as beam

from wirewatch.connectors.files import DEFAULT_CODEC, WriteAvroFiles
from wirewatch.schemas.records import DEAD_LETTER

__all__ = ["DEAD_LETTERS", "WriteDeadLetters"]

#: Output tag of every step's dead letters.
DEAD_LETTERS = "dead_letters"


class WriteDeadLetters(beam.PTransform):
    """Write ``DeadLetter`` dicts as Avro files under ``<output>/dead_letters/``; what comes
    out is :class:`WriteAvroFiles`' (the paths, and for unbounded input the offsets written)."""

    def __init__(self, output: str, *, triggering_frequency: int | None = None,
                 sink: int = 0, run: str | None = None, codec: str = DEFAULT_CODEC) -> None:
        super().__init__()
        self._write = WriteAvroFiles(output, DEAD_LETTER, sink=sink, run=run, codec=codec,
                                     triggering_frequency=triggering_frequency)

    def expand(self, letters: beam.PCollection):
        return letters | "Avro" >> self._write
