"""Prometheus for the test bed: built from the Go module proxy with Kubernetes discovery
(Debian's package has it removed), run on 127.0.0.1, finding the model pods through the
API server and labelling their series as the chart's ServiceMonitor does under the
Prometheus Operator.

The chart renders a headless `<release>-metrics` Service (label modelship.io/metrics=true)
over every pod of every track, and a ServiceMonitor over it; this scrape job is that
ServiceMonitor by hand: endpoint slices of such Services, job = the Service's name, and
namespace, service, pod, container, endpoint, track and model_version labels. Only pods on
the real node are scraped (the fake nodes' pods run nothing). The interval is short (2 s)
so analysis tests see data within seconds. A second job, `gateway`, scrapes the Gateway
implementation's own metrics (Traefik's, per backend Service), as a user's Prometheus scrapes
their ingress or gateway.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from testbed import state

SCRAPE_INTERVAL = "2s"


def _label(name: str) -> str:
    """The meta label Prometheus makes from a Kubernetes label name."""
    return "".join(c if c.isalnum() else "_" for c in name)


def scrape_config(kubeconfig: Path, node_name: str,
                  gateway_target: str | None = None) -> dict[str, Any]:
    pod_label = "__meta_kubernetes_pod_label_"
    relabel: list[dict[str, Any]] = [
        {"action": "keep", "source_labels": ["__meta_kubernetes_service_label_"
                                             + _label("modelship.io/metrics")],
         "regex": "true"},
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpointslice_port_name"],
         "regex": "http"},
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_node_name"],
         "regex": node_name},
        # the ServiceMonitor's `path` is the chart's serve.metrics, also on the pod
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
         "regex": "(.+)", "target_label": "__metrics_path__"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"],
         "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_endpointslice_port_name"],
         "target_label": "endpoint"},
        # the chart's ServiceMonitor relabelings (helm-chart/templates/monitoring.yaml)
        {"source_labels": [pod_label + _label("modelship.io/track")], "target_label": "track"},
        {"source_labels": [pod_label + _label("modelship.io/model-version")],
         "target_label": "model_version"},
    ]
    jobs: list[dict[str, Any]] = [{
        "job_name": "modelship-servicemonitor",
        "kubernetes_sd_configs": [{"role": "endpointslice", "kubeconfig_file": str(kubeconfig)}],
        "relabel_configs": relabel,
    }]
    if gateway_target:
        jobs.append({"job_name": "gateway", "static_configs": [{"targets": [gateway_target]}]})
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL,
                   "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": jobs,
    }


def _ready(port: int) -> bool:
    return state.local_http_ok(port, "/-/ready")


def running(current: dict[str, Any]) -> bool:
    if not state.recorded_daemon_runs(current):
        return False
    try:
        return _ready(current["port"])
    except requests.RequestException:
        return False


def url(current: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{current['port']}"


def up(run_dir: Path, binary: Path, kubeconfig: Path, node_name: str,
       current: dict[str, Any], gateway_target: str | None = None) -> dict[str, Any]:
    if running(current) and current.get("gateway_target") == gateway_target:
        return current
    down(current)
    home = run_dir / "prometheus"
    shutil.rmtree(home, ignore_errors=True)  # every start is a fresh TSDB
    home.mkdir(parents=True)
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(kubeconfig, node_name, gateway_target),
                                     sort_keys=False))
    port = state.free_port()
    started = time.monotonic()
    log = home / "prometheus.log"
    pid = state.start_daemon([
        str(binary), f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
        "--web.enable-lifecycle", "--log.level=warn"], log)
    result = {"pid": pid, "port": port, "binary": str(binary),
              "gateway_target": gateway_target}
    try:
        state.wait_for(lambda: not state.alive(pid) or _ready(port),
                       f"Prometheus (log: {log})", timeout=60)
        if not state.alive(pid):
            raise RuntimeError(f"prometheus exited; see {log}")
    except BaseException:
        down(result)
        raise
    state.say(f"Prometheus on {url(result)} in {time.monotonic() - started:.1f}s")
    return result


def down(current: dict[str, Any]) -> None:
    if state.recorded_daemon_runs(current):
        state.stop(current.get("pid"))
