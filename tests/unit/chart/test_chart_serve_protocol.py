"""The chart rendered with the values the release engine takes from the resolved serve spec
(serving/chart.py): a runtime named by serve.protocol gets its probes, its startup budget, its
helm test path and its metrics port without any chart value written by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.unit.chart.chart_render import Rendered

from modelship import config, serving
from modelship.serving import chart

Render = Callable[..., Rendered]
MONITORING_APIS = ("monitoring.coreos.com/v1/ServiceMonitor",)


def values_for(tmp_path: Path, serve: str) -> dict[str, Any]:
    path = tmp_path / "modelship.yaml"
    path.write_text(f"serve: {serve}\n", encoding="utf-8")
    return chart.chart_values(serving.ServeSpec.from_config(config.load(path)))


def test_a_v2_runtime_gets_its_probes_startup_budget_and_metrics_port(
        render: Render, tmp_path: Path) -> None:
    values = values_for(tmp_path, "{protocol: v2, model: iris, metrics_port: 8082, "
                                  "startup_timeout: 30m}")
    docs = render({**values, "monitoring": {"enabled": True}}, api_versions=MONITORING_APIS)
    pod = docs.get("Deployment", "sentiment-stable")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 30 * 60
    assert {"name": "metrics", "containerPort": 8082, "protocol": "TCP"} in container["ports"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8082"
    metrics = docs.get("Service", "sentiment-metrics")["spec"]["ports"]
    assert metrics == [{"name": "http", "port": 8082, "targetPort": "metrics",
                        "protocol": "TCP"}]
    assert docs.get("ServiceMonitor", "sentiment")["spec"]["endpoints"][0]["port"] == "http"
    (test,) = docs.get("Pod", "sentiment-test-health")["spec"]["containers"]
    assert test["command"][-1] == "http://sentiment.models.svc:80/v2/health/ready"


def test_without_a_metrics_port_the_serving_port_is_scraped(render: Render,
                                                             tmp_path: Path) -> None:
    values = values_for(tmp_path, "{protocol: bentoml}")
    docs = render({**values, "monitoring": {"enabled": True}})
    pod = docs.get("Deployment", "sentiment-stable")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8080"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert docs.get("Service", "sentiment-metrics")["spec"]["ports"][0]["targetPort"] == "http"
