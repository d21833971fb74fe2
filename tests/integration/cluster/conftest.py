"""Fixtures for tests against the test bed's Kubernetes cluster (or MODELSHIP_TEST_KUBECONFIG's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cluster_env() -> Iterator[dict[str, str]]:
    """KUBECONFIG (and MODELSHIP_TEST_BIN with helm and kubectl) of a running cluster; started
    for this session unless one already runs, and then stopped only if this session started it."""
    from testbed import cluster, state
    from testbed.cluster import control_plane

    run_dir = state.run_dir()
    ours = not os.environ.get(cluster.EXISTING) and not control_plane.running(run_dir)
    env = cluster.up(run_dir)
    yield env
    if ours:
        cluster.down(run_dir)


@pytest.fixture(scope="session")
def tool_env(cluster_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **cluster_env}
    if cluster_env.get("MODELSHIP_TEST_BIN"):
        env["PATH"] = f"{cluster_env['MODELSHIP_TEST_BIN']}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def run_tool(tool_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run helm or kubectl (the built ones first) against the cluster."""
    def run(tool: str, *args: str, check: bool = True,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        path = shutil.which(tool, path=tool_env["PATH"])
        if not path:
            pytest.fail(f"{tool} not found on PATH ({tool_env['PATH']})")
        result = subprocess.run([path, *args], env=tool_env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"{tool} {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout}\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def kube(cluster_env: dict[str, str]) -> Iterator[Any]:
    """A kubernetes ApiClient for the cluster."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=cluster_env["KUBECONFIG"])
    yield api
    api.close()


@pytest.fixture(scope="session")
def new_namespace(kube: Any) -> Iterator[Callable[[str], str]]:
    """make(prefix) -> a fresh namespace whose default ServiceAccount exists (pods need it);
    all are deleted at the end of the session."""
    from kubernetes import client
    from testbed import state

    core = client.CoreV1Api(kube)
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        core.create_namespace({"metadata": {"name": name}})
        made.append(name)
        state.wait_for(lambda: core.read_namespaced_service_account("default", name),
                       f"ServiceAccount {name}/default", timeout=30, interval=0.2)
        return name

    yield make
    for name in made:
        core.delete_namespace(name)


@pytest.fixture
def namespace(new_namespace: Callable[[str], str]) -> str:
    return new_namespace("t")
