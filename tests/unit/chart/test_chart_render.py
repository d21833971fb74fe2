"""helm-chart/ rendered with the real helm: lint, object names, the replica split documented
in the README, traffic modes, blue-green selectors, GPU, monitoring and the test hook."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_render import CHART, SCENARIOS, Rendered, run_helm

Render = Callable[..., Rendered]

IMAGE_A = "registry.example.com/models/sentiment:1.0.0"
IMAGE_B = "registry.example.com/models/sentiment:1.1.0"
DIGEST = "sha256:" + "ab12" * 16
SELECTOR = {"app.kubernetes.io/name": "modelship-serving",
            "app.kubernetes.io/instance": "sentiment"}
CANARY_WEIGHTED = {"strategy": "canary", "stable": {"image": IMAGE_A, "replicas": 4},
                   "canary": {"enabled": True, "image": IMAGE_B, "weight": 25}}
BLUE_GREEN = {"strategy": "blue-green",
              "blueGreen": {"blue": {"image": IMAGE_A}, "green": {"image": IMAGE_B}}}
GATEWAY = {"mode": "gateway-api", "gatewayApi": {"parentRefs": [{"name": "public"}]}}


def replicas(docs: Rendered, name: str) -> int:
    return docs.get("Deployment", name)["spec"]["replicas"]


def pod_spec(docs: Rendered, name: str) -> dict[str, Any]:
    return docs.get("Deployment", name)["spec"]["template"]["spec"]


def test_scenarios_exist() -> None:
    assert {"rolling", "canary-replicas", "canary-gateway-api", "canary-nginx", "blue-green",
            "gpu"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_lint_strict_is_clean(helm_bin: str, scenario: str | None) -> None:
    result = run_helm(helm_bin, "lint", "--strict", str(CHART),
                      files=(scenario,) if scenario else ())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout, result.stdout
    assert "[ERROR]" not in result.stdout, result.stdout


EXPECTED_OBJECTS = {
    "rolling": {"Deployment/sentiment-stable", "Service/sentiment", "Service/sentiment-stable"},
    "canary-replicas": {"Deployment/sentiment-stable", "Deployment/sentiment-canary",
                        "Service/sentiment", "Service/sentiment-stable",
                        "Service/sentiment-canary"},
    "canary-gateway-api": {"Deployment/sentiment-stable", "Deployment/sentiment-canary",
                           "Service/sentiment", "Service/sentiment-stable",
                           "Service/sentiment-canary", "HTTPRoute/sentiment"},
    "canary-nginx": {"Deployment/sentiment-stable", "Deployment/sentiment-canary",
                     "Service/sentiment", "Service/sentiment-stable",
                     "Service/sentiment-canary", "Ingress/sentiment", "Ingress/sentiment-canary"},
    "blue-green": {"Deployment/sentiment-blue", "Deployment/sentiment-green",
                   "Service/sentiment", "Service/sentiment-preview"},
    "gpu": {"Deployment/sentiment-stable", "Service/sentiment", "Service/sentiment-stable"},
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_OBJECTS))
def test_scenario_objects_have_the_documented_names(render: Render, scenario: str) -> None:
    docs = render(scenario=scenario)
    serving = {n for n in docs.names() if n.split("/")[0] in
               ("Deployment", "Service", "HTTPRoute", "Ingress")}
    assert serving == EXPECTED_OBJECTS[scenario]
    for name in docs.names("Deployment"):
        assert f"PodDisruptionBudget/{name.split('/')[1]}" in docs.names()


# -- replicas mode: the split documented in the README ----------------------------------------


def readme_split_table() -> list[tuple[int, int, int, int]]:
    """(total, weight, stable, canary) rows of the README's rounding table."""
    text = (CHART / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", text, re.MULTILINE)
    assert len(rows) >= 5, "the README's replica split table is missing"
    return [tuple(int(x) for x in row) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(("total", "weight", "stable", "canary"), [
    *readme_split_table(),
    (4, 0, 4, 0), (2, 50, 1, 1), (3, 50, 1, 2), (5, 99, 1, 4), (5, 1, 4, 1), (20, 5, 19, 1),
])
def test_replicas_mode_split_matches_the_readme(render: Render, total: int, weight: int,
                                                 stable: int, canary: int) -> None:
    docs = render({**CANARY_WEIGHTED, "stable": {"image": IMAGE_A, "replicas": total},
                   "canary": {"enabled": True, "image": IMAGE_B, "weight": weight}})
    assert (replicas(docs, "sentiment-stable"), replicas(docs, "sentiment-canary")) == (
        stable, canary)
    # one Service over both tracks: the split is by pod count
    assert docs.get("Service", "sentiment")["spec"]["selector"] == SELECTOR


def test_replicas_mode_canary_has_no_hpa(render: Render) -> None:
    docs = render({**CANARY_WEIGHTED, "autoscaling": {"enabled": True}})
    assert docs.kinds("HorizontalPodAutoscaler") == []
    assert replicas(docs, "sentiment-canary") == 1


@pytest.mark.parametrize(("weight", "canary_replicas", "expected"), [
    (25, None, 1), (50, None, 2), (0, None, 1), (100, None, 4), (25, 3, 3)])
def test_weighted_modes_keep_stable_and_size_the_canary(
        render: Render, weight: int, canary_replicas: int | None, expected: int) -> None:
    docs = render({**CANARY_WEIGHTED, "traffic": GATEWAY,
                   "canary": {"enabled": True, "image": IMAGE_B, "weight": weight,
                              "replicas": canary_replicas}})
    assert replicas(docs, "sentiment-stable") == 4
    assert replicas(docs, "sentiment-canary") == expected


# -- gateway-api and nginx --------------------------------------------------------------------


def test_gateway_api_route_weights_equal_the_values(render: Render) -> None:
    docs = render(scenario="canary-gateway-api", values={"canary": {"weight": 30}})
    route = docs.get("HTTPRoute", "sentiment")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [
        {"name": "public", "namespace": "gateways", "sectionName": "http"}]
    header_rule, weighted = route["spec"]["rules"]
    assert header_rule["matches"][0]["headers"] == [
        {"type": "Exact", "name": "X-Model-Canary", "value": "always"}]
    assert [b["name"] for b in header_rule["backendRefs"]] == ["sentiment-canary"]
    assert {b["name"]: b["weight"] for b in weighted["backendRefs"]} == {
        "sentiment-stable": 70, "sentiment-canary": 30}
    assert all(b["port"] == 80 for b in weighted["backendRefs"])


def test_gateway_api_without_canary_routes_to_stables_own_service(render: Render) -> None:
    """Not the main Service, which selects every pod of the release: when a canary ends, its
    pods answer while they stop, and a route to the main Service reached them (the flaky
    canary's 500s seen by clients after an abort on the real Gateway)."""
    docs = render({"traffic": GATEWAY})
    (rule,) = docs.get("HTTPRoute", "sentiment")["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("sentiment-stable", 100)]
    assert docs.get("Service", "sentiment-stable")["spec"]["selector"][
        "modelship.io/track"] == "stable"
    ended = render({**CANARY_WEIGHTED, "canary": {"enabled": False}, "traffic": GATEWAY})
    assert [b["name"] for b in ended.get("HTTPRoute", "sentiment")["spec"]["rules"][0][
        "backendRefs"]] == ["sentiment-stable"]
    # blue-green: the main Service selects the active colour
    colours = render({**BLUE_GREEN, "traffic": GATEWAY})
    assert [b["name"] for b in colours.get("HTTPRoute", "sentiment")["spec"]["rules"][0][
        "backendRefs"]] == ["sentiment"]


def test_gateway_api_without_parent_refs_warns(render: Render, helm_bin: str) -> None:
    docs = render({**CANARY_WEIGHTED, "traffic": {"mode": "gateway-api"}})
    assert "parentRefs" not in docs.get("HTTPRoute", "sentiment")["spec"]
    result = run_helm(helm_bin, "install", "sentiment", str(CHART), "--dry-run=client",
                      values={"traffic": {"mode": "gateway-api"}})
    assert "WARNING: traffic.gatewayApi.parentRefs is empty" in result.stdout


def test_nginx_stable_ingress_reaches_stables_own_service(render: Render) -> None:
    """As the gateway route: after a canary the stable Ingress must not reach the main
    Service, whose selector also catches the canary pods while they stop."""
    nginx = {"mode": "nginx"}
    for values in ({"traffic": nginx},
                   {**CANARY_WEIGHTED, "canary": {"enabled": False}, "traffic": nginx}):
        backend = render(values).get("Ingress", "sentiment")["spec"]["rules"][0]["http"][
            "paths"][0]["backend"]
        assert backend["service"]["name"] == "sentiment-stable"
    colours = render({**BLUE_GREEN, "traffic": nginx})
    assert colours.get("Ingress", "sentiment")["spec"]["rules"][0]["http"]["paths"][0][
        "backend"]["service"]["name"] == "sentiment"


def test_nginx_canary_ingress_annotations(render: Render) -> None:
    docs = render(scenario="canary-nginx")
    main, canary = docs.get("Ingress", "sentiment"), docs.get("Ingress", "sentiment-canary")
    assert "annotations" not in main["metadata"]
    assert main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "sentiment-stable")
    notes = canary["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/canary"] == "true"
    assert notes["nginx.ingress.kubernetes.io/canary-weight"] == "25"
    assert notes["nginx.ingress.kubernetes.io/canary-by-header"] == "X-Model-Canary"
    assert notes["nginx.ingress.kubernetes.io/canary-by-header-value"] == "always"
    assert canary["spec"]["rules"][0]["host"] == "sentiment.example.com"
    assert canary["spec"]["ingressClassName"] == "nginx"


@pytest.mark.parametrize(("header", "name", "value"), [
    ("X-AB", "X-AB", "always"), ("X-AB=beta", "X-AB", "beta"), ("X-AB: beta", "X-AB", "beta"),
    ({"name": "X-AB", "value": "b"}, "X-AB", "b"), ({"name": "X-AB"}, "X-AB", "always")])
def test_header_forms(render: Render, header: Any, name: str, value: str) -> None:
    docs = render({**CANARY_WEIGHTED, "traffic": {"mode": "nginx", "header": header}})
    notes = docs.get("Ingress", "sentiment-canary")["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/canary-by-header"] == name
    assert notes["nginx.ingress.kubernetes.io/canary-by-header-value"] == value


def test_no_header_no_match(render: Render) -> None:
    docs = render({**CANARY_WEIGHTED, "traffic": GATEWAY})
    assert len(docs.get("HTTPRoute", "sentiment")["spec"]["rules"]) == 1


# -- selectors and labels ---------------------------------------------------------------------


def selectors(docs: Rendered) -> dict[str, dict[str, str]]:
    out = {}
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Service":
            out[name] = d["spec"]["selector"]
        elif d["kind"] in ("Deployment", "PodDisruptionBudget"):
            out[name] = d["spec"]["selector"]["matchLabels"]
    return out


@pytest.mark.parametrize("scenario", sorted(EXPECTED_OBJECTS))
def test_selectors_never_hold_versions(render: Render, scenario: str) -> None:
    docs = render(scenario=scenario)
    for name, selector in selectors(docs).items():
        assert SELECTOR.items() <= selector.items(), name
        assert set(selector) <= {*SELECTOR, "modelship.io/track", "modelship.io/colour"}, name
    for deploy in docs.kinds("Deployment"):
        labels = deploy["spec"]["template"]["metadata"]["labels"]
        assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert labels["modelship.io/track"] == deploy["metadata"]["name"].rsplit("-", 1)[1]
        assert labels["modelship.io/model-version"] in ("1.0.0", "1.1.0", "2.0.0")
        for key in ("name", "instance", "version", "managed-by", "component", "part-of"):
            assert f"app.kubernetes.io/{key}" in labels


def test_main_service_selects_only_selector_labels_in_canary(render: Render) -> None:
    docs = render(scenario="canary-gateway-api")
    assert docs.get("Service", "sentiment")["spec"]["selector"] == SELECTOR
    assert docs.get("Service", "sentiment-canary")["spec"]["selector"] == {
        **SELECTOR, "modelship.io/track": "canary"}


def test_image_upgrade_keeps_every_selector(render: Render) -> None:
    before = render(scenario="canary-replicas")
    after = render(scenario="canary-replicas", values={
        "stable": {"image": f"registry.example.com/models/sentiment@{DIGEST}"},
        "canary": {"image": "registry.example.com/models/sentiment:2.0.0"}})
    assert selectors(before) == selectors(after)
    canary = after.get("Deployment", "sentiment-canary")
    assert canary["spec"]["template"]["metadata"]["labels"][
        "modelship.io/model-version"] == "2.0.0"
    stable = after.get("Deployment", "sentiment-stable")
    assert stable["spec"]["template"]["metadata"]["labels"][
        "modelship.io/model-version"] == "ab12ab12ab12"


@pytest.mark.parametrize(("image", "version", "label"), [
    (IMAGE_A, "", "1.0.0"),
    (f"registry.example.com/m@{DIGEST}", "", "ab12ab12ab12"),
    (f"localhost:5000/m:v2@{DIGEST}", "", "v2"),
    ("localhost:5000/m:latest", "1.2.3+build.7", "1.2.3-build.7"),
])
def test_model_version_label(render: Render, image: str, version: str, label: str) -> None:
    docs = render({"stable": {"image": image, "version": version}})
    deploy = docs.get("Deployment", "sentiment-stable")
    assert deploy["metadata"]["labels"]["modelship.io/model-version"] == label
    assert deploy["spec"]["template"]["metadata"]["annotations"]["modelship.io/image"] == image
    env = {e["name"]: e.get("value") for e in pod_spec(docs, "sentiment-stable")[
        "containers"][0]["env"]}
    assert env["MODEL_VERSION"] == label


# -- blue-green -------------------------------------------------------------------------------


def test_blue_green_services_select_colours(render: Render) -> None:
    docs = render(scenario="blue-green")
    assert docs.get("Service", "sentiment")["spec"]["selector"] == {
        **SELECTOR, "modelship.io/colour": "blue"}
    assert docs.get("Service", "sentiment-preview")["spec"]["selector"] == {
        **SELECTOR, "modelship.io/colour": "green"}
    assert replicas(docs, "sentiment-blue") == replicas(docs, "sentiment-green") == 2


def test_switching_active_changes_only_service_selectors(render: Render) -> None:
    blue = render(scenario="blue-green")
    green = render(scenario="blue-green", values={"blueGreen": {"active": "green"}})
    changed = [f"{a['kind']}/{a['metadata']['name']}" for a, b in zip(blue, green, strict=True)
               if a != b]
    # the preview Service follows the idle colour; nothing else changes (no pod restarts)
    assert changed == ["Service/sentiment", "Service/sentiment-preview"]
    assert green.get("Service", "sentiment")["spec"]["selector"][
        "modelship.io/colour"] == "green"
    without_preview = {"blueGreen": {"preview": False}}
    assert [a for a, b in zip(render(scenario="blue-green", values=without_preview),
                              render(scenario="blue-green", values={
                                  "blueGreen": {"preview": False, "active": "green"}}),
                              strict=True) if a != b] == [
        blue.get("Service", "sentiment")]


def test_blue_green_idle_replicas_and_single_colour(render: Render) -> None:
    docs = render({**BLUE_GREEN, "blueGreen": {**BLUE_GREEN["blueGreen"], "idleReplicas": 0}})
    assert replicas(docs, "sentiment-blue") == 2
    assert replicas(docs, "sentiment-green") == 0
    only_blue = render({"strategy": "blue-green", "blueGreen": {"blue": {"image": IMAGE_A}}})
    assert only_blue.names("Deployment") == {"Deployment/sentiment-blue"}


# -- serving basics ---------------------------------------------------------------------------


def test_pod_basics(render: Render) -> None:
    docs = render()
    spec = pod_spec(docs, "sentiment-stable")
    (container,) = spec["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"][
        "periodSeconds"] >= 300
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["terminationGracePeriodSeconds"] == 60
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi",
                                                  "ephemeral-storage": "11Gi"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"tmp": "/tmp", "model-cache": "/models"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["model-cache"]["emptyDir"] == {"sizeLimit": "10Gi"}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert docs.get("Service", "sentiment")["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize(("values", "sleep"), [
    ({}, 5),  # default: routes drain for 5 s before SIGTERM
    ({"terminationGracePeriodSeconds": 3}, 2),  # capped: a second left after SIGTERM
    ({"shutdownDelaySeconds": 0}, None),
    ({"terminationGracePeriodSeconds": 1}, None),
])
def test_stopping_pods_keep_serving_while_routes_drain(render: Render, values: dict[str, Any],
                                                      sleep: int | None) -> None:
    (container,) = pod_spec(render(values), "sentiment-stable")["containers"]
    if sleep is None:
        assert "lifecycle" not in container
    else:
        assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": sleep}}}


def test_model_cache_pvc(render: Render) -> None:
    docs = render({"modelCache": {"type": "pvc", "size": "50Gi"}})
    claim = docs.get("PersistentVolumeClaim", "sentiment-model-cache")
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    volumes = {v["name"]: v for v in pod_spec(docs, "sentiment-stable")["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {
        "claimName": "sentiment-model-cache"}
    existing = render({"modelCache": {"type": "pvc", "existingClaim": "weights"}})
    assert existing.kinds("PersistentVolumeClaim") == []


@pytest.mark.parametrize(("values", "request_", "cache", "tmp"), [
    pytest.param({}, "11Gi", {"sizeLimit": "10Gi"}, {"sizeLimit": "1Gi"}, id="defaults"),
    pytest.param({"modelCache": {"size": "1.5Gi"}}, "2560Mi", {"sizeLimit": "1.5Gi"},
                 {"sizeLimit": "1Gi"}, id="fraction"),
    pytest.param({"modelCache": {"size": "500M"}, "tmpVolume": {"sizeLimit": "100Mi"}},
                 str(500 * 10**6 + 100 * 2**20), {"sizeLimit": "500M"}, {"sizeLimit": "100Mi"},
                 id="decimal-and-binary-units"),
    pytest.param({"modelCache": {"type": "pvc"}}, "1Gi", None, {"sizeLimit": "1Gi"},
                 id="pvc-cache-is-not-ephemeral"),
    pytest.param({"modelCache": {"enabled": False}, "tmpVolume": {"sizeLimit": "512Mi"}},
                 "512Mi", None, {"sizeLimit": "512Mi"}, id="no-cache"),
    pytest.param({"modelCache": {"size": None}}, "1Gi", {}, {"sizeLimit": "1Gi"},
                 id="unlimited-cache"),
    pytest.param({"modelCache": {"size": None}, "tmpVolume": {"sizeLimit": None}}, None, {}, {},
                 id="no-limits-no-request"),
    pytest.param({"tmpVolume": None}, "10Gi", {"sizeLimit": "10Gi"}, {},
                 id="values-of-chart-0.1.0-reused"),  # upgrade --reuse-values: no tmpVolume
    pytest.param({"resources": {"requests": {"ephemeral-storage": "30Gi"}}}, "30Gi",
                 {"sizeLimit": "10Gi"}, {"sizeLimit": "1Gi"}, id="set-by-the-user"),
])
def test_ephemeral_storage_request_covers_the_empty_dir_limits(
        render: Render, values: dict[str, Any], request_: str | None,
        cache: dict[str, str] | None, tmp: dict[str, str]) -> None:
    """The scheduler reserves the disk the pod's emptyDirs may fill: their size limits summed."""
    spec = pod_spec(render(values), "sentiment-stable")
    requests = spec["containers"][0]["resources"]["requests"]
    assert requests.get("ephemeral-storage") == request_
    assert requests["cpu"] == "500m"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["tmp"]["emptyDir"] == tmp
    assert volumes.get("model-cache", {}).get("emptyDir") == cache


def test_liveness_probe_can_use_its_own_path(render: Render) -> None:
    def probes(values: dict[str, Any]) -> dict[str, Any]:
        (container,) = pod_spec(render(values), "sentiment-stable")["containers"]
        return {name: container[f"{name}Probe"] for name in ("startup", "readiness", "liveness")}

    own = probes({"probes": {"liveness": {"path": "/livez", "periodSeconds": 20}}})
    assert own["liveness"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert own["liveness"]["periodSeconds"] == 20
    assert own["liveness"]["failureThreshold"] == 4
    assert "path" not in own["liveness"]  # not a Probe field
    for name in ("startup", "readiness"):
        assert own[name]["httpGet"]["path"] == "/healthz"
    # empty (the default): the health path, wherever serve.health points
    default = probes({"serve": {"health": "/ready"}})
    assert {p["httpGet"]["path"] for p in default.values()} == {"/ready"}


@pytest.mark.parametrize("values", [{}, CANARY_WEIGHTED, BLUE_GREEN, {"gpu": {"count": 1}}],
                         ids=["rolling", "canary", "blue-green", "gpu"])
def test_replicas_spread_softly_across_nodes_by_default(render: Render,
                                                        values: dict[str, Any]) -> None:
    """Each Deployment's pods spread over nodes, counted by that Deployment's own (selector)
    labels; ScheduleAnyway, so a single node still takes them all."""
    deployments = render(values).kinds("Deployment")
    assert deployments
    for deploy in deployments:
        (spread,) = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread == {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                          "whenUnsatisfiable": "ScheduleAnyway",
                          "labelSelector": {"matchLabels": deploy["spec"]["selector"][
                              "matchLabels"]}}


def test_spread_can_be_replaced_or_turned_off(render: Render) -> None:
    assert "topologySpreadConstraints" not in pod_spec(
        render({"topologySpreadConstraints": []}), "sentiment-stable")
    zone = {"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"a": "b"}}}
    spec = pod_spec(render({"topologySpreadConstraints": [zone]}), "sentiment-stable")
    assert spec["topologySpreadConstraints"] == [zone]


def test_config_checksum_changes_with_config(render: Render) -> None:
    def checksum(values: dict[str, Any]) -> str:
        docs = render(values)
        return docs.get("Deployment", "sentiment-stable")["spec"]["template"]["metadata"][
            "annotations"]["checksum/config"]

    assert checksum({"config": {"A": "1"}}) != checksum({"config": {"A": "2"}})
    assert checksum({"config": {"A": "1"}}) == checksum({"config": {"A": "1"}})
    docs = render({"config": {"BATCH": 8}})
    assert docs.get("ConfigMap", "sentiment-config")["data"] == {"BATCH": "8"}
    env_from = pod_spec(docs, "sentiment-stable")["containers"][0]["envFrom"]
    assert env_from == [{"configMapRef": {"name": "sentiment-config"}}]


def test_autoscaling_renders_replicas(render: Render) -> None:
    """With an HPA the Deployment still renders spec.replicas (without it an upgrade drops the
    field and Kubernetes sets 1); `helm template` has no live Deployment to look up, so it is
    autoscaling.minReplicas (the live cases are in tests/integration/chart)."""
    docs = render(scenario="autoscaling")
    hpa = docs.get("HorizontalPodAutoscaler", "sentiment-stable")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "sentiment-stable"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert replicas(docs, "sentiment-stable") == 2
    docs = render({"stable": {"replicas": 5}, "autoscaling": {"enabled": True, "minReplicas": 3}})
    assert replicas(docs, "sentiment-stable") == 3
    # a promoted canary (canary.enabled false again) is back under its HPA
    docs = render({**CANARY_WEIGHTED, "canary": {"enabled": False},
                   "autoscaling": {"enabled": True, "minReplicas": 4}})
    assert docs.names("HorizontalPodAutoscaler") == {"HorizontalPodAutoscaler/sentiment-stable"}
    assert replicas(docs, "sentiment-stable") == 4
    docs = render({**BLUE_GREEN, "autoscaling": {"enabled": True, "minReplicas": 3}})
    assert replicas(docs, "sentiment-blue") == replicas(docs, "sentiment-green") == 3


# -- GPU --------------------------------------------------------------------------------------


def test_gpu_profile(render: Render) -> None:
    spec = pod_spec(render(scenario="gpu"), "sentiment-stable")
    assert spec["containers"][0]["resources"]["limits"] == {"memory": "8Gi",
                                                             "nvidia.com/gpu": 1}
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"]


def test_gpu_docs_promise_only_what_is_rendered(render: Render) -> None:
    """The GPU profile is the limit, the toleration and the product node selector: no node
    affinity, and the values docs (values.yaml, the README table) say so."""
    spec = pod_spec(render(scenario="gpu"), "sentiment-stable")
    assert "affinity" not in spec
    values = (CHART / "values.yaml").read_text()
    readme = (CHART / "README.md").read_text()
    for text in (values, readme):
        assert "node affinity" not in text.lower()


@pytest.mark.parametrize("scenario", ["rolling", "canary-replicas", "blue-green"])
def test_cpu_profile_has_no_gpu_settings(render: Render, scenario: str) -> None:
    for deploy in render(scenario=scenario).kinds("Deployment"):
        assert "nvidia" not in str(deploy), deploy["metadata"]["name"]


# -- monitoring -------------------------------------------------------------------------------

MONITORING_APIS = ("monitoring.coreos.com/v1/ServiceMonitor",
                   "monitoring.coreos.com/v1/PrometheusRule")


def test_monitoring_off_by_default(render: Render) -> None:
    docs = render(api_versions=MONITORING_APIS)
    assert not docs.kinds("ServiceMonitor")
    assert not docs.kinds("PrometheusRule")
    assert "prometheus.io/scrape" not in docs.get("Deployment", "sentiment-stable")["spec"][
        "template"]["metadata"]["annotations"]
    assert "ConfigMap/sentiment-dashboard" not in docs.names()


def test_monitoring_without_crds_renders_no_operator_objects(render: Render) -> None:
    docs = render({"monitoring": {"enabled": True}})
    assert not docs.kinds("ServiceMonitor")
    assert not docs.kinds("PrometheusRule")
    notes = docs.get("Deployment", "sentiment-stable")["spec"]["template"]["metadata"][
        "annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/port"] == "8080"
    assert notes["prometheus.io/path"] == "/metrics"
    assert "ConfigMap/sentiment-dashboard" in docs.names()


def test_monitoring_with_crds(render: Render) -> None:
    docs = render(scenario="blue-green", values={"monitoring": {"enabled": True}},
                  api_versions=MONITORING_APIS)
    monitor = docs.get("ServiceMonitor", "sentiment")
    metrics = docs.get("Service", "sentiment-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"][
        "labels"].items()
    # the metrics Service covers both colours, the main one only the active colour
    assert metrics["spec"]["selector"] == SELECTOR
    assert {"sourceLabels": ["__meta_kubernetes_pod_label_modelship_io_track"],
            "targetLabel": "track"} in monitor["spec"]["endpoints"][0]["relabelings"]
    rules = docs.get("PrometheusRule", "sentiment")["spec"]["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == ["ModelErrorRateHigh", "ModelLatencyP95High"]
    for rule in rules:
        assert "by (track" in rule["expr"]
        assert 'job="sentiment-metrics"' in rule["expr"]
    assert 'status=~"5.."' in rules[0]["expr"]
    assert "> 0.05" in rules[0]["expr"]
    assert "histogram_quantile(0.95" in rules[1]["expr"]
    assert "model_latency_seconds_bucket" in rules[1]["expr"]


def test_grafana_dashboard(render: Render) -> None:
    import json

    docs = render({"monitoring": {"enabled": True}})
    config_map = docs.get("ConfigMap", "sentiment-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["sentiment.json"])
    titles = [p["title"] for p in dashboard["panels"]]
    assert any("Requests" in t for t in titles)
    assert any("Error" in t for t in titles)
    assert any("p95" in t for t in titles)
    for panel in dashboard["panels"]:
        assert "by (track" in panel["targets"][0]["expr"]
        assert panel["targets"][0]["legendFormat"] == "{{track}}"
    variables = {v["name"]: v.get("query") for v in dashboard["templating"]["list"]}
    assert variables["namespace"] == "models"
    assert variables["job"] == "sentiment-metrics"


# -- helm test hook and notes -----------------------------------------------------------------


def test_helm_test_hook_calls_health(render: Render) -> None:
    pod = render().get("Pod", "sentiment-test-health")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][0] == "wget"
    assert container["command"][-1] == "http://sentiment.models.svc:80/healthz"
    assert pod["spec"]["restartPolicy"] == "Never"
    # pinned: a tag may move, the digest (of the multi-arch index) may not
    assert re.fullmatch(r"busybox:[0-9.]+@sha256:[0-9a-f]{64}", container["image"])
    assert container["resources"]["requests"]["ephemeral-storage"] == "16Mi"


class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys (safe_load keeps the last one)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        duplicates = {k for k in keys if keys.count(k) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_helm_test_hook_has_no_duplicate_keys(helm_bin: str, scenario: str | None) -> None:
    result = run_helm(helm_bin, "template", "sentiment", str(CHART), "--namespace", "models",
                      "--show-only", "templates/tests/test-health.yaml",
                      files=(scenario,) if scenario else ())
    assert result.returncode == 0, result.stderr
    (pod,) = [d for d in yaml.load_all(result.stdout, Loader=StrictLoader) if d]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_no_service_selects_the_helm_test_pod(render: Render, scenario: str | None) -> None:
    docs = render(scenario=scenario, values={"monitoring": {"enabled": True}},
                  api_versions=MONITORING_APIS)
    labels = docs.get("Pod", "sentiment-test-health")["metadata"]["labels"]
    services = docs.kinds("Service")
    assert {"Service/sentiment", "Service/sentiment-metrics"} <= docs.names("Service")
    for service in services:
        selector = service["spec"]["selector"]
        assert not selector.items() <= labels.items(), service["metadata"]["name"]
    assert not SELECTOR.items() & labels.items()


def test_notes_name_the_services(helm_bin: str) -> None:
    result = run_helm(helm_bin, "install", "sentiment", str(CHART), "--dry-run=client",
                      "--namespace", "models", files=("canary-replicas",))
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "sentiment-stable" in notes
    assert "sentiment-canary" in notes
    assert "Canary weight: 25%" in notes
    assert "helm test sentiment --namespace models" in notes


def test_fullname_override_and_long_names(render: Render) -> None:
    docs = render(scenario="blue-green", release="a" * 53)
    for name in docs.names("Service"):
        assert len(name.split("/")[1]) <= 63
    docs = render({"fullnameOverride": "llm"})
    assert "Deployment/llm-stable" in docs.names()


def test_shadow_mirrors_the_route_to_the_canary_while_stable_answers(render: Render) -> None:
    """canary.shadow: the weighted rule gets a RequestMirror filter to the canary Service; the
    clients' answers still come from the backendRefs (stable 100, canary 0)."""
    shadow = {**CANARY_WEIGHTED, "canary": {**CANARY_WEIGHTED["canary"], "weight": 0,
                                            "shadow": True}, "traffic": GATEWAY}
    (rule,) = render(shadow).get("HTTPRoute", "sentiment")["spec"]["rules"]
    assert rule["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "sentiment-canary", "port": 80}}}]
    assert {b["name"]: b["weight"] for b in rule["backendRefs"]} == {
        "sentiment-stable": 100, "sentiment-canary": 0}
    # no shadow, or no canary: no filter
    plain = {**shadow, "canary": {**shadow["canary"], "shadow": False}}
    assert "filters" not in render(plain).get("HTTPRoute", "sentiment")["spec"]["rules"][0]
    off = {**shadow, "canary": {"enabled": False, "shadow": True}}
    assert "filters" not in render(off).get("HTTPRoute", "sentiment")["spec"]["rules"][0]


def test_shadow_through_traefik_puts_a_mirroring_traefik_service_before_stable(
        render: Render) -> None:
    """traffic.gatewayApi.mirror: traefikService: no RequestMirror filter (Traefik's Gateway
    API provider has none); while a canary runs, stable's share goes through a TraefikService
    that answers from stable and, in the shadow step only, mirrors every request to the
    canary. The route points at the same objects in and after the shadow step."""
    traffic = {**GATEWAY, "gatewayApi": {**GATEWAY["gatewayApi"], "mirror": "traefikService"}}
    shadow = {**CANARY_WEIGHTED, "canary": {**CANARY_WEIGHTED["canary"], "weight": 0,
                                            "shadow": True}, "traffic": traffic}
    front = {"group": "traefik.io", "kind": "TraefikService",
             "name": "models-sentiment-stable-mirror@kubernetescrd"}
    docs = render(shadow)
    (rule,) = docs.get("HTTPRoute", "sentiment")["spec"]["rules"]
    assert "filters" not in rule
    assert rule["backendRefs"] == [{**front, "weight": 100},
                                   {"name": "sentiment-canary", "port": 80, "weight": 0}]
    # every request is mirrored to the canary: it gets stable's capacity, not 0 pods
    assert replicas(docs, "sentiment-canary") == replicas(docs, "sentiment-stable") == 4
    mirroring = docs.get("TraefikService", "sentiment-stable-mirror")["spec"]["mirroring"]
    assert mirroring == {"name": "sentiment-stable", "port": 80, "mirrors": [
        {"name": "sentiment-canary", "port": 80, "percent": 100}]}
    # the weighted step after it: the same route objects, nothing mirrored
    weighted = {**shadow, "canary": {**shadow["canary"], "weight": 25, "shadow": False}}
    docs = render(weighted)
    assert docs.get("HTTPRoute", "sentiment")["spec"]["rules"][0]["backendRefs"] == [
        {**front, "weight": 75}, {"name": "sentiment-canary", "port": 80, "weight": 25}]
    assert docs.get("TraefikService", "sentiment-stable-mirror")["spec"]["mirroring"] == {
        "name": "sentiment-stable", "port": 80}
    # no canary: the route still goes through it, so a release never changes what it points to
    idle = {**weighted, "canary": {"enabled": False}}
    docs = render(idle)
    assert docs.get("HTTPRoute", "sentiment")["spec"]["rules"][0]["backendRefs"] == [
        {**front, "weight": 100}]
    assert docs.get("TraefikService", "sentiment-stable-mirror")["spec"]["mirroring"] == {
        "name": "sentiment-stable", "port": 80}
    # the RequestMirror way renders no TraefikService
    plain = {**weighted, "traffic": GATEWAY}
    assert render(plain).kinds("TraefikService") == []


def test_an_unknown_mirror_method_is_refused(refuse: Callable[..., str]) -> None:
    traffic = {**GATEWAY, "gatewayApi": {**GATEWAY["gatewayApi"], "mirror": "istio"}}
    assert "mirror" in refuse({"traffic": traffic})
