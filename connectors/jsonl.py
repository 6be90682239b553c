"""JSON-lines archives: one JSON article per line, read in bulk (backfills, replays of archives).

``ReadJsonLines(pattern)`` reads every file matching ``pattern`` (a path or a glob; ``.gz`` and
``.bz2`` files are decompressed), one article per line in the JSON article format of
:mod:`wirewatch.connectors.article_json` (the format the Kafka source reads). Uncompressed
files are split into byte ranges read in parallel, as Beam's ``ReadFromText`` does.

Outputs ``events`` (``RawArticle``, ``source`` = ``{kind: "file", path, offset: line number}``)
and ``dead_letters`` (stage ``read``) for every line that is not an article: not JSON, not an
object, a required field missing or of the wrong type (the error types of
:class:`~wirewatch.connectors.article_json.BadArticle`), a line that makes the decoder itself
fail (``RecursionError`` on deeply nested arrays, ``MemoryError``, ...: the exception's class
name), or longer than :data:`MAX_LINE_BYTES` (``line_too_large``). Blank lines hold no
article and are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filebasedsource import FileBasedSource
from apache_beam.io.filesystem import CompressedFile

from wirewatch.connectors.article_json import BadArticle, article_from_json
from wirewatch.connectors.deadletter import DEAD_LETTERS
from wirewatch.pipelines.metrics import ARTICLES_READ, counter
from wirewatch.schemas.records import dead_letter, now_ms, source

__all__ = ["MAX_LINE_BYTES", "ReadJsonLines"]

#: Lines longer than this are dead-lettered (their start kept) instead of parsed.
MAX_LINE_BYTES = 1024 * 1024
_COUNT_CHUNK = 1 << 20


class _Lines(FileBasedSource):
    """(path, line number from 1, line bytes) of every line in the files.

    A line belongs to the byte range that holds its first byte; a range that starts inside a
    file counts the newlines before it to know its first line's number (a scan at memory speed,
    repeated for each range of a file).
    """

    def read_records(self, file_name: str, range_tracker) -> Iterator[tuple[str, int, bytes]]:
        start = range_tracker.start_position()
        with self.open_file(file_name) as f:
            number, at = 1, 0
            if start > 0:
                remaining = start - 1
                while remaining:  # lines that start before byte start - 1
                    chunk = f.read(min(remaining, _COUNT_CHUNK))
                    if not chunk:
                        return
                    number += chunk.count(b"\n")
                    remaining -= len(chunk)
                # The line holding byte start - 1 belongs to the range before this one.
                partial = f.readline()
                if not partial:
                    return
                number, at = number + 1, start - 1 + len(partial)
            # Beam's decompressing reader has no size limit: a long line is read whole there.
            limited = not isinstance(f, CompressedFile)
            readline = (lambda: f.readline(MAX_LINE_BYTES + 1)) if limited else f.readline
            while range_tracker.try_claim(at):
                line = readline()
                if not line:
                    return
                size = len(line)
                if limited and size > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    size += _skip_line(f)
                yield file_name, number, line
                number, at = number + 1, at + size


def _skip_line(f) -> int:
    """Read to the end of the current line; the number of bytes read."""
    skipped = 0
    while True:
        rest = f.readline(_COUNT_CHUNK)
        skipped += len(rest)
        if not rest or rest.endswith(b"\n"):
            return skipped


class _ParseLines(beam.DoFn):
    def __init__(self, fetched_ms: int | None) -> None:
        self._fetched_ms = fetched_ms

    def setup(self) -> None:
        self._read = counter(ARTICLES_READ, source="file")
        self._bad = counter("dead_letters_read")

    def process(self, element: tuple[str, int, bytes]) -> Iterator:
        path, number, line = element
        body = line.rstrip(b"\r\n")
        if not body.strip():
            return
        where = source("file", os.path.basename(path), path=path, offset=number)
        try:
            if len(body) > MAX_LINE_BYTES:  # the reader kept only its start
                raise BadArticle("line_too_large",
                                 f"line longer than {MAX_LINE_BYTES} bytes: not read")
            article = article_from_json(
                body, where, self._fetched_ms if self._fetched_ms is not None else now_ms())
        except BadArticle as e:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, dead_letter(
                "read", f"line {number} of {path}: {e.reason}", e.error_type, line, where))
            return
        self._read.inc()
        yield article


class ReadJsonLines(beam.PTransform):
    """Files of JSON articles, one a line -> ``events`` (``RawArticle``) and ``dead_letters``.

    ``pattern``: a path or glob (any Beam file system). ``fetched_ms``: the fetch time stamped
    on every article (it is the event time of articles without dates); default: when read.
    """

    def __init__(self, pattern: str, *, fetched_ms: int | None = None) -> None:
        super().__init__()
        if not pattern:
            raise ValueError("ReadJsonLines needs a file path or glob")
        try:  # Beam looks for the files here, at construction
            self._lines = _Lines(pattern)
        except OSError as e:
            raise ValueError(f"JSON-lines input {pattern!r}: {e}") from None
        self._fetched_ms = fetched_ms

    def expand(self, pipeline: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (pipeline
                | "ReadLines" >> beam.io.Read(self._lines)
                | "ParseArticles" >> beam.ParDo(_ParseLines(self._fetched_ms)).with_outputs(
                    DEAD_LETTERS, main="events"))
