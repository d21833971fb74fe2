"""The only module that runs helm: upgrade --install with the bundled chart, history, values,
status and rollback. Argument lists only, never a shell; values go through a file so that no
value is ever parsed by `--set`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship import console
from modelship.errors import InfraError, ModelshipError, UsageError

HISTORY_MAX = 64  # revisions kept per release: the rollback window by revision
_UNREACHABLE = ("kubernetes cluster unreachable", "connection refused", "no such host",
                "i/o timeout", "tls handshake timeout", "the server is currently unable",
                "http2: client connection lost", "connection reset by peer")
_BUSY = "another operation (install/upgrade/rollback) is in progress"


class HelmError(InfraError):
    """helm failed; `output` is what it printed (last lines)."""

    def __init__(self, message: str, output: str = "", *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.output = output


class HelmBusy(HelmError):
    """The release is pending-*: another helm operation runs, or one was killed mid-way."""


class HelmWaitFailed(HelmError):
    """The upgrade was applied but the resources did not become ready in time (or failed)."""


class ClusterUnreachable(HelmError):
    pass


def chart_path() -> Path:
    """The bundled chart: MODELSHIP_CHART (the action image), else helm-chart/ of the checkout."""
    configured = os.environ.get("MODELSHIP_CHART")
    path = Path(configured) if configured else Path(__file__).resolve().parents[3] / "helm-chart"
    if not (path / "Chart.yaml").is_file():
        raise InfraError(f"the modelship chart is not at {path}",
                         hint="set MODELSHIP_CHART to the helm-chart directory")
    return path


def find_helm() -> str:
    found = shutil.which("helm")
    if not found:
        raise InfraError("helm is not on PATH; the release engine runs every change through "
                         "helm", hint="install helm (v3.13+ or v4) or use the modelship action "
                                      "image, which has it")
    return found


@dataclass(frozen=True)
class Revision:
    number: int
    status: str  # deployed | superseded | failed | pending-upgrade | pending-install | ...
    description: str
    updated: str
    app_version: str = ""


class Helm:
    def __init__(self, namespace: str, kube_context: str | None = None,
                 binary: str | None = None) -> None:
        self.namespace = namespace
        self.kube_context = kube_context
        self.binary = binary or find_helm()

    # -- running helm -------------------------------------------------------------------------
    def _argv(self, *args: str) -> list[str]:
        argv = [self.binary, *args, "--namespace", self.namespace]
        if self.kube_context:
            argv += ["--kube-context", self.kube_context]
        return argv

    def run(self, *args: str, timeout: float = 120) -> str:
        argv = self._argv(*args)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as e:
            msg = f"helm {args[0]} did not finish within {timeout:.0f}s"
            raise HelmError(msg, hint="is the cluster reachable?") from e
        except OSError as e:
            raise InfraError(f"cannot run helm ({self.binary}): {e}") from e
        if done.returncode != 0:
            raise _classify(args[0], (done.stderr or done.stdout).strip())
        return done.stdout

    # -- reading ------------------------------------------------------------------------------
    def history(self, release: str) -> list[Revision]:
        """Oldest first; [] when the release does not exist."""
        try:
            out = self.run("history", release, "--max", str(HISTORY_MAX), "--output", "json")
        except HelmError as e:
            if "not found" in str(e).lower():
                return []
            raise
        rows = json.loads(out or "[]")
        return [Revision(int(r["revision"]), str(r.get("status", "")),
                         str(r.get("description", "")), str(r.get("updated", "")),
                         str(r.get("app_version", ""))) for r in rows]

    def values(self, release: str, revision: int | None = None) -> dict[str, Any]:
        args = ["get", "values", release, "--output", "json"]
        if revision is not None:
            args += ["--revision", str(revision)]
        data = json.loads(self.run(*args) or "null")
        return data if isinstance(data, dict) else {}

    # -- changing -----------------------------------------------------------------------------
    def upgrade(self, release: str, values: dict[str, Any], *, timeout: float,
                description: str) -> None:
        """helm upgrade --install with the bundled chart and exactly these values."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="modelship-values-",
                                         delete=False, encoding="utf-8") as f:
            json.dump(values, f)
        try:
            args = ["upgrade", "--install", release, str(chart_path()), "--values", f.name,
                    "--create-namespace", "--history-max", str(HISTORY_MAX),
                    # objects a failed upgrade created would be orphaned: the next upgrade
                    # diffs against the last deployed revision, which never had them
                    "--cleanup-on-fail",
                    "--description", description, "--timeout", f"{int(timeout)}s", "--wait"]
            self.run(*args, timeout=timeout + 120)
        finally:
            os.unlink(f.name)

    def rollback(self, release: str, revision: int, *, timeout: float) -> None:
        args = ["rollback", release, str(revision), "--timeout", f"{int(timeout)}s",
                "--history-max", str(HISTORY_MAX), "--wait"]
        self.run(*args, timeout=timeout + 120)


def _classify(command: str, output: str) -> ModelshipError:
    tail = "\n".join(output.splitlines()[-12:])
    text = tail.lower()
    if _BUSY in text:
        return HelmBusy(f"helm {command}: {tail}", tail)
    if any(marker in text for marker in _UNREACHABLE):
        return ClusterUnreachable(f"helm {command}: the cluster is unreachable: {tail}", tail,
                                  hint="check KUBECONFIG / deploy.kube_context and that the "
                                       "API server is up")
    if "don't meet the specifications of the schema" in text or "values don't meet" in text:
        return UsageError(f"the chart refused the values (deploy.values): {tail}",
                          hint="see helm-chart/README.md, 'Refused values'")
    if ("timed out waiting" in text or "context deadline exceeded" in text
            or "resource not ready" in text or ("not ready" in text and "wait" in text)):
        return HelmWaitFailed(f"helm {command}: resources did not become ready: {tail}", tail)
    console.info(f"helm {command} failed:\n{tail}")
    return HelmError(f"helm {command} failed: {tail}", tail)
