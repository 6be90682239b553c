"""A live Kafka -> Avro job for runner tests: ``python -m tests.kafka_to_avro_job BOOTSTRAP TOPIC
OUT PERIOD_S LATENESS_S``.

``wirewatch run --streaming``'s graph without Dedupe and Tag. With them, on Prism, records
read from Kafka while the job is live sometimes fail to come out (the run summary says "read 4,
written 1", no dead letter): an open bug. What streams and is tested here: read the topic
unbounded (watermark LATENESS_S behind the newest record), normalise, write Avro files every
PERIOD_S seconds. Runs through ``with_provisioned_runners`` and ``run_until_stopped``, as
``wirewatch run`` does, until stopped.
"""

from __future__ import annotations

import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from wirewatch.connectors.files import WriteAvroFiles
from wirewatch.connectors.kafka import KafkaConfig, ReadFromKafka
from wirewatch.pipelines.normalise import Normalise
from wirewatch.pipelines.runners import run_until_stopped, with_provisioned_runners
from wirewatch.schemas.records import ARTICLE_EVENT


def main(argv: list[str]) -> int:
    bootstrap, topic, out = argv[0], argv[1], argv[2]
    period_s, lateness_s = int(argv[3]), float(argv[4])
    options = with_provisioned_runners(PipelineOptions(["--streaming"]))
    print(f"runner={options.view_as(StandardOptions).runner}", flush=True)
    pipeline = beam.Pipeline(options=options)
    read = pipeline | "ReadKafka" >> ReadFromKafka(
        KafkaConfig(bootstrap), [topic], group_id="runners-test", start_from="earliest",
        max_out_of_orderness_s=lateness_s, idle_after_s=1.0)
    normalised = read.events | "Normalise" >> Normalise()
    _ = normalised.events | "WriteEvents" >> WriteAvroFiles(
        out, ARTICLE_EVENT, triggering_frequency=period_s)
    outcome = run_until_stopped(pipeline)
    print(f"stopped_by={outcome.stopped_by} state={outcome.state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
