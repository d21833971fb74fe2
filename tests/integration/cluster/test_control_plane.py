"""The test bed's cluster is a real control plane: helm, controllers, scheduling, EndpointSlices,
server-side validation and Leases behave as on any conformant cluster."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from testbed.cluster import components, nodes
from tests.support.kube import Tools, wait_for

from modelship import cli

pytestmark = pytest.mark.integration

CHARTS = Path(__file__).parents[2] / "data" / "charts"

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def pod(name: str, gpus: int = 0, tolerate_gpu: bool = False) -> dict[str, Any]:
    """A pod for the fake nodes only (its image is never pulled)."""
    resources: dict[str, Any] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    spec: dict[str, Any] = {"containers": [{"name": "model", "image": "registry.invalid/m:1",
                                            "resources": resources}],
                            "tolerations": [nodes.FAKE_TOLERATION],
                            "nodeSelector": nodes.FAKE_NODE_SELECTOR}
    if tolerate_gpu:
        spec["tolerations"].append(GPU_TOLERATION)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


# -- nodes -----------------------------------------------------------------------------------


def test_fake_nodes_are_ready_with_declared_capacity(kube: Any) -> None:
    found = {n.metadata.name: n for n in client.CoreV1Api(kube).list_node().items}
    for spec in nodes.NODES:
        node = found[spec.name]
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
        assert node.status.allocatable["cpu"] == "4"
        assert node.status.allocatable["memory"] == "16Gi"
        assert node.status.allocatable["ephemeral-storage"] == "100Gi"
        if spec.gpus:
            assert node.status.allocatable[nodes.GPU_RESOURCE] == "4"
            assert node.metadata.labels[nodes.GPU_PRODUCT_LABEL] == nodes.GPU_PRODUCT
            assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
                ("kwok.x-k8s.io/node", "fake", "NoSchedule"),
                ("nvidia.com/gpu", "present", "NoSchedule")]
        else:
            assert nodes.GPU_RESOURCE not in node.status.allocatable
            assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
                ("kwok.x-k8s.io/node", "fake", "NoSchedule")]


def test_server_reports_the_pinned_release(kube: Any,
                                           tools: Tools) -> None:
    if os.environ.get("MODELSHIP_TEST_KUBECONFIG"):
        pytest.skip("an existing cluster runs its own release")
    assert client.VersionApi(kube).get_code().git_version == components.KUBERNETES
    versions = json.loads(tools.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == components.KUBERNETES
    assert tools.helm("version", "--short").stdout.startswith(components.HELM)


# -- helm, rollout, EndpointSlices ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_release(new_namespace: Callable[[str], str],
                 tools: Tools) -> Iterator[tuple[str, str]]:
    """The tiny chart (Deployment of 2 + Service) installed with `helm install --wait`."""
    namespace = new_namespace("tiny")
    tools.helm("install", "tiny", str(CHARTS / "tiny"), "--namespace", namespace,
             "--wait", "--timeout", "2m")
    yield namespace, "tiny"
    tools.helm("uninstall", "tiny", "--namespace", namespace, check=False)


def test_helm_install_wait_deploys_the_chart(tiny_release: tuple[str, str],
                                             tools: Tools) -> None:
    namespace, release = tiny_release
    status = json.loads(tools.helm("status", release, "-n", namespace, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"


def test_deployment_reaches_ready_replicas_and_rollout_status_returns(
        kube: Any, tiny_release: tuple[str, str], tools: Tools) -> None:
    namespace, release = tiny_release
    deployment = client.AppsV1Api(kube).read_namespaced_deployment(release, namespace)
    assert deployment.status.ready_replicas == deployment.spec.replicas == 2
    out = tools.kubectl("rollout", "status", f"deployment/{release}", "-n", namespace,
                   "--timeout=60s").stdout
    assert "successfully rolled out" in out


def test_service_endpointslices_list_the_ready_pods(kube: Any,
                                                    tiny_release: tuple[str, str]) -> None:
    namespace, release = tiny_release
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        namespace, label_selector=f"app.kubernetes.io/instance={release}").items
    ready_ips = {p.status.pod_ip for p in pods
                 if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)}
    assert len(ready_ips) == 2

    def listed() -> set[str]:
        slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={release}").items
        return {address for s in slices for e in s.endpoints or []
                if e.conditions.ready for address in e.addresses}

    wait_for(lambda: listed() == ready_ips, f"EndpointSlices of {release} to list {ready_ips}", 30)
    ports = {p.port for s in client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={release}").items
        for p in s.ports}
    assert ports == {8080}


# -- GPU scheduling ------------------------------------------------------------------------------


def test_one_gpu_pod_with_toleration_lands_on_a_gpu_node(kube: Any, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(namespace, pod("gpu-1", gpus=1, tolerate_gpu=True))

    def running() -> Any:
        found = core.read_namespaced_pod("gpu-1", namespace)
        return found if found.status.phase == "Running" else None

    placed = wait_for(running, "the 1-GPU pod to run")
    node = core.read_node(placed.spec.node_name)
    assert node.metadata.labels.get(nodes.GPU_PRODUCT_LABEL) == nodes.GPU_PRODUCT
    assert node.metadata.name in {n.name for n in nodes.NODES if n.gpus}


def test_five_gpu_pod_stays_pending_with_failed_scheduling(kube: Any, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(namespace, pod("gpu-5", gpus=5, tolerate_gpu=True))

    def failed_scheduling() -> list[Any]:
        events = core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=gpu-5").items
        return [e for e in events if e.reason == "FailedScheduling"]

    events = wait_for(failed_scheduling, "a FailedScheduling event for the 5-GPU pod")
    assert "nvidia.com/gpu" in events[0].message
    stuck = core.read_namespaced_pod("gpu-5", namespace)
    assert stuck.status.phase == "Pending"
    assert stuck.spec.node_name is None


def test_gpu_pod_without_toleration_is_not_scheduled(kube: Any, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(namespace, pod("gpu-untolerated", gpus=1))

    def failed_scheduling() -> list[Any]:
        events = core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=gpu-untolerated").items
        return [e for e in events if e.reason == "FailedScheduling"]

    events = wait_for(failed_scheduling, "a FailedScheduling event for the untolerated pod")
    assert "untolerated taint" in events[0].message
    assert core.read_namespaced_pod("gpu-untolerated", namespace).spec.node_name is None


def test_a_job_runs_to_completion(kube: Any, namespace: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never", "tolerations": [nodes.FAKE_TOLERATION],
               "nodeSelector": nodes.FAKE_NODE_SELECTOR,
               "containers": [{"name": "once", "image": "registry.invalid/once:1"}]}}}}
    batch = client.BatchV1Api(kube)
    batch.create_namespaced_job(namespace, job)
    wait_for(lambda: batch.read_namespaced_job("once", namespace).status.succeeded == 1,
         "the Job to succeed")
    done = client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector="job-name=once")
    assert [p.status.phase for p in done.items] == ["Succeeded"]


# -- server-side validation -----------------------------------------------------------------------


INVALID_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "invalid"},
    "spec": {
        "replicas": -1,
        "selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "b"}},
                     "spec": {"containers": [{"name": "Bad_Name", "image": "x"}]}},
    },
}


def test_api_server_rejects_an_invalid_manifest(kube: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(kube).create_namespaced_deployment(namespace, INVALID_DEPLOYMENT)
    assert caught.value.status == 422
    body = json.loads(caught.value.body)
    assert body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"spec.replicas", "spec.template.metadata.labels"} <= fields


def test_kubectl_apply_of_invalid_manifest_is_refused_by_the_server(
        namespace: str, tools: Tools, tmp_path: Path) -> None:
    manifest = tmp_path / "invalid.json"
    manifest.write_text(json.dumps(INVALID_DEPLOYMENT))
    # --validate=false: no client-side checks, so the refusal can only come from the server
    refused = tools.kubectl("apply", "--validate=false", "-n", namespace,
                       "-f", str(manifest), check=False)
    assert refused.returncode != 0
    assert 'The Deployment "invalid" is invalid' in refused.stderr
    assert "spec.replicas: Invalid value: -1" in refused.stderr
    unknown = {**INVALID_DEPLOYMENT, "spec": {"replicaz": 1}}
    manifest.write_text(json.dumps(unknown))
    strict = tools.kubectl("apply", "--dry-run=server", "--validate=strict", "-n",
                      namespace, "-f", str(manifest), check=False)
    assert strict.returncode != 0
    assert 'unknown field "spec.replicaz"' in strict.stderr


# -- Leases ---------------------------------------------------------------------------------------


def lease(name: str, holder: str) -> client.V1Lease:
    now = datetime.now(UTC)
    return client.V1Lease(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=15,
                                acquire_time=now, renew_time=now))


def race(fn: Callable[[str], Any], holders: tuple[str, ...]) -> dict[str, Any]:
    """Run fn(holder) for every holder at the same instant; return holder -> result/exception."""
    barrier = threading.Barrier(len(holders))
    results: dict[str, Any] = {}

    def attempt(holder: str) -> None:
        barrier.wait()
        try:
            results[holder] = fn(holder)
        except ApiException as e:
            results[holder] = e

    threads = [threading.Thread(target=attempt, args=(h,)) for h in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_holders_contend_for_a_lease_and_only_one_wins(cluster_env: dict[str, str],
                                                           namespace: str) -> None:
    from kubernetes import config

    holders = ("release-runner-a", "release-runner-b")
    apis = {h: config.new_client_from_config(config_file=cluster_env["KUBECONFIG"])
            for h in holders}
    leases = {h: client.CoordinationV1Api(apis[h]) for h in holders}
    name = "modelship-sentiment-production"
    try:
        # both try to create the lock at once: create is atomic, the loser gets 409 Conflict
        created = race(lambda h: leases[h].create_namespaced_lease(namespace, lease(name, h)),
                       holders)
        winners = [h for h, r in created.items() if not isinstance(r, ApiException)]
        losers = [r for r in created.values() if isinstance(r, ApiException)]
        assert len(winners) == 1
        assert [e.status for e in losers] == [409]
        assert json.loads(losers[0].body)["reason"] == "AlreadyExists"

        # taking over: both read the same resourceVersion and replace; optimistic concurrency
        # lets exactly one write through, the other's stale resourceVersion gets 409 Conflict
        seen = {h: leases[h].read_namespaced_lease(name, namespace) for h in holders}
        assert len({s.metadata.resource_version for s in seen.values()}) == 1

        def take(holder: str) -> Any:
            mine = seen[holder]
            mine.spec.holder_identity = holder
            mine.spec.acquire_time = mine.spec.renew_time = datetime.now(UTC)
            mine.spec.lease_transitions = (mine.spec.lease_transitions or 0) + 1
            return leases[holder].replace_namespaced_lease(name, namespace, mine)

        replaced = race(take, holders)
        winners = [h for h, r in replaced.items() if not isinstance(r, ApiException)]
        losers = [r for r in replaced.values() if isinstance(r, ApiException)]
        assert len(winners) == 1
        assert [e.status for e in losers] == [409]
        assert json.loads(losers[0].body)["reason"] == "Conflict"
        final = leases[holders[0]].read_namespaced_lease(name, namespace)
        assert final.spec.holder_identity == winners[0]
        assert final.spec.lease_transitions == 1
    finally:
        for api in apis.values():
            api.close()


# -- modelship doctor -----------------------------------------------------------------------------


def test_doctor_reports_the_cluster_reachable(tools: Tools, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # in this process, which imported the kubernetes client before KUBECONFIG pointed at the
    # test bed: doctor must read KUBECONFIG when it runs, not when the library was imported
    for key in ("KUBECONFIG", "PATH"):
        monkeypatch.setenv(key, tools.env[key])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["doctor", "--require", "cluster", "--json"]) in (0, 3)
    result = json.loads(capsys.readouterr().out)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["cluster"]["ok"], checks["cluster"]
    assert checks["cluster"]["required"]
    if not os.environ.get("MODELSHIP_TEST_KUBECONFIG"):
        assert checks["cluster"]["detail"] == f"API server {components.KUBERNETES}"
        assert checks["helm"]["ok"], checks["helm"]
        assert checks["kubectl"]["ok"], checks["kubectl"]
