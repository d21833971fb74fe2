"""Helpers for tests against the test bed's cluster: helm and kubectl from `cluster_env`
(the test bed's builds first on PATH), polling, and throw-away namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Tools:
    env: dict[str, str]
    helm_path: str
    kubectl_path: str

    @classmethod
    def from_cluster_env(cls, cluster_env: dict[str, str]) -> Tools:
        env = {**os.environ, **cluster_env}
        if cluster_env.get("MODELSHIP_TEST_BIN"):  # the test bed's helm and kubectl come first
            env["PATH"] = os.pathsep.join((cluster_env["MODELSHIP_TEST_BIN"],
                                           env.get("PATH", "")))
        found = {}
        for tool in ("helm", "kubectl"):
            path = shutil.which(tool, path=env.get("PATH"))
            if not path:
                pytest.fail(f"{tool} is not on cluster_env's PATH ({env.get('PATH')})")
            found[tool] = path
        return cls(env, found["helm"], found["kubectl"])

    def run(self, argv: list[str], check: bool, timeout: float,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, env=self.env, input=stdin, capture_output=True,
                                text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {result.returncode}:\n"
                        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def helm(self, *args: str, check: bool = True,
             timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return self.run([self.helm_path, *args], check, timeout)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run([self.kubectl_path, *args], check, timeout, stdin)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60,
             interval: float = 0.3) -> Any:
    """Poll until `check()` is truthy and return its value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def create_namespace(api: Any, prefix: str) -> str:
    """A fresh namespace whose default ServiceAccount exists (pods need it)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})

    def has_default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except ApiException:
            return False
        return True

    wait_for(has_default_sa, f"ServiceAccount {name}/default", 30, 0.2)
    return name
