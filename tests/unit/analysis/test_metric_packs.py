"""deploy.analysis.metrics: each pack's PromQL, rendered for a track; what a pack cannot
measure is exit 2 naming the key before any change; the user's queries still win."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis.canary import CanaryAnalysis
from modelship.release.analysis.factory import from_settings, metric_queries
from modelship.release.analysis.packs import PACK_NAMES
from modelship.release.analysis.prometheus import Labels, PrometheusProvider, render
from modelship.release.analysis.settings import parse

GATEWAY_API = {"traffic": {"mode": "gateway-api"}}


@dataclasses.dataclass(frozen=True)
class Release:
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    strategy: str = "canary"
    analysis_key: str = "deploy.analysis"


def _queries(analysis: dict[str, Any], values: Mapping[str, Any] | None = None,
             strategy: str = "canary") -> Mapping[str, str]:
    cfg = Config({"deploy": {"analysis": {"prometheus": "http://prom:9090", **analysis}}},
                 file="modelship.yaml")
    made = from_settings(Release(values or {}, strategy), cfg, environ={})
    assert isinstance(made, CanaryAnalysis)
    assert isinstance(made.provider, PrometheusProvider)
    return made.provider.queries


def _error(analysis: dict[str, Any], values: Mapping[str, Any] | None = None,
           strategy: str = "canary") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _queries(analysis, values, strategy)
    return caught.value


def test_gateway_pack_selects_each_tracks_backend_service_in_traefiks_names() -> None:
    queries = _queries({"metrics": "gateway"}, GATEWAY_API)
    labels = Labels("prod", "iris", "iris-serving")
    promql = render(queries["errors"], track="canary", labels=labels, window_seconds=30)
    assert promql == ('traefik_service_requests_total{service=~"prod-iris-serving-canary-'
                      '(http-)?[0-9]+@kubernetes(gateway|crd)",code=~"5.."}[150s]')
    assert render(queries["latency"], track="stable", labels=Labels("prod", "iris"),
                  window_seconds=30).startswith(
        'traefik_service_request_duration_seconds_bucket{service=~"prod-iris-stable-')


@pytest.mark.parametrize(("values", "strategy"), [
    ({}, "canary"),  # replicas: one Service behind the gateway for both tracks
    ({"traffic": {"mode": "nginx"}}, "canary"),
    (GATEWAY_API, "blue-green"),  # the route points at the active colour's Service only
])
def test_gateway_pack_without_per_track_routes_is_exit_2_naming_the_key(
        values: Mapping[str, Any], strategy: str) -> None:
    error = _error({"metrics": "gateway"}, values, strategy)
    assert error.key == "deploy.analysis.metrics"
    assert error.exit_code == 2
    assert "gateway-api" in str(error)


def test_vllm_has_no_error_counter_so_errors_come_from_the_gateway() -> None:
    queries = _queries({"metrics": "vllm"}, GATEWAY_API)
    assert queries["errors"].startswith("traefik_service_requests_total{")
    assert queries["requests"].startswith("traefik_service_requests_total{")
    assert queries["latency"].startswith("vllm:e2e_request_latency_seconds_bucket{")


def test_vllm_without_a_gateway_cannot_count_errors() -> None:
    error = _error({"metrics": "vllm"})  # the default compare judges error_rate
    assert error.key == "deploy.analysis.metrics"
    assert "error_rate vs stable needs the errors series" in str(error)
    # judging latency only, it can
    queries = _queries({"metrics": "vllm", "compare": {"latency_ms": {"above": 500}}})
    assert "errors" not in queries


def test_triton_exports_no_latency_distribution() -> None:
    error = _error({"metrics": "triton", "thresholds": {"latency_p95_ms": "<= 300"}})
    assert "latency_p95_ms <= 300 needs the latency series" in str(error)
    queries = _queries({"metrics": "triton"})
    promql = render(queries["requests"], track="canary", labels=Labels("ml", "bert"),
                    window_seconds=10)
    assert promql == ('{__name__=~"nv_inference_request_(success|failure)",namespace="ml",'
                      'track="canary"}[130s]')


def test_a_users_query_wins_over_the_pack_and_fills_what_it_lacks() -> None:
    queries = _queries({"metrics": "triton", "thresholds": {"latency_p95_ms": "<= 300"},
                        "queries": {"latency": "my_hist_bucket{track=\"{track}\"}[{window}]"}})
    assert queries["latency"] == 'my_hist_bucket{track="{track}"}[{window}]'
    assert queries["errors"].startswith("nv_inference_request_failure{")


@pytest.mark.parametrize("name", ["mlserver", "bentoml", "tgi"])
def test_runtime_packs_read_the_pods_series_by_track(name: str) -> None:
    queries = _queries({"metrics": name})
    for promql in queries.values():
        assert 'namespace="{namespace}",track="{track}"' in promql
    assert set(queries) == {"requests", "errors", "latency"}


def test_unknown_pack_is_exit_2_with_the_choices() -> None:
    error = _error({"metrics": "vlm"})
    assert error.key == "deploy.analysis.metrics"
    assert all(name in str(error) for name in PACK_NAMES)
    assert "vllm" in (error.hint or "")


def test_checks_the_probes_time_need_no_series_from_the_pack() -> None:
    """ttft_ms is timed by the probes' streamed answers: a pack without a latency histogram
    (Triton) does not make it a configuration error."""
    cfg = Config({"serve": {"protocol": "openai-chat", "model": "tiny"},
                  "deploy": {"analysis": {
                      "prometheus": "http://prom:9090", "metrics": "triton",
                      "compare": {"error_rate": "stable", "ttft_ms": {"above": 100}},
                      "probes": {"eval_set": "eval.jsonl"}}}}, file="modelship.yaml")
    settings = parse(cfg)
    assert settings is not None
    queries = metric_queries(settings, cfg, {}, "canary")
    assert "latency" not in queries
    assert "errors" in queries
