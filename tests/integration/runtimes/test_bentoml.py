"""The iris example served by BentoML, a runtime not written here: configured only by
serve.protocol and serve.command. Its API returns the class name as plain text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship.cli import main

from .conftest import Served

pytestmark = pytest.mark.integration


def test_online_gate_on_bentoml_scores_what_the_offline_gate_scores(
        bentoml_iris: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(bentoml_iris.project / "modelship.yaml")
    assert main(["gate", "--json", "--config", config]) == 0
    offline = json.loads(capsys.readouterr().out)
    code = main(["gate", "--json", "--config", config, "--endpoint", bentoml_iris.url,
                 "--results", str(tmp_path / "online.jsonl")])
    online = json.loads(capsys.readouterr().out)
    assert code == 0, online
    assert online["n"] == offline["n"] == 60
    assert online["metrics"]["accuracy"] == offline["metrics"]["accuracy"] > 0.85
    assert online["online"]["url"] == f"{bentoml_iris.url}/predict"
    assert online["online"]["errors"] == 0


def test_doctor_tells_the_endpoint_speaks_bentoml(bentoml_iris: Served,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json", "--endpoint", bentoml_iris.url])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert (result["protocol"], result["models"]) == ("bentoml", ["predict"])
