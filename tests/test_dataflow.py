"""Dataflow: the ingest pipeline builds into a Dataflow job offline (``--dry_run=True``).

Needs ``apache-beam[gcp]`` (the ``gcp`` extra, installed by ``make test``); nothing reaches
Google Cloud. Checks the job type (batch vs streaming) and that the job is our graph.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import dataflow  # the gcp extra: a test dependency, so missing it fails

from tests.conftest import SAMPLES
from wirewatch.pipelines.ingest import build

IMAGE = "europe-west1-docker.pkg.dev/wirewatch-test/wirewatch/wirewatch:test"
DATAFLOW_ARGS = [
    "--runner=DataflowRunner", "--dry_run=True",
    "--project=wirewatch-test", "--region=europe-west1",
    "--temp_location=gs://wirewatch-test/tmp",
    f"--sdk_container_image={IMAGE}",
    f"--feeds={SAMPLES / 'feeds.yaml'}", "--output=gs://wirewatch-test/out",
]
STEPS = {"Normalise", "Dedupe", "Tag", "WriteEvents", "WriteDeadLetters"}


def _dry_run(*extra: str):
    options = PipelineOptions([*DATAFLOW_ARGS, *extra])
    pipeline = beam.Pipeline(options=options)
    build(pipeline, options)
    return pipeline.run().job


@pytest.mark.parametrize(("extra", "job_type", "read"), [
    ((), dataflow.JobType.JOB_TYPE_BATCH, "ReadFeeds"),
    (("--streaming",), dataflow.JobType.JOB_TYPE_STREAMING, "WatchFeeds"),
], ids=["batch", "streaming"])
def test_dry_run_builds_the_job(extra, job_type, read):
    job = _dry_run(*extra)
    assert job.proto.type_ == job_type
    transforms = job.proto_pipeline.components.transforms
    assert {t.unique_name for t in transforms.values()} >= {read, *STEPS}
    envs = job.proto_pipeline.components.environments.values()
    assert any(IMAGE.encode() in env.payload for env in envs), "workers run our image"


def test_the_command_and_the_flex_template_entry_point_dry_run(capsys):
    from wirewatch.pipelines.cli import main

    assert main(["run", "--no_wait_until_finish", *DATAFLOW_ARGS]) == 0
    assert "dry run, the DataflowRunner job was built" in capsys.readouterr().out
