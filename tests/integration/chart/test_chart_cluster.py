"""helm-chart/ on the test bed's real control plane: every scenario passes server-side
validation, installs with --wait, and the live objects behave as the chart documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes import client
from testbed.cluster.kwok_config import MANAGED_ANNOTATION
from tests.integration.chart.chart_cluster import install
from tests.support.kube import Tools, wait_for
from tests.unit.chart.chart_render import CHART, SCENARIOS

pytestmark = pytest.mark.integration

RELEASE = "sentiment"
MONITORING_APIS = ("monitoring.coreos.com/v1/ServiceMonitor",
                   "monitoring.coreos.com/v1/PrometheusRule")
GPU_NODES = {"gpu-0", "gpu-1"}
IMAGE_NEXT = "registry.example.com/models/sentiment:1.2.0"
DIGEST_NEXT = "registry.example.com/models/sentiment@sha256:" + "cd34" * 16


def pods(kube: Any, namespace: str, selector: str = "") -> list[Any]:
    """Pods of the release that are not being deleted."""
    items = client.CoreV1Api(kube).list_namespaced_pod(
        namespace, label_selector=",".join(filter(None, (
            f"app.kubernetes.io/instance={RELEASE}", "app.kubernetes.io/component=model-server",
            selector)))).items
    return [p for p in items if not p.metadata.deletion_timestamp]


def endpoints(kube: Any, namespace: str, service: str) -> set[str]:
    """Endpoint addresses of a Service (the pods its selector picks), from its EndpointSlices.
    Readiness is left out on purpose: helm --wait checked it, and a KWOK node that misses a
    heartbeat marks its pods NotReady for good, which says nothing about the chart."""
    slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return {address for s in slices for e in s.endpoints or [] for address in e.addresses}


def services(kube: Any, namespace: str) -> dict[str, Any]:
    return {s.metadata.name: s for s in client.CoreV1Api(kube).list_namespaced_service(
        namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items}


def deployments(kube: Any, namespace: str) -> dict[str, Any]:
    return {d.metadata.name: d for d in client.AppsV1Api(kube).list_namespaced_deployment(
        namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items}


# -- every scenario is valid for the real API server -----------------------------------------


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_scenario_validates_server_side(tools: Tools, crds: list[str], namespace: str,
                                        scenario: str | None) -> None:
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    if scenario:
        args += ["-f", str(CHART / "ci" / f"{scenario}-values.yaml")]
    for api in MONITORING_APIS:
        args += ["--api-versions", api]
    manifest = tools.helm(*args).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(manifest) if d}
    result = tools.kubectl("apply", "--dry-run=server", "--namespace", namespace,
                           "--output", "name", "-f", "-", stdin=manifest)
    assert len(result.stdout.split()) == len([d for d in yaml.safe_load_all(manifest) if d])
    if scenario == "canary-gateway-api":
        assert "HTTPRoute" in kinds
    if scenario == "autoscaling":
        assert {"ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler"} <= kinds


# -- canary -----------------------------------------------------------------------------------


def test_canary_replicas_mode_splits_pods(tools: Tools, kube: Any, namespace: str) -> None:
    install(tools, RELEASE, namespace, "canary-replicas")  # 4 pods, weight 25
    stable = pods(kube, namespace, "modelship.io/track=stable")
    canary = pods(kube, namespace, "modelship.io/track=canary")
    assert (len(stable), len(canary)) == (3, 1)  # the README's rounding: 4 x 25 % = 1
    assert {p.metadata.labels["modelship.io/model-version"] for p in canary} == {"1.1.0"}
    # one Service over both tracks: 1 of its 4 endpoints is canary
    everything = {p.status.pod_ip for p in stable + canary}
    wait_for(lambda: endpoints(kube, namespace, RELEASE) == everything, "4 endpoints")
    assert endpoints(kube, namespace, f"{RELEASE}-canary") == {canary[0].status.pod_ip}

    install(tools, RELEASE, namespace, None, {"canary": {"weight": 50}}, "--reuse-values",
                  command="upgrade")
    wait_for(lambda: len(pods(kube, namespace, "modelship.io/track=canary")) == 2
             and len(pods(kube, namespace, "modelship.io/track=stable")) == 2, "2 + 2 pods")


def test_gateway_api_route_weights_equal_values(tools: Tools, kube: Any, crds: list[str],
                                                namespace: str) -> None:
    install(tools, RELEASE, namespace, "canary-gateway-api")  # weight 25
    custom = client.CustomObjectsApi(kube)

    def weights() -> dict[str, int]:
        route = custom.get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", RELEASE)
        rules = route["spec"]["rules"]
        assert rules[0]["matches"][0]["headers"] == [
            {"type": "Exact", "name": "X-Model-Canary", "value": "always"}]
        return {b["name"]: b["weight"] for b in rules[-1]["backendRefs"]}

    assert weights() == {f"{RELEASE}-stable": 75, f"{RELEASE}-canary": 25}
    for weight in (60, 0, 100):
        install(tools, RELEASE, namespace, None, {"canary": {"weight": weight}},
                      "--reuse-values", command="upgrade")
        assert weights() == {f"{RELEASE}-stable": 100 - weight, f"{RELEASE}-canary": weight}
    # the per-track Services the route points at select their track's pods
    canary_ips = {p.status.pod_ip for p in pods(kube, namespace, "modelship.io/track=canary")}
    wait_for(lambda: endpoints(kube, namespace, f"{RELEASE}-canary") == canary_ips,
             "canary endpoints")
    assert len(pods(kube, namespace, "modelship.io/track=stable")) == 3


def test_nginx_canary_ingress(tools: Tools, kube: Any, namespace: str) -> None:
    install(tools, RELEASE, namespace, "canary-nginx")
    net = client.NetworkingV1Api(kube)
    canary = net.read_namespaced_ingress(f"{RELEASE}-canary", namespace)
    notes = canary.metadata.annotations
    assert notes["nginx.ingress.kubernetes.io/canary"] == "true"
    assert notes["nginx.ingress.kubernetes.io/canary-weight"] == "25"
    assert notes["nginx.ingress.kubernetes.io/canary-by-header"] == "X-Model-Canary"
    main = net.read_namespaced_ingress(RELEASE, namespace)
    assert main.spec.rules[0].http.paths[0].backend.service.name == f"{RELEASE}-stable"


# -- blue-green -------------------------------------------------------------------------------


def test_blue_green_switch_changes_only_the_selector(tools: Tools, kube: Any,
                                                     namespace: str) -> None:
    install(tools, RELEASE, namespace, "blue-green", {"blueGreen": {"preview": False}})
    blue = {p.status.pod_ip for p in pods(kube, namespace, "modelship.io/colour=blue")}
    green = {p.status.pod_ip for p in pods(kube, namespace, "modelship.io/colour=green")}
    assert len(blue) == len(green) == 2
    wait_for(lambda: endpoints(kube, namespace, RELEASE) == blue, "blue endpoints")
    before_deploy = deployments(kube, namespace)
    before_svc = services(kube, namespace)
    before_pods = {p.metadata.uid for p in pods(kube, namespace)}
    before_objects = tools.kubectl("get", "all,pdb,serviceaccount", "--namespace", namespace,
                                   "--output", "json").stdout

    install(tools, RELEASE, namespace, None, {"blueGreen": {"active": "green"}},
                  "--reuse-values", command="upgrade")

    after_svc = services(kube, namespace)
    assert after_svc[RELEASE].spec.selector["modelship.io/colour"] == "green"
    wait_for(lambda: endpoints(kube, namespace, RELEASE) == green, "green endpoints")
    # only the main Service's selector changed: same pods, same Deployments, same Services
    assert {p.metadata.uid for p in pods(kube, namespace)} == before_pods
    for name, deploy in deployments(kube, namespace).items():
        assert deploy.metadata.generation == before_deploy[name].metadata.generation, name
    assert {n: s.metadata.uid for n, s in after_svc.items()} == {
        n: s.metadata.uid for n, s in before_svc.items()}
    changed = diff_specs(json.loads(before_objects), json.loads(tools.kubectl(
        "get", "all,pdb,serviceaccount", "--namespace", namespace, "--output", "json").stdout))
    assert changed == {f"Service/{RELEASE}": {"selector"}}


def diff_specs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, set[str]]:
    """Which top-level spec fields of which objects differ (status and metadata ignored)."""
    def specs(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f"{o['kind']}/{o['metadata']['name']}": o.get("spec", {})
                for o in listing["items"] if o["kind"] not in ("Pod", "ReplicaSet",
                                                               "EndpointSlice")}

    old, new = specs(before), specs(after)
    assert old.keys() == new.keys()
    out = {}
    for name in old:
        fields = {k for k in old[name].keys() | new[name].keys()
                  if old[name].get(k) != new[name].get(k)}
        if fields:
            out[name] = fields
    return out


def test_blue_green_preview_selects_the_idle_colour(tools: Tools, kube: Any,
                                                    namespace: str) -> None:
    install(tools, RELEASE, namespace, "blue-green")
    green = {p.status.pod_ip for p in pods(kube, namespace, "modelship.io/colour=green")}
    wait_for(lambda: endpoints(kube, namespace, f"{RELEASE}-preview") == green,
             "preview endpoints on green")


# -- GPU --------------------------------------------------------------------------------------


def test_gpu_pods_land_on_gpu_nodes(tools: Tools, kube: Any, namespace: str) -> None:
    install(tools, RELEASE, namespace, "gpu")
    placed = pods(kube, namespace)
    assert len(placed) == 2
    core = client.CoreV1Api(kube)
    for pod in placed:
        assert pod.spec.node_name in GPU_NODES, pod.spec.node_name
        node = core.read_node(pod.spec.node_name)
        assert node.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
        assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "1"


def test_cpu_pods_stay_off_gpu_nodes(tools: Tools, kube: Any, namespace: str) -> None:
    install(tools, RELEASE, namespace, "rolling", {"stable": {"replicas": 4}})
    placed = pods(kube, namespace)
    assert len(placed) == 4
    assert not {p.spec.node_name for p in placed} & GPU_NODES


# -- disk -------------------------------------------------------------------------------------


def unschedulable_because(kube: Any, namespace: str) -> str:
    """The scheduler's message for the release's Pending pod ("" while it has none)."""
    for pod in pods(kube, namespace):
        for condition in pod.status.conditions or []:
            if (condition.type == "PodScheduled" and condition.status == "False"
                    and condition.reason == "Unschedulable"):
                return str(condition.message)
    return ""


def test_the_scheduler_reserves_the_model_cache_disk(tools: Tools, kube: Any,
                                                     namespace: str) -> None:
    """The ephemeral-storage request (the emptyDir limits summed) is what the scheduler places
    by: a cache larger than any node's disk leaves the pod Pending rather than filling a
    node's disk at run time; the default size is placed and becomes Ready."""
    # the fake nodes (100Gi of disk each), whether or not they are tainted and a real node runs
    fake_nodes = {"key": MANAGED_ANNOTATION, "operator": "Exists", "effect": "NoSchedule"}
    tools.helm("install", RELEASE, str(CHART), "--namespace", namespace,  # no --wait
               "--set", "stable.replicas=1", "--set", "resources.requests.cpu=10m",
               "--set", "resources.requests.memory=16Mi", "--set", "modelCache.size=1Pi",
               "--set-json", f"tolerations={json.dumps([fake_nodes])}",
               "--set", "nodeSelector.type=kwok")
    (stable,) = client.AppsV1Api(kube).list_namespaced_deployment(namespace).items
    requests = stable.spec.template.spec.containers[0].resources.requests
    assert requests["ephemeral-storage"] == f"{2**20 + 1}Gi"  # 1Pi of cache + 1Gi of /tmp
    message = wait_for(lambda: unschedulable_because(kube, namespace), "an Unschedulable pod")
    assert "Insufficient ephemeral-storage" in message, message

    install(tools, RELEASE, namespace, None, {"modelCache": {"size": "10Gi"}}, "--reuse-values",
            command="upgrade")
    assert unschedulable_because(kube, namespace) == ""
    (pod,) = pods(kube, namespace)
    assert pod.spec.node_name
    assert pod.spec.containers[0].resources.requests["ephemeral-storage"] == "11Gi"


# -- upgrades ---------------------------------------------------------------------------------


def test_image_upgrade_keeps_selectors_and_services(tools: Tools, kube: Any,
                                                    namespace: str) -> None:
    install(tools, RELEASE, namespace, "canary-replicas")
    before_svc = services(kube, namespace)
    before_deploy = deployments(kube, namespace)
    old_pods = {p.metadata.uid for p in pods(kube, namespace)}

    install(tools, RELEASE, namespace, None,
                  {"stable": {"image": DIGEST_NEXT}, "canary": {"image": IMAGE_NEXT}},
                  "--reuse-values", command="upgrade")

    after_svc = services(kube, namespace)
    assert after_svc.keys() == before_svc.keys()
    for name, svc in after_svc.items():
        assert svc.metadata.uid == before_svc[name].metadata.uid, f"{name} was recreated"
        assert svc.spec.cluster_ip == before_svc[name].spec.cluster_ip
        assert svc.spec.selector == before_svc[name].spec.selector
    after_deploy = deployments(kube, namespace)
    for name, deploy in after_deploy.items():
        assert deploy.metadata.uid == before_deploy[name].metadata.uid
        assert deploy.spec.selector.match_labels == before_deploy[name].spec.selector.match_labels
        assert deploy.metadata.generation > before_deploy[name].metadata.generation
    # the new pods replaced the old ones and carry the new versions
    wait_for(lambda: not {p.metadata.uid for p in pods(kube, namespace)} & old_pods,
             "old pods gone", timeout=90)
    versions = {p.metadata.labels["modelship.io/track"]: p.metadata.labels[
        "modelship.io/model-version"] for p in pods(kube, namespace)}
    assert versions == {"stable": "cd34cd34cd34", "canary": "1.2.0"}
    history = json.loads(tools.helm("history", RELEASE, "--namespace", namespace,
                                    "--output", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]


def test_starting_a_canary_keeps_the_stable_pods(tools: Tools, kube: Any,
                                                 namespace: str) -> None:
    """rolling -> canary at weight 25 -> abort (weight 0): the stable Deployment is the same
    object throughout and its pods are never replaced, only scaled (replicas mode split)."""
    install(tools, RELEASE, namespace, "rolling", {"stable": {"replicas": 4}})
    stable = deployments(kube, namespace)[f"{RELEASE}-stable"]
    stable_pods = {p.metadata.uid for p in pods(kube, namespace)}

    install(tools, RELEASE, namespace, None, {
        "strategy": "canary", "canary": {"enabled": True, "image": IMAGE_NEXT, "weight": 25}},
        "--reuse-values", command="upgrade")
    now = deployments(kube, namespace)
    assert now[f"{RELEASE}-stable"].metadata.uid == stable.metadata.uid
    assert now[f"{RELEASE}-stable"].spec.template == stable.spec.template
    assert (now[f"{RELEASE}-stable"].spec.replicas, now[f"{RELEASE}-canary"].spec.replicas) == (
        3, 1)
    wait_for(lambda: len(pods(kube, namespace, "modelship.io/track=stable")) == 3,
             "3 stable pods")
    assert {p.metadata.uid for p in pods(kube, namespace, "modelship.io/track=stable")} < (
        stable_pods)

    install(tools, RELEASE, namespace, None, {"canary": {"weight": 0}}, "--reuse-values",
                  command="upgrade")
    wait_for(lambda: not pods(kube, namespace, "modelship.io/track=canary"), "no canary pod")
    assert len(pods(kube, namespace, "modelship.io/track=stable")) == 4
    assert deployments(kube, namespace)[f"{RELEASE}-stable"].spec.template == stable.spec.template


# -- bad values never reach the cluster -------------------------------------------------------


@pytest.mark.parametrize(("values", "message"), [
    ({"canary": {"weight": 150}}, "at '/canary/weight': maximum: got 150, want 100"),
    ({"strategy": "shadow"},
     "at '/strategy': value must be one of 'rolling', 'canary', 'blue-green'"),
    ({"strategy": "blue-green", "canary": {"enabled": True, "image": IMAGE_NEXT},
      "blueGreen": {"blue": {"image": IMAGE_NEXT}}}, "at '/canary/enabled': value must be false"),
], ids=["weight-150", "unknown-strategy", "canary-and-blue-green"])
def test_bad_values_are_refused_before_the_cluster(tools: Tools, kube: Any, namespace: str,
                                                   values: dict[str, Any], message: str) -> None:
    result = install(tools, RELEASE, namespace, None, values, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert tools.helm("list", "--namespace", namespace, "--short").stdout.strip() == ""
    assert not client.CoreV1Api(kube).list_namespaced_service(namespace).items

    # and an upgrade of a running release with bad values leaves it as it was
    install(tools, RELEASE, namespace, "rolling")
    result = install(tools, RELEASE, namespace, None, values, "--reuse-values",
                           command="upgrade", check=False)
    assert result.returncode != 0
    assert message in result.stderr
    history = json.loads(tools.helm("history", RELEASE, "--namespace", namespace,
                                    "--output", "json").stdout)
    assert len(history) == 1


# -- autoscaling and monitoring ---------------------------------------------------------------


def test_monitoring_objects_with_crds(tools: Tools, kube: Any, crds: list[str],
                                      namespace: str) -> None:
    install(tools, RELEASE, namespace, "autoscaling")
    custom = client.CustomObjectsApi(kube)
    monitor = custom.get_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "servicemonitors", RELEASE)
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    rule = custom.get_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "prometheusrules", RELEASE)
    assert [r["alert"] for r in rule["spec"]["groups"][0]["rules"]] == [
        "ModelErrorRateHigh", "ModelLatencyP95High"]
    dashboard = client.CoreV1Api(kube).read_namespaced_config_map(f"{RELEASE}-dashboard",
                                                                 namespace)
    assert dashboard.metadata.labels["grafana_dashboard"] == "1"
    hpa = client.AutoscalingV2Api(kube).read_namespaced_horizontal_pod_autoscaler(
        f"{RELEASE}-stable", namespace)
    assert hpa.spec.scale_target_ref.name == f"{RELEASE}-stable"
    # every pod is behind the metrics Service
    wait_for(lambda: len(endpoints(kube, namespace, f"{RELEASE}-metrics")) == 2,
             "metrics endpoints")


# small requests: these tests run up to 8 pods next to other tests on 3 KWOK nodes of 4 CPUs
SMALL = {"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}


def scale_as_hpa(kube: Any, namespace: str, name: str, replicas: int) -> None:
    """Scale a Deployment through /scale under the HPA controller's field manager, leaving the
    managedFields entry (kube-controller-manager, subresource scale) that makes server-side
    apply report conflicts on spec.replicas in a real cluster; the test bed's controller
    manager scales without recording it."""
    client.AppsV1Api(kube).patch_namespaced_deployment_scale(
        name, namespace, {"spec": {"replicas": replicas}},
        field_manager="kube-controller-manager")


def live_replicas(kube: Any, namespace: str, name: str) -> int:
    return client.AppsV1Api(kube).read_namespaced_deployment(name, namespace).spec.replicas


def hpa_names(kube: Any, namespace: str) -> set[str]:
    return {h.metadata.name for h in client.AutoscalingV2Api(
        kube).list_namespaced_horizontal_pod_autoscaler(namespace).items}


def test_enabling_the_hpa_keeps_the_running_replicas(tools: Tools, kube: Any,
                                                     namespace: str) -> None:
    """A running release with 5 pods gets an HPA (minReplicas 2): the Deployment keeps its 5
    (a manifest without spec.replicas drops the field and Kubernetes defaults it to 1). Later
    upgrades render what the HPA left, so server-side apply (helm 4's default) does not
    conflict with the HPA's ownership of spec.replicas, even when minReplicas goes up."""
    stable = f"{RELEASE}-stable"
    install(tools, RELEASE, namespace, "rolling", {**SMALL, "stable": {"replicas": 5}})
    assert live_replicas(kube, namespace, stable) == 5

    install(tools, RELEASE, namespace, None, {"autoscaling": {"enabled": True}},
            "--reuse-values", command="upgrade")
    assert hpa_names(kube, namespace) == {stable}
    assert live_replicas(kube, namespace, stable) >= 5
    assert len(pods(kube, namespace)) >= 5

    scale_as_hpa(kube, namespace, stable, 7)
    install(tools, RELEASE, namespace, None,
            {"stable": {"image": IMAGE_NEXT}, "autoscaling": {"minReplicas": 8}},
            "--reuse-values", command="upgrade")
    assert live_replicas(kube, namespace, stable) >= 7
    # the HPA applies its new lower bound itself
    wait_for(lambda: live_replicas(kube, namespace, stable) == 8, "the HPA scaling to 8",
             timeout=90)


def test_promoting_a_replicas_mode_canary_keeps_min_replicas(tools: Tools, kube: Any,
                                                            namespace: str) -> None:
    """canary strategy with an HPA (minReplicas 4) scaled to 8 -> canary at weight 50 in
    replicas mode (the HPA is removed, the split is 3 + 3) -> promotion (canary.enabled
    false): stable is back under its HPA with at least minReplicas pods, not 1."""
    stable, canary = f"{RELEASE}-stable", f"{RELEASE}-canary"
    install(tools, RELEASE, namespace, "rolling", {
        **SMALL, "strategy": "canary", "stable": {"replicas": 6},
        "autoscaling": {"enabled": True, "minReplicas": 4}})
    assert hpa_names(kube, namespace) == {stable}
    assert live_replicas(kube, namespace, stable) >= 4
    scale_as_hpa(kube, namespace, stable, 8)

    # the split takes spec.replicas over from the HPA: with server-side apply that needs
    # --force-conflicts wherever the HPA has scaled (see the README, "Autoscaling")
    install(tools, RELEASE, namespace, None,
            {"canary": {"enabled": True, "image": IMAGE_NEXT, "weight": 50}},
            "--reuse-values", "--force-conflicts", command="upgrade")
    assert hpa_names(kube, namespace) == set()
    assert (live_replicas(kube, namespace, stable), live_replicas(kube, namespace, canary)) == (
        3, 3)

    install(tools, RELEASE, namespace, None,
            {"stable": {"image": IMAGE_NEXT}, "canary": {"enabled": False, "weight": 0}},
            "--reuse-values", command="upgrade")
    assert hpa_names(kube, namespace) == {stable}
    assert canary not in deployments(kube, namespace)
    assert live_replicas(kube, namespace, stable) >= 4
    wait_for(lambda: len(pods(kube, namespace, "modelship.io/track=stable")) >= 4,
             "4 stable pods")


# `helm test` runs its hook pod on the real node: tests/integration/node/test_chart_real.py
