"""The chart's PrometheusRule and Grafana dashboard queries, run by Prometheus' own promtool:
the alerts fire for the track that misbehaves and only for it, and every dashboard query
parses. promtool comes with the `prometheus` Debian package the test bed uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_render import CHART, Rendered, find_helm, run_helm

pytestmark = pytest.mark.integration

APIS = ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule")
SERIES = '{namespace="models", job="sentiment-metrics", track="%s"%s}'


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: apt-get install prometheus")
    return found


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    args = ["template", "sentiment", str(CHART), "--namespace", "models"]
    for api in APIS:
        args += ["--api-versions", api]
    result = run_helm(find_helm(), *args, values={"monitoring": {"enabled": True}})
    assert result.returncode == 0, result.stderr
    return Rendered(d for d in yaml.safe_load_all(result.stdout) if d)


def run_promtool(promtool: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)


def test_rules_are_valid(promtool: str, rendered: Rendered, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rendered.get("PrometheusRule", "sentiment")["spec"]))
    result = run_promtool(promtool, tmp_path, "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rules found" in result.stdout


def test_alerts_fire_per_track(promtool: str, rendered: Rendered, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump(rendered.get("PrometheusRule", "sentiment")["spec"]))
    series: list[dict[str, str]] = []

    def counter(track: str, extra: str, per_minute: int) -> None:
        series.append({"series": "http_requests_total" + SERIES % (track, extra),
                       "values": f"0+{per_minute}x20"})

    # stable: 1 % errors, fast; canary: 20 % errors, slow (every request in the 1-2 s bucket)
    counter("stable", ', status="200"', 99)
    counter("stable", ', status="500"', 1)
    counter("canary", ', status="200"', 80)
    counter("canary", ', status="500"', 20)
    for track, buckets in (("stable", {"0.1": 100, "1": 100, "2": 100, "+Inf": 100}),
                           ("canary", {"0.1": 0, "1": 0, "2": 100, "+Inf": 100})):
        for le, per_minute in buckets.items():
            series.append({"series": "model_latency_seconds_bucket" + SERIES % (
                track, f', le="{le}"'), "values": f"0+{per_minute}x20"})
    labels = {"severity": "warning", "release": "sentiment", "track": "canary"}
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "ModelErrorRateHigh", "exp_alerts": [{
                "exp_labels": labels,
                "exp_annotations": {
                    "summary": "sentiment: track canary answers more than 5% of requests "
                               "with 5xx",
                    "description": "Error rate of the canary track of models/sentiment is "
                                   "20%."}}]},
            {"eval_time": "15m", "alertname": "ModelLatencyP95High", "exp_alerts": [{
                "exp_labels": labels,
                "exp_annotations": {
                    "summary": "sentiment: track canary p95 latency above 0.5s",
                    "description": "p95 latency of the canary track of models/sentiment is "
                                   "1.95s."}}]},
            # before `for: 5m` has passed nothing fires
            {"eval_time": "4m", "alertname": "ModelErrorRateHigh", "exp_alerts": []},
        ],
    }]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = run_promtool(promtool, tmp_path, "test", "rules", "tests.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def grafana_to_promql(expr: str, variables: dict[str, str]) -> str:
    """Substitute the dashboard's variables the way Grafana does before it queries."""
    out = expr.replace("$__rate_interval", "5m")
    for name, value in variables.items():
        out = out.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in out, out
    return out


def test_dashboard_queries_parse(promtool: str, rendered: Rendered, tmp_path: Path) -> None:
    dashboard: dict[str, Any] = json.loads(
        rendered.get("ConfigMap", "sentiment-dashboard")["data"]["sentiment.json"])
    variables = {v["name"]: v["query"] for v in dashboard["templating"]["list"]
                 if v["type"] == "constant"}
    assert variables == {"namespace": "models", "job": "sentiment-metrics",
                         "requests": "http_requests_total", "latency": "model_latency_seconds",
                         "status": "status"}
    records = [{"record": f"dashboard:{re.sub(r'[^a-z0-9]+', '_', p['title'].lower())}",
                "expr": grafana_to_promql(p["targets"][0]["expr"], variables)}
               for p in dashboard["panels"]]
    rules = tmp_path / "dashboard.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = run_promtool(promtool, tmp_path, "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_annotations_match_the_service_monitor(rendered: Rendered) -> None:
    monitor = rendered.get("ServiceMonitor", "sentiment")
    notes = rendered.get("Deployment", "sentiment-stable")["spec"]["template"]["metadata"][
        "annotations"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == notes["prometheus.io/path"] == "/metrics"
    service = rendered.get("Service", "sentiment-metrics")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"][0]["port"] == int(notes["prometheus.io/port"])
