"""The runner's entry points: from_settings (release settings or parsed analysis settings),
the track names a step's labels give, and bake without an analysis."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from modelship import console
from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis.base import ReadinessOnly, StepContext
from modelship.release.analysis.canary import CanaryAnalysis, tracks
from modelship.release.analysis.factory import bake, bake_seconds, from_settings
from modelship.release.analysis.prometheus import PrometheusProvider
from modelship.release.analysis.settings import parse


@dataclasses.dataclass(frozen=True)
class Release:
    analysis_key: str = "deploy.analysis"
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    strategy: str = "canary"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Tokens these tests register must not redact other tests' output."""
    yield
    console.forget_secrets()


def _cfg(analysis: Any, **extra: Any) -> Config:
    return Config({"deploy": {"analysis": analysis}, **extra}, file="modelship.yaml")


def test_release_settings_are_parsed_at_their_key_and_name_the_metrics() -> None:
    cfg = Config({"environments": {"prod": {"analysis": {
        "prometheus": "http://prom:9090", "bake": "2m"}}}}, file="modelship.yaml")
    values = {"monitoring": {"metrics": {"requests": "reqs_total", "statusLabel": "code",
                                         "latency": "lat_seconds"}}}
    made = from_settings(Release("environments.prod.analysis", values), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    assert bake_seconds(made) == 120
    provider = made.provider
    assert isinstance(provider, PrometheusProvider)
    assert provider.client.url == "http://prom:9090"
    assert provider.queries["errors"] == \
        'reqs_total{namespace="{namespace}",track="{track}",code=~"5.."}[{lookback}]'
    assert provider.queries["latency"].startswith("lat_seconds_bucket{")


def test_no_analysis_is_readiness_only() -> None:
    assert isinstance(from_settings(Release(), Config({}), environ={}), ReadinessOnly)
    assert isinstance(from_settings(None, Config({}), environ={}), ReadinessOnly)
    assert bake_seconds(ReadinessOnly()) == 0


def test_the_url_may_come_from_the_environment_and_queries_override() -> None:
    cfg = _cfg({"queries": {"requests": 'sum(increase(r{track="{track}"}[{window}]))'}})
    made = from_settings(parse(cfg), cfg,
                         environ={"MODELSHIP_PROMETHEUS_URL": "http://from-env:9090/",
                                  "MODELSHIP_PROMETHEUS_TOKEN": "s3cret-token"})
    assert isinstance(made, CanaryAnalysis)
    assert isinstance(made.provider, PrometheusProvider)
    assert made.provider.client.url == "http://from-env:9090"
    assert made.provider.client.token == "s3cret-token"
    assert console.redact("token s3cret-token") == "token ***"  # masked before any output
    assert made.provider.queries["requests"].startswith("sum(increase(")


@pytest.mark.parametrize(("analysis", "environ", "expected"), [
    pytest.param({}, {}, r"deploy\.analysis\.prometheus: no evidence", id="nothing-to-ask"),
    pytest.param({}, {"MODELSHIP_PROMETHEUS_URL": "prom:9090"}, "MODELSHIP_PROMETHEUS_URL",
                 id="bad-env-url"),
    pytest.param({"prometheus": {"url": "http://p:9090", "bearer_token_file": "/nonexistent"}},
                 {}, "bearer token file", id="token-file"),
    pytest.param({"prometheus": {"url": "http://p:9090", "ca_file": "/nonexistent/ca.pem"}},
                 {}, "CA file", id="ca-file"),
])
def test_what_only_shows_at_run_time_is_a_config_error(
        analysis: dict[str, Any], environ: dict[str, str], expected: str) -> None:
    cfg = _cfg(analysis)
    with pytest.raises(ConfigError, match=expected):
        from_settings(parse(cfg), cfg, environ=environ)


def test_token_file_is_read(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-a-file\n", encoding="utf-8")
    cfg = _cfg({"prometheus": {"url": "http://p:9090", "bearer_token_file": str(token)}})
    made = from_settings(parse(cfg), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    assert isinstance(made.provider, PrometheusProvider)
    assert made.provider.client.token == "from-a-file"


def _step(**labels: str) -> StepContext:
    return StepContext("sentiment", "models", None, "canary", "canary-10", 10, 60.0,
                       labels=labels)


@pytest.mark.parametrize(("labels", "expected"), [
    pytest.param({}, ("canary", "stable"), id="chart-defaults"),
    pytest.param({"track": "canary"}, ("canary", "stable"), id="runner-canary"),
    pytest.param({"track": "green"}, ("green", "blue"), id="blue-green"),
    pytest.param({"track": "blue"}, ("blue", "green"), id="blue-green-other"),
    pytest.param({"canary_track": "new", "stable_track": "old"}, ("new", "old"),
                 id="explicit"),
])
def test_tracks_from_labels(labels: dict[str, str], expected: tuple[str, str]) -> None:
    assert tracks(_step(**labels)) == expected


def test_bake_without_analysis_passes_at_once() -> None:
    verdict = bake(ReadinessOnly(), _step(), lambda line: None)
    assert verdict.verdict == "passed"
    assert verdict.reason == "no bake configured"


def test_a_password_in_the_prometheus_url_is_masked() -> None:
    cfg = _cfg({"prometheus": "http://reader:pw-for-prom@prom:9090"})
    made = from_settings(parse(cfg), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    assert isinstance(made.provider, PrometheusProvider)
    assert made.provider.client.shown == "http://reader:***@prom:9090"
    assert console.redact("pw-for-prom") == "***"


def test_a_segment_of_a_paused_release_spends_its_share_of_alpha() -> None:
    cfg = _cfg({"prometheus": "http://prom:9090", "alpha": 0.02})
    whole = from_settings(parse(cfg), cfg, environ={})
    part = from_settings(parse(cfg), cfg, environ={}, alpha_share=0.25)
    assert isinstance(whole, CanaryAnalysis)
    assert isinstance(part, CanaryAnalysis)
    assert whole.judge.alpha == 0.02
    assert part.judge.alpha == pytest.approx(0.005)
    # one check (error_rate vs stable): the bar an e-value must reach grows to 1 / 0.005
    assert part.judge.threshold == pytest.approx(200)
