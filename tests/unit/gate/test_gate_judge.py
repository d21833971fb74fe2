"""Thresholds, baseline tolerances in each metric's direction, and bootstrap intervals."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from modelship.config import Config
from modelship.errors import ConfigError, UsageError
from modelship.gate import intervals, judge
from modelship.gate import metrics as m


def _cfg(data: dict) -> Config:
    return Config(data, file="modelship.yaml", lines={"gate.thresholds.acuracy": 7})


@pytest.mark.parametrize(("expr", "value", "passed"), [
    pytest.param(">= 0.9", 0.9, True, id="ge-equal"),
    pytest.param("> 0.9", 0.9, False, id="gt-equal"),
    pytest.param("<= 250", 250.0, True, id="le-equal"),
    pytest.param("< 250", 250.0, False, id="lt-equal"),
    pytest.param(">=0.9", 0.89, False, id="ge-below"),
    pytest.param("<1e3", 999.0, True, id="exponent"),
    pytest.param(">= 0.9", 0.8999999999999999, True, id="float-noise"),
    pytest.param("> 0.9", 0.9000000000000001, True, id="strict-is-strict"),
    pytest.param(">= 0.9", 0.8999999, False, id="not-noise"),
])
def test_threshold_operators(expr: str, value: float, passed: bool) -> None:
    # a metric whose range holds every value below (f1_macro <= 250 is now refused)
    thresholds = judge.thresholds_from_config(
        _cfg({"gate": {"thresholds": {"latency_p95_ms": expr}}}))
    [check] = judge.judge({"latency_p95_ms": value}, thresholds, None, {})
    assert check.passed is passed
    assert check.kind == "threshold"
    assert check.name == "latency_p95_ms"


@pytest.mark.parametrize(("name", "bare", "op"), [
    pytest.param("accuracy", 0.9, ">=", id="higher-is-better"),
    pytest.param("latency_p95_ms", 250, "<=", id="lower-is-better"),
    pytest.param("error_rate", "0.01", "<=", id="string-without-op"),
])
def test_a_bare_number_takes_the_metric_direction(name: str, bare: object, op: str) -> None:
    thresholds = judge.thresholds_from_config(_cfg({"gate": {"thresholds": {name: bare}}}))
    assert thresholds[name].op == op


def test_unknown_metric_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        judge.thresholds_from_config(_cfg({"gate": {"thresholds": {"acuracy": ">= 0.9"}}}))
    text = str(caught.value)
    assert "modelship.yaml:7: gate.thresholds.acuracy" in text
    assert "did you mean 'accuracy'?" in text
    with pytest.raises(UsageError, match="did you mean 'latency_p95_ms'"):
        judge.thresholds_from_flags(["latency_p95=<= 3"])


@pytest.mark.parametrize("expr", ["== 0.9", ">= high", "0.9 >=", ">= nan"])
def test_bad_expressions_are_config_errors(expr: str) -> None:
    with pytest.raises(ConfigError, match=r"gate\.thresholds\.accuracy"):
        judge.thresholds_from_config(_cfg({"gate": {"thresholds": {"accuracy": expr}}}))


@pytest.mark.parametrize(("flag", "op", "value"), [
    pytest.param("accuracy='>= 0.9'", ">=", 0.9, id="quoted"),
    pytest.param("accuracy=>= 0.9", ">=", 0.9, id="equals-op"),
    pytest.param("latency_p99_ms<=300", "<=", 300.0, id="no-equals"),
    pytest.param("bleu=30", ">=", 30.0, id="bare"),
])
def test_threshold_flags(flag: str, op: str, value: float) -> None:
    [t] = judge.thresholds_from_flags([flag]).values()
    assert (t.op, t.value) == (op, value)


@pytest.mark.parametrize("flag", ["accuracy", "accuracy=", "accuracy>=", "f1_macro= "])
def test_a_threshold_flag_without_op_and_value_says_what_is_expected(flag: str) -> None:
    with pytest.raises(UsageError) as caught:
        judge.thresholds_from_flags([flag])
    assert "expected METRIC='OP VALUE'" in str(caught.value)
    assert "unknown metric" not in str(caught.value)


def _baseline(tmp_path: Path, metrics: dict[str, float], tolerance: dict | None) -> judge.Baseline:
    cfg = _cfg({"gate": {"baseline": {"tolerance": tolerance}}} if tolerance else {})
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"passed": True, "n": 10, "metrics": metrics, "checks": []}),
                    encoding="utf-8")
    return judge.load_baseline(path, judge.tolerances_from_config(cfg))


@pytest.mark.parametrize(("metric", "base", "value", "tolerance", "passed", "threshold"), [
    pytest.param("accuracy", 0.92, 0.91, 0.01, True, 0.91, id="abs-at-edge"),
    pytest.param("accuracy", 0.92, 0.909, 0.01, False, 0.91, id="abs-below"),
    pytest.param("accuracy", 0.80, 0.77, "5%", True, 0.76, id="pct-higher-better"),
    pytest.param("latency_p95_ms", 200.0, 219.0, "10%", True, 220.0, id="pct-lower-better"),
    pytest.param("latency_p95_ms", 200.0, 221.0, "10%", False, 220.0, id="pct-lower-worse"),
    pytest.param("latency_p95_ms", 200.0, 150.0, 0, True, 200.0, id="faster-is-fine"),
    pytest.param("error_rate", 0.01, 0.02, 0.005, False, 0.015, id="error-rate-up"),
])
def test_baseline_tolerance_in_the_metric_direction(
        tmp_path: Path, metric: str, base: float, value: float, tolerance: object,
        passed: bool, threshold: float) -> None:
    baseline = _baseline(tmp_path, {metric: base}, {metric: tolerance})
    [check] = judge.judge({metric: value}, {}, baseline, {metric: {"low": 0, "high": 1}})
    assert check.kind == "baseline"
    assert check.passed is passed
    assert check.threshold == pytest.approx(threshold)
    assert check.op == (">=" if m.higher_is_better(metric) else "<=")
    assert check.delta == pytest.approx(value - base)


def test_without_tolerances_every_shared_metric_must_not_regress(tmp_path: Path) -> None:
    baseline = _baseline(tmp_path, {"accuracy": 0.9, "f1_macro": 0.8, "bleu": 20.0}, None)
    checks = judge.judge({"accuracy": 0.91, "f1_macro": 0.79}, {}, baseline, {})
    assert [(c.name, c.passed) for c in checks] == [("accuracy", True), ("f1_macro", False)]


def test_an_empty_tolerance_mapping_is_no_tolerance_not_no_comparison(tmp_path: Path) -> None:
    assert judge.tolerances_from_config(
        _cfg({"gate": {"baseline": {"tolerance": {}}}})) is None
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"metrics": {"accuracy": 0.9, "f1_macro": 0.8}}), encoding="utf-8")
    for tolerances in (None, []):
        baseline = judge.load_baseline(path, tolerances)
        checks = judge.judge({"accuracy": 0.91, "f1_macro": 0.79}, {}, baseline, {})
        assert [(c.name, c.passed) for c in checks] == [("accuracy", True),
                                                              ("f1_macro", False)]


def test_a_candidate_equal_to_the_baseline_passes(tmp_path: Path) -> None:
    metrics = {"accuracy": 4 / 7, "f1_weighted": 0.5238095238095238,
               "latency_p95_ms": 27.599999999999994}
    baseline = _baseline(tmp_path, metrics, None)
    checks = judge.judge(metrics, {}, baseline, {})
    assert [c.passed for c in checks] == [True, True, True]
    tolerant = _baseline(tmp_path, metrics, {"accuracy": "10%", "latency_p95_ms": 0.5})
    assert all(c.passed for c in judge.judge(metrics, {}, tolerant, {}))


def test_baseline_without_the_metric_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="has no metric 'f1_macro'"):
        _baseline(tmp_path, {"accuracy": 0.9}, {"f1_macro": 0.01})


def test_tolerance_must_be_a_number_or_percentage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gate\.baseline\.tolerance\.accuracy"):
        _baseline(tmp_path, {"accuracy": 0.9}, {"accuracy": "a lot"})


# -- intervals -------------------------------------------------------------------------------------
def _classification(n: int, accuracy: float, seed: int = 0) -> m.ClassificationStats:
    rng = np.random.default_rng(seed)
    refs = rng.choice(["a", "b", "c"], size=n)
    wrong = rng.random(n) > accuracy
    preds = np.where(wrong, rng.choice(["a", "b", "c"], size=n), refs)
    return m.ClassificationStats.from_pairs(Counter(zip(refs.tolist(), preds.tolist(),
                                                        strict=True)))


def test_classification_intervals_hold_the_estimate_and_shrink_with_n() -> None:
    rng = np.random.default_rng(1)
    small = intervals.classification(_classification(200, 0.8), 500, rng)
    large = intervals.classification(_classification(20000, 0.8), 500, rng)
    point = _classification(200, 0.8).values()
    for name in m.CLASSIFICATION:
        assert small[name]["low"] <= point[name] <= small[name]["high"], name
        assert (large[name]["high"] - large[name]["low"]) < (small[name]["high"]
                                                             - small[name]["low"]) / 4
    # a binomial proportion: the bootstrap interval is close to the normal one
    acc = point["accuracy"]
    half = 1.96 * np.sqrt(acc * (1 - acc) / 200)
    assert small["accuracy"]["high"] - small["accuracy"]["low"] == pytest.approx(2 * half,
                                                                                  rel=0.2)


def test_resampled_metrics_equal_point_values_on_the_original_counts() -> None:
    stats = _classification(3000, 0.7)
    again = stats.resampled(stats.counts[None, :])
    for name, value in stats.values().items():
        assert again[name][0] == pytest.approx(value, rel=1e-12), name


def test_latency_intervals_bootstrap_small_and_order_statistics_large() -> None:
    rng = np.random.default_rng(3)
    small = rng.lognormal(3, 0.5, 2000)
    got = intervals.latency(small, 300, rng)
    assert got["latency_p95_ms"]["method"] == "bootstrap"
    assert got["latency_p95_ms"]["low"] < np.percentile(small, 95) < got["latency_p95_ms"]["high"]
    big = rng.lognormal(3, 0.5, 300_000)
    got = intervals.latency(big, 1000, rng)
    assert got["latency_p99_ms"]["method"] == "order-statistic"
    assert got["latency_p99_ms"]["low"] < np.percentile(big, 99) < got["latency_p99_ms"]["high"]
    assert got["latency_mean_ms"]["low"] < np.mean(big) < got["latency_mean_ms"]["high"]


def test_a_check_is_the_report_object_in_contract_order(tmp_path: Path) -> None:
    baseline = _baseline(tmp_path, {"accuracy": 0.9}, {"accuracy": 0.01})
    thresholds = judge.thresholds_from_flags(["accuracy>=0.8"])
    threshold, compared = judge.judge({"accuracy": 0.95}, thresholds, baseline,
                                      {"accuracy": {"low": 0.85, "high": 0.99}})
    assert list(threshold.as_dict()) == ["name", "value", "op", "threshold", "passed", "kind",
                                         "interval"]
    assert compared.as_dict() == {
        "name": "accuracy", "value": 0.95, "op": ">=", "threshold": 0.89, "passed": True,
        "kind": "baseline", "baseline": 0.9, "tolerance": 0.01,
        "delta": pytest.approx(0.05), "interval": [0.85, 0.99], "within_noise": True}
