"""Traffic evidence from Prometheus' HTTP API: per-track request, error and latency-bucket
counts since a step began.

Queries are PromQL templates with {track}, {namespace}, {release}, {fullname} (the base of the
chart's object names: the release unless fullnameOverride) and {window} (seconds since the
step began, e.g. `95s`). `deploy.analysis.metrics` picks them from a pack (packs.py). The
defaults (pack `app`) select the chart's series by its labels (`namespace`, `track`; the
chart's ServiceMonitor relabels pods' track and model version) and the metric names of its
`monitoring.metrics` values (the example server's `http_requests_total{status}` and
`model_latency_seconds` histogram), errors being `5..` statuses as in the chart's
PrometheusRule:

    requests  http_requests_total{namespace="{namespace}",track="{track}"}[{lookback}]
    errors    http_requests_total{namespace="{namespace}",track="{track}",status=~"5.."}[{lookback}]
    latency   model_latency_seconds_bucket{namespace="{namespace}",track="{track}"}[{lookback}]

`{lookback}` is the window plus two minutes before it. The range selector returns raw samples,
and the increase of each series is counted exactly here: from its last sample before the step
began (or from zero when it had none: a series born inside the window, such as a new canary
pod or a pod's first 500), adding differences between consecutive samples and reading a drop as
a counter reset (a restarted pod). Nothing is extrapolated, so counts are whole requests, and
pods that went away during the step (stable scaled down) still count. A range selector over
`{window}` alone counts from each series' first sample in the window. A template may instead
return an instant vector or scalar, e.g. `sum(increase(x{track="{track}"}[{window}]))`: its
value is taken as the count. Latency series must keep their `le` label.

An empty result is "no data" (None), never zero; so is NaN. Connection errors, timeouts and
5xx are retried with backoff; what still fails raises PrometheusUnavailable (exit 3 if it
lasts). A query Prometheus refuses (HTTP 400) is a configuration error naming the query.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from modelship import ghactions
from modelship.errors import ConfigError, InfraError, first_line
from modelship.release.analysis.counts import Counts
from modelship.release.analysis.settings import URL_ENV, PrometheusSettings
from modelship.serving import mask_url, shown_url


@dataclass(frozen=True)
class MetricNames:
    """The chart's `monitoring.metrics` values (helm-chart/values.yaml)."""

    requests: str = "http_requests_total"
    status_label: str = "status"
    latency: str = "model_latency_seconds"

    @classmethod
    def from_values(cls, values: Mapping[str, Any] | None) -> MetricNames:
        monitoring = (values or {}).get("monitoring") or {}
        metrics = monitoring.get("metrics") if isinstance(monitoring, Mapping) else None
        if not isinstance(metrics, Mapping):
            return cls()
        return cls(str(metrics.get("requests") or cls.requests),
                   str(metrics.get("statusLabel") or cls.status_label),
                   str(metrics.get("latency") or cls.latency))


def default_queries(names: MetricNames = MetricNames()) -> dict[str, str]:
    selector = 'namespace="{namespace}",track="{track}"'
    return {
        "requests": f"{names.requests}{{{selector}}}[{{lookback}}]",
        "errors": f'{names.requests}{{{selector},{names.status_label}=~"5.."}}[{{lookback}}]',
        "latency": f"{names.latency}_bucket{{{selector}}}[{{lookback}}]",
    }


class PrometheusUnavailable(InfraError):
    """Prometheus did not answer (or answered 5xx / not JSON) after retries."""


@dataclass(frozen=True)
class Labels:
    """What fills a template besides the track and window."""

    namespace: str
    release: str
    fullname: str | None = None  # None: the release's name (no fullnameOverride)


LOOKBACK = 120.0  # seconds before a window that {lookback} adds: a sample to count from


def render(template: str, *, track: str, labels: Labels, window_seconds: float) -> str:
    values = {"track": track, "namespace": labels.namespace, "release": labels.release,
              "fullname": labels.fullname or labels.release,
              "window": f"{max(math.ceil(window_seconds), 1)}s",
              "lookback": f"{math.ceil(window_seconds + LOOKBACK)}s"}
    # only our placeholders: PromQL's own braces ({status=~"5.."}) stay as they are
    return re.sub(r"\{(track|namespace|release|fullname|window|lookback)\}",
                  lambda m: _escape(values[m.group(1)]), template)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class Client:
    """A small Prometheus HTTP API client: instant queries, auth, CA, retries."""

    url: str
    token: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_settings(cls, settings: PrometheusSettings,
                      environ: Mapping[str, str] | None = None) -> Client:
        env = os.environ if environ is None else environ
        url = settings.url or env.get(URL_ENV, "").strip().rstrip("/")
        if not url:
            raise ConfigError("no Prometheus to ask: set deploy.analysis.prometheus or "
                              f"{URL_ENV}", key="deploy.analysis.prometheus")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{URL_ENV}: expected an http(s) URL, got '{url}'")
        token = env.get(settings.bearer_token_env) or None
        if token is None and settings.bearer_token_file is not None:
            try:
                token = settings.bearer_token_file.read_text(encoding="utf-8").strip() or None
            except OSError as e:
                raise ConfigError(f"cannot read the bearer token file "
                                  f"{settings.bearer_token_file}: {e.strerror or e}",
                                  key="deploy.analysis.prometheus.bearer_token_file") from None
        if settings.ca_file is not None and not settings.ca_file.is_file():
            raise ConfigError(f"CA file {settings.ca_file} does not exist",
                              key="deploy.analysis.prometheus.ca_file")
        ghactions.mask(token)
        mask_url(url)  # http://user:password@prometheus: the password never shows
        return cls(url, token, settings.ca_file, settings.timeout, settings.retries)

    @property
    def shown(self) -> str:
        return shown_url(self.url)

    def query(self, promql: str, at: float, *, name: str = "query") -> dict[str, Any]:
        """The `data` of an instant query at time `at` (unix seconds)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify: bool | str = str(self.ca_file) if self.ca_file else True
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))
            try:
                response = self.session.post(
                    f"{self.url}/api/v1/query", data={"query": promql, "time": f"{at:.3f}"},
                    headers=headers, timeout=self.timeout, verify=verify)
            except requests.exceptions.SSLError as e:
                raise PrometheusUnavailable(f"Prometheus at {self.shown}: TLS failed: {e}",
                                            hint="set deploy.analysis.prometheus.ca_file") \
                    from None
            except requests.exceptions.RequestException as e:
                problem = f"{type(e).__name__}: {first_line(e)}"
                continue
            if response.status_code in (401, 403):
                raise PrometheusUnavailable(
                    f"Prometheus at {self.shown} refused the request (HTTP "
                    f"{response.status_code})", hint="check the bearer token "
                    "(deploy.analysis.prometheus.bearer_token_env / bearer_token_file)")
            if response.status_code in (400, 422):
                detail = _error_text(response)
                raise ConfigError(f"Prometheus refused the {name} query: {detail}\n  {promql}",
                                  key=f"deploy.analysis.queries.{name}")
            if response.status_code >= 300:
                problem = f"HTTP {response.status_code}: {_error_text(response)}"
                continue
            try:
                body = response.json()
            except ValueError:
                problem = "the answer is not JSON (is this Prometheus?)"
                continue
            if not isinstance(body, dict) or body.get("status") != "success" \
                    or not isinstance(body.get("data"), dict):
                problem = f"unexpected answer: {str(body)[:200]}"
                continue
            data: dict[str, Any] = body["data"]
            return data
        raise PrometheusUnavailable(
            f"Prometheus at {self.shown} did not answer after {self.retries + 1} attempts: "
            f"{problem}")

    def close(self) -> None:
        self.session.close()


@dataclass
class PrometheusProvider:
    """Counts per track since a step began, from the three queries."""

    client: Client
    queries: Mapping[str, str] = field(default_factory=default_queries)

    def counts(self, track: str, labels: Labels, since: float, at: float) -> Counts:
        window = max(at - since, 1.0)

        def run(name: str) -> list[tuple[Mapping[str, str], float]]:
            template = self.queries[name]
            promql = render(template, track=track, labels=labels, window_seconds=window)
            data = self.client.query(promql, at, name=name)
            return list(_series_increases(data, at - window, "{lookback}" in template))

        requests_total = _total(run("requests"))
        if requests_total is None:
            return Counts(None)
        errors = _total(run("errors")) or 0.0
        buckets = _by_le(run("latency"))
        return Counts(requests_total, errors, buckets)


def _total(series: list[tuple[Mapping[str, str], float]]) -> float | None:
    finite = [v for _, v in series if math.isfinite(v)]
    return sum(finite) if finite else None


def _by_le(series: list[tuple[Mapping[str, str], float]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in series:
        le = labels.get("le")
        if le is None or not math.isfinite(value):
            continue
        try:
            bound = float(le)  # "+Inf" parses to inf
        except ValueError:
            continue
        out[bound] = out.get(bound, 0.0) + value
    return out


def _series_increases(data: Mapping[str, Any], since: float,
                      lookback: bool) -> Iterable[tuple[Mapping[str, str], float]]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        yield {}, _number(result[1])
        return
    if not isinstance(result, list):
        return
    if kind == "vector":
        for series in result:
            yield series.get("metric", {}), _number((series.get("value") or [0, "NaN"])[1])
    elif kind == "matrix":
        for series in result:
            samples = [(float(t), _number(v)) for t, v in series.get("values") or []]
            yield series.get("metric", {}), increase(samples, since, lookback=lookback)


def increase(samples: list[tuple[float, float]], since: float, *, lookback: bool) -> float:
    """Exact increase of one counter after `since`: from its last sample at or before `since`;
    without one, from zero when the samples reach back before `since` (`lookback`: the series
    was born after it), else from its first sample. A drop is a reset: count from zero."""
    points = [(t, v) for t, v in samples if math.isfinite(v)]
    if not points:
        return math.nan
    before = [v for t, v in points if t <= since]
    after = [v for t, v in points if t > since]
    if before:
        previous = before[-1]
    elif lookback:
        previous = 0.0
    else:
        previous, after = after[0], after[1:]
    total = 0.0
    for value in after:
        total += value - previous if value >= previous else value
        previous = value
    return total


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])[:300]
    except ValueError:
        pass
    return response.text[:200].strip() or response.reason or ""

