"""Probes through the serve contract against the real example servers: the eval set sent to
the new and the current version; wrong answers without a single HTTP error are caught by
agreement and accuracy, a flaky server by its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from modelship.config import Config
from modelship.release.analysis.base import Endpoint, StepContext
from modelship.release.analysis.canary import CanaryAnalysis
from modelship.release.analysis.factory import from_settings
from modelship.release.analysis.settings import parse

from .conftest import EXAMPLES, NAMESPACE, ModelServer, Prometheus
from .traffic import load

pytestmark = pytest.mark.integration


def _analysis(tmp_path: Path, **probes: Any) -> CanaryAnalysis:
    shutil.copy(EXAMPLES / "sentiment" / "eval" / "eval.jsonl", tmp_path / "eval.jsonl")
    cfg = Config({
        "gate": {"online": {"request": {"text": "{text}"}, "response_field": "label"}},
        "deploy": {"analysis": {"probes": {"eval_set": "eval.jsonl", **probes}}},
    }, file=str(tmp_path / "modelship.yaml"), root=tmp_path)
    made = from_settings(parse(cfg), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    assert made.provider is None  # probes alone: no Prometheus in these tests
    return made


def _step(servers: dict[str, ModelServer], new: str, current: str | None) -> StepContext:
    return StepContext(
        release="sentiment", namespace="models", environment=None, strategy="blue-green",
        step="preview", weight=0, interval_seconds=0.0,
        canary=Endpoint(servers[new].url, "2.0.0"),
        stable=Endpoint(servers[current].url, "1.0.0") if current else None)


def test_the_same_model_passes_on_agreement_and_accuracy(
        tmp_path: Path, servers: dict[str, ModelServer]) -> None:
    analysis = _analysis(tmp_path, agreement=">= 0.9", tolerance={"accuracy": 0.02})
    verdict = analysis.assess(_step(servers, "twin", "stable"), lambda line: None)
    assert verdict.verdict == "passed", verdict
    assert verdict.evidence["decided_by"] == "probes"
    probes = verdict.evidence["probes"]
    assert probes["agreement"] == 1.0
    assert probes["rows"] == 60
    assert probes["canary"]["accuracy"] == probes["stable"]["accuracy"] > 0.8


def test_wrong_answers_without_errors_are_rejected_by_the_probes(
        tmp_path: Path, servers: dict[str, ModelServer]) -> None:
    analysis = _analysis(tmp_path, rows=40, agreement=">= 0.9", tolerance={"accuracy": 0.02})
    verdict = analysis.assess(_step(servers, "bad", "stable"), lambda line: None)
    assert verdict.verdict == "failed"
    assert verdict.evidence["decided_by"] == "probes"
    assert verdict.reason.startswith("probes: agreement ")
    assert "accuracy" in verdict.reason
    probes = verdict.evidence["probes"]
    assert probes["rows"] == 40
    assert probes["canary"]["error_rate"] == 0.0  # every request answered 200
    assert probes["canary"]["accuracy"] < probes["stable"]["accuracy"] - 0.2


def test_a_flaky_server_fails_on_its_error_rate(
        tmp_path: Path, servers: dict[str, ModelServer]) -> None:
    analysis = _analysis(tmp_path, tolerance={"error_rate": 0.05})
    verdict = analysis.assess(_step(servers, "canary", "stable"), lambda line: None)
    assert verdict.verdict == "failed"
    assert "error_rate 0.2, expected <= 0.05" in verdict.reason


def _joined(tmp_path: Path, prometheus: Prometheus) -> CanaryAnalysis:
    shutil.copy(EXAMPLES / "sentiment" / "eval" / "eval.jsonl", tmp_path / "eval.jsonl")
    cfg = Config({
        "gate": {"online": {"request": {"text": "{text}"}, "response_field": "label"}},
        "deploy": {"analysis": {
            "prometheus": prometheus.url, "min_requests": 60, "max_wait": "60s",
            "probes": {"eval_set": "eval.jsonl", "rows": 30, "agreement": ">= 0.9",
                       "tolerance": {"accuracy": 0.02}}}},
    }, file=str(tmp_path / "modelship.yaml"), root=tmp_path)
    made = from_settings(parse(cfg), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    return made


def _canary_step(servers: dict[str, ModelServer], new: str) -> StepContext:
    return StepContext(
        release="sentiment", namespace=NAMESPACE, environment=None, strategy="canary",
        step="canary-50", weight=50, interval_seconds=6.0,
        canary=Endpoint(servers[new].url, "2.0.0"), stable=Endpoint(servers["stable"].url,
                                                                    "1.0.0"),
        labels={"track": new})


def test_one_verdict_joins_traffic_and_probes(
        tmp_path: Path, servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    with load(servers, {"stable": 1, "twin": 1, "bad": 1}, seconds=90):
        good = _joined(tmp_path, prometheus).assess(_canary_step(servers, "twin"),
                                                    lambda line: None)
        bad = _joined(tmp_path, prometheus).assess(_canary_step(servers, "bad"),
                                                   lambda line: None)
    assert good.verdict == "passed", good
    assert good.evidence["decided_by"] == "traffic"
    assert good.reason.startswith("traffic: ")
    assert "; probes: agreement 100.0%" in good.reason
    assert good.evidence["probes"]["agreement"] == 1.0
    assert bad.verdict == "failed", bad
    assert bad.evidence["decided_by"] == "probes"  # no HTTP error: only the answers are wrong
    assert bad.reason.startswith("probes: agreement ")
    json.dumps([good.evidence, bad.evidence], allow_nan=False)
    assert bad.evidence["tracks"]["canary"] is None or \
        bad.evidence["tracks"]["canary"]["errors"] == 0
