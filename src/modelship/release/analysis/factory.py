"""The two calls a release runner makes: build the analysis once per release, bake at 100%."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, Protocol

from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis import packs
from modelship.release.analysis.base import (
    Analysis,
    Progress,
    ReadinessOnly,
    StepContext,
    StepVerdict,
)
from modelship.release.analysis.canary import CanaryAnalysis, Prober
from modelship.release.analysis.prometheus import (
    Client,
    MetricNames,
    PrometheusProvider,
    default_queries,
)
from modelship.release.analysis.settings import URL_ENV, AnalysisSettings, parse_release
from modelship.release.values import traffic_mode


class ReleaseLike(Protocol):
    """What the release engine's settings offer (release/settings.py ReleaseSettings)."""

    @property
    def analysis_key(self) -> str: ...

    @property
    def strategy(self) -> str: ...

    @property
    def values(self) -> Mapping[str, Any]: ...


def from_settings(settings: ReleaseLike | AnalysisSettings | None, cfg: Config, *,
                  chart_values: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None,
                  alpha_share: float = 1.0) -> Analysis:
    """The analysis for one release (use the same object for every step and the bake).

    settings: the release's settings (their `analysis_key`, e.g. deploy.analysis or
    environments.prod.analysis, is parsed here and their chart `values` name the metrics), or
    already parsed AnalysisSettings (then `chart_values` may name the metrics); None, or no
    analysis configured, gives ReadinessOnly. cfg: the loaded modelship.yaml (errors, probes'
    serve contract, gate baseline tolerance). alpha_share: the part of `alpha` this judge
    may spend (a release judged in several segments splits it). Raises ConfigError for a bad
    deploy.analysis and for what can only be checked now (no Prometheus URL anywhere,
    unreadable token or CA file).
    """
    strategy = None
    if settings is not None and not isinstance(settings, AnalysisSettings):
        chart_values = chart_values if chart_values is not None else settings.values
        strategy = settings.strategy
        settings = parse_release(cfg, settings.analysis_key)
    if settings is None:
        return ReadinessOnly()
    if alpha_share != 1.0:
        settings = dataclasses.replace(settings, alpha=settings.alpha * alpha_share)
    env = os.environ if environ is None else environ
    provider = None
    if settings.prometheus.url or env.get(URL_ENV, "").strip():
        queries = metric_queries(settings, cfg, chart_values, strategy)
        provider = PrometheusProvider(Client.from_settings(settings.prometheus, env), queries)
    prober = _prober(settings, cfg)
    if provider is None and prober is None:
        raise ConfigError(f"no evidence to judge: set prometheus (or {URL_ENV}) or probes",
                          file=cfg.file, key=f"{settings.key}.prometheus")
    from modelship.release.analysis import warmup

    return CanaryAnalysis(settings, provider, prober, warmup=warmup.from_config(cfg))


def metric_queries(settings: AnalysisSettings, cfg: Config,
                   chart_values: Mapping[str, Any] | None, strategy: str | None,
                   ) -> dict[str, str]:
    """The PromQL templates: the pack's (deploy.analysis.metrics), then the user's queries.
    A check whose series the pack lacks, or a gateway pack on a release the gateway does not
    split by track, is exit 2 before anything is changed."""
    app = packs.app_pack(**default_queries(MetricNames.from_values(chart_values)))
    mode = traffic_mode(chart_values)
    chosen = packs.pack(settings.metrics, app, mode)
    key = f"{settings.key}.metrics"
    if chosen.needs_gateway and (mode != "gateway-api" or strategy not in (None, "canary")):
        raise ConfigError(
            f"metrics: {settings.metrics} reads {chosen.source}, which tell the tracks apart "
            f"only when a canary's tracks are routed to Services of their own; this release "
            f"has strategy {strategy or '?'} and traffic.mode {mode}",
            file=cfg.file, key=key,
            hint="use deploy.strategy canary with deploy.values.traffic.mode gateway-api, "
                 "or metrics: app / a runtime pack")
    queries = {**chosen.queries(), **settings.queries}
    for check in settings.tests:
        if check.measured is not None:  # timed by the probes, not counted by Prometheus
            continue
        needed = "errors" if check.event.slower_than is None else "latency"
        if needed not in queries:
            raise ConfigError(
                f"{check.name} needs the {needed} series, and metrics: {settings.metrics} "
                f"({chosen.source}) has none", file=cfg.file, key=key,
                hint=f"set {settings.key}.queries.{needed}, drop the check, or route the "
                     "canary through the Gateway API (traffic.mode gateway-api) so the "
                     "gateway counts it")
    return queries


def _prober(settings: AnalysisSettings, cfg: Config) -> Prober | None:
    if settings.probes is None:
        return None
    from modelship.release.analysis.probe import ServeProber

    timed = any(test.measured is not None for test in settings.tests)  # ttft_ms, ...
    return ServeProber.from_config(settings.probes, cfg, stream=timed)


def segment_share(segment: int) -> float:
    """The part of `alpha` that segment k of a release may spend (0: the deploy, k: the k-th
    promote after a pause): 1/2, 1/4, ... which sum to at most 1 however often it resumes."""
    return 0.5 ** (segment + 1)


def bake(analysis: Analysis, step: StepContext, progress: Progress) -> StepVerdict:
    """After 100%: keep judging production for `deploy.analysis.bake` (passed at once when
    there is no bake or no analysis). The runner keeps the previous version warm meanwhile and
    rolls back on anything but passed."""
    return analysis.bake(step, progress)


def bake_seconds(analysis: Analysis) -> float:
    return analysis.bake_seconds


def on_inconclusive(analysis: Analysis) -> str:
    """What an inconclusive step does to the release: `hold` (paused for a person) or `abort`
    (production put back). `promote` never reaches the runner: the analysis passes the step."""
    return analysis.on_inconclusive
