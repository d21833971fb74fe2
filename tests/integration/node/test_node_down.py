"""`down` puts the host back: after the real node ran a pod behind a Service (sandbox, veth,
cgroups, kube-proxy and CNI firewall rules, kubelet's sysctls and fixed paths), stopping it
leaves iptables, sysctls, mounts, routes, cgroups and kubelet's directories as `up` found
them.

The reference is the snapshot `up` took before it changed anything (testbed.node.host). The
node is started again afterwards, so the tests after this one find the test bed whole."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from testbed import node, state
from testbed.node import host
from tests.integration.node.test_real_node import deployment, service
from tests.support.kube import wait_for
from tests.support.real_node import ready_pods

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def without_docker(tables: dict[str, Any]) -> dict[str, Any]:
    """iptables without Docker's chains and the rules that jump to them or name its bridges
    (docker0, br-*, e.g. its MASQUERADE rules): other tests start containers and make
    networks (and Docker edits its rules) while this one runs."""
    def docker(word: str) -> bool:
        return word.startswith(("DOCKER", "docker", "br-"))

    out = {}
    for name, table in tables.items():
        out[name] = {
            "chains": [c for c in table["chains"] if not docker(c)],
            "rules": [r for r in table["rules"]
                      if not docker(r.split()[1]) and not any(docker(w) for w in r.split())],
        }
    return out


def comparable(snap: dict[str, Any]) -> dict[str, Any]:
    return {**snap, "iptables": {k: without_docker(v) for k, v in snap["iptables"].items()}}


def test_down_puts_the_host_back(kube: Any, namespace: str, image: str) -> None:
    run = state.run_dir()
    recorded = node.load(run).get("snapshot")
    if not recorded:
        pytest.skip("the real node of this test bed was not started by this checkout")
    # make the node change what it changes: a pod behind a Service
    labels = {"app": "down-check"}
    client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, deployment("down-check", image, 1, labels))
    client.CoreV1Api(kube).create_namespaced_service(namespace, service("down-check", labels))
    wait_for(lambda: ready_pods(kube, namespace, "app=down-check"), "a ready pod",
             timeout=180, interval=1)
    during = host.snapshot()
    assert during["cgroups"], "kubelet made no pod cgroups: nothing was tested"
    assert any(c.startswith("KUBE-") for c in during["iptables"]["iptables-save"]["nat"][
        "chains"]), "kube-proxy made no chains: nothing was tested"

    try:
        problems = node.stop(run, run / "cluster" / "kubeconfig")
        after = host.snapshot([str(node.node_dir(run))])
    finally:
        # the node again, for the tests after this one; started by `scripts/testbed up` so
        # its daemons are not children of this process
        subprocess.run([str(REPO / "scripts" / "testbed"), "up", "--without", "registry"],
                       check=True, timeout=300)
    assert problems == []
    before, now = comparable(recorded), comparable(after)
    for key in ("sysctls", "paths", "cgroups", "shared_dirs", "mounts", "routes", "iptables"):
        assert now[key] == before[key], key
