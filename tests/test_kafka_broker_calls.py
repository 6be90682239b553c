"""Calls to the cluster from the reader: bounded, never raising anything but ``Unavailable``,
and an outage reported once (``connectors/kafka/broker.py``)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest
from kafka import TopicPartition

from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.broker import Calls, Unavailable
from wirewatch.connectors.kafka.source import _ReadPartitionsFn


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def inc(self, n: int = 1) -> None:
        self.n += n


def test_a_call_that_hangs_or_fails_is_unavailable_and_the_outage_is_reported_once(caplog):
    """Reported once: a WARNING and a count when it starts, an INFO once the cluster answers a
    request again."""
    caplog.set_level(logging.INFO, logger="wirewatch.connectors.kafka.broker")
    outages, release = _Count(), threading.Event()
    calls = Calls("test-cluster-1:9092", outages, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="no answer"):
        calls.run("client", "hang", release.wait)
    with pytest.raises(Unavailable, match="still waiting"):  # not a second call on the client
        calls.run("client", "again", lambda: 1)
    with pytest.raises(Unavailable, match="ConnectionError"):
        calls.run("other", "fail", _raise, ConnectionError("refused"))
    assert time.monotonic() - started < 5  # generous: three bounded waits of 0.2 s
    release.set()
    assert calls.run("client", "local", lambda: 41) == 41  # e.g. a poll: proves nothing
    assert "INFO" not in {r.levelname for r in caplog.records}
    assert calls.ask("client", "answer", lambda: 42) == 42
    calls.close()
    said = Counter(r.levelname for r in caplog.records)
    assert outages.n == 1 and said == {"WARNING": 1, "INFO": 1}
    assert "answers again" in caplog.records[-1].getMessage()


def _raise(error: Exception) -> None:
    raise error


def test_a_lost_connection_is_one_warning_line_and_nothing_during_an_outage(caplog):
    """kafka-python logs a broker's reset connection as ERROR with a traceback; the reader rides
    it out, so it shows as one WARNING with the reason, and not at all once an outage is out."""
    caplog.set_level(logging.INFO)
    calls = Calls("test-cluster-2:9092", _Count(), timeout_s=0.2)
    transport = logging.getLogger("kafka.net.transport")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        transport.error("%s: Error receiving network data closing socket", "<transport>",
                        exc_info=True)
    (said,) = [r for r in caplog.records if r.name == "kafka.net.transport"]
    assert said.levelname == "WARNING" and said.exc_info is None
    assert said.getMessage() == ("<transport>: Error receiving network data closing socket "
                                 "(ConnectionResetError: [Errno 104] Connection reset by peer)")
    with pytest.raises(Unavailable):
        calls.run("client", "fail", _raise, ConnectionError("refused"))
    transport.error("Connection lost")
    assert [r.getMessage() for r in caplog.records if r.name == "kafka.net.transport"] == [
        said.getMessage()]
    calls.ask("client", "answer", lambda: 1)
    calls.close()


def test_connecting_to_a_server_that_never_answers_returns_within_the_bound():
    """kafka-python's constructor waits for the first metadata answer (here 10 s, 30 s by
    default); the reader gives up after Calls' bound and tries again in its next call."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    port = silent.getsockname()[1]
    reader = _ReadPartitionsFn(KafkaConfig(f"127.0.0.1:{port}"), None, "json", False,
                               max_out_of_orderness_s=30, idle_after_s=10,
                               discovery_interval_s=10, stop_after_idle_s=None,
                               max_records_per_call=100)
    reader.setup()
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            reader._partition(TopicPartition("articles", 0), 0)
        with pytest.raises(Unavailable):  # the first attempt is still waiting: not doubled
            reader._partition(TopicPartition("articles", 0), 0)
        assert time.monotonic() - started < 8  # generous: two waits of 2 s, not 2 x 10 s
    finally:
        reader.teardown()
        silent.close()


def test_a_call_blocked_forever_does_not_hold_the_process_at_exit():
    """e.g. kafka-python's topics() while the broker is gone: the process must still end."""
    script = textwrap.dedent("""
        import threading
        from wirewatch.connectors.kafka.broker import Calls, Unavailable
        class Count:
            def inc(self, n=1): pass
        try:
            Calls("x:1", Count(), timeout_s=0.1).run("c", "hang", threading.Event().wait)
        except Unavailable:
            print("unavailable")
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "unavailable", done.stderr
