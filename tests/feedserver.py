"""A real HTTP server on 127.0.0.1 (free port) serving feeds the way real servers misbehave.

Used by the RSS tests (in a thread) and by ``benchmarks/bench_rss.py`` (in a subprocess:
``python tests/feedserver.py --feeds N --items M`` prints the port and serves until its stdin
closes).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """How one path answers. ``body`` may be a callable returning bytes (a feed that changes)."""

    body: bytes | object = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0          # before the headers: a slow server
    drip_s: float = 0.0           # between body bytes: a body that never quite arrives
    gzip: bool = False


class FeedServer:
    """``with FeedServer() as server: url = server.add('/a', Route(...))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, list[tuple[float, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hit_times(self, path: str) -> list[float]:
        with self._lock:
            return [t for t, _ in self.hits.get(path, ())]

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        with self._lock:
            self.hits.setdefault(path, []).append((time.monotonic(), dict(request.headers)))
        route = self.routes.get(path)
        if route is None:
            return self._send(request, 404, {}, b"not found")
        if route.delay_s:
            time.sleep(route.delay_s)
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if ((route.etag and request.headers.get("If-None-Match") == route.etag)
                or (route.last_modified
                    and request.headers.get("If-Modified-Since") == route.last_modified)):
            return self._send(request, 304, headers, b"")
        body = route.body() if callable(route.body) else route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._send(request, route.status, headers, body, route.drip_s)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, headers: dict, body: bytes,
              drip_s: float = 0.0) -> None:
        try:
            request.send_response(status)
            for name, value in headers.items():
                request.send_header(name, value)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            if drip_s:
                for i in range(len(body)):
                    request.wfile.write(body[i:i + 1])
                    request.wfile.flush()
                    time.sleep(drip_s)
            else:
                request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should with a hostile body


def rss(title: str, items: list[tuple[str, str]], *, ttl: int | None = None,
        pub_date: str = "Mon, 02 Mar 2026 10:00:00 +0100") -> bytes:
    """A small RSS 2.0 document; ``items`` are (guid, title) and links derive from the guid."""
    entries = "".join(
        f"<item><title>{t}</title><link>https://news.example/{g}</link><guid>{g}</guid>"
        f"<description>About {t}.</description><pubDate>{pub_date}</pubDate></item>"
        for g, t in items)
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://news.example/</link>{ttl_tag}{entries}"
            f"</channel></rss>").encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--etag", action="store_true", help="send ETags and answer 304s")
    args = parser.parse_args(argv)
    with FeedServer() as server:
        for n in range(args.feeds):
            items = [(f"f{n}-i{i}", f"Story {i} of feed {n}") for i in range(args.items)]
            server.add(f"/feed/{n}.xml", Route(body=rss(f"Feed {n}", items),
                                               etag=f'"{n}"' if args.etag else None))
        print(server.port, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
