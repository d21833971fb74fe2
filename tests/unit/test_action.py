"""The action's runtime (modelship.action): release inputs become single arguments, the
kubeconfig input becomes a private temp file whose credentials are masked, and mistakes exit 2
without echoing secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelship import action, cli, console

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
KEY_DATA = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="
KUBECONFIG = f"""\
apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster: {{server: "https://127.0.0.1:6443", certificate-authority-data: "Q0EK"}}
users:
  - name: u
    user:
      token: {TOKEN}
      client-key-data: {KEY_DATA}
contexts:
  - name: c
    context: {{cluster: c, user: u}}
current-context: c
"""


@pytest.fixture
def inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("INPUT_"):
            monkeypatch.delenv(key)
    # restored afterwards, whatever the action sets
    for key in ("KUBECONFIG", "MODELSHIP_REGISTRY_USER", "MODELSHIP_REGISTRY_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    def set_inputs(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"INPUT_{name.upper().replace('_', '-')}", value)

    yield set_inputs
    console.forget_secrets()


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch):
    """What the command saw: its argv and its kubeconfig file (cli.main stands in for the
    release command, which another module implements)."""
    record: dict[str, object] = {}

    def fake_main(argv: list[str]) -> int:
        record["argv"] = argv
        path = os.environ.get("KUBECONFIG")
        record["kubeconfig"] = path
        if path and Path(path).exists():
            record["mode"] = stat.S_IMODE(os.stat(path).st_mode)
            record["content"] = Path(path).read_text()
        return 0

    monkeypatch.setattr(cli, "main", fake_main)
    return record


def test_release_inputs_become_one_argument_each(inputs, seen):
    inputs(command="rollback", environment="production", to="--strategy=rolling v1")
    assert action.main() == 0
    assert seen["argv"] == ["rollback", "--environment=production", "--to=--strategy=rolling v1"]


def test_deploy_takes_image_and_strategy(inputs, seen):
    inputs(command="deploy", environment="staging", image="r.example/m@sha256:" + "a" * 64,
           strategy="blue-green", args="--pause-at 25")
    assert action.main() == 0
    assert seen["argv"] == ["deploy", "--environment=staging",
                            "--image=r.example/m@sha256:" + "a" * 64, "--strategy=blue-green",
                            "--pause-at", "25"]


def test_an_input_the_command_does_not_take_exits_2(inputs, seen, capsys):
    inputs(command="gate", environment="production")
    assert action.main() == 2
    assert "input environment: `gate` does not take it" in capsys.readouterr().err
    assert "argv" not in seen


def test_kubeconfig_is_a_private_temp_file_removed_afterwards(inputs, seen, capsys):
    inputs(command="status", environment="production", kubeconfig=KUBECONFIG)
    assert action.main() == 0
    path = Path(str(seen["kubeconfig"]))
    assert seen["mode"] == 0o600
    assert seen["content"] == KUBECONFIG
    assert not path.exists()
    err = capsys.readouterr().err
    assert f"::add-mask::{TOKEN}" in err
    assert f"::add-mask::{KEY_DATA}" in err
    assert "::add-mask::apiVersion" not in err  # not every line, or logs are shredded
    assert console.redact(f"token {TOKEN}") == "token ***"


def test_kubeconfig_that_is_not_yaml_exits_2_without_echoing_it(inputs, seen, capsys):
    secret = "s3cr3t-value-[unclosed"
    inputs(command="status", kubeconfig=f"users: [{{token: {secret}")
    assert action.main() == 2
    err = capsys.readouterr().err
    assert "input kubeconfig: not valid YAML" in err
    assert secret not in err
    assert "argv" not in seen


def test_kubeconfig_file_is_read_from_the_workspace(inputs, seen, tmp_path: Path):
    (tmp_path / "model").mkdir()
    (tmp_path / ".modelship-kubeconfig").write_text(KUBECONFIG)
    inputs(command="status", working_directory="model", kubeconfig_file=".modelship-kubeconfig")
    assert action.main() == 0
    assert seen["kubeconfig"] == str((tmp_path / ".modelship-kubeconfig").resolve())


def test_kubeconfig_file_that_is_missing_exits_2(inputs, seen, capsys):
    inputs(command="status", kubeconfig_file="gha-kubeconfig-missing")
    assert action.main() == 2
    assert "input kubeconfig-file" in capsys.readouterr().err


def test_registry_password_is_masked_before_the_command_runs(inputs, seen, capsys):
    inputs(command="build", registry_username="ci", registry_password="hunter2-registry")
    assert action.main() == 0
    assert "::add-mask::hunter2-registry" in capsys.readouterr().err
    assert os.environ["MODELSHIP_REGISTRY_PASSWORD"] == "hunter2-registry"
