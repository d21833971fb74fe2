"""Fixtures for installing helm-chart/ on the test bed's cluster (KWOK nodes: pods become
Running and Ready without running containers), with the helm and kubectl of `cluster_env`.

CRDs the chart renders against (Gateway API, Prometheus Operator) come from their Go modules
through the Go module proxy at test time (versions pinned in chart_cluster.py) and are
removed again at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.integration.chart.chart_cluster import (
    GATEWAY_API,
    MONITORING_CRDS,
    PROMETHEUS_OPERATOR,
    module_dir,
)
from tests.support.kube import Tools, create_namespace


@pytest.fixture
def namespace(tools: Tools, kube: Any) -> Iterator[str]:
    """A fresh namespace for one test; its releases are uninstalled and it is deleted after."""
    from kubernetes import client

    name = create_namespace(kube, "chart")
    yield name
    releases = json.loads(tools.helm("list", "--namespace", name, "--output",
                                     "json", check=False).stdout or "[]")
    for release in releases:
        tools.helm("uninstall", release["name"], "--namespace", name, "--wait", check=False)
    client.CoreV1Api(kube).delete_namespace(name)


@pytest.fixture(scope="session")
def crds(tools: Tools) -> Iterator[list[str]]:
    """Gateway API (standard channel) and the ServiceMonitor / PrometheusRule CRDs, installed
    for the session; the ones this fixture created are deleted at the end."""
    module, version, directory = GATEWAY_API
    files = sorted((module_dir(module, version) / directory).glob("*.yaml"))
    module, version, directory = PROMETHEUS_OPERATOR
    files += [module_dir(module, version) / directory / name for name in MONITORING_CRDS]
    # v1.6 ships a ValidatingAdmissionPolicy (two documents) beside the CRDs
    names = [d["metadata"]["name"] for f in files for d in yaml.safe_load_all(f.read_text())
             if d and d["kind"] == "CustomResourceDefinition"]
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
