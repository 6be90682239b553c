"""Bytes on a Kafka topic <-> wirewatch records. No Beam here.

Input (``ReadFromKafka``), ``input_format="json"``: one JSON article per message, in the format
of ``wirewatch.connectors.article_json`` (shared with the JSON-lines file source); the message
key is the guid when the JSON has none, and ``fetched_ms`` is the Kafka record timestamp.

``input_format="avro"``: article events (``schemas/article_event.avsc``) as written by
``WriteToKafka``, in either framing below; they are turned back into ``RawArticle`` so the
rest of the pipeline is the same for every source (the same outlet and guid give the same
``event_id`` again).

Output framing (``WriteToKafka``), value = schemaless Avro binary of the record, and:

- with a Schema Registry URL: Confluent's wire format, ``0x00`` + 4-byte big-endian schema id
  + Avro, the schema registered under the subject ``<topic>-value`` (the registry refuses a
  schema that breaks the subject's compatibility rule: :class:`SchemaRegistryError`);
- without one: headers ``wirewatch.schema`` (``article_event`` or ``dead_letter``) and
  ``wirewatch.schema.fingerprint`` (16 hex digits: the CRC-64-AVRO fingerprint of the schema's
  Parsing Canonical Form, as in Avro's single-object encoding), so a consumer can tell which
  schema wrote the bytes without a registry.

Reading a Confluent-framed value with a registry, the writer schema is fetched by its id (once
per id: an id's schema never changes) and resolved against wirewatch's own, so a writer that
added a field with a default, or dropped one that has a default here, is read. A fingerprint
names a schema but cannot fetch it, so header-framed values must have wirewatch's own schema;
without a registry, Confluent-framed values are read as if written with wirewatch's schema.
A registry that cannot be reached fails the read (the runner retries it); an id it does not
know, or a writer schema that cannot be resolved, makes the message a dead letter. A reader that
would rather not wait again (the monitor) gives :class:`SchemaRegistry` a ``failure_ttl_s``.

Every way a message can be wrong raises :class:`BadMessage` with a short ``error_type``; an
unexpected exception while decoding one (``RecursionError``, ``MemoryError``, ...) too, its
``error_type`` the exception's class name.
"""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from wirewatch.connectors import article_json
from wirewatch.connectors.article_json import article_to_json, failure
from wirewatch.connectors.kafka.errors import BadMessage, SchemaRegistryError
from wirewatch.schemas.records import (
    ARTICLE_EVENT,
    RawArticle,
    decode,
    encode,
    parsed_schema,
    schema_path,
)

__all__ = [
    "FINGERPRINT_HEADER",
    "INPUT_FORMATS",
    "MAX_MESSAGE_BYTES",
    "SCHEMA_HEADER",
    "Framing",
    "SchemaRegistry",
    "article_from_avro",
    "article_from_json",
    "article_to_json",
    "schema_fingerprint",
]

INPUT_FORMATS = ("json", "avro")
#: Messages larger than this are dead-lettered unread (Kafka's own default limit is 1 MB).
MAX_MESSAGE_BYTES = 1024 * 1024
SCHEMA_HEADER = "wirewatch.schema"
FINGERPRINT_HEADER = "wirewatch.schema.fingerprint"
_CONFLUENT_MAGIC = 0


@cache
def schema_fingerprint(name: str) -> str:
    """CRC-64-AVRO fingerprint (hex) of schema ``name``'s Parsing Canonical Form."""
    return fingerprint(to_parsing_canonical_form(parsed_schema(name)), "CRC-64-AVRO")


def _check_size(value: bytes | None) -> bytes:
    if value is None:
        raise BadMessage("null_value", "message has no value (null)")
    if len(value) > MAX_MESSAGE_BYTES:
        raise BadMessage("message_too_large",
                         f"message of {len(value)} bytes is larger than {MAX_MESSAGE_BYTES}")
    return value


def article_from_json(value: bytes | None, source: dict, fetched_ms: int) -> RawArticle:
    """The ``RawArticle`` in a JSON message (``wirewatch.connectors.article_json``'s format).

    ``source`` is the Kafka ``Source`` record; its ``guid`` (the message key) is used when the
    JSON has none.
    """
    try:
        return article_json.article_from_json(_check_size(value), source, fetched_ms)
    except article_json.BadArticle as e:  # the only exception article_from_json raises
        raise BadMessage(e.error_type, f"message: {e.reason}") from None


def article_from_avro(value: bytes | None, headers: Sequence[tuple[str, bytes]], source: dict,
                      fetched_ms: int, registry: SchemaRegistry | None = None) -> RawArticle:
    """The ``RawArticle`` in an article event written by ``WriteToKafka`` (either framing).

    Raises :class:`BadMessage`, or :class:`SchemaRegistryError` when ``registry`` (needed to
    read Confluent-framed values written with another schema) cannot be reached.
    """
    try:
        return _article_from_avro(value, headers, source, fetched_ms, registry)
    except (BadMessage, SchemaRegistryError):
        raise
    except Exception as e:  # whatever the bytes or headers make go wrong is a bad message
        raise BadMessage(type(e).__name__, failure(e)) from None


def _article_from_avro(value: bytes | None, headers: Sequence[tuple[str, bytes]],
                       source: dict, fetched_ms: int,
                       registry: SchemaRegistry | None) -> RawArticle:
    event = Framing.read(_check_size(value), headers, ARTICLE_EVENT, registry)
    language = event["language"]["code"]
    return RawArticle(
        source={**source, "outlet": event["source"]["outlet"],
                "guid": event["source"]["guid"] or source["guid"]},
        url=event["url"],
        title=event["title"],
        summary=event["summary"],
        content=event["body"],
        authors=event["authors"],
        published_ms=event["published_time"],
        updated_ms=event["updated_time"],
        fetched_ms=fetched_ms,
        language_hint=None if language == "und" else language,
        media_urls=event["media_urls"],
    )


class SchemaRegistry:
    """The calls wirewatch needs from a Confluent-compatible Schema Registry: register a
    schema, fetch one by id.

    Schemas fetched by id are kept (an id's schema never changes). With ``failure_ttl_s``,
    failures are kept for that long too and raised again without asking: an id the registry
    does not know (per id), and a registry that could not be asked or refused (for every id,
    each id's error naming it and the failure), so a registry that never answers costs one
    ``timeout_s`` per TTL, not one per message.
    Without (the default) each read asks again: for a reader whose runner retries the read.
    """

    def __init__(self, url: str, timeout_s: float = 10.0,
                 failure_ttl_s: float | None = None) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._failure_ttl_s = failure_ttl_s
        self._by_id: dict[int, dict] = {}
        # schema id (None: the registry itself, any id) -> (monotonic time it failed, error)
        self._failed: dict[int | None, tuple[float, Exception]] = {}

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` (Avro, as JSON) under ``subject``; return its id. Registering
        a schema the subject has is a no-op that returns the same id."""
        what = f"{schema.get('name')} under {subject}"
        body = json.dumps({"schema": json.dumps(schema)}).encode()
        try:
            answer = self._call(f"/subjects/{subject}/versions", body)
        except urllib.error.HTTPError as e:
            rule = (" (the subject's compatibility rule forbids this change of the schema)"
                    if e.code == 409 else "")
            raise SchemaRegistryError(
                f"Schema Registry {self.url} refused {what}: {_reason(e)}{rule}") from None
        try:
            return int(answer["id"])
        except (KeyError, TypeError, ValueError) as e:
            raise SchemaRegistryError(f"Schema Registry {self.url} registered {what} but "
                                      f"answered no id: {e!r}") from None

    def writer_schema(self, schema_id: int) -> dict:
        """The parsed schema with id ``schema_id``; :class:`BadMessage` (``unknown_schema``)
        if the registry has none, :class:`SchemaRegistryError` if it failed."""
        if schema_id not in self._by_id:
            for key in (None, schema_id):  # a failure of the registry, then of this id
                if key in self._failed:
                    failed_at, error = self._failed[key]
                    now = time.monotonic()
                    if now < failed_at + self._failure_ttl_s:
                        if key is None:  # the error names the id asked then, not this one
                            raise SchemaRegistryError(
                                f"schema id {schema_id}: the Schema Registry failed "
                                f"{now - failed_at:.0f} s ago ({error}); not asked again for "
                                f"{failed_at + self._failure_ttl_s - now:.0f} s")
                        raise error.with_traceback(None)
                    del self._failed[key]
            try:
                self._by_id[schema_id] = self._fetch(schema_id)
            except (BadMessage, SchemaRegistryError) as e:
                if self._failure_ttl_s is not None:  # counted from the failure, not the ask
                    key = schema_id if isinstance(e, BadMessage) else None
                    self._failed[key] = (time.monotonic(), e)
                raise
        return self._by_id[schema_id]

    def _fetch(self, schema_id: int) -> dict:
        """Ask the registry for schema ``schema_id``, parsed."""
        try:
            answer = self._call(f"/schemas/ids/{schema_id}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise BadMessage("unknown_schema", f"schema id {schema_id} is not in the "
                                                   f"Schema Registry {self.url}") from None
            raise SchemaRegistryError(f"Schema Registry {self.url} did not give schema id "
                                      f"{schema_id}: {_reason(e)}") from None
        return parse_schema(json.loads(answer["schema"]))

    def _call(self, path: str, body: bytes | None = None) -> dict:
        """GET ``path`` (POST ``body`` to it); the registry's refusals raise ``HTTPError`` for
        the caller to name, anything else that goes wrong :class:`SchemaRegistryError`."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=body, method="GET" if body is None else "POST",
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise SchemaRegistryError(
                f"Schema Registry {self.url} could not be asked for {path}: {e}") from None


def _reason(error: urllib.error.HTTPError) -> str:
    """HTTP status and the registry's own message (Confluent's error body: ``message``)."""
    try:
        message = json.loads(error.read())["message"]
    except (ValueError, KeyError, TypeError, OSError):
        message = error.reason
    return f"HTTP {error.code}: {message}"


class Framing:
    """How a record's Avro bytes travel: Confluent wire format, or wirewatch's headers."""

    def __init__(self, name: str, schema_id: int | None = None) -> None:
        self.name = name
        self.schema_id = schema_id
        self._prefix = (b"" if schema_id is None
                        else struct.pack(">bI", _CONFLUENT_MAGIC, schema_id))
        self.headers = ([] if schema_id is not None else
                        [(SCHEMA_HEADER, name.encode()),
                         (FINGERPRINT_HEADER, schema_fingerprint(name).encode())])

    @classmethod
    def for_topic(cls, name: str, topic: str, registry_url: str | None) -> Framing:
        """Confluent framing with the id registered for ``<topic>-value``, else headers."""
        if not registry_url:
            return cls(name)
        schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
        return cls(name, SchemaRegistry(registry_url).register(f"{topic}-value", schema))

    def frame(self, record: Mapping[str, Any]) -> bytes:
        return self._prefix + encode(record, self.name)

    @staticmethod
    def read(value: bytes, headers: Sequence[tuple[str, bytes]], name: str,
             registry: SchemaRegistry | None = None) -> dict:
        """The record in a value framed either way, in schema ``name``'s shape (see the module
        docstring for what each framing allows)."""
        found = dict(headers or ())
        writer = schema_id = None
        if FINGERPRINT_HEADER in found:
            got = found[FINGERPRINT_HEADER].decode(errors="replace")
            if got != schema_fingerprint(name):
                raise BadMessage("unknown_schema",
                                 f"schema fingerprint {got} is not wirewatch's {name} "
                                 f"({schema_fingerprint(name)})")
            payload = value
        elif len(value) > 5 and value[0] == _CONFLUENT_MAGIC:
            (schema_id,) = struct.unpack(">I", value[1:5])
            if registry is not None:
                writer = registry.writer_schema(schema_id)
            payload = value[5:]
        else:
            raise BadMessage("unknown_schema", "neither a wirewatch schema header nor Confluent "
                                               "framing (magic byte 0 + schema id)")
        try:
            return decode(payload, name, writer)
        except SchemaResolutionError as e:
            raise BadMessage("incompatible_schema",
                             f"schema id {schema_id} cannot be read as wirewatch's {name}: "
                             f"{e}") from None
        except Exception as e:  # fastavro raises several types on truncated or foreign bytes
            raise BadMessage("invalid_avro", f"not an Avro {name}: {e!r}") from None
