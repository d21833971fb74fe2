"""Helpers for installing helm-chart/ on the test bed's cluster with cluster_env's helm and
kubectl, and for fetching CRDs from their Go modules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from testbed.cluster import nodes
from tests.support.kube import Tools
from tests.unit.chart.chart_render import CHART

# the version the test bed installs for its Gateway (testbed.gateway): never downgrade it
GATEWAY_API = ("sigs.k8s.io/gateway-api", "v1.6.1", "config/crd/standard")
PROMETHEUS_OPERATOR = ("github.com/prometheus-operator/prometheus-operator", "v0.85.0",
                       "example/prometheus-operator-crd")
MONITORING_CRDS = ("monitoring.coreos.com_servicemonitors.yaml",
                   "monitoring.coreos.com_prometheusrules.yaml")
# the test bed's fake nodes only: they are tainted, and the real node would pull the images
FAKE_NODES = {"tolerations": [nodes.FAKE_TOLERATION], "nodeSelector": nodes.FAKE_NODE_SELECTOR}


def install(tools: Tools, release: str, namespace: str, scenario: str | None = None,
            values: dict[str, Any] | None = None, *extra: str,
            command: str = "install", check: bool = True,
            fake_nodes: bool = True) -> subprocess.CompletedProcess[str]:
    """helm install|upgrade RELEASE helm-chart/ -f ci/<scenario>-values.yaml -f <values>
    --wait, in namespace. With fake_nodes the pods go to the KWOK nodes (any image
    reference works there); without, to the real node, which pulls and runs their images."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({**FAKE_NODES, **(values or {})} if fake_nodes else values or {}, f)
    try:
        args = [command, release, str(CHART), "--namespace", namespace,
                "--wait", "--timeout", "180s"]
        if scenario:
            args += ["-f", str(CHART / "ci" / f"{scenario}-values.yaml")]
        return tools.helm(*args, "-f", f.name, *extra, check=check)
    finally:
        os.unlink(f.name)


def module_dir(module: str, version: str) -> Path:
    """The unpacked Go module (downloaded through the Go module proxy once, then cached)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        pytest.fail(f"go is needed to fetch {module}@{version} from the Go module proxy")
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"],
                                cwd=outside_any_module, capture_output=True, text=True,
                                timeout=600, check=False,
                                env={**os.environ, "GOFLAGS": "-mod=mod"})
    if result.returncode != 0:
        pytest.fail(f"go mod download {module}@{version} failed:\n{result.stdout}"
                    f"{result.stderr}")
    return Path(json.loads(result.stdout)["Dir"])


