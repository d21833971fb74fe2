"""A tiny LLM served by llama-cpp-python's OpenAI-compatible server (a runtime not written
here), configured by serve.protocol openai-chat: each row's prompt becomes a chat request, the
answer text is the prediction, so BLEU and ROUGE judge generated text."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from modelship import config, serving
from modelship.cli import main
from modelship.release.analysis import llm
from modelship.release.analysis.base import Endpoint, StepContext
from modelship.release.analysis.judge import Judge
from modelship.release.analysis.probe import ServeProber
from modelship.release.analysis.settings import ProbeSettings

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


def test_streamed_probes_time_the_tokens_of_llama_cpp(llama_tiny: Served) -> None:
    """The probes ask the real server to stream (`"stream": true`, Server-Sent Events): every
    answer has a time to first token and a token rate, its text is the one the same request
    gets without streaming (greedy decoding), and identical versions pass the LLM checks."""
    cfg = config.load(llama_tiny.project / "modelship.yaml")
    settings = ProbeSettings(llama_tiny.project / "eval/eval.jsonl", rows=4)
    streamed = ServeProber.from_config(settings, cfg, stream=True)
    step = StepContext(release="tiny-llm", namespace="models", environment=None,
                       strategy="canary", step="canary-10", weight=10, interval_seconds=10.0,
                       canary=Endpoint(llama_tiny.url, "2"), stable=Endpoint(llama_tiny.url, "1"))
    outcome = streamed.probe(step, lambda line: None)
    assert outcome.streams is not None
    assert outcome.streams.stable is not None
    timings = [*outcome.streams.canary, *outcome.streams.stable]
    assert len(timings) == 8
    for timing in timings:
        assert timing is not None  # every answer streamed text
        assert timing.ttft_ms > 0
        assert timing.tokens == 32  # serve.max_tokens: the tiny model never stops early
        assert timing.tokens_per_s is not None
        assert timing.tokens_per_s > 0
        assert timing.ttft_ms < 1000 * 30  # within the probe's timeout
    spec = streamed.spec
    with_stream = serving.run(streamed.rows, llama_tiny.url, spec)
    without = serving.run(streamed.rows, llama_tiny.url, dataclasses.replace(spec, stream=False))
    assert [r.prediction for r in with_stream.results] == \
        [r.prediction for r in without.results]
    assert all(r.answer.timing is None for r in without.results)
    judge = Judge([llm.parse("ttft_ms", "stable"), llm.parse("tokens_per_s", "stable")], 0.01)
    judged = llm.observe(judge, outcome)
    assert judged.verdict == "passed", judged.reason
    assert judge.rejected() == []
    timed = judged.evidence["llm"]
    assert timed["fed"] == ["ttft_ms vs stable", "tokens_per_s vs stable"]
    assert timed["canary"]["streamed"] == 4
    assert timed["canary"]["ttft_p95_ms"] >= timed["canary"]["ttft_p50_ms"] > 0
    assert timed["stable"]["tokens_per_s_p50"] > 0
