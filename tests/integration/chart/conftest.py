"""Fixtures for installing helm-chart/ on the test bed's cluster (KWOK nodes: pods become
Running and Ready without running containers), with the helm and kubectl of `cluster_env`.

CRDs the chart renders against (Gateway API, Prometheus Operator) come from their Go modules
through the Go module proxy at test time (versions pinned in chart_cluster.py) and are
removed again at the end."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.integration.chart.chart_cluster import (
    GATEWAY_API,
    MONITORING_CRDS,
    PROMETHEUS_OPERATOR,
    Tools,
    module_dir,
    wait_for,
)


@pytest.fixture(scope="session")
def tools(cluster_env: dict[str, str]) -> Tools:
    env = {**os.environ, **cluster_env}
    if cluster_env.get("MODELSHIP_TEST_BIN"):  # the test bed's helm and kubectl come first
        env["PATH"] = os.pathsep.join((cluster_env["MODELSHIP_TEST_BIN"], env.get("PATH", "")))
    found = {}
    for tool in ("helm", "kubectl"):
        path = shutil.which(tool, path=env.get("PATH"))
        if not path:
            pytest.fail(f"{tool} is not on cluster_env's PATH ({env.get('PATH')})")
        found[tool] = path
    return Tools(env, found["helm"], found["kubectl"])


@pytest.fixture(scope="session")
def kube(cluster_env: dict[str, str]) -> Iterator[Any]:
    from kubernetes import config

    api = config.new_client_from_config(config_file=cluster_env["KUBECONFIG"])
    yield api
    api.close()


@pytest.fixture
def namespace(tools: Tools, kube: Any) -> Iterator[str]:
    """A fresh namespace for one test; its releases are uninstalled and it is deleted after."""
    from kubernetes import client

    core = client.CoreV1Api(kube)
    name = f"chart-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: _has_default_sa(core, name), f"ServiceAccount {name}/default", 30)
    yield name
    releases = json.loads(tools.helm("list", "--namespace", name, "--output",
                                     "json", check=False).stdout or "[]")
    for release in releases:
        tools.helm("uninstall", release["name"], "--namespace", name, "--wait", check=False)
    core.delete_namespace(name)


def _has_default_sa(core: Any, namespace: str) -> bool:
    from kubernetes.client.rest import ApiException

    try:
        core.read_namespaced_service_account("default", namespace)
    except ApiException:
        return False
    return True


@pytest.fixture(scope="session")
def crds(tools: Tools) -> Iterator[list[str]]:
    """Gateway API (standard channel) and the ServiceMonitor / PrometheusRule CRDs, installed
    for the session; the ones this fixture created are deleted at the end."""
    module, version, directory = GATEWAY_API
    files = sorted((module_dir(module, version) / directory).glob("*.yaml"))
    module, version, directory = PROMETHEUS_OPERATOR
    files += [module_dir(module, version) / directory / name for name in MONITORING_CRDS]
    names = [yaml.safe_load(f.read_text())["metadata"]["name"] for f in files]
    existing = set(tools.kubectl("get", "crd", "--output", "name").stdout.split())
    created = [n for n in names if f"customresourcedefinition.apiextensions.k8s.io/{n}"
               not in existing]
    args = ["apply", "--server-side", "--force-conflicts"]
    for f in files:
        args += ["-f", str(f)]
    tools.kubectl(*args)
    tools.kubectl("wait", "--for", "condition=Established", "--timeout", "60s",
                  *[f"crd/{n}" for n in names])
    yield names
    if created:
        tools.kubectl("delete", "crd", "--wait=false", *created, check=False)
