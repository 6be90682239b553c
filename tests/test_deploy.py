"""deploy/: the compose file, the Kubernetes manifest, the Dockerfiles and the Flex Template
metadata agree with each other and with the code (versions, images, ports, commands, options).
"""

from __future__ import annotations

import ast
import json
import re

import pytest
import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
BEAM_VERSION = "2.77.0"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def flink_deployment() -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / "flink-deployment.yaml").read_text())


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
    # Workers reach the taskmanager's Fn API servers on localhost, as a sidecar does.
    assert worker["network_mode"] == "service:taskmanager"


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
        props = yaml.safe_load(services[name]["environment"]["FLINK_PROPERTIES"])
        assert props["jobmanager.rpc.address"] == "jobmanager"


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
