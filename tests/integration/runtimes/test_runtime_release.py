"""MLServer (examples/iris-mlserver) released by canary on the test bed's real node, judged by
the probes through serve.protocol v2: the chart's probes, the release probes and the warm-up
all read the one resolved serve spec (nothing but serve.protocol, serve.model, serve.command
and serve.metrics_port is written). A good 2.0.0 is promoted; a model trained on shuffled
labels (wrong answers, no HTTP errors) is aborted with exit 1 and production keeps 2.0.0."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.release.conftest import Images, Project
from tests.support.images import build_and_push
from tests.support.kube import create_namespace
from tests.support.real_node import PULL_SECRET, create_pull_secret, example_image

from .conftest import REPO

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples/iris-mlserver"
# MLServer's Python workers need more than the sentiment example's 256Mi
RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "1Gi"}}


@pytest.fixture(scope="session")
def iris_images(traffic: dict[str, str], registry: Any, docker_client: Any) -> Images:
    """The example built by `modelship build --push` as 1.0.0 and 2.0.0, and `bad`: the same
    image with the model retrained on shuffled labels by the example's own train.py."""
    base = example_image(registry, "iris-mlserver")
    repository = f"{registry.host}/it/iris-release-{uuid.uuid4().hex[:6]}"
    auth = {"username": registry.user, "password": registry.password}
    docker_client.login(username=registry.user, password=registry.password,
                        registry=registry.host)
    label = 'LABEL org.opencontainers.image.version="{}"\n'
    variants = {v: f"FROM {base}\n{label.format(v)}" for v in ("1.0.0", "2.0.0")}
    variants["bad"] = (f"FROM {base}\n{label.format('bad')}USER root\n"
                       "RUN mkdir -p /tmp/bad && python train.py --shuffle-labels --out /tmp/bad "
                       "&& cp /tmp/bad/model.joblib /app/model.joblib && rm -rf /tmp/bad\n"
                       "USER 10001\n")
    digests = {v: build_and_push(docker_client, repository, v, {"Dockerfile": text}, auth)
               for v, text in variants.items()}
    return Images(repository, digests)


@pytest.fixture
def iris_project(tmp_path: Path, tools: Any, kube: Any, registry: Any,
                 iris_images: Images) -> Iterator[Project]:
    from kubernetes import client

    namespace = create_namespace(kube, "iris")
    create_pull_secret(kube, namespace, registry)
    env = {**tools.env, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": registry.user,
           "MODELSHIP_REGISTRY_PASSWORD": registry.password, "MODELSHIP_LEASE_SECONDS": "6"}
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    config = {
        "model": {"name": "iris", "version": "1.0.0"},
        "image": {"repository": iris_images.repository},
        "gate": {"online": {"eval_set": str(EXAMPLE / "eval/eval.jsonl")}},
        "serve": {"protocol": "v2", "model": "iris", "command": ["mlserver", "start", "."],
                  "metrics_port": 8082, "startup_timeout": "5m", "warmup": 2},
        "deploy": {
            "release": "iris", "namespace": namespace, "strategy": "canary", "replicas": 2,
            "timeout": "240s", "canary": {"steps": [50, 100], "interval": "2s"},
            "analysis": {"probes": {"eval_set": str(EXAMPLE / "eval/eval.jsonl"), "rows": 30,
                                    "agreement": ">= 0.9", "tolerance": {"accuracy": 0.05}},
                         "max_wait": "30s"},
            "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": RESOURCES,
                       "monitoring": {"enabled": True},
                       "terminationGracePeriodSeconds": 5,
                       "probes": {"startup": {"periodSeconds": 1},
                                  "readiness": {"periodSeconds": 1}}},
        },
    }
    proj = Project(tmp_path, env, namespace, "iris", iris_images, config)
    proj.write()
    yield proj
    if not os.environ.get("MODELSHIP_TEST_KEEP_NAMESPACES"):
        tools.helm("uninstall", "iris", "--namespace", namespace, "--wait", check=False)
        client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)


def test_mlserver_canary_promoted_by_probes_then_wrong_answers_aborted(
        iris_project: Project, kube: Any) -> None:
    from kubernetes import client

    proj = iris_project
    proj.run("deploy", "--json", "--image", proj.images.ref("1.0.0"), timeout=600)
    pod = client.CoreV1Api(kube).list_namespaced_pod(
        proj.namespace, label_selector="app.kubernetes.io/instance=iris").items[0]
    container = pod.spec.containers[0]
    # the chart's probes come from the v2 preset, the startup budget from serve.startup_timeout
    assert container.readiness_probe.http_get.path == "/v2/health/ready"
    assert container.liveness_probe.http_get.path == "/v2/health/live"
    assert container.startup_probe.failure_threshold * container.startup_probe.period_seconds \
        == 300
    assert pod.metadata.annotations["prometheus.io/port"] == "8082"

    good = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), timeout=600)
    data = good.json
    assert data["outcome"] == "promoted", good.err[-3000:]
    judged = [s for s in data["steps"] if (s["evidence"] or {}).get("probes")]
    assert judged, data["steps"]
    for step in judged:
        assert step["verdict"] == "passed", step
        assert step["evidence"]["probes"]["canary"]["accuracy"] >= 0.9
    assert "with 2 requests (2 answered)" in good.err  # serve.warmup, pod by pod
    assert proj.status()["stable"]["version"] == "2.0.0"

    bad = proj.run("deploy", "--json", "--image", proj.images.ref("bad"), timeout=600,
                   check=1)
    assert bad.json["outcome"] == "aborted"
    failed = [s for s in bad.json["steps"] if s["verdict"] == "failed"]
    assert failed, bad.json["steps"]
    probes = failed[0]["evidence"]["probes"]
    assert probes["agreement"] < 0.9
    assert probes["canary"]["success"] == 1.0  # every answer came back: only they are wrong
    assert proj.status()["stable"]["version"] == "2.0.0"
