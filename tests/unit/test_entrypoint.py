"""entrypoint.py: inputs become arguments, never shell; secrets are masked first."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("action_entrypoint", REPO / "entrypoint.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("INPUT_"):
            monkeypatch.delenv(key)

    def set_inputs(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"INPUT_{name.upper().replace('_', '-')}", value)

    return set_inputs


def test_args_are_split_not_run_by_a_shell(inputs, tmp_path: Path):
    marker = tmp_path / "pwned"
    inputs(command="gate", args=f"--results 'my file.jsonl' $(touch {marker}) ;rm -rf /")
    argv = load_entrypoint().arguments()
    assert argv == ["gate", "--results", "my file.jsonl", "$(touch", f"{marker})", ";rm", "-rf",
                    "/"]
    assert not marker.exists()


def test_default_config_is_passed_only_when_present(inputs, tmp_path: Path):
    inputs(command="doctor", config="modelship.yaml")
    entry = load_entrypoint()
    assert entry.arguments() == ["doctor"]
    (tmp_path / "modelship.yaml").write_text("model: {name: m}\n")
    assert entry.arguments() == ["doctor", "--config", "modelship.yaml"]
    inputs(config="other.yaml")
    assert entry.arguments() == ["doctor", "--config", "other.yaml"]


def test_missing_working_directory_is_a_usage_error(inputs, capsys):
    inputs(command="doctor", working_directory="no/such/dir")
    assert load_entrypoint().main() == 2
    assert "working-directory" in capsys.readouterr().err


def test_password_is_masked_before_the_command_runs(inputs, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("MODELSHIP_REGISTRY_PASSWORD", raising=False)
    inputs(command="nonexistent", registry_username="u", registry_password="hunter2-secret")
    code = load_entrypoint().main()
    out = capsys.readouterr().err
    assert code == 2
    assert out.index("::add-mask::hunter2-secret") < out.index("::error")
    assert sys.modules.get("os").environ["MODELSHIP_REGISTRY_PASSWORD"] == "hunter2-secret"
