"""`modelship doctor` against the real test bed: what is there, what is missing, exit codes."""

from __future__ import annotations

import gc
import json

import pytest

from modelship import cli

pytestmark = pytest.mark.integration


def run_doctor(argv: list[str], capsys) -> tuple[int, dict]:
    code = cli.main(["doctor", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def by_name(result: dict) -> dict[str, dict]:
    return {c["name"]: c for c in result["checks"]}


def test_doctor_sees_docker_and_logs_in_to_the_registry(registry, monkeypatch, capsys):
    monkeypatch.setenv("MODELSHIP_REGISTRY_USER", registry.user)
    monkeypatch.setenv("MODELSHIP_REGISTRY_PASSWORD", registry.password)
    code, result = run_doctor(["--registry", registry.host], capsys)
    checks = by_name(result)
    assert code == 0, result
    assert checks["docker"]["ok"]
    assert "API 1." in checks["docker"]["detail"]
    assert checks["registry"]["ok"]
    assert registry.password not in json.dumps(result)


def test_doctor_exits_3_naming_a_refused_registry_login(registry, monkeypatch, capsys):
    monkeypatch.setenv("MODELSHIP_REGISTRY_USER", registry.user)
    monkeypatch.setenv("MODELSHIP_REGISTRY_PASSWORD", "wrong-password-123")
    code, result = run_doctor(["--registry", registry.host], capsys)
    assert code == 3
    assert not by_name(result)["registry"]["ok"]
    assert "login refused" in by_name(result)["registry"]["detail"]


# docker-py leaks its socket when the engine cannot be reached while the client is constructed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_doctor_exits_3_when_the_docker_engine_is_unreachable(testbed_env, monkeypatch, tmp_path,
                                                              capsys):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    code = cli.main(["doctor"])
    captured = capsys.readouterr()
    assert code == 3
    assert "missing: docker" in captured.out
    assert "start the Docker engine" in captured.out
    gc.collect()  # let the leaked socket's warning surface here, where it is filtered


def test_registry_from_config_makes_it_required(testbed_env, tmp_path, monkeypatch, capsys):
    config = tmp_path / "modelship.yaml"
    config.write_text("image:\n  repository: localhost:1/team/model\n")
    monkeypatch.setenv("MODELSHIP_REGISTRY_USER", "u")
    monkeypatch.setenv("MODELSHIP_REGISTRY_PASSWORD", "p4ssword")
    code, result = run_doctor(["--config", str(config)], capsys)
    assert code == 3
    assert by_name(result)["registry"]["required"]
    assert "localhost:1" in by_name(result)["registry"]["detail"]
