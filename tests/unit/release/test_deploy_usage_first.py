"""Usage errors in `deploy` exit 2 before any network call: with the registry and the cluster
both unreachable (nothing listens on 127.0.0.1:9), a bad --pause-at or a bad deploy.analysis is
still reported as what it is, not as an infrastructure failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import cli
from modelship.errors import EXIT_USAGE

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
current-context: down
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return tmp_path


def deploy(project: Path, deploy_yaml: str, *extra: str,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = project / "modelship.yaml"
    config.write_text("model: {name: m, version: 2.0.0}\n" + deploy_yaml)
    code = cli.main(["deploy", "--config", str(config), "--image", "127.0.0.1:9/m:2.0.0",
                     *extra])
    return code, capsys.readouterr().err


def test_pause_at_not_a_step_exits_2_offline(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, err = deploy(project, "deploy: {canary: {steps: [10, 25, 50, 100]}}\n",
                       "--pause-at", "30", capsys=capsys)
    assert code == EXIT_USAGE, err
    assert "--pause-at 30" in err
    assert "10, 25, 50, 100" in err


def test_bad_analysis_exits_2_offline(project: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, err = deploy(project, "deploy: {analysis: {alpha: 7}}\n", capsys=capsys)
    assert code == EXIT_USAGE, err
    assert "deploy.analysis.alpha" in err


@pytest.mark.parametrize("command", ["deploy", "status"])
def test_kube_context_not_in_the_kubeconfig_exits_2(project: Path, command: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = project / "modelship.yaml"
    config.write_text("model: {name: m, version: 2.0.0}\n"
                      "deploy: {strategy: rolling}\n"
                      "environments: {prod: {kube_context: prod-east}}\n")
    argv = [command, "--config", str(config), "--environment", "prod"]
    if command == "deploy":
        argv += ["--image", "127.0.0.1:9/m@sha256:" + "a" * 64]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "kube context 'prod-east' is not in the kubeconfig" in err
    assert "its contexts: down" in err
    assert "Traceback" not in err
