"""A real Kubernetes control plane for the test bed, built from Go modules.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok run as local
processes on 127.0.0.1; kwok plays the kubelets of five fake nodes (three CPU nodes, two
with `nvidia.com/gpu: 4`, all tainted so only pods that tolerate it land there), so
scheduling, controllers, Services, EndpointSlices, Leases and helm are all real at scale.
After the control plane come the traffic parts: a real node (testbed.node) where pods run
their images, Prometheus scraping them (testbed.prometheus) and a Gateway API implementation
(testbed.gateway). The binaries (and helm and kubectl) are built once from the Go module
proxy through the wrapper modules in go/ and cached by version.

MODELSHIP_TESTBED_REAL_NODE=0 leaves out the node, Prometheus and the Gateway (a host runs
one real node at most).

Set MODELSHIP_TEST_KUBECONFIG to a kubeconfig to use an existing cluster (kind, ...)
instead: nothing is built or started then.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from testbed import gateway, node, prometheus, state
from testbed.cluster import certs, control_plane
from testbed.cluster.builder import build
from testbed.node import config as node_config

EXISTING = "MODELSHIP_TEST_KUBECONFIG"
REAL_NODE = "MODELSHIP_TESTBED_REAL_NODE"

__all__ = ["build", "down", "trust_registry", "up"]


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """One up/down at a time per run_dir, across processes (a pytest session and a person
    running `scripts/testbed up` must not start two clusters)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "cluster.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _with_traffic() -> bool:
    return os.environ.get(REAL_NODE, "1").lower() not in ("0", "false", "no", "off")


def _traffic_file(run_dir: Path) -> Path:
    return run_dir / "traffic.json"


def _traffic(run_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_traffic_file(run_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data


def _save_traffic(run_dir: Path, current: dict[str, Any]) -> None:
    _traffic_file(run_dir).write_text(json.dumps(current, indent=2))


def _traffic_running(run_dir: Path) -> bool:
    if not _with_traffic():
        return True
    current = _traffic(run_dir)
    return (node.running(run_dir) and prometheus.running(current.get("prometheus", {}))
            and gateway.running(current.get("gateway", {})))


def traffic_rss_bytes(run_dir: Path) -> dict[str, int]:
    """Resident memory of Prometheus and Traefik."""
    out = {}
    for name, part in (("prometheus", "prometheus"), ("traefik", "gateway")):
        pid = _traffic(run_dir).get(part, {}).get("pid")
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = int(line.split()[1]) * 1024
    return out


def env_of(run_dir: Path) -> dict[str, str]:
    out = control_plane.env_of(run_dir)
    current = _traffic(run_dir)
    if current.get("prometheus"):
        out["MODELSHIP_TEST_PROMETHEUS"] = prometheus.url(current["prometheus"])
    if current.get("gateway"):
        out.update(gateway.env(current["gateway"]))
    return out


def _start_traffic(run_dir: Path, binaries: dict[str, Path], registry_host: str | None) -> None:
    """The real node, then the Gateway and Prometheus (both reach pods on the node;
    Prometheus also scrapes the Gateway's metrics)."""
    directory = control_plane.cluster_dir(run_dir)
    kubeconfig = directory / "kubeconfig"
    node.up(run_dir, binaries, kubeconfig, certs.ensure(directory / "pki"), registry_host)
    current = _traffic(run_dir)
    current["gateway"] = gateway.up(run_dir, binaries["traefik"], binaries["kubectl"],
                                    kubeconfig, current.get("gateway", {}))
    _save_traffic(run_dir, current)
    current["prometheus"] = prometheus.up(run_dir, binaries["prometheus"], kubeconfig,
                                          node_config.NODE_NAME, current.get("prometheus", {}),
                                          gateway.metrics_target(current["gateway"]))
    _save_traffic(run_dir, current)


def another_prometheus(home: Path) -> dict[str, Any]:
    """A second Prometheus like the test bed's (same discovery, labels and scrape interval)
    running under `home`: for a test that stops Prometheus in the middle of a release without
    stopping the shared one. prometheus.url(result) is its URL; prometheus.down(result) stops it."""
    run_dir = state.run_dir()
    binary = _traffic(run_dir).get("prometheus", {}).get("binary")
    if not binary:
        raise RuntimeError("the test bed runs no Prometheus (is its real node up?)")
    kubeconfig = control_plane.cluster_dir(run_dir) / "kubeconfig"
    return prometheus.up(home, Path(binary), kubeconfig, node_config.NODE_NAME, {})


def _stop_traffic(run_dir: Path) -> None:
    current = _traffic(run_dir)
    gateway.down(current.get("gateway", {}))
    prometheus.down(current.get("prometheus", {}))
    _traffic_file(run_dir).unlink(missing_ok=True)
    node.stop(run_dir, control_plane.cluster_dir(run_dir) / "kubeconfig")


def up(run_dir: Path, registry_host: str | None = None) -> dict[str, str]:
    """Start the cluster (or find it running) and return the variables that reach it."""
    existing = os.environ.get(EXISTING)
    if existing:
        if not Path(existing).is_file():
            msg = f"{EXISTING}={existing}: no such kubeconfig file"
            raise RuntimeError(msg)
        return {"KUBECONFIG": existing}
    if control_plane.running(run_dir) and _traffic_running(run_dir):
        trust_registry(run_dir, registry_host)
        return env_of(run_dir)
    # without the traffic parts, only what the control plane runs (and helm, kubectl)
    binaries = build(None if _with_traffic() else [*control_plane.PROCESSES, "helm", "kubectl"])
    with _locked(run_dir):
        if not control_plane.running(run_dir):
            _stop_traffic(run_dir)
            _start_control_plane(run_dir, binaries)
        if not _traffic_running(run_dir):
            try:
                _start_traffic(run_dir, binaries, registry_host)
            except BaseException:
                _stop_traffic(run_dir)
                raise
    return env_of(run_dir)


def trust_registry(run_dir: Path, registry_host: str | None) -> None:
    """Let the real node pull from the test registry (it may come up after the cluster)."""
    if registry_host and _with_traffic() and node.load(run_dir):
        node.trust_registry(run_dir, registry_host)


def _start_control_plane(run_dir: Path, binaries: dict[str, Path]) -> None:
    control_plane.stop(run_dir)  # leftovers of a half-dead earlier run
    try:
        control_plane.start(run_dir, binaries)
        return
    except (RuntimeError, TimeoutError) as first:
        # ports are picked free but bound later, so another program can take one in
        # between; a second start with new ports settles that, a real fault fails again
        control_plane.stop(run_dir)
        state.say(f"cluster start failed, retrying once with new ports: {first}")
    try:
        control_plane.start(run_dir, binaries)
    except BaseException:
        control_plane.stop(run_dir)
        raise


def down(run_dir: Path) -> None:
    """Stop what `up` started in run_dir, the real node first (putting the host back); a
    no-op when nothing runs (or with an existing cluster, which is never ours to stop)."""
    if not control_plane.load(run_dir) and not node.load(run_dir) and not _traffic(run_dir):
        return
    with _locked(run_dir):
        _stop_traffic(run_dir)
        control_plane.stop(run_dir)
