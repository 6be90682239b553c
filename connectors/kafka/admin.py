"""Connection settings and the few cluster look-ups the connector needs. No Beam here.

Security options are passed to kafka-python unchanged (``KafkaConfig.client_kwargs``):
``security_protocol`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), ``sasl_mechanism`` (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI), ``sasl_plain_username`` /
``sasl_plain_password``, ``ssl_cafile`` / ``ssl_certfile`` / ``ssl_keyfile`` /
``ssl_password``, and any other kafka-python client setting through ``extra``. The settings
travel inside the pipeline graph to the workers, so a password given here is as visible as
the job's other options: prefer files or environment-backed secrets on shared runners.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from kafka.structs import OffsetAndMetadata

from wirewatch.connectors.kafka.errors import BrokerUnreachable, UnknownTopic

log = logging.getLogger(__name__)

__all__ = [
    "KafkaConfig",
    "add_partitions",
    "check_reachable",
    "commit",
    "consumer",
    "create_topic",
    "ensure_topics",
    "partitions",
]

#: How long to wait for a TCP connection to a bootstrap server before calling it unreachable.
CONNECT_TIMEOUT_S = 3.0
#: kafka-python's own wait for a first metadata answer (its default is 30 s).
BOOTSTRAP_TIMEOUT_MS = 10_000
#: Longest pause between reconnects to a broker that went away (kafka-python's default is 30 s,
#: which leaves a restarted broker unused for that long).
RECONNECT_BACKOFF_MAX_MS = 2_000


@dataclass(frozen=True)
class KafkaConfig:
    """Where the cluster is and how to log in (see the module docstring)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = None
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.servers():
            raise ValueError("bootstrap_servers is empty: give host:port[,host:port...]")
        for server in self.servers():
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"bootstrap server {server!r} is not host:port")

    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any kafka-python client."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.servers(),
                                  "security_protocol": self.security_protocol,
                                  "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
                                  "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS}
        for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password",
                    "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        kwargs.update(self.extra)
        return kwargs


def check_reachable(config: KafkaConfig, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`BrokerUnreachable` unless some bootstrap server accepts a TCP connection.

    kafka-python's client constructors wait 30 s without a word when no broker answers; this
    fails in ``timeout_s`` per server and names them.
    """
    problems = []
    for server in config.servers():
        host, _, port = server.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            return
        except OSError as e:
            problems.append(f"{server}: {e.strerror or e}")
    raise BrokerUnreachable(config.bootstrap_servers, "; ".join(problems))


def consumer(config: KafkaConfig, **settings: Any) -> KafkaConsumer:
    """A kafka-python consumer, after :func:`check_reachable`; never auto-commits."""
    check_reachable(config)
    try:
        return KafkaConsumer(**config.client_kwargs(), enable_auto_commit=False, **settings)
    except KafkaTimeoutError as e:
        raise BrokerUnreachable(config.bootstrap_servers, str(e)) from None


@contextmanager
def _admin(config: KafkaConfig) -> Iterator[KafkaAdminClient]:
    check_reachable(config)
    try:
        client = KafkaAdminClient(**config.client_kwargs())
    except KafkaTimeoutError as e:
        raise BrokerUnreachable(config.bootstrap_servers, str(e)) from None
    try:
        yield client
    finally:
        client.close()


def partitions(client: KafkaConsumer, topic: str, config: KafkaConfig) -> list[int]:
    """Partition numbers of ``topic``, fresh from the cluster; :class:`UnknownTopic` if none."""
    found = client.partitions_for_topic(topic)
    if not found:
        raise UnknownTopic(topic, config.bootstrap_servers)
    return sorted(found)


def commit(client: KafkaConsumer, offsets: dict[TopicPartition, int], metadata: str = "") -> None:
    """Commit ``offsets`` (the next offset to read, per partition) for the client's group, each
    with ``metadata``."""
    client.commit({tp: OffsetAndMetadata(offset, metadata, -1) for tp, offset in offsets.items()})


def create_topic(config: KafkaConfig, topic: str, num_partitions: int = 1,
                 replication_factor: int = 1) -> None:
    """Create ``topic`` (for tests, the demo and ``wirewatch replay``); no error if it exists."""
    with _admin(config) as client, suppress(TopicAlreadyExistsError):
        client.create_topics([NewTopic(topic, num_partitions, replication_factor)])


def ensure_topics(config: KafkaConfig, topics: Iterable[str]) -> None:
    """Create those of ``topics`` the cluster does not have, with the broker's default
    partitions and replication (as its auto-creation would), and wait until they have leaders.

    For producers: one that sends to a missing topic logs ``ERROR ... not found in cluster
    metadata`` while the broker auto-creates it, and a user reads ERROR as failure. Another
    process creating the same topic meanwhile is fine. A client not allowed to create topics
    gets a warning, and the producer finds out whether the topic is there.
    """
    with _admin(config) as client:
        missing = sorted(set(topics) - set(client.list_topics()))
        for topic in missing:
            try:
                client.create_topics({topic: {}}, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                continue
            except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as e:
                log.warning("cannot create Kafka topic %s (%s): left to the broker", topic,
                            type(e).__name__)


def add_partitions(config: KafkaConfig, topic: str, total: int) -> None:
    """Grow ``topic`` to ``total`` partitions."""
    with _admin(config) as client:
        client.create_partitions({topic: NewPartitions(total_count=total)})
