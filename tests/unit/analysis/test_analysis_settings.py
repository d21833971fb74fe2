"""deploy.analysis -> settings: defaults, every key parsed, every bad key or value a
ConfigError naming the key, and environment overrides naming where a value came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis import settings as s


def _cfg(analysis: Any, **extra: Any) -> Config:
    return Config({"deploy": {"analysis": analysis}, **extra}, file="modelship.yaml",
                  root=Path("/project"), lines={"deploy.analysis.alpha": 12})


def test_absent_means_no_analysis() -> None:
    assert s.parse(Config({"deploy": {}})) is None


def test_defaults() -> None:
    got = s.parse(_cfg({}))
    assert got is not None
    assert (got.alpha, got.min_requests, got.on_inconclusive, got.max_wait, got.bake) == \
        (0.01, 200, "hold", 600.0, 0.0)
    assert [c.name for c in got.tests] == ["error_rate vs stable"]
    assert got.prometheus == s.PrometheusSettings(None)
    assert got.probes is None


def test_the_contract_example() -> None:
    got = s.parse(_cfg({
        "prometheus": "http://prometheus.monitoring:9090/",
        "alpha": 0.05, "min_requests": 50, "on_inconclusive": "promote", "max_wait": "2m",
        "compare": {"error_rate": "stable", "latency_ms": {"above": 250}},
        "thresholds": {"error_rate": "<= 0.02", "latency_p95_ms": "<= 300",
                       "success_rate": ">= 0.99"},
        "queries": {"requests": 'sum(increase(reqs{track="{track}"}[{window}]))'},
        "probes": {"eval_set": "eval/eval.jsonl", "rows": 20, "agreement": ">= 0.9",
                   "tolerance": {"accuracy": 0.02}},
        "bake": "5m"}))
    assert got is not None
    assert got.prometheus.url == "http://prometheus.monitoring:9090"
    assert (got.alpha, got.min_requests, got.on_inconclusive, got.max_wait, got.bake) == \
        (0.05, 50, "promote", 120.0, 300.0)
    compare = {c.name: c for c in got.compare}
    assert compare["latency > 250 ms vs stable"].event.slower_than == 0.25
    limits = {c.name: (c.limit, c.event.slower_than) for c in got.thresholds}
    assert limits == {"error_rate <= 0.02": (0.02, None),
                      "latency_p95_ms <= 300": (pytest.approx(0.05), 0.3),
                      "success_rate >= 0.99": (pytest.approx(0.01), None)}
    assert got.probes == s.ProbeSettings(Path("/project/eval/eval.jsonl"), 20, 0.9, False,
                                         got.probes.tolerance if got.probes else None)
    assert got.probes is not None
    assert got.probes.tolerance is not None
    assert got.probes.tolerance[0].amount == 0.02


def test_prometheus_mapping() -> None:
    got = s.parse(_cfg({"prometheus": {
        "url": "https://prom.example:9090", "bearer_token_env": "PROM_TOKEN",
        "bearer_token_file": "/var/run/secrets/token", "ca_file": "certs/ca.pem",
        "timeout": "3s", "retries": 1}}))
    assert got is not None
    assert got.prometheus == s.PrometheusSettings(
        "https://prom.example:9090", "PROM_TOKEN", Path("/var/run/secrets/token"),
        Path("/project/certs/ca.pem"), 3.0, 1)


def test_probe_eval_set_defaults_to_the_online_gate_set() -> None:
    got = s.parse(_cfg({"probes": {"rows": 5}}, gate={"online": {"eval_set": "e.jsonl"}}))
    assert got is not None
    assert got.probes is not None
    assert got.probes.eval_set == Path("/project/e.jsonl")


def test_environment_overrides_single_keys() -> None:
    cfg = Config({"deploy": {"analysis": {"alpha": 0.02, "min_requests": 10}},
                  "environments": {"prod": {"analysis": {"alpha": 0.001}}}}, file="m.yaml")
    got = s.parse(cfg, "deploy.analysis", "environments.prod.analysis")
    assert got is not None
    assert (got.alpha, got.min_requests) == (0.001, 10)
    bad = Config({"deploy": {"analysis": {"alpha": 0.02}},
                  "environments": {"prod": {"analysis": {"alpha": 2}}}}, file="m.yaml")
    with pytest.raises(ConfigError, match=r"environments\.prod\.analysis\.alpha"):
        s.parse(bad, "deploy.analysis", "environments.prod.analysis")


@pytest.mark.parametrize(("analysis", "key", "expected"), [
    pytest.param({"alfa": 0.1}, "deploy.analysis.alfa", "did you mean 'alpha'", id="typo"),
    pytest.param({"alpha": 0}, "deploy.analysis.alpha", r"\(0, 0\.5\]", id="alpha-zero"),
    pytest.param({"alpha": "x"}, "deploy.analysis.alpha", "expected a number", id="alpha-str"),
    pytest.param({"min_requests": -1}, "deploy.analysis.min_requests", ">= 0", id="min-neg"),
    pytest.param({"min_requests": 2.5}, "deploy.analysis.min_requests", "integer",
                 id="min-float"),
    pytest.param({"on_inconclusive": "wait"}, "deploy.analysis.on_inconclusive",
                 "hold, abort, promote", id="policy"),
    pytest.param({"max_wait": "soon"}, "deploy.analysis.max_wait", "duration", id="max-wait"),
    pytest.param({"bake": "-1m"}, "deploy.analysis.bake", "duration", id="bake"),
    pytest.param({"prometheus": "prometheus:9090"}, "deploy.analysis.prometheus",
                 "http", id="url-no-scheme"),
    pytest.param({"prometheus": ["x"]}, "deploy.analysis.prometheus", "URL", id="url-list"),
    pytest.param({"prometheus": {"uri": "http://p"}}, "deploy.analysis.prometheus.uri",
                 "did you mean 'url'", id="prom-typo"),
    pytest.param({"prometheus": {"bearer_token_env": "abc def"}},
                 "deploy.analysis.prometheus.bearer_token_env", "environment variable",
                 id="token-env"),
    pytest.param({"prometheus": {"timeout": "0s"}}, "deploy.analysis.prometheus.timeout",
                 "> 0", id="timeout"),
    pytest.param({"compare": {"error_rate": "baseline"}}, "deploy.analysis.compare.error_rate",
                 "'stable'", id="compare-value"),
    pytest.param({"compare": {"latency_ms": 250}}, "deploy.analysis.compare.latency_ms",
                 "above", id="compare-latency"),
    pytest.param({"compare": {"latency_ms": {"above": -5}}},
                 "deploy.analysis.compare.latency_ms", "MS > 0", id="compare-latency-neg"),
    pytest.param({"compare": {"eror_rate": "stable"}}, "deploy.analysis.compare.eror_rate",
                 "did you mean 'error_rate'", id="compare-typo"),
    pytest.param({"compare": "stable"}, "deploy.analysis.compare", "mapping",
                 id="compare-scalar"),
    pytest.param({"thresholds": {"accuracy": ">= 0.9"}}, "deploy.analysis.thresholds.accuracy",
                 "unknown metric", id="threshold-metric"),
    pytest.param({"thresholds": {"error_rate": ">= 0.02"}},
                 "deploy.analysis.thresholds.error_rate", "upper limit", id="threshold-op"),
    pytest.param({"thresholds": {"error_rate": "<= 0"}},
                 "deploy.analysis.thresholds.error_rate", "between 0 and 1", id="threshold-0"),
    pytest.param({"thresholds": {"error_rate": "lots"}},
                 "deploy.analysis.thresholds.error_rate", "OP VALUE", id="threshold-text"),
    pytest.param({"thresholds": {"latency_p95_ms": "<= 0"}},
                 "deploy.analysis.thresholds.latency_p95_ms", "bound > 0", id="latency-0"),
    pytest.param({"queries": {"request": "x"}}, "deploy.analysis.queries.request",
                 "did you mean 'requests'", id="query-name"),
    pytest.param({"queries": {"errors": 'sum(x{ns="{namespce}"})'}},
                 "deploy.analysis.queries.errors", "did you mean 'namespace'",
                 id="query-placeholder"),
    pytest.param({"queries": {"errors": ""}}, "deploy.analysis.queries.errors", "PromQL",
                 id="query-empty"),
    pytest.param({"probes": {"rows": 0}}, "deploy.analysis.probes.eval_set", "eval set",
                 id="probes-no-eval-set"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "rows": 0}},
                 "deploy.analysis.probes.rows", ">= 1", id="probes-rows"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "agreement": "<= 0.9"}},
                 "deploy.analysis.probes.agreement", "lower limit", id="agreement-op"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "agreement": 1.5}},
                 "deploy.analysis.probes.agreement", "between 0 and 1", id="agreement-range"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "tolerance": {"bleu": 1}}},
                 "deploy.analysis.probes.tolerance.bleu", "probes measure", id="tol-metric"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "tolerance": {"accuracy": "much"}}},
                 "deploy.analysis.probes.tolerance.accuracy", "tolerance", id="tol-value"),
    pytest.param({"probes": {"eval_set": "e.jsonl", "sample": 3}},
                 "deploy.analysis.probes.sample", "unknown key", id="probes-typo"),
    pytest.param("on", "deploy.analysis", "mapping", id="scalar"),
])
def test_bad_values_name_the_key(analysis: Any, key: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        s.parse(_cfg(analysis))
    assert info.value.key == key
    assert str(info.value).startswith("modelship.yaml")


def test_error_carries_the_line() -> None:
    with pytest.raises(ConfigError, match=r"^modelship\.yaml:12: deploy\.analysis\.alpha"):
        s.parse(_cfg({"alpha": 3}))
