"""Errors of the Kafka connector: what a user can act on, with the servers and topics named."""

from __future__ import annotations

__all__ = ["BadMessage", "BrokerUnreachable", "KafkaConnectorError", "SchemaRegistryError",
           "UnknownTopic"]


class KafkaConnectorError(RuntimeError):
    """Base class: the connector cannot go on (as opposed to a bad message, which is data)."""


class BrokerUnreachable(KafkaConnectorError):
    """No bootstrap server accepted a connection."""

    def __init__(self, bootstrap_servers: str, detail: str) -> None:
        super().__init__(f"no Kafka broker answers at {bootstrap_servers}: {detail}")
        self.bootstrap_servers = bootstrap_servers


class UnknownTopic(KafkaConnectorError):
    """A topic the pipeline should read does not exist on the cluster."""

    def __init__(self, topic: str, bootstrap_servers: str) -> None:
        super().__init__(f"topic {topic!r} does not exist on {bootstrap_servers}")
        self.topic = topic


class SchemaRegistryError(KafkaConnectorError):
    """The Schema Registry refused or could not be reached."""


class BadMessage(ValueError):
    """A message that cannot become an article; it goes to the dead letters, not up the stack.

    ``error_type`` is the short code stored in the dead letter (``null_value``,
    ``message_too_large``, ``invalid_json``, ``wrong_schema``, ``missing_field``,
    ``wrong_type``, ``invalid_avro``, ``unknown_schema``).
    """

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason
