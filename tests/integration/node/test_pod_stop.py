"""Pod deletion on the real node. Images that `modelship build` generates stop on SIGINT (their
STOPSIGNAL, which containerd sends instead of SIGTERM), so a deleted pod is gone in about a
second rather than at the end of its grace period (the chart's 60 s), also when its server
ignores SIGTERM as PID 1 (tests/data/build/ignores-sigterm). The chart's preStop sleep
(`shutdownDelaySeconds`, 5 s) comes first: routes drain while the pod still serves."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from tests.integration.chart import chart_cluster
from tests.support.kube import Tools, wait_for
from tests.support.real_node import (
    NODE_NAME,
    PULL_SECRET,
    REPO,
    SMALL,
    modelship_build_push,
    ready_pods,
)

pytestmark = pytest.mark.integration

RELEASE = "stopping"
SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=model-server"
IGNORES_SIGTERM = REPO / "tests" / "data" / "build" / "ignores-sigterm"
PROMPT = 5.0  # seconds after the stop signal; the pods' grace period is the chart's 60 s
DRAIN = 5  # the chart's default shutdownDelaySeconds


@pytest.fixture(scope="module")
def ignores_sigterm(registry: Any, traffic: dict[str, str]) -> str:
    """tests/data/build/ignores-sigterm built and pushed by `modelship build --push`."""
    result = modelship_build_push(registry, IGNORES_SIGTERM / "modelship.yaml",
                                  f"{registry.host}/it/ignores-sigterm", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(json.loads(result.stdout.strip().splitlines()[-1])["image"])


def deletion_seconds(kube: Any, namespace: str, name: str) -> float:
    """Delete a pod with its own grace period; seconds until the API server has let it go
    (the kubelet reported its containers stopped)."""
    core = client.CoreV1Api(kube)

    def gone() -> bool:
        try:
            core.read_namespaced_pod(name, namespace)
        except ApiException as e:
            if e.status == 404:
                return True
            raise
        return False

    started = time.monotonic()
    core.delete_namespaced_pod(name, namespace)
    wait_for(gone, f"pod {name} deleted", timeout=90, interval=0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("which", ["example", "ignores-sigterm"])
def test_a_deleted_pod_stops_within_seconds(tools: Tools, kube: Any, namespace: str,
                                            image: str, ignores_sigterm: str,
                                            which: str) -> None:
    reference = image if which == "example" else ignores_sigterm
    chart_cluster.install(tools, RELEASE, namespace, "rolling", {
        "imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
        "probes": {"startup": {"periodSeconds": 1}, "readiness": {"periodSeconds": 1}},
        "stable": {"image": reference, "replicas": 1}}, fake_nodes=False)
    (pod,) = wait_for(lambda: ready_pods(kube, namespace, SELECTOR), "a ready pod",
                      timeout=180, interval=1)
    assert pod.spec.node_name == NODE_NAME
    assert pod.spec.termination_grace_period_seconds == 60
    assert pod.spec.containers[0].lifecycle.pre_stop.sleep.seconds == DRAIN
    seconds = deletion_seconds(kube, namespace, pod.metadata.name)
    print(f"{which}: pod deletion took {seconds:.2f} s (preStop {DRAIN} s, grace period 60 s)")
    assert DRAIN <= seconds < DRAIN + PROMPT
