"""Probe checks from measured answers: agreement with the current version, and the gate's
tolerance semantics on accuracy, error rate and latency against the current version."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.gate.judge import Tolerance
from modelship.release.analysis.probe import ServeProber, VersionProbe, agreement
from modelship.release.analysis.settings import ProbeSettings
from modelship.serving import ServeSpec


def _probe(predictions: list[str | None], references: list[str],
           latency: float = 10.0) -> VersionProbe:
    answered = [p for p in predictions if p is not None]
    correct = sum(p == r for p, r in zip(predictions, references, strict=True))
    return VersionProbe(len(predictions), len(answered), len(references), correct,
                        tuple(latency for _ in answered), tuple(predictions))


REFS = ["pos", "neg", "neu", "pos", "neg", "neu", "pos", "neg", "neu", "pos"]
GOOD = _probe(list(REFS), REFS)


def _prober(agreement_min: float | None = 0.9, tolerances: tuple[Tolerance, ...] = (),
            baseline: dict[str, float] | None = None) -> ServeProber:
    settings = ProbeSettings(Path("eval.jsonl"), 10, agreement_min, False, tolerances)
    return ServeProber(settings, ServeSpec(), [], list(tolerances), baseline)


def test_agreement_counts_rows_the_current_version_answered() -> None:
    new = _probe(["pos", "neg", None, "pos"], ["pos", "neg", "neu", "pos"])
    current = _probe(["pos", "pos", "neu", None], ["pos", "neg", "neu", "pos"])
    assert agreement(new, current) == pytest.approx(1 / 3)  # row 4: current failed, not counted


def test_identical_answers_pass() -> None:
    outcome = _prober(tolerances=(Tolerance("accuracy", 0.02, False),)).judge(GOOD, GOOD)
    assert outcome.verdict == "passed"
    assert outcome.reason == "agreement 100.0%, accuracy 100.0%, 10/10 answered"
    assert outcome.evidence["agreement"] == 1.0
    assert [c["name"] for c in outcome.evidence["checks"]] == ["success", "agreement", "accuracy"]


def test_wrong_answers_without_errors_fail_on_agreement_and_accuracy() -> None:
    wrong = _probe(["neg", "pos", "pos", "pos", "neg", "neg", "neg", "pos", "pos", "pos"], REFS)
    outcome = _prober(tolerances=(Tolerance("accuracy", 0.02, False),)).judge(wrong, GOOD)
    assert outcome.verdict == "failed"
    assert outcome.reason.startswith("agreement 0.3, expected >= 0.9; accuracy 0.3, expected "
                                     ">= 0.98 (current version 1, tolerance 0.02)")
    assert outcome.evidence["canary"]["error_rate"] == 0.0


def test_errors_and_latency_against_the_current_version() -> None:
    flaky = _probe(["pos", "neg", None, "pos", "neg", None, "pos", "neg", "neu", "pos"], REFS,
                   latency=310.0)
    outcome = _prober(agreement_min=None,
                      tolerances=(Tolerance("error_rate", 0.0, False),
                                  Tolerance("latency_p95_ms", 10.0, True))).judge(flaky, GOOD)
    assert outcome.verdict == "failed"
    names = [c["name"] for c in outcome.evidence["checks"] if not c["passed"]]
    assert names == ["error_rate", "latency_p95_ms"]
    assert outcome.reason.endswith("(2 of 10 requests failed)")


def test_without_a_current_version_accuracy_is_held_to_the_gate_baseline() -> None:
    prober = _prober(tolerances=(Tolerance("accuracy", 0.05, False),),
                     baseline={"accuracy": 0.9})
    worse = _probe(["pos", "neg", "neu", "pos", "neg", "neu", "pos", "pos", "pos", "pos"], REFS)
    outcome = prober.judge(worse, None)
    assert outcome.verdict == "failed"
    assert "accuracy 0.8, expected >= 0.85 (gate baseline 0.9, tolerance 0.05)" in \
        outcome.reason
    assert outcome.evidence["agreement"] is None
