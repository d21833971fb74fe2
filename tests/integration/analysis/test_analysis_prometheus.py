"""The Prometheus provider and the analysis loop against a real Prometheus (Debian's 2.42)
scraping real example model servers; traffic from a bounded request loop on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis.base import StepContext
from modelship.release.analysis.canary import CanaryAnalysis
from modelship.release.analysis.factory import from_settings
from modelship.release.analysis.prometheus import (
    Client,
    Labels,
    PrometheusProvider,
    PrometheusUnavailable,
    default_queries,
)
from modelship.release.analysis.settings import parse

from .conftest import NAMESPACE, ModelServer, Prometheus
from .traffic import load, send

pytestmark = pytest.mark.integration


def provider(prometheus: Prometheus, **queries: str) -> PrometheusProvider:
    client = Client(prometheus.url, timeout=5, retries=1, backoff=0.2)
    return PrometheusProvider(client, {**default_queries(), **queries})


LABELS = Labels(NAMESPACE, "sentiment")


def test_counts_are_exact_per_track(servers: dict[str, ModelServer],
                                    prometheus: Prometheus) -> None:
    started = time.time() - 1
    sent = send(servers, {"stable": 60, "canary": 40})
    prometheus.scrapes()
    p = provider(prometheus)
    stable = p.counts("stable", LABELS, started, time.time())
    canary = p.counts("canary", LABELS, started, time.time())
    assert (stable.requests, stable.errors) == (sent.count("stable"), 0)
    assert (canary.requests, canary.errors) == (sent.count("canary"), sent.errors("canary"))
    assert sent.errors("canary") == 8  # every fifth request of the flaky server
    # the histogram times answered predictions; the flaky server's 30 ms shows in its buckets
    assert stable.timed == 60
    assert canary.timed == 32
    assert canary.buckets[0.025] == 0
    assert stable.buckets[0.025] == 60
    assert p.counts("nonexistent", LABELS, started, time.time()).requests is None


def test_a_window_counts_only_what_happened_inside_it(servers: dict[str, ModelServer],
                                                      prometheus: Prometheus) -> None:
    send(servers, {"twin": 30})
    prometheus.scrapes()
    window_start = time.time()
    prometheus.scrapes()
    sent = send(servers, {"twin": 25})
    prometheus.scrapes()
    twin = provider(prometheus).counts("twin", LABELS, window_start, time.time())
    assert twin.requests == sent.count("twin") == 25


def test_a_restarted_server_resets_its_counters_and_nothing_is_lost(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    prometheus.scrapes()
    window_start = time.time()
    prometheus.scrapes()
    before = send(servers, {"twin": 20})
    prometheus.scrapes()
    servers["twin"].restart()  # a new process: http_requests_total starts again from 0
    after = send(servers, {"twin": 15})
    prometheus.scrapes()
    twin = provider(prometheus).counts("twin", LABELS, window_start, time.time())
    assert twin.requests == before.count("twin") + after.count("twin") == 35


def test_an_instant_vector_template_is_taken_as_the_count(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    send(servers, {"stable": 10})
    prometheus.scrapes()
    p = provider(prometheus, requests='sum(increase(http_requests_total{namespace='
                                      '"{namespace}",track="{track}"}[{window}]))')
    counts = p.counts("stable", LABELS, time.time() - 30, time.time())
    assert counts.requests is not None
    assert counts.requests > 0  # extrapolated by increase(), so not exact; data, not None


def test_a_query_prometheus_refuses_names_the_key(prometheus: Prometheus) -> None:
    p = provider(prometheus, errors="sum(rate(http_requests_total[{window}])")  # unbalanced
    send_time = time.time()
    with pytest.raises(ConfigError, match=r"deploy\.analysis\.queries\.errors"):
        p.counts("stable", LABELS, send_time - 10, send_time)


def _step(name: str, servers: dict[str, ModelServer], canary: str, interval: float,
          weight: int = 25) -> StepContext:
    return StepContext(release="sentiment", namespace=NAMESPACE, environment=None,
                       strategy="canary", step=name, weight=weight, interval_seconds=interval,
                       labels={"canary_track": canary, "stable_track": "stable"})


def _analysis(prom: Prometheus, **analysis: object) -> CanaryAnalysis:
    cfg = Config({"deploy": {"analysis": {"prometheus": prom.url, **analysis}}},
                 file="modelship.yaml")
    built = from_settings(parse(cfg), cfg, environ={})
    assert isinstance(built, CanaryAnalysis)
    return built


def test_flaky_canary_fails_as_soon_as_the_evidence_is_clear(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=50, max_wait="60s",
                         compare={"error_rate": "stable", "latency_ms": {"above": 25}})
    lines: list[str] = []
    with load(servers, {"stable": 3, "canary": 1}, seconds=120):
        step = _step("canary-25", servers, "canary", interval=60)
        verdict = analysis.assess(step, lines.append)
    assert verdict.verdict == "failed", verdict
    assert verdict.reason.startswith("traffic: ")
    assert verdict.evidence["decided_by"] == "traffic"
    assert verdict.evidence["seconds"] < 60  # stopped early, before the interval was over
    tracks = verdict.evidence["tracks"]
    assert tracks["canary"]["errors"] > 0
    assert tracks["stable"]["errors"] == 0
    assert tracks["canary"]["latency_p50_ms"] > tracks["stable"]["latency_p50_ms"]
    assert any(c["rejected"] for c in verdict.evidence["checks"])
    assert lines  # progress was shown while it looked
    json.dumps(verdict.evidence, allow_nan=False)  # deploy --json steps[].evidence as it is


def test_identical_versions_pass_once_min_requests_are_in(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=100, max_wait="90s",
                         thresholds={"error_rate": "<= 0.05"})
    with load(servers, {"stable": 2, "twin": 2}, seconds=120):
        verdict = analysis.assess(_step("canary-50", servers, "twin", interval=8, weight=50),
                                  lambda line: None)
    assert verdict.verdict == "passed", verdict
    assert verdict.evidence["tracks"]["canary"]["requests"] >= 100
    assert verdict.evidence["canary_share"] == pytest.approx(0.5, abs=0.1)
    assert not any(c["rejected"] for c in verdict.evidence["checks"])


def test_no_data_for_the_canary_is_inconclusive_never_passed(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=1, max_wait="6s", on_inconclusive="promote")
    with load(servers, {"stable": 1}, seconds=30):
        verdict = analysis.assess(_step("canary-10", servers, "missing", interval=3),
                                  lambda line: None)
    assert verdict.verdict == "inconclusive"
    assert verdict.evidence["decided_by"] == "no-data"


def test_prometheus_stopped_is_an_error_after_max_wait(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=10, max_wait="8s",
                         prometheus={"url": prometheus.url, "retries": 1, "timeout": "2s"})
    prometheus.stop()
    try:
        with pytest.raises(PrometheusUnavailable):
            provider(prometheus).counts("stable", LABELS, time.time() - 5, time.time())
        started = time.monotonic()
        verdict = analysis.assess(_step("canary-10", servers, "canary", interval=3),
                                  lambda line: None)
        assert verdict.verdict == "error"
        assert verdict.evidence["decided_by"] == "prometheus"
        assert "Prometheus" in verdict.reason
        assert 8 <= time.monotonic() - started < 40
    finally:
        prometheus.start()


def test_low_traffic_on_an_identical_version_is_promoted_not_aborted(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=500, max_wait="6s", on_inconclusive="promote")
    with load(servers, {"stable": 1, "twin": 1}, seconds=30, limit=40):
        verdict = analysis.assess(_step("canary-10", servers, "twin", interval=6),
                                  lambda line: None)
    assert verdict.verdict == "passed"
    assert verdict.evidence["decided_by"] == "policy"
    assert "500 needed" in verdict.reason


def test_bake_judges_the_new_version_alone_against_its_limits(
        servers: dict[str, ModelServer], prometheus: Prometheus) -> None:
    analysis = _analysis(prometheus, min_requests=20, bake="60s",
                         thresholds={"error_rate": "<= 0.05"})
    assert analysis.bake_seconds == 60
    with load(servers, {"canary": 1}, seconds=90):
        step = _step("bake", servers, "canary", interval=0, weight=100)
        verdict = analysis.bake(step, lambda line: None)
    assert verdict.verdict == "failed"
    assert verdict.reason.startswith("traffic: error_rate <= 0.05: e-value")
    assert verdict.evidence["seconds"] < 60
    # nothing to compare with: stable serves nothing at 100% (the window's lookback may still
    # show its requests from before the step), so the compare check is never fed
    compare = [c for c in verdict.evidence["checks"] if c["kind"] == "compare"]
    assert compare, verdict.evidence["checks"]
    assert all(c["stable_rate"] is None and not c["rejected"] for c in compare), compare
