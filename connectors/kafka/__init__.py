"""Kafka in and out: ``ReadFromKafka`` (source), ``WriteToKafka`` (sink), ``CommitOffsets``.

Formats, framing and keys are described in ``serde`` and ``sink``; connection and security
settings in ``admin``; the reading model (restrictions, watermarks) in ``source``; when offsets
are committed in ``commit``.
"""

from wirewatch.connectors.kafka.admin import KafkaConfig
from wirewatch.connectors.kafka.commit import CommitOffsets
from wirewatch.connectors.kafka.errors import BrokerUnreachable, KafkaConnectorError, UnknownTopic
from wirewatch.connectors.kafka.sink import WriteToKafka
from wirewatch.connectors.kafka.source import READ_TO, ReadFromKafka

__all__ = [
    "READ_TO",
    "BrokerUnreachable",
    "CommitOffsets",
    "KafkaConfig",
    "KafkaConnectorError",
    "ReadFromKafka",
    "UnknownTopic",
    "WriteToKafka",
]
