"""The iris example served by MLServer (Open Inference Protocol V2), a runtime not written here:
configured only by serve.protocol, serve.model and serve.command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from modelship import config, serving
from modelship.cli import main

from .conftest import Served

pytestmark = pytest.mark.integration


def _gate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["gate", "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_online_gate_on_mlserver_scores_what_the_offline_gate_scores(
        mlserver_iris: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(mlserver_iris.project / "modelship.yaml")
    code, offline = _gate(capsys, "--config", config)
    assert code == 0, offline
    code, online = _gate(capsys, "--config", config, "--endpoint", mlserver_iris.url,
                         "--results", str(tmp_path / "online.jsonl"))
    assert code == 0, online
    assert online["n"] == offline["n"] == 60
    assert online["metrics"]["accuracy"] == offline["metrics"]["accuracy"] > 0.85
    assert online["online"]["url"] == f"{mlserver_iris.url}/v2/models/iris/infer"
    assert online["online"]["errors"] == 0
    rows = [json.loads(line) for line in (tmp_path / "online.jsonl").read_text().splitlines()]
    assert {r["prediction"] for r in rows} == {"setosa", "versicolor", "virginica"}


def test_mlserver_counts_requests_on_its_metrics_port(mlserver_iris: Served) -> None:
    """serve.metrics_port: MLServer's metrics are on a port of their own (the chart scrapes
    it); a request sent through the serve contract shows up there."""
    cfg = config.load(mlserver_iris.project / "modelship.yaml")
    spec = serving.ServeSpec.from_config(cfg)
    assert spec.metrics_port == 8082  # the example's; the test server runs on a free port
    rows = serving.load_rows(mlserver_iris.project / "eval/eval.jsonl", limit=1)

    def served() -> float:
        text = requests.get(mlserver_iris.metrics_url, timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("model_infer_request_success_total{")
                   and 'model="iris"' in line)

    before = served()
    run = serving.run(rows, mlserver_iris.url, spec)
    assert run.failures.total == 0
    assert run.results[0].prediction == rows[0].reference
    assert served() == before + 1


def test_a_v2_server_configured_as_openai_chat_fails_in_one_line(
        mlserver_iris: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "eval.jsonl").write_text(
        "".join(json.dumps({"prompt": f"Say {i}", "reference": str(i)}) + "\n"
                for i in range(3)))
    config = tmp_path / "modelship.yaml"
    config.write_text("gate: {task: generation, thresholds: {bleu: '>= 10'}, "
                      "online: {eval_set: eval.jsonl}}\nserve: {protocol: openai-chat}\n")
    code = main(["gate", "--config", str(config), "--endpoint", mlserver_iris.url,
                 "--results", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: 3/3 requests failed: serve.protocol openai-chat: POST "
        f"{mlserver_iris.url}/v1/chat/completions answered HTTP 404: "
        '{"detail":"Not Found"} — serve.protocol openai-chat expects '
        '{"choices": [{"message": {"content": TEXT}}]}']


def test_doctor_tells_the_endpoint_speaks_v2_and_names_the_model(
        mlserver_iris: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json", "--endpoint", mlserver_iris.url])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert result["protocol"] == "v2"
    assert result["models"] == ["iris"]


@pytest.mark.parametrize(("edit", "words"), [
    pytest.param({"model": "irsi"}, ["POST {url}/v2/models/irsi/infer answered HTTP 404:",
                                     '{"error":"Model irsi not found"}',
                                     "is serve.model 'irsi' a model the server serves?"],
                 id="wrong-model-name"),
    pytest.param({"features": 3}, ["answered HTTP 500: ValueError: X has 3 features, but "
                                   "StandardScaler is expecting 4 features as input."],
                 id="rows-the-model-refuses"),
])
def test_v2_errors_name_the_protocol_and_show_the_servers_error_text(
        mlserver_iris: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        edit: dict, words: list[str]) -> None:
    width = edit.get("features", 4)
    (tmp_path / "eval.jsonl").write_text("".join(
        json.dumps({"features": [1.0 + i] * width, "reference": "setosa"}) + "\n"
        for i in range(2)))
    config_file = tmp_path / "modelship.yaml"
    config_file.write_text(
        "gate: {thresholds: {accuracy: '>= 0.5'}, online: {eval_set: eval.jsonl, retries: 0}}\n"
        f"serve: {{protocol: v2, model: {edit.get('model', 'iris')}}}\n")
    code = main(["gate", "--config", str(config_file), "--endpoint", mlserver_iris.url,
                 "--results", str(tmp_path / "r.jsonl")])
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error: ")]
    assert code == 1
    assert len(errors) == 1
    assert errors[0].startswith("error: 2/2 requests failed: serve.protocol v2: POST ")
    for word in words:
        assert word.replace("{url}", mlserver_iris.url) in errors[0]
