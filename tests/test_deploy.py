"""deploy/: the compose file, the Kubernetes manifests, the Dockerfiles and the Flex Template
metadata agree with each other and with the code (versions, images, ports, commands, options),
and Flink as deployed checkpoints to durable storage.

There is no Docker or Kubernetes here: the files are parsed and checked, the Flink keys are
looked up in the provisioned Flink 1.19 jars, and the compose file's Flink configuration runs a
small streaming job on the embedded Flink of Beam's job server, which must leave checkpoints
where the configuration says.
"""

from __future__ import annotations

import ast
import json
import re
import struct
import sys
import time
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.conftest import REPO
from tests.live_job import LiveJob

DEPLOY = REPO / "deploy"
BEAM_VERSION = "2.77.0"
#: What makes a Flink job's state survive a TaskManager restart, and a cancel.
CHECKPOINTING = ("state.backend.type", "state.checkpoints.dir", "state.savepoints.dir",
                 "state.checkpoints.num-retained", "execution.checkpointing.interval",
                 "execution.checkpointing.externalized-checkpoint-retention",
                 "restart-strategy.type")
#: Where checkpoints and savepoints go (on a volume mounted in every Flink process).
STORAGE = ("state.checkpoints.dir", "state.savepoints.dir")
#: Beam's Flink options that a job submitted through the job server needs: Flink fixes a job's
#: checkpoint interval and retention when the job is built, from the submitter's configuration.
BEAM_CHECKPOINT_FLAGS = ("--externalized_checkpoints_enabled",
                         "--retain_externalized_checkpoints_on_cancellation")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def kubernetes() -> dict[str, dict]:
    """The Kubernetes manifests, by kind."""
    text = (DEPLOY / "kubernetes" / "flink-deployment.yaml").read_text()
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


@pytest.fixture(scope="module")
def flink_deployment(kubernetes) -> dict:
    return kubernetes["FlinkDeployment"]


def _flink_properties(compose: dict, service: str) -> dict:
    return yaml.safe_load(compose["services"][service]["environment"]["FLINK_PROPERTIES"])


def _duration_ms(text: str) -> int:
    """A Flink duration (``60s``, ``1min``, ``500 ms``) in milliseconds."""
    match = re.fullmatch(r"(\d+)\s*(ms|s|min)", text)
    assert match, f"not a duration this test knows: {text}"
    return int(match[1]) * {"ms": 1, "s": 1000, "min": 60_000}[match[2]]


def _local_path(uri: str) -> PurePosixPath:
    assert uri.startswith("file:///"), f"not a path on a mounted volume: {uri}"
    return PurePosixPath(uri.removeprefix("file://"))


def _mounted(path: PurePosixPath, mounts: dict[str, str]) -> str | None:
    """The volume (of ``mounts``, mount path -> volume) that holds ``path``."""
    for mount_path, volume in mounts.items():
        if path.is_relative_to(mount_path):
            return volume
    return None


def _flags(command: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in command if "=" in arg)


def _flink_version(image: str) -> str:
    match = re.fullmatch(r"flink:(\d+\.\d+)(?:\.\d+)?-java\d+", image)
    assert match, f"not an official Flink image tag: {image}"
    return match[1]


def test_beam_version_is_the_one_setup_py_installs():
    assert re.search(r'"apache-beam==2\.77\.\*"', (REPO / "setup.py").read_text())
    worker = (DEPLOY / "worker" / "Dockerfile").read_text()
    assert f"ARG BEAM_VERSION={BEAM_VERSION}" in worker
    assert "FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}" in worker


def test_worker_image_copies_every_folder_setup_py_packages():
    tree = ast.parse((REPO / "setup.py").read_text())
    roots = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "ROOTS")
    folders = set(ast.literal_eval(roots).values())
    worker = (DEPLOY / "worker" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1$", worker, re.MULTILINE))
    assert folders <= copied, f"missing from the image: {folders - copied}"


def test_compose_flink_versions_and_images_agree(compose):
    services = compose["services"]
    jm, tm, js = services["jobmanager"], services["taskmanager"], services["beam-job-server"]
    version = _flink_version(jm["image"])
    assert _flink_version(tm["image"]) == version
    assert js["image"] == f"apache/beam_flink{version}_job_server:{BEAM_VERSION}"
    worker = services["python-worker-pool"]
    assert worker["build"] == {"context": "..", "dockerfile": "deploy/worker/Dockerfile"}
    assert worker["command"] == ["--worker_pool"]
    # Workers reach the taskmanager's Fn API servers on localhost, as a sidecar does: both join
    # a namespace held by a third container, so either may restart without losing the other.
    shared = worker["network_mode"]
    assert shared == services["taskmanager"]["network_mode"] != "service:taskmanager"
    holder = services[shared.removeprefix("service:")]
    assert holder["hostname"] == "taskmanager" and holder["restart"] == "unless-stopped"


def test_compose_ports_and_commands_agree(compose):
    services = compose["services"]
    published = {name: {p.split(":")[-1]: p for p in svc.get("ports", [])}
                 for name, svc in services.items()}
    for name, ports in published.items():
        for spec in ports.values():
            assert spec.startswith("127.0.0.1:"), f"{name} publishes {spec} beyond localhost"
    js = _flags(services["beam-job-server"]["command"])
    assert js["flink-master"] == "jobmanager:8081"
    assert services["jobmanager"]["hostname"] == "jobmanager" and "8081" in published["jobmanager"]
    assert {js["job-port"], js["artifact-port"]} <= set(published["beam-job-server"])
    # The taskmanager reads what the job server staged: same volume, same path.
    staging = f"beam-artifacts:{js['artifacts-dir']}"
    assert staging in services["beam-job-server"]["volumes"]
    assert staging in services["taskmanager"]["volumes"]
    assert "beam-artifacts" in compose["volumes"]
    for name in ("jobmanager", "taskmanager"):
        assert _flink_properties(compose, name)["jobmanager.rpc.address"] == "jobmanager"


def test_compose_flink_checkpoints_to_a_volume_every_flink_process_mounts(compose):
    services = compose["services"]
    props = _flink_properties(compose, "jobmanager")
    assert _flink_properties(compose, "taskmanager") == props  # one configuration
    assert set(CHECKPOINTING) <= set(props)
    assert props["state.backend.type"] in ("rocksdb", "hashmap")
    assert _duration_ms(props["execution.checkpointing.interval"]) > 0
    assert props["execution.checkpointing.externalized-checkpoint-retention"] == \
        "RETAIN_ON_CANCELLATION"
    assert props["state.checkpoints.num-retained"] >= 1
    assert props["restart-strategy.type"] in ("exponential-delay", "fixed-delay", "failure-rate")
    # A fresh volume belongs to root: a one-shot service hands it to the image's user flink.
    chowned = {mount.split(":")[0]: name for name, service in services.items()
               if service.get("entrypoint", [])[:3] == ["chown", "-R", "flink:flink"]
               for mount in service["volumes"]}
    # The jobmanager writes a checkpoint's metadata, the taskmanager its state files: both
    # need the same named volume (it outlives the containers) at the same path.
    for name in ("jobmanager", "taskmanager"):
        mounts = {m.split(":")[1]: m.split(":")[0] for m in services[name]["volumes"]}
        for key in STORAGE:
            volume = _mounted(_local_path(props[key]), mounts)
            assert volume in compose["volumes"], f"{name}: {key} is not on a named volume"
            assert services[name]["depends_on"][chowned[volume]] == {
                "condition": "service_completed_successfully"}
        assert services[name]["restart"] == "unless-stopped"  # a crashed process comes back
    assert services["python-worker-pool"]["restart"] == "unless-stopped"


def test_kubernetes_flink_checkpoints_like_compose_on_a_shared_volume_with_ha(
        kubernetes, flink_deployment, compose):
    config = flink_deployment["spec"]["flinkConfiguration"]
    compose_props = _flink_properties(compose, "jobmanager")
    # The operator takes strings; read as YAML they must be compose's values.
    assert {key: yaml.safe_load(str(config[key])) for key in CHECKPOINTING} == {
        key: compose_props[key] for key in CHECKPOINTING}
    assert yaml.safe_load(config["state.backend.incremental"]) is \
        compose_props["state.backend.incremental"]
    # A restarted JobManager finds its jobs and their latest checkpoint through Kubernetes HA.
    assert config["high-availability.type"] == "kubernetes"
    claim = kubernetes["PersistentVolumeClaim"]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]  # mounted by every Flink pod
    for role in ("jobManager", "taskManager"):
        pod = flink_deployment["spec"][role]["podTemplate"]["spec"]
        assert pod["securityContext"]["fsGroup"] == 9999  # the flink image's group
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        main = next(c for c in pod["containers"] if c["name"] == "flink-main-container")
        mounts = {m["mountPath"]: claims[m["name"]] for m in main["volumeMounts"]}
        for key in (*STORAGE, "high-availability.storageDir"):
            assert _mounted(_local_path(config[key]), mounts) == claim["metadata"]["name"], (
                role, key)


def _jar_classes(jars: list[Path]) -> list[bytes]:
    """The option classes of Flink's jars (``*Options.class`` under ``org/apache/flink``)."""
    found = []
    for jar in jars:
        with zipfile.ZipFile(jar) as archive:
            found += [archive.read(name) for name in archive.namelist()
                      if name.startswith("org/apache/flink/") and name.endswith("Options.class")]
    return found


@pytest.mark.usefixtures("provisioned_flink")
def test_every_flink_key_deployed_is_one_flink_knows(compose, flink_deployment):
    from wirewatch.pipelines.runners import flink_job_server

    jar, version = flink_job_server()
    assert version == _flink_version(compose["services"]["jobmanager"]["image"])
    jars = [jar, *sorted(jar.parent.glob("lib/flink-*.jar"))]
    classes = _jar_classes(jars)
    assert classes, f"no Flink option classes in {jars}"
    keys = set(_flink_properties(compose, "jobmanager")) | set(
        flink_deployment["spec"]["flinkConfiguration"])
    # A key is a UTF-8 constant of the class declaring it; a misspelt key is silently ignored
    # by Flink, so this is the only place it shows.
    unknown = [key for key in sorted(keys) if not any(
        struct.pack(">BH", 1, len(key)) + key.encode() in c for c in classes)]
    assert not unknown, f"keys Flink {version} does not know: {unknown}"


def test_readme_streaming_flink_runs_checkpoint_as_the_cluster_does(compose):
    """Runs through the job server or an uber jar are built with Beam's options, not the
    cluster's configuration: their commands carry the same interval and the retention."""
    interval = _duration_ms(_flink_properties(compose, "jobmanager")[
        "execution.checkpointing.interval"])
    readme = (DEPLOY / "README.md").read_text()
    commands = [c for c in re.findall(r"wirewatch run (?:[^\n]*\\\n)*[^\n]*", readme)
                if "--streaming" in c and re.search(r"--runner (PortableRunner|FlinkRunner)", c)]
    assert len(commands) >= 2, commands  # compose and Kubernetes
    for command in commands:
        assert f"--checkpointing_interval={interval}" in command, command
        for flag in BEAM_CHECKPOINT_FLAGS:
            assert flag in command, (flag, command)


def test_kubernetes_flink_deployment_agrees_with_compose(flink_deployment, compose):
    spec = flink_deployment["spec"]
    assert flink_deployment["apiVersion"] == "flink.apache.org/v1beta1"
    assert flink_deployment["kind"] == "FlinkDeployment"
    version = _flink_version(spec["image"])
    assert spec["flinkVersion"] == "v" + version.replace(".", "_")
    assert version == _flink_version(compose["services"]["jobmanager"]["image"])
    containers = {c["name"]: c for c in spec["taskManager"]["podTemplate"]["spec"]["containers"]}
    assert "flink-main-container" in containers  # the operator's container, merged
    sidecar = containers["beam-worker-pool"]
    assert sidecar["image"] == compose["services"]["python-worker-pool"]["image"]
    assert sidecar["args"] == ["--worker_pool"]
    assert [p["containerPort"] for p in sidecar["ports"]] == [50000]
    slots = yaml.safe_load(compose["services"]["taskmanager"]["environment"]["FLINK_PROPERTIES"])
    assert int(spec["flinkConfiguration"]["taskmanager.numberOfTaskSlots"]) == int(
        slots["taskmanager.numberOfTaskSlots"])


def test_flex_template_parameters_are_wirewatch_run_options():
    from wirewatch.pipelines.cli import _run_parser

    metadata = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
    known = {a.dest for a in _run_parser()._actions}
    names = [p["name"] for p in metadata["parameters"]]
    assert names and set(names) <= known
    for param in metadata["parameters"]:
        assert param["label"] and param["helpText"], param["name"]
    required = {p["name"] for p in metadata["parameters"] if not p.get("isOptional")}
    assert required == {"feeds", "output"}
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    assert "ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/wirewatch/launch.py" in dockerfile
    assert "COPY deploy/dataflow/launch.py /wirewatch/launch.py" in dockerfile
    feeds = next(p for p in metadata["parameters"] if p["name"] == "feeds")
    example = re.search(r"e\.g\. (\S+?)\.? ", feeds["helpText"])[1]
    assert (REPO / example.removeprefix("/wirewatch/")).is_file(), example


def _checkpointed_job(conf_dir: str) -> None:
    """A streaming job with keyed state on the embedded Flink of Beam's job server, configured
    from ``conf_dir``; runs until killed (``python -m tests.test_deploy CONF_DIR``)."""
    import apache_beam as beam
    from apache_beam.coders import VarIntCoder
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import userstate
    from apache_beam.transforms.periodicsequence import PeriodicImpulse

    from wirewatch.pipelines.runners import with_provisioned_runners

    class Count(beam.DoFn):
        COUNT = userstate.ReadModifyWriteStateSpec("count", VarIntCoder())

        def process(self, element, count=beam.DoFn.StateParam(COUNT)):
            count.write((count.read() or 0) + 1)
            yield element

    options = with_provisioned_runners(PipelineOptions([
        "--runner=FlinkRunner", "--flink_master=[local]", "--streaming", "--parallelism=1",
        f"--flink_conf_dir={conf_dir}", "--checkpointing_interval=2000",
        *BEAM_CHECKPOINT_FLAGS]))
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline | PeriodicImpulse(fire_interval=0.5) | beam.Map(lambda t: ("key", 1))
             | beam.ParDo(Count()))


@pytest.mark.flink
@pytest.mark.slow
@pytest.mark.usefixtures("provisioned_flink")
def test_compose_flink_configuration_checkpoints_a_beam_job_where_it_says(compose, tmp_path):
    """The compose file's Flink configuration, with its storage under ``tmp_path`` and the heap
    state backend (the job server has no RocksDB), given to the embedded Flink of Beam's job
    server: a streaming job with keyed state leaves completed checkpoints in
    ``state.checkpoints.dir`` (and the restart strategy and durations parse, or it would not
    start). The job runs in a process group of its own, killed at the end with its job server."""
    props = _flink_properties(compose, "jobmanager")
    props["state.backend.type"] = "hashmap"
    for key in STORAGE:
        props[key] = f"file://{tmp_path}{_local_path(props[key])}"
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "flink-conf.yaml").write_text("".join(
        f"{key}: {str(value).lower() if isinstance(value, bool) else value}\n"
        for key, value in props.items()))
    checkpoints = Path(_local_path(props["state.checkpoints.dir"]))
    with LiveJob("tests.test_deploy", [str(conf)]) as job:
        # a checkpoint is complete once its _metadata is written
        deadline = time.monotonic() + 240
        while not (completed := list(checkpoints.glob("*/chk-*/_metadata"))) \
                and job.running() and time.monotonic() < deadline:
            time.sleep(1)
        assert completed, f"no completed checkpoint in {checkpoints}:\n{job.output()[-3000:]}"


if __name__ == "__main__":
    _checkpointed_job(sys.argv[1])
