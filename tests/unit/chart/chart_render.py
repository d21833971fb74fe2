"""Rendering helm-chart/ with the real helm CLI: shared by the unit and integration chart tests.

The helm binary is the test bed's (helm 4.3.1 built from its Go module and cached, the same
one `cluster_env` puts on PATH); MODELSHIP_TEST_BIN points at another directory holding helm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm-chart"
SCENARIOS = sorted(p.name.removesuffix("-values.yaml")
                   for p in (CHART / "ci").glob("*-values.yaml"))


def find_helm() -> str:
    """helm from MODELSHIP_TEST_BIN, else the test bed's build, else PATH; fails if none."""
    bin_dir = os.environ.get("MODELSHIP_TEST_BIN")
    if bin_dir and (Path(bin_dir) / "helm").exists():
        return str(Path(bin_dir) / "helm")
    problem = ""
    try:
        from testbed.cluster import build

        return str(build(["helm"])["helm"])
    except RuntimeError as e:  # no Go toolchain: a helm on PATH will do
        problem = str(e)
    found = shutil.which("helm")
    if found:
        return found
    pytest.fail(f"no helm binary: the test bed could not build it ({problem}) and none is on "
                "PATH; install Go >= 1.26 or put helm on PATH / in MODELSHIP_TEST_BIN")


class Rendered(list):
    """The documents of one `helm template`, with lookups by kind and name."""

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self if d["kind"] == kind and d["metadata"]["name"] == name]
        assert found, f"no {kind}/{name} in {self.names()}"
        return found[0]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self if d["kind"] == kind]

    def names(self, kind: str | None = None) -> set[str]:
        return {f"{d['kind']}/{d['metadata']['name']}" for d in self
                if kind is None or d["kind"] == kind}


def run_helm(helm: str, *args: str, values: dict[str, Any] | None = None,
             files: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(values or {}, f)
    try:
        argv = [helm, *args]
        for name in files:
            argv += ["-f", str(CHART / "ci" / f"{name}-values.yaml")]
        argv += ["-f", f.name]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.unlink(f.name)


