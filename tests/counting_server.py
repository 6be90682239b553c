"""A TCP server on 127.0.0.1 (free port) that counts the connections made to it, to count a
client's requests to an HTTP service (``urllib`` opens one connection per request).

``CountingServer(upstream_url)`` relays every connection to that real service; without one it
accepts connections and never answers, a stand-in for a server that drops requests silently
(each request waits out the client's timeout). ``url`` is ``upstream_url`` with the host and port
of this server (``http://127.0.0.1:<port>`` without one).
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class CountingServer:
    """``with CountingServer(url) as server: ... server.url ... server.connections``."""

    def __init__(self, upstream_url: str | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so the accept loop sees close()
        here = f"127.0.0.1:{self._listener.getsockname()[1]}"
        if upstream_url:
            parts = urlsplit(upstream_url)
            self._upstream: tuple[str, int] | None = (parts.hostname, parts.port)
            self.url = urlunsplit(parts._replace(netloc=here))
        else:
            self._upstream = None
            self.url = f"http://{here}"
        self.connections = 0
        self._sockets: list[socket.socket] = []  # kept open (and unanswered) until close()
        self._closed = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._sockets.append(client)
            if self._upstream:
                service = socket.create_connection(self._upstream)
                self._sockets.append(service)
                for source, sink in ((client, service), (service, client)):
                    threading.Thread(target=_relay, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._accepting.join()
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> CountingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    """Bytes from ``source`` to ``sink`` until ``source`` ends its side, then end ``sink``'s."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:  # the other side (or close()) closed the socket
        pass
