"""The HTTP client against a real local server: every way a server can misbehave."""

from __future__ import annotations

import gzip
import itertools
import socket
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.feedserver import FeedServer, Route, rss
from wirewatch.connectors.rss.fetch import ErrorKind, FetchConfig, Fetcher, HostGate, Validators

FEED = rss("Example", [("a", "First"), ("b", "Second")])


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def fetcher(**config) -> Fetcher:
    defaults = {"connect_timeout_s": 2, "read_timeout_s": 2, "total_timeout_s": 5}
    return Fetcher(FetchConfig(**{**defaults, **config}))


def test_plain_fetch_returns_body_validators_and_user_agent(server):
    url = server.add("/f", Route(body=FEED, etag='"v1"',
                                 last_modified="Mon, 02 Mar 2026 10:00:00 GMT",
                                 headers={"Content-Type": "application/rss+xml; charset=utf-8"}))
    result = fetcher(user_agent="wirewatch-test/1").fetch(url)
    assert result.ok and result.status == 200 and result.body == FEED
    assert result.validators.etag == '"v1"' and result.validators.content_hash
    assert result.content_type.startswith("application/rss+xml")
    assert server.hits["/f"][0][1]["User-Agent"] == "wirewatch-test/1"


def test_conditional_get_304_emits_nothing(server):
    url = server.add("/f", Route(body=FEED, etag='"v1"'))
    client = fetcher()
    first = client.fetch(url)
    second = client.fetch(url, first.validators)
    assert second.status == 304 and second.unchanged and second.body is None
    assert server.hits["/f"][1][1]["If-None-Match"] == '"v1"'


def test_if_modified_since_304(server):
    stamp = "Mon, 02 Mar 2026 10:00:00 GMT"
    url = server.add("/f", Route(body=FEED, last_modified=stamp))
    second = fetcher().fetch(url, Validators(last_modified=stamp))
    assert second.status == 304 and second.unchanged


def test_stale_validators_fall_back_to_content_hash(server):
    # The server never answers 304 (it ignores validators): the hash notices nothing changed.
    url = server.add("/f", Route(body=FEED, headers={"ETag": '"changes-every-time"'}))
    client = fetcher()
    first = client.fetch(url)
    second = client.fetch(url, first.validators)
    assert second.status == 200 and second.unchanged and second.body is None
    server.routes["/f"].body = FEED.replace(b"Second", b"Third")
    third = client.fetch(url, second.validators)
    assert third.body is not None and not third.unchanged


def test_gzip_and_deflate_bodies_are_decoded(server):
    gz = server.add("/gz", Route(body=FEED, gzip=True))
    zl = server.add("/zlib", Route(body=zlib.compress(FEED),
                                   headers={"Content-Encoding": "deflate"}))
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(FEED) + raw.flush()
    rd = server.add("/raw", Route(body=raw_body, headers={"Content-Encoding": "deflate"}))
    client = fetcher()
    for url in (gz, zl, rd):
        result = client.fetch(url)
        assert result.ok and result.body == FEED, url


def test_gzip_bomb_stops_at_the_cap_after_decoding(server):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MB of zeros in ~50 KB
    url = server.add("/bomb", Route(body=bomb, headers={"Content-Encoding": "gzip"}))
    result = fetcher(max_body_bytes=1024 * 1024).fetch(url)
    assert result.error_kind == ErrorKind.TOO_LARGE and "after decoding" in result.error
    assert result.wire_bytes < 1024 * 1024


def test_corrupt_gzip_is_a_bad_encoding(server):
    url = server.add("/bad", Route(body=b"this is not gzip", headers={"Content-Encoding": "gzip"}))
    assert fetcher().fetch(url).error_kind == ErrorKind.BAD_ENCODING


def test_oversized_body_by_content_length_and_on_the_wire(server):
    url = server.add("/big", Route(body=b"x" * 300_000))
    result = fetcher(max_body_bytes=100_000).fetch(url)
    assert result.error_kind == ErrorKind.TOO_LARGE


def test_slow_headers_hit_the_read_timeout(server):
    url = server.add("/slow", Route(body=FEED, delay_s=3))
    started = time.monotonic()
    result = fetcher(read_timeout_s=0.5).fetch(url)
    assert result.error_kind == ErrorKind.TIMEOUT
    assert time.monotonic() - started < 2


def test_dripping_body_hits_the_total_timeout(server):
    # Each byte arrives well within the read timeout, so only the total timeout can stop it.
    url = server.add("/drip", Route(body=FEED, drip_s=0.02))
    started = time.monotonic()
    result = fetcher(read_timeout_s=1, total_timeout_s=0.5).fetch(url)
    assert result.error_kind == ErrorKind.TIMEOUT and "total timeout" in result.error
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("status,kind", [(500, ErrorKind.HTTP_5XX), (503, ErrorKind.HTTP_5XX),
                                         (404, ErrorKind.HTTP_4XX), (410, ErrorKind.HTTP_4XX)])
def test_http_errors(server, status, kind):
    url = server.add("/e", Route(body=b"oops", status=status))
    result = fetcher().fetch(url)
    assert result.error_kind == kind and result.status == status and result.body is None


def test_retry_after_is_reported(server):
    url = server.add("/busy", Route(status=503, headers={"Retry-After": "120"}))
    assert fetcher().fetch(url).retry_after_s == 120


def test_redirects_are_followed_to_the_final_url(server):
    server.add("/old", Route(status=301, headers={"Location": "/mid"}))
    server.add("/mid", Route(status=302, headers={"Location": server.url("/new")}))
    server.add("/new", Route(body=FEED))
    result = fetcher().fetch(server.url("/old"))
    assert result.ok and result.body == FEED and result.final_url == server.url("/new")
    assert result.url == server.url("/old")


def test_redirect_loop_is_detected(server):
    server.add("/a", Route(status=302, headers={"Location": "/b"}))
    server.add("/b", Route(status=302, headers={"Location": "/a"}))
    result = fetcher().fetch(server.url("/a"))
    assert result.error_kind == ErrorKind.REDIRECT_LOOP
    assert len(server.hits["/a"]) == 1 and len(server.hits["/b"]) == 1


def test_redirect_limit(server):
    for n in range(10):
        server.add(f"/r{n}", Route(status=307, headers={"Location": f"/r{n + 1}"}))
    result = fetcher(max_redirects=3).fetch(server.url("/r0"))
    assert result.error_kind == ErrorKind.TOO_MANY_REDIRECTS
    assert sum(len(server.hits.get(f"/r{n}", ())) for n in range(10)) == 4


def test_refused_connection():
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = fetcher().fetch(f"http://127.0.0.1:{port}/feed")
    assert result.error_kind == ErrorKind.REFUSED and result.status is None


def test_dns_failure():
    result = fetcher().fetch("http://no-such-host.invalid/feed")
    assert result.error_kind == ErrorKind.DNS


def test_host_gate_spaces_requests_and_caps_concurrency():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    gate = HostGate(concurrency=1, spacing_s=2.0, clock=lambda: now[0], sleep=sleep)
    gate.acquire("a")
    gate.release("a")
    gate.acquire("a")  # must wait the spacing
    gate.release("a")
    gate.acquire("b")  # another host does not wait
    gate.release("b")
    assert slept == [2.0]


def test_per_host_spacing_against_the_server(server):
    url = server.add("/f", Route(body=FEED))
    client = fetcher(per_host_spacing_s=0.2)
    for _ in range(3):
        client.fetch(url)
    times = server.hit_times("/f")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.18


@pytest.mark.parametrize(("per_host", "at_least_s", "at_most_s"), [(1, 0.75, 5), (4, 0, 0.5)])
def test_per_host_concurrency_holds_until_the_body_is_read(server, per_host, at_least_s,
                                                           at_most_s):
    # The body trickles in over ~0.2 s: a slot freed at the headers would let all 4 overlap.
    url = server.add("/trickle", Route(body=b"<rss/>" + b" " * 14, drip_s=0.01))
    client = fetcher(per_host_concurrency=per_host)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.fetch(url), range(4)))
    took = time.monotonic() - started
    assert all(r.ok for r in results)
    assert at_least_s <= took <= at_most_s, took
