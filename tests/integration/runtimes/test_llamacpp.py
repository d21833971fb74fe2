"""A tiny LLM served by llama-cpp-python's OpenAI-compatible server (a runtime not written
here), configured by serve.protocol openai-chat: each row's prompt becomes a chat request, the
answer text is the prediction, so BLEU and ROUGE judge generated text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship.cli import main

from .conftest import Served, llama_project

pytestmark = pytest.mark.integration


def _gate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["gate", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_online_gate_on_llama_cpp_scores_what_the_offline_gate_scores(
        llama_tiny: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(llama_tiny.project / "modelship.yaml")
    code, offline = _gate(capsys, "--config", config)
    assert code == 0, offline
    code, online = _gate(capsys, "--config", config, "--endpoint", llama_tiny.url,
                         "--results", str(tmp_path / "online.jsonl"))
    assert code == 0, online
    assert online["task"] == "generation"
    assert online["online"]["url"] == f"{llama_tiny.url}/v1/chat/completions"
    assert online["online"]["errors"] == 0
    assert online["n"] == offline["n"] == 12
    for metric in ("bleu", "rougeL", "chrf", "exact_match"):
        assert online["metrics"][metric] == pytest.approx(offline["metrics"][metric]), metric
    answers = [json.loads(line)["prediction"]
               for line in (tmp_path / "online.jsonl").read_text().splitlines()]
    assert all(isinstance(a, str) and a.strip() for a in answers)  # generated text


def test_another_model_on_the_same_rows_is_rejected_by_bleu(
        llama_venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The golden answers are the example model's; a model with other weights (seed 2) fails
    the gate on BLEU: the generated text is really compared."""
    other = llama_project(llama_venv, tmp_path / "other", seed=2)
    code, report = _gate(capsys, "--config", str(other / "modelship.yaml"))
    assert code == 1
    assert report["metrics"]["bleu"] < 50


def test_doctor_tells_the_endpoint_speaks_openai(llama_tiny: Served,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json", "--endpoint", llama_tiny.url])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert (result["protocol"], result["models"]) == ("openai-chat", ["tiny"])
