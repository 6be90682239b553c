"""Calls to the Kafka cluster from a reader that must neither block for long nor fail.

kafka-python's clients reconnect by themselves, but several of their calls wait without a
bound while no broker answers (``KafkaConsumer(...)`` up to its bootstrap timeout,
``topics()`` and ``partitions_for_topic()`` until metadata arrives, ``committed()`` until a
coordinator is found), and all of them raise when a request fails. A read that waits there
looks stuck to the runner, and one that raises fails the job.

:class:`Calls` runs each call on a helper thread of its own client and waits at most
``timeout_s``; a call that fails or is still waiting raises :class:`Unavailable`, which the
reader takes as "try again in the next call". A call still blocked from before is waited for
(up to the timeout) rather than doubled, so one client is never used by two threads at once.
The first failure of an outage logs a WARNING and counts ``kafka_broker_unavailable``; the
first answer after it (:meth:`Calls.ask`: a request the cluster must answer, or a ``poll``
that returned records; not an empty poll, which is all a disconnected consumer gets) logs at
INFO how long it lasted. Outages are per cluster and process, shared by every reader in it,
so each is reported once; meanwhile kafka-python's own loggers of failed connections, which
write several lines (and tracebacks) per reconnect attempt, are held back, and before it their
lines come as WARNINGs without tracebacks.

Example::

    calls = Calls("127.0.0.1:9092", counter)
    try:
        ends = calls.ask(client, "end offsets", client.end_offsets, [tp], timeout_ms=1000)
    except Unavailable:
        ...  # defer and try again
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

__all__ = ["CALL_TIMEOUT_S", "Calls", "Unavailable"]

log = logging.getLogger(__name__)

#: Longest a reader waits for one call to the cluster.
CALL_TIMEOUT_S = 2.0
#: kafka-python's loggers that report every failed connection and reconnect attempt.
_CONNECTION_LOGGERS = ("kafka.cluster", "kafka.consumer.fetcher", "kafka.net.connection",
                       "kafka.net.manager", "kafka.net.transport")


class Unavailable(Exception):
    """The cluster did not answer a call in time, or the call failed: try again later."""


class _Counter(Protocol):
    def inc(self, n: int = 1) -> None: ...


class _Outage:
    """Whether a cluster is answering, as seen by every reader of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since: float | None = None


_OUTAGES: dict[str, _Outage] = {}
_OUTAGES_LOCK = threading.Lock()


def _outage(servers: str) -> _Outage:
    with _OUTAGES_LOCK:
        return _OUTAGES.setdefault(servers, _Outage())


class _HeldDuringOutages(logging.Filter):
    """Drops kafka-python's connection errors while an outage has been reported already, and
    before that lets each through as one WARNING line: a reset connection is how an outage
    starts, a reader rides it out, and its traceback names nothing a user can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if any(outage.since is not None for outage in list(_OUTAGES.values())):
            return False
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        if record.exc_info:
            reason = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(reason).__name__}: {reason})"
            record.args = None
            record.exc_info, record.exc_text = None, None
        return True


_HELD = _HeldDuringOutages()


def _hold_connection_logs() -> None:
    for name in _CONNECTION_LOGGERS:
        logger = logging.getLogger(name)
        if _HELD not in logger.filters:
            logger.addFilter(_HELD)


class _Helper:
    """One daemon thread running calls in order. Not a ``ThreadPoolExecutor``: the interpreter
    joins those at exit, and a call blocked on a vanished broker would hold the process."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="wirewatch-kafka", daemon=True).start()

    def submit(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self._calls.put((future, call, args, kwargs))
        return future

    def stop(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call, args, kwargs = item
            try:
                future.set_result(call(*args, **kwargs))
            except BaseException as e:  # handed to the caller, who decides
                future.set_exception(e)


class Calls:
    """Bounded calls to one cluster's clients (see the module docstring).

    ``unavailable`` is counted once per outage. Helper threads are daemons, one per client;
    :meth:`close` stops them once their calls return.
    """

    def __init__(self, servers: str, unavailable: _Counter,
                 timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._servers = servers
        self._unavailable = unavailable
        self._timeout_s = timeout_s
        self._outage = _outage(servers)
        _hold_connection_logs()
        self._helpers: dict[object, _Helper] = {}
        self._pending: dict[object, Future] = {}

    def ask(self, client: object, what: str, call: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
        """:meth:`run` a request only the cluster can answer: its success ends an outage."""
        result = self.run(client, what, call, *args, **kwargs)
        self.answered()
        return result

    def run(self, client: object, what: str, call: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` on ``client``'s helper thread, at most ``timeout_s``.

        ``client`` names the kafka-python client the call uses (calls on one client run one
        at a time); ``what`` says what was asked, for the log. Raises :class:`Unavailable`.
        """
        earlier = self._pending.pop(client, None)
        if earlier is not None and not wait([earlier], self._timeout_s).done:
            # Its answer is stale; only its end matters (it was reported when it timed out).
            self._pending[client] = earlier
            self._failed(what, "an earlier call is still waiting for the cluster")
        helper = self._helpers.get(client)
        if helper is None:
            helper = self._helpers[client] = _Helper()
        future = helper.submit(call, *args, **kwargs)
        try:
            result = future.result(self._timeout_s)
        except FutureTimeout:
            self._pending[client] = future
            self._failed(what, f"no answer within {self._timeout_s:g} s")
        except Exception as e:  # any failure of a client means "not now", never a failed job
            self._failed(what, f"{type(e).__name__}: {e}")
        return result

    def close(self) -> None:
        for helper in self._helpers.values():
            helper.stop()
        self._helpers.clear()
        self._pending.clear()

    def _failed(self, what: str, why: str) -> None:
        with self._outage.lock:
            first = self._outage.since is None
            if first:
                self._outage.since = time.monotonic()
        if first:
            self._unavailable.inc()
            log.warning("Kafka at %s is unavailable (%s: %s); waiting for it and reconnecting",
                        self._servers, what, why)
        else:
            log.debug("Kafka at %s still unavailable (%s: %s)", self._servers, what, why)
        raise Unavailable(f"{what}: {why}")

    def answered(self) -> None:
        """The cluster answered (an :meth:`ask`, or a poll that returned records)."""
        if self._outage.since is None:  # the usual case, without taking the lock
            return
        with self._outage.lock:
            since, self._outage.since = self._outage.since, None
        if since is not None:
            log.info("Kafka at %s answers again, after %.1f s unavailable", self._servers,
                     time.monotonic() - since)
