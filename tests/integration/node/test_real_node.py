"""Pods on the test bed's real node run the images `modelship build` pushed: the example
model pulled from the authenticated registry becomes Ready, its Service spreads requests
over its ready pods from the host, a pod failing readiness gets none, and the API server
reaches the kubelet for `kubectl logs/exec`."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from tests.support.kube import Tools, wait_for
from tests.support.real_node import (
    NODE_NAME,
    PULL_SECRET,
    SERVE_PORT,
    SMALL,
    answering,
    count_answers,
    predict,
    ready_pods,
    until_each_answers,
)

pytestmark = pytest.mark.integration

APP = "sentiment"


def deployment(name: str, image: str, replicas: int, labels: dict[str, str],
               readiness_path: str = "/healthz") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "imagePullSecrets": [{"name": PULL_SECRET}],
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "model", "image": image,
                        "ports": [{"name": "http", "containerPort": SERVE_PORT}],
                        "resources": SMALL,
                        "readinessProbe": {"httpGet": {"path": readiness_path, "port": "http"},
                                           "periodSeconds": 1, "failureThreshold": 1},
                    }],
                },
            },
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector,
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def cluster_ip_url(kube: Any, namespace: str, name: str) -> str:
    """The Service's ClusterIP URL, once kube-proxy routes it."""
    ip = client.CoreV1Api(kube).read_namespaced_service(name, namespace).spec.cluster_ip
    answering(f"http://{ip}:80")
    return f"http://{ip}:80"


def endpoint_ips(kube: Any, namespace: str, name: str) -> set[str]:
    slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={name}").items
    return {a for s in slices for e in s.endpoints or [] if e.conditions.ready
            for a in e.addresses}


@pytest.fixture
def three_pods(kube: Any, namespace: str, image: str) -> tuple[str, list[Any]]:
    """3 ready pods of the example behind a ClusterIP Service; (namespace, pods)."""
    labels = {"app": APP}
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment(namespace, deployment(APP, image, 3, labels))
    client.CoreV1Api(kube).create_namespaced_service(namespace, service(APP, labels))
    # the first pull of the image takes a while; later ones find it on the node
    pods = wait_for(lambda: len(found := ready_pods(kube, namespace, "app=" + APP)) == 3
                    and found, "3 ready pods of the example", timeout=300, interval=1)
    wait_for(lambda: endpoint_ips(kube, namespace, APP) == {p.status.pod_ip for p in pods},
             "the Service's 3 ready endpoints")
    return namespace, pods


def test_example_image_runs_on_the_real_node(kube: Any, three_pods: tuple[str, list[Any]],
                                             image: str) -> None:
    _, pods = three_pods
    for pod in pods:
        assert pod.spec.node_name == NODE_NAME
        status = pod.status.container_statuses[0]
        assert status.ready
        assert status.state.running
        assert status.image_id.endswith(image.rsplit("@", 1)[1])  # pulled by digest
        assert pod.status.pod_ip.startswith("10.245.0.")


def test_cluster_ip_spreads_requests_over_the_pods(kube: Any,
                                                   three_pods: tuple[str, list[Any]]) -> None:
    namespace, pods = three_pods
    url = cluster_ip_url(kube, namespace, APP)
    # kube-proxy routes to every pod a moment after the endpoints show them ready (once all
    # 60 requests went to the one pod it knew first): every pod answers first, then the count
    until_each_answers(pods, lambda: predict(url))
    answered = count_answers(pods, lambda: predict(url), 60)
    print(f"ClusterIP: {sorted(answered.values())} of 60 requests per pod")
    assert sum(answered.values()) == 60
    assert len([n for n in answered.values() if n > 0]) >= 2, answered


def test_pod_failing_readiness_gets_no_requests(kube: Any, three_pods: tuple[str, list[Any]],
                                                image: str) -> None:
    namespace, pods = three_pods
    # same labels as the Service selects, but a readiness probe that never passes
    client.AppsV1Api(kube).create_namespaced_deployment(namespace, deployment(
        "never-ready", image, 1, {"app": APP, "variant": "never-ready"},
        readiness_path="/no-such-path"))
    core = client.CoreV1Api(kube)

    def running_unready() -> Any:
        found = core.list_namespaced_pod(namespace, label_selector="variant=never-ready").items
        return next((p for p in found if p.status.container_statuses
                     and p.status.container_statuses[0].state.running
                     and p.status.pod_ip), None)

    unready = wait_for(running_unready, "the never-ready pod running", timeout=120)
    # its server runs (it answers directly) but the Service leaves it out
    wait_for(lambda: unready.status.pod_ip not in endpoint_ips(kube, namespace, APP)
             and len(endpoint_ips(kube, namespace, APP)) == 3, "endpoints without it")
    predict(f"http://{unready.status.pod_ip}:{SERVE_PORT}")
    url = cluster_ip_url(kube, namespace, APP)
    answered = count_answers([*pods, unready], lambda: predict(url), 40)
    assert answered[unready.metadata.name] == 0, answered
    assert sum(answered.values()) == 40


def test_kubectl_logs_and_exec_reach_the_kubelet(tools: Tools,
                                                 three_pods: tuple[str, list[Any]]) -> None:
    namespace, pods = three_pods
    name = pods[0].metadata.name
    logs = tools.kubectl("logs", name, "--namespace", namespace).stdout
    assert "serving" in logs
    out = tools.kubectl("exec", name, "--namespace", namespace, "--",
                        "python3", "-c", "print('inside', 6 * 7)").stdout
    assert out.strip() == "inside 42"
