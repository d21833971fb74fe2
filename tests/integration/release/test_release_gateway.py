"""Canary analysis with `deploy.analysis.metrics: gateway` on the real test bed: the example
server with no /metrics at all (METRICS_PATH= empty), served through the test bed's Gateway
(Traefik) by an HTTPRoute whose weights the release changes; load is sent to the Gateway, and
the judge reads Traefik's own per-backend metrics for each track, not the app's
counters and latency histogram. A good version is promoted; the flaky one (every fifth
request a 500, +300 ms) is aborted with exit 1, production still answering.

Then a shadow step on the same Gateway: Traefik's Gateway API provider does not list
HTTPRouteRequestMirror among its GatewayClass's supported features, so `deploy` refuses the
RequestMirror filter with exit 2 before the lock or helm, and nothing changes. With
`traffic.gatewayApi.mirror: traefikService` Traefik mirrors through a TraefikService: the
canary's pods count the copies (their own counters, through Prometheus) while every client
answer comes from production; the flaky version is rejected in its shadow step without a
client seeing one of its errors, the good one goes on to the weighted steps."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from testbed import load
from tests.integration.release.conftest import Images, Project, Result
from tests.support.images import build_and_push
from tests.support.kube import wait_for
from tests.support.real_node import answering, service_url

pytestmark = pytest.mark.integration

RPS = 25.0


@pytest.fixture(scope="module")
def quiet_images(variant_images: Images, registry: Any, docker_client: Any) -> Images:
    """1.0.0, 2.0.0 and flaky with no metrics endpoint at all."""
    auth = {"username": registry.user, "password": registry.password}
    digests = dict(variant_images.digests)
    for version in ("1.0.0", "2.0.0", "flaky"):
        quiet = f"{version}-quiet"
        dockerfile = (f"FROM {variant_images.pinned(version)}\nENV METRICS_PATH=\n"
                      f'LABEL org.opencontainers.image.version="{quiet}"\n')
        digests[quiet] = build_and_push(docker_client, variant_images.repository, quiet,
                                        {"Dockerfile": dockerfile}, auth)
    return Images(variant_images.repository, digests)


@pytest.fixture
def gateway_production(real_project: Project, quiet_images: Images,
                       traffic: dict[str, str]) -> tuple[Project, str, dict[str, str]]:
    """1.0.0-quiet serving behind the Gateway; (project, prediction URL, Host header)."""
    real_project.images = quiet_images
    return _behind_the_gateway(real_project, traffic, "gateway", "1.0.0-quiet")


@pytest.fixture
def mirrored_production(real_project: Project, variant_images: Images,
                        traffic: dict[str, str]) -> tuple[Project, str, dict[str, str]]:
    """1.0.0 (with its /metrics) behind the Gateway, shadow steps mirrored by Traefik."""
    real_project.images = variant_images
    return _behind_the_gateway(real_project, traffic, "app", "1.0.0",
                               mirror="traefikService", shadow="15s")


def _behind_the_gateway(proj: Project, traffic: dict[str, str], metrics: str, version: str,
                        **extra: str) -> tuple[Project, str, dict[str, str]]:
    gateway_ns, gateway_name = traffic["MODELSHIP_TEST_GATEWAY_NAME"].split("/")
    host = f"{proj.namespace}-{uuid.uuid4().hex[:6]}.gateway.test"
    proj.config["serve"] = {"port": 8080, "health": "/healthz", "predict": "/predict"}
    route: dict[str, Any] = {"hostnames": [host], "parentRefs": [
        {"name": gateway_name, "namespace": gateway_ns, "sectionName": "http"}]}
    canary: dict[str, Any] = {"steps": [25, 50, 100], "interval": "5s"}
    if "mirror" in extra:
        route["mirror"] = extra["mirror"]
        canary = {"steps": [50, 100], "interval": "5s", "shadow": extra["shadow"]}
    values = {**proj.config["deploy"]["values"],
              "traffic": {"mode": "gateway-api", "gatewayApi": route},
              # the app's own counters: the metrics Service Prometheus discovers
              "monitoring": {"enabled": metrics == "app"}}
    proj.write(values=values, canary=canary, analysis={
        "prometheus": traffic["MODELSHIP_TEST_PROMETHEUS"], "metrics": metrics,
        "alpha": 0.01, "min_requests": 30, "on_inconclusive": "hold", "max_wait": "60s",
        "compare": {"error_rate": "stable", "latency_ms": {"above": 250}}})
    proj.deploy(version)
    url, headers = f"{traffic['MODELSHIP_TEST_GATEWAY']}/predict", {"Host": host}

    def answers() -> bool:
        try:
            return requests.post(url, json={"text": "fine"}, headers=headers,
                                 timeout=5).status_code == 200
        except requests.RequestException:
            return False

    wait_for(lambda: all(answers() for _ in range(5)), "the route answering through the Gateway",
             timeout=60, interval=1)
    return proj, url, headers


def deploy_under_load(proj: Project, url: str, headers: dict[str, str], version: str, *,
                      check: int, label: str) -> tuple[Result, load.Sent]:
    """`modelship deploy --json` of `version` while RPS requests a second go through the
    Gateway; prints the outcome and what the clients got."""
    with load.Load(url, rps=RPS, seconds=240, headers=headers).running() as sent:
        run = proj.run("deploy", "--json", "--image", proj.images.ref(version), timeout=300,
                       check=check)
    print(f"{label}: {run.json['outcome']} in {run.seconds:.1f}s; load {sent.line()}")
    return run, sent


def test_the_app_exports_nothing_and_prometheus_has_none_of_its_series(
        gateway_production: tuple[Project, str, dict[str, str]], kube: Any,
        traffic: dict[str, str]) -> None:
    proj, _, _ = gateway_production
    stable = service_url(kube, proj.namespace, "sentiment-stable")
    answering(stable)  # kube-proxy programs the Service a moment after the API shows it
    metrics = requests.get(stable + "/metrics", timeout=10)
    assert metrics.status_code == 404, metrics.text[:200]
    found = requests.get(f"{traffic['MODELSHIP_TEST_PROMETHEUS']}/api/v1/query", params={
        "query": f'count({{namespace="{proj.namespace}"}})'}, timeout=10).json()
    assert found["data"]["result"] == [], found


def test_gateway_metrics_promote_the_good_version_and_abort_the_flaky_one(
        gateway_production: tuple[Project, str, dict[str, str]], tmp_path: Path) -> None:
    proj, url, headers = gateway_production
    good, sent = deploy_under_load(proj, url, headers, "2.0.0-quiet", check=0,
                                  label="\ngateway good")
    data = good.json
    assert data["outcome"] == "promoted", good.err[-3000:]
    first = data["steps"][0]
    assert (first["name"], first["verdict"]) == ("canary-25", "passed"), first
    tracks = first["evidence"]["tracks"]
    assert first["evidence"]["decided_by"] == "traffic"
    assert tracks["canary"]["requests"] >= 30
    assert tracks["stable"]["requests"] > tracks["canary"]["requests"]
    # the canary's pods were ready before the route gave them a share: no 503 'no available
    # server' (there were 14 of 1,111 before), and the old pods drained
    assert sent.errors == 0, sent.line()
    assert proj.status()["stable"]["version"] == "2.0.0-quiet"

    flaky, sent = deploy_under_load(proj, url, headers, "flaky-quiet", check=1,
                                  label="gateway flaky")
    data = flaky.json
    assert data["outcome"] == "aborted"
    assert [(s["name"], s["verdict"]) for s in data["steps"]] == [("canary-25", "failed")]
    evidence = data["steps"][0]["evidence"]
    assert evidence["decided_by"] == "traffic"
    rejected = [c for c in evidence["checks"] if c["rejected"]]
    assert rejected, evidence["checks"]
    assert all(c["canary_rate"] > (c["stable_rate"] or 0.0) for c in rejected)
    status = proj.status()
    assert status["stable"]["version"] == "2.0.0-quiet"
    assert status["canary"] is None
    codes = [requests.post(url, json={"text": "fine"}, headers=headers, timeout=5).status_code
             for _ in range(20)]
    assert codes == [200] * 20  # production answers, the flaky pods are gone


def test_a_shadow_step_on_a_gateway_that_cannot_mirror_is_refused_before_any_change(
        gateway_production: tuple[Project, str, dict[str, str]], tools: Any) -> None:
    proj, _, _ = gateway_production
    revisions = tools.helm("history", proj.release, "--namespace", proj.namespace,
                           "--output", "json").stdout
    proj.write(canary={"steps": [25, 50, 100], "interval": "5s", "shadow": "30s"})
    refused = proj.run("deploy", "--image", proj.images.ref("2.0.0-quiet"), check=2)
    assert "deploy.canary.shadow" in refused.err
    assert "HTTPRouteRequestMirror" in refused.err
    assert "traefik.io/gateway-controller" in refused.err
    assert "Traceback" not in refused.err
    assert tools.helm("history", proj.release, "--namespace", proj.namespace,
                      "--output", "json").stdout == revisions
    assert proj.status()["stable"]["version"] == "1.0.0-quiet"


def test_a_shadow_step_mirrored_by_traefik_judges_the_canary_on_copies_clients_never_see(
        mirrored_production: tuple[Project, str, dict[str, str]]) -> None:
    proj, url, headers = mirrored_production
    flaky, sent = deploy_under_load(proj, url, headers, "flaky", check=1,
                                  label="\nshadow flaky")
    data = flaky.json
    assert data["outcome"] == "aborted"
    assert [(s["name"], s["verdict"]) for s in data["steps"]] == [("shadow", "failed")]
    evidence = data["steps"][0]["evidence"]
    tracks = evidence["tracks"]
    print(f"shadow flaky tracks: {tracks}")
    # the canary's own counters saw the mirrored copies (the canary has weight 0; the judge
    # may reject after a few of them) ...
    assert tracks["canary"]["requests"] >= 5, tracks
    assert tracks["canary"]["errors"] > 0, tracks
    rejected = [c for c in evidence["checks"] if c["rejected"]]
    assert rejected, evidence["checks"]
    # ... while every client answer came from production (no 5xx, and no 404 from a route
    # whose mirroring service was not built yet)
    assert sent.total >= 50, sent.line()
    assert set(sent.statuses) == {200}, sent.line()
    assert not sent.failures, sent.line()
    status = proj.status()
    assert status["stable"]["version"] == "1.0.0"
    assert status["canary"] is None

    good, sent = deploy_under_load(proj, url, headers, "2.0.0", check=0,
                                  label="shadow good")
    data = good.json
    assert data["outcome"] == "promoted", good.err[-3000:]
    steps = [(s["name"], s["verdict"]) for s in data["steps"]]
    assert steps[:3] == [("shadow", "passed"), ("canary-50", "passed"),
                         ("canary-100", "passed")], steps
    shadow_tracks = data["steps"][0]["evidence"]["tracks"]
    assert shadow_tracks["canary"]["requests"] >= 30, shadow_tracks
    assert set(sent.statuses) == {200}, sent.line()
    assert proj.status()["stable"]["version"] == "2.0.0"
