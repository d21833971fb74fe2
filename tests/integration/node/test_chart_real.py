"""helm-chart/ on the real node, where it matters that pods run: probes gate traffic, the
`helm test` hook really calls the Service, the replicas-mode split and the HTTPRoute weights
are measured on real requests, the blue-green switch changes which pods answer, and
Prometheus scrapes the release's pods with the chart's labels.

Who answered is read from each pod's own request counter (its /metrics), which is exact;
the Prometheus test checks the same counters through discovery and relabelling."""

from __future__ import annotations

import math
from typing import Any

import pytest
import requests
from kubernetes import client
from tests.integration.chart import chart_cluster
from tests.support.kube import Tools, wait_for
from tests.support.real_node import (
    NODE_NAME,
    PULL_SECRET,
    SMALL,
    answering,
    count_answers,
    predict,
    ready_pods,
    served,
    until_each_answers,
    wget_image,
)

pytestmark = pytest.mark.integration

RELEASE = "sentiment"
SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=model-server"
REQUESTS = 200


def install(*args: Any, **kwargs: Any) -> Any:
    """chart_cluster.install onto the real node (no toleration of the fake nodes' taint)."""
    return chart_cluster.install(*args, fake_nodes=False, **kwargs)


def real_values(image: str, **values: Any) -> dict[str, Any]:
    """Values that run the example image on the real node, quickly probed."""
    return {
        "imagePullSecrets": [{"name": PULL_SECRET}],
        "resources": SMALL,
        "probes": {"startup": {"periodSeconds": 1}, "readiness": {"periodSeconds": 1}},
        "stable": {"image": image, "version": "1.0.0"},
        **values,
    }


def track_of(pods: list[Any]) -> dict[str, str]:
    return {p.metadata.name: p.metadata.labels["modelship.io/track"] for p in pods}


def share_bounds(p: float, n: int, sigmas: float = 3.5) -> tuple[int, int]:
    """Counts a binomial(n, p) stays within with probability > 0.999 (normal approximation)."""
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return math.floor(n * p - spread), math.ceil(n * p + spread)


def service_url(kube: Any, namespace: str, name: str) -> str:
    """The Service's ClusterIP URL, once kube-proxy routes it."""
    svc = client.CoreV1Api(kube).read_namespaced_service(name, namespace)
    url = f"http://{svc.spec.cluster_ip}:{svc.spec.ports[0].port}"
    answering(url)
    return url


def release_pods(kube: Any, namespace: str, count: int) -> list[Any]:
    return wait_for(lambda: len(found := ready_pods(kube, namespace, SELECTOR)) == count
                    and found, f"{count} ready pods", timeout=180, interval=1)


def ready_endpoints(kube: Any, namespace: str, service: str) -> set[str]:
    slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return {a for s in slices for e in s.endpoints or [] if e.conditions.ready
            for a in e.addresses}


def test_probes_and_helm_test_on_real_pods(tools: Tools, kube: Any, namespace: str,
                                           image: str, registry: Any,
                                           docker_client: Any) -> None:
    wget = wget_image(registry, docker_client)
    install(tools, RELEASE, namespace, "rolling",
            real_values(image, test={"image": wget}))
    pods = release_pods(kube, namespace, 2)
    for pod in pods:
        assert pod.spec.node_name == NODE_NAME
        assert pod.status.container_statuses[0].restart_count == 0
        # the kubelet's startup, readiness and liveness probes really call the server
        logs = tools.kubectl("logs", pod.metadata.name, "--namespace", namespace).stdout
        assert '"GET /healthz HTTP/1.1" 200' in logs

    result = tools.helm("test", RELEASE, "--namespace", namespace, "--logs",
                        "--timeout", "120s")
    assert "Phase:          Succeeded" in result.stdout
    # the hook pod's wget printed the Service's health answer
    assert '{"status": "ok"}' in result.stdout


def test_replicas_mode_split_is_measured(tools: Tools, kube: Any, namespace: str,
                                         image: str) -> None:
    install(tools, RELEASE, namespace, "canary-replicas",  # 4 pods, weight 25: 3 + 1
            real_values(image, canary={"image": image, "version": "1.1.0"}))
    pods = release_pods(kube, namespace, 4)
    wait_for(lambda: ready_endpoints(kube, namespace, RELEASE) == {
        p.status.pod_ip for p in pods}, "4 endpoints")
    url = service_url(kube, namespace, RELEASE)
    until_each_answers(pods, lambda: predict(url))
    answered = count_answers(pods, lambda: predict(url), REQUESTS)
    tracks = track_of(pods)
    canary = sum(n for name, n in answered.items() if tracks[name] == "canary")
    assert sum(answered.values()) == REQUESTS
    print(f"replicas mode, weight 25 (3 + 1 pods): canary answered {canary}/{REQUESTS}")
    low, high = share_bounds(0.25, REQUESTS)
    assert low <= canary <= high, (canary, answered)


def test_blue_green_switch_changes_which_pods_answer(tools: Tools, kube: Any, namespace: str,
                                                     image: str) -> None:
    install(tools, RELEASE, namespace, "blue-green", real_values(image, blueGreen={
        "blue": {"image": image, "version": "1.0.0"},
        "green": {"image": image, "version": "1.1.0"}, "preview": False}))
    pods = release_pods(kube, namespace, 4)
    colour = {p.metadata.name: p.metadata.labels["modelship.io/colour"] for p in pods}
    url = service_url(kube, namespace, RELEASE)

    def answered_by() -> dict[str, int]:
        answered = count_answers(pods, lambda: predict(url), 30)
        out = {"blue": 0, "green": 0}
        for name, n in answered.items():
            out[colour[name]] += n
        return out

    assert answered_by() == {"blue": 30, "green": 0}
    install(tools, RELEASE, namespace, None, {"blueGreen": {"active": "green"}},
            "--reuse-values", command="upgrade")
    green = {p.status.pod_ip for p in pods if colour[p.metadata.name] == "green"}
    wait_for(lambda: ready_endpoints(kube, namespace, RELEASE) == green, "green endpoints")
    # kube-proxy applies the new endpoints within its sync period
    wait_for(lambda: answered_by()["blue"] == 0, "only green answering", timeout=30)
    assert answered_by() == {"blue": 0, "green": 30}


def ok(url: str) -> bool:
    try:
        predict(url)
    except (AssertionError, requests.RequestException):
        return False
    return True


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(f"{prometheus}/api/v1/query", params={"query": promql},
                             timeout=10).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_prometheus_scrapes_the_release_with_track_labels(
        tools: Tools, kube: Any, namespace: str, image: str, traffic: dict[str, str]) -> None:
    prometheus = traffic["MODELSHIP_TEST_PROMETHEUS"]
    install(tools, RELEASE, namespace, "canary-replicas", real_values(
        image, canary={"image": image, "version": "1.1.0"}, monitoring={"enabled": True}))
    pods = release_pods(kube, namespace, 4)
    url = service_url(kube, namespace, RELEASE)
    # kube-proxy routes to every pod a moment after the API shows them ready: wait for that,
    # or all the requests may land on the pods it knew first
    until_each_answers(pods, lambda: predict(url))
    for _ in range(40):
        predict(url)
    # what the pods themselves counted (40, and those that waited for every route)
    expected = sum(served(p.status.pod_ip) for p in pods)
    assert expected >= 44
    names = {p.metadata.name for p in pods}
    selector = f'namespace="{namespace}",job="{RELEASE}-metrics"'

    def up_everywhere() -> list[dict[str, Any]]:
        found = query(prometheus, f"up{{{selector}}}")
        return found if {s["metric"]["pod"] for s in found} == names else []

    up = wait_for(up_everywhere, "every pod's up series", timeout=60, interval=1)
    assert all(s["value"][1] == "1" for s in up), up
    assert {s["metric"]["track"] for s in up} == {"stable", "canary"}

    def counted() -> dict[str, float]:
        found = query(prometheus, f'sum by (track, model_version) '
                                  f'(http_requests_total{{{selector},status="200"}})')
        total = {(s["metric"]["track"], s["metric"]["model_version"]): float(s["value"][1])
                 for s in found}
        return total if sum(total.values()) == expected else {}

    totals = wait_for(counted, f"Prometheus counting the pods' {expected} requests",
                      timeout=60, interval=1)
    assert set(totals) <= {("stable", "1.0.0"), ("canary", "1.1.0")}
    assert ("stable", "1.0.0") in totals


def test_httproute_weight_and_header_on_the_gateway(tools: Tools, kube: Any, namespace: str,
                                                    image: str,
                                                    traffic: dict[str, str]) -> None:
    gateway_ns, gateway_name = traffic["MODELSHIP_TEST_GATEWAY_NAME"].split("/")
    gateway = traffic["MODELSHIP_TEST_GATEWAY"]
    install(tools, RELEASE, namespace, "canary-gateway-api", real_values(
        image, canary={"image": image, "version": "1.1.0", "weight": 30},
        traffic={"gatewayApi": {"hostnames": [], "parentRefs": [
            {"name": gateway_name, "namespace": gateway_ns, "sectionName": "http"}]}}))
    pods = release_pods(kube, namespace, 4)  # 3 stable + 1 canary (3 x 30 % rounds to 1)
    tracks = track_of(pods)
    custom = client.CustomObjectsApi(kube)

    def accepted() -> bool:
        route = custom.get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", RELEASE)
        parents = route.get("status", {}).get("parents", [])
        return any(c["type"] == "Accepted" and c["status"] == "True"
                   for p in parents for c in p["conditions"])

    wait_for(accepted, "the HTTPRoute accepted by the Gateway", timeout=60)
    # Traefik learns each backend's endpoints on its own (throttled to 2 s): both must
    # answer before counting (the header rule reaches the canary alone)
    header = {"X-Model-Canary": "always"}
    answering(gateway, header)
    wait_for(lambda: all(ok(gateway) for _ in range(10)), "10 answers in a row", timeout=60)
    until_each_answers(pods, lambda: predict(gateway))
    answered = count_answers(pods, lambda: predict(gateway), REQUESTS)
    canary = sum(n for name, n in answered.items() if tracks[name] == "canary")
    assert sum(answered.values()) == REQUESTS
    print(f"HTTPRoute weight 30: canary answered {canary}/{REQUESTS}")
    low, high = share_bounds(0.30, REQUESTS)
    assert low <= canary <= high, (canary, answered)

    answered = count_answers(pods, lambda: predict(gateway, header), 20)
    assert {tracks[n] for n, count in answered.items() if count} == {"canary"}, answered
    assert sum(answered.values()) == 20
