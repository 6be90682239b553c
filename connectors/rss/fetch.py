"""Fetching feeds over HTTP with limits on everything a hostile or broken server can stretch.

feedparser only ever sees bytes we fetched: it has no timeouts and no size limits. Built on
urllib3 (connection pooling, thread-safe) with redirects, decompression and retries done here,
because each needs a limit urllib3 does not enforce the way we need:

- connect, read (per socket operation) and total timeouts;
- a body cap on the wire *and* after gzip/deflate decoding, decompressing in a stream with
  ``max_length`` so a gzip bomb costs at most the cap in memory;
- a redirect limit with loop detection;
- per-host concurrency and minimum spacing between requests (``HostGate``);
- conditional GET (ETag / If-Modified-Since) *and* a sha256 of the body, because many servers
  send stale validators; a 304 or an unchanged hash comes back as ``unchanged`` with no body.

``Fetcher.fetch`` never raises for anything the network or the server does: the outcome is in
``FetchResult.error_kind`` (one of ``ErrorKind``) for the feed's health record.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

__all__ = ["ErrorKind", "FetchConfig", "FetchResult", "Fetcher", "HostGate", "Validators",
           "read_file"]

_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


class ErrorKind:
    """Why a poll failed, as written to the feed's health record (``None``: it did not)."""

    TIMEOUT = "timeout"
    DNS = "dns"
    REFUSED = "refused"
    CONNECTION = "connection"
    TLS = "tls"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    HTTP_OTHER = "http_other"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_content_encoding"
    UNREADABLE_FILE = "unreadable_file"


@dataclass(frozen=True)
class FetchConfig:
    """Limits and manners of the HTTP client; validated on construction."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "wirewatch/0.1 (news feed reader)"
    per_host_concurrency: int = 2
    per_host_spacing_s: float = 0.0

    def __post_init__(self) -> None:
        if min(self.connect_timeout_s, self.read_timeout_s, self.total_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_body_bytes <= 0 or self.max_redirects < 0:
            raise ValueError("max_body_bytes must be positive and max_redirects >= 0")
        if self.per_host_concurrency < 1 or self.per_host_spacing_s < 0:
            raise ValueError("per_host_concurrency must be >= 1 and per_host_spacing_s >= 0")


@dataclass(frozen=True)
class Validators:
    """What we remember of a feed's last body to ask for it conditionally next time."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one poll. ``body`` is set only when the feed changed."""

    url: str
    final_url: str
    status: int | None
    error_kind: str | None
    error: str | None
    body: bytes | None
    content_type: str | None
    validators: Validators
    wire_bytes: int
    latency_s: float
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def unchanged(self) -> bool:
        return self.error_kind is None and self.body is None


class _Failure(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class HostGate:
    """At most ``concurrency`` requests in flight per host, and starts ``spacing_s`` apart.

    Shared by every thread of a process that fetches, so the limits hold per worker process.
    """

    def __init__(self, concurrency: int, spacing_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._concurrency = concurrency
        self._spacing_s = spacing_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Condition()
        self._active: dict[str, int] = {}
        self._next_start: dict[str, float] = {}

    def acquire(self, host: str) -> None:
        with self._lock:
            while self._active.get(host, 0) >= self._concurrency:
                self._lock.wait()
            self._active[host] = self._active.get(host, 0) + 1
            start = max(self._clock(), self._next_start.get(host, 0.0))
            self._next_start[host] = start + self._spacing_s
        wait = start - self._clock()
        if wait > 0:
            self._sleep(wait)

    def release(self, host: str) -> None:
        with self._lock:
            self._active[host] -= 1
            if not self._active[host]:
                del self._active[host]
            self._lock.notify_all()


class _Decoder:
    """Decodes a Content-Encoding in a stream, never holding more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = None  # decided on the first chunk: zlib-wrapped or raw, servers do both
        else:
            raise _Failure(ErrorKind.BAD_ENCODING, f"unsupported Content-Encoding {encoding!r}")
        self._deflate = encoding == "deflate"
        self._limit = limit
        self._out = bytearray()

    def _room(self) -> int:
        return self._limit - len(self._out) + 1

    def feed(self, chunk: bytes) -> None:
        if self._deflate and self._z is None:
            raw = not (len(chunk) >= 2 and (chunk[0] * 256 + chunk[1]) % 31 == 0
                       and chunk[0] & 0x0F == 8)
            self._z = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        if self._z is None:
            self._out += chunk
        else:
            try:
                data = chunk
                while data:
                    self._out += self._z.decompress(data, self._room())
                    self._check()
                    data = self._z.unconsumed_tail
            except zlib.error as exc:
                raise _Failure(ErrorKind.BAD_ENCODING, f"corrupt compressed body: {exc}") from exc
        self._check()

    def _check(self) -> None:
        if len(self._out) > self._limit:
            raise _Failure(ErrorKind.TOO_LARGE,
                           f"body over {self._limit} bytes after decoding")

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._out += self._z.flush()
            except zlib.error as exc:
                raise _Failure(ErrorKind.BAD_ENCODING, f"corrupt compressed body: {exc}") from exc
            self._check()
        return bytes(self._out)


def _release(response: urllib3.BaseHTTPResponse, body_read: bool) -> None:
    """Give the connection back for reuse, unless a body we did not read could be large."""
    if not body_read:
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= _CHUNK:
            response.drain_conn()
        else:
            response.close()
    response.release_conn()


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Fetcher:
    """A thread-safe HTTP client for feeds. One per worker process is enough."""

    def __init__(self, config: FetchConfig | None = None, gate: HostGate | None = None):
        self.config = config or FetchConfig()
        self._gate = gate or HostGate(self.config.per_host_concurrency,
                                      self.config.per_host_spacing_s)
        self._pool = urllib3.PoolManager(
            num_pools=256, maxsize=self.config.per_host_concurrency, block=False,
            retries=False, timeout=urllib3.Timeout(connect=self.config.connect_timeout_s,
                                                   read=self.config.read_timeout_s))

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET ``url`` conditionally; never raises for network or server faults."""
        validators = validators or Validators()
        started = time.monotonic()
        deadline = started + self.config.total_timeout_s
        state = {"url": url, "status": None, "wire": 0}
        try:
            return self._fetch(url, validators, started, deadline, state)
        except _Failure as failure:
            kind, message = failure.kind, str(failure)
        except NameResolutionError as exc:
            kind, message = ErrorKind.DNS, str(exc)
        except NewConnectionError as exc:
            refused = isinstance(exc.__context__, ConnectionRefusedError) or "refused" in str(exc)
            kind, message = (ErrorKind.REFUSED if refused else ErrorKind.CONNECTION), str(exc)
        except (ConnectTimeoutError, ReadTimeoutError, TimeoutError) as exc:
            kind, message = ErrorKind.TIMEOUT, str(exc) or "timed out"
        except SSLError as exc:
            kind, message = ErrorKind.TLS, str(exc)
        except (ProtocolError, HTTPError, OSError) as exc:
            kind, message = ErrorKind.CONNECTION, str(exc)
        return FetchResult(url=url, final_url=state["url"], status=state["status"],
                           error_kind=kind, error=message[:500], body=None, content_type=None,
                           validators=validators, wire_bytes=state["wire"],
                           latency_s=time.monotonic() - started,
                           retry_after_s=state.get("retry_after_s"))

    def _fetch(self, url: str, validators: Validators, started: float, deadline: float,
               state: dict) -> FetchResult:
        requested, seen = url, {url}
        headers = {"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip, deflate",
                   "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9,"
                             " text/xml;q=0.9, */*;q=0.5"}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        for _hop in range(self.config.max_redirects + 1):
            host = urlsplit(url).hostname or ""
            self._gate.acquire(host)  # held until the body is read: the host's slot is busy
            try:
                outcome = self._exchange(url, requested, headers, validators, started, deadline,
                                         state)
            finally:
                self._gate.release(host)
            if isinstance(outcome, FetchResult):
                return outcome
            if outcome in seen:
                raise _Failure(ErrorKind.REDIRECT_LOOP, f"redirect loop back to {outcome}")
            seen.add(outcome)
            url = outcome
        raise _Failure(ErrorKind.TOO_MANY_REDIRECTS,
                       f"more than {self.config.max_redirects} redirects")

    def _exchange(self, url: str, requested: str, headers: dict, validators: Validators,
                  started: float, deadline: float, state: dict) -> FetchResult | str:
        """One request and its response: the result, or the URL a redirect points to."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(ErrorKind.TIMEOUT, "total timeout before the request")
        timeout = urllib3.Timeout(connect=min(self.config.connect_timeout_s, remaining),
                                  read=min(self.config.read_timeout_s, remaining))
        response = self._pool.request("GET", url, headers=headers, redirect=False,
                                      preload_content=False, decode_content=False,
                                      timeout=timeout)
        state["status"] = response.status
        state["url"] = url
        body_read = False
        try:
            if response.status in _REDIRECTS and response.headers.get("Location"):
                return urljoin(url, response.headers["Location"])
            if response.status == 304:
                return FetchResult(url=requested, final_url=url, status=304, error_kind=None,
                                   error=None, body=None, content_type=None,
                                   validators=validators, wire_bytes=state["wire"],
                                   latency_s=time.monotonic() - started)
            if not 200 <= response.status < 300:
                state["retry_after_s"] = _retry_after_s(response.headers.get("Retry-After"))
                kind = (ErrorKind.HTTP_5XX if response.status >= 500 else
                        ErrorKind.HTTP_4XX if response.status >= 400 else ErrorKind.HTTP_OTHER)
                raise _Failure(kind, f"HTTP {response.status} {response.reason}")
            body = self._read_body(response, deadline, state)
            body_read = True
        finally:
            _release(response, body_read)
        digest = hashlib.sha256(body).hexdigest()
        new_validators = Validators(etag=response.headers.get("ETag"),
                                    last_modified=response.headers.get("Last-Modified"),
                                    content_hash=digest)
        changed = digest != validators.content_hash
        return FetchResult(url=requested, final_url=url, status=response.status,
                           error_kind=None, error=None, body=body if changed else None,
                           content_type=response.headers.get("Content-Type"),
                           validators=new_validators, wire_bytes=state["wire"],
                           latency_s=time.monotonic() - started)

    def _read_body(self, response: urllib3.BaseHTTPResponse, deadline: float,
                   state: dict) -> bytes:
        limit = self.config.max_body_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            response.close()
            raise _Failure(ErrorKind.TOO_LARGE, f"Content-Length {declared} over {limit} bytes")
        decoder = _Decoder(response.headers.get("Content-Encoding", ""), limit)
        try:
            # read1 returns whatever has arrived, so a body dripping in byte by byte still
            # meets the total deadline (read() would wait for a full chunk).
            while chunk := response.read1(_CHUNK):
                state["wire"] += len(chunk)
                if state["wire"] > limit:
                    raise _Failure(ErrorKind.TOO_LARGE, f"body over {limit} bytes on the wire")
                decoder.feed(chunk)
                if time.monotonic() > deadline:
                    raise _Failure(ErrorKind.TIMEOUT, "total timeout while reading the body")
        except _Failure:
            response.close()  # never drain a hostile body to reuse the connection
            raise
        return decoder.finish()



def read_file(path: str, url: str, validators: Validators | None = None,
              max_body_bytes: int = FetchConfig.max_body_bytes) -> FetchResult:
    """A feed saved on disk, as if fetched from ``url``: same limits, same content hash."""
    validators = validators or Validators()
    started = time.monotonic()
    body, kind, error = None, None, None
    try:
        with open(path, "rb") as f:
            body = f.read(max_body_bytes + 1)
        if len(body) > max_body_bytes:
            body, kind, error = None, ErrorKind.TOO_LARGE, f"file over {max_body_bytes} bytes"
    except OSError as exc:
        kind, error = ErrorKind.UNREADABLE_FILE, f"cannot read feed file {path}: {exc.strerror}"
    size = len(body) if body is not None else 0
    if body is not None:
        digest = hashlib.sha256(body).hexdigest()
        if digest == validators.content_hash:
            body = None
        validators = Validators(content_hash=digest)
    return FetchResult(url=url, final_url=url, status=None, error_kind=kind, error=error,
                       body=body, content_type=None, validators=validators, wire_bytes=size,
                       latency_s=time.monotonic() - started)
