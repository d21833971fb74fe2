"""Metric packs (`deploy.analysis.metrics`): which series count a track's requests, errors and
latency, for servers that export names of their own, or none at all.

- `app` (default): the chart's `monitoring.metrics` names (our example server's
  `http_requests_total{status}` and `model_latency_seconds`).
- `gateway`: the Gateway API implementation's own per-backend metrics, so the app needs no
  metrics endpoint. Traefik (kubernetesgateway provider, metrics with service labels) names a
  backend Service `<namespace>-<service>-http-<port>@kubernetesgateway`; the chart routes each
  track of a canary to a Service of its own (`<fullname>-stable`, `<fullname>-canary`).
- runtime packs, scraped from the pods by the chart's ServiceMonitor (labels namespace, track):
  `mlserver` (starlette_exporter under MLServer's `rest_server` prefix), `bentoml`
  (`bentoml_service_*`), `tgi` (`tgi_request_*`), `vllm` (no error counter: errors are HTTP 5xx
  only, read from the gateway), `triton` (success and failure counters; durations only as
  microsecond sums, so no latency distribution).

A template is a PromQL string with {namespace}, {track}, {release}, {fullname}, {window} and
{lookback} (prometheus.render). None means the server does not export it: a check that needs it
is a configuration error before the release starts (settings.required_queries), unless
`deploy.analysis.queries` supplies one.
"""

from __future__ import annotations

from dataclasses import dataclass

PACK_NAMES = ("app", "gateway", "vllm", "tgi", "triton", "mlserver", "bentoml")

_POD = 'namespace="{namespace}",track="{track}"'
# Traefik's name for the backend Service a track's HTTPRoute backendRef points to:
# <namespace>-<service>-<port name>-<port>@kubernetesgateway (3.6; earlier without the name),
# or <namespace>-<service>-<port>@kubernetescrd behind a shadow step's mirroring TraefikService
_TRAEFIK = ('service=~"{namespace}-{fullname}-{track}-(http-)?[0-9]+'
            '@kubernetes(gateway|crd)"')


@dataclass(frozen=True)
class Pack:
    name: str
    requests: str | None
    errors: str | None
    latency: str | None  # histogram buckets in seconds, `le` kept
    source: str  # where the series come from, for messages
    needs_gateway: bool = False  # the tracks must be routed by the Gateway API

    def queries(self) -> dict[str, str]:
        found = {"requests": self.requests, "errors": self.errors, "latency": self.latency}
        return {name: q for name, q in found.items() if q is not None}


def _runtime(name: str, requests: str, errors: str | None, latency: str | None,
             source: str) -> Pack:
    def at(template: str | None) -> str | None:
        return None if template is None else template.replace("SEL", _POD)

    return Pack(name, at(requests), at(errors), at(latency), source)


GATEWAY = Pack(
    "gateway",
    requests=f"traefik_service_requests_total{{{_TRAEFIK}}}[{{lookback}}]",
    errors=f'traefik_service_requests_total{{{_TRAEFIK},code=~"5.."}}[{{lookback}}]',
    latency=f"traefik_service_request_duration_seconds_bucket{{{_TRAEFIK}}}[{{lookback}}]",
    source="the gateway (Traefik's per-backend metrics)", needs_gateway=True)

RUNTIME_PACKS: dict[str, Pack] = {
    "mlserver": _runtime(
        "mlserver", 'rest_server_requests_total{SEL,method="POST"}[{lookback}]',
        'rest_server_requests_total{SEL,method="POST",status_code=~"5.."}[{lookback}]',
        'rest_server_request_duration_seconds_bucket{SEL,method="POST"}[{lookback}]',
        "MLServer's REST metrics (rest_server_*)"),
    "bentoml": _runtime(
        "bentoml", "bentoml_service_request_total{SEL}[{lookback}]",
        'bentoml_service_request_total{SEL,http_response_code=~"5.."}[{lookback}]',
        "bentoml_service_request_duration_seconds_bucket{SEL}[{lookback}]",
        "BentoML's service metrics (bentoml_service_*)"),
    "tgi": _runtime(
        "tgi", "tgi_request_count{SEL}[{lookback}]", "tgi_request_failure{SEL}[{lookback}]",
        "tgi_request_duration_bucket{SEL}[{lookback}]", "TGI's router metrics (tgi_request_*)"),
    "vllm": _runtime(
        "vllm", "vllm:e2e_request_latency_seconds_count{SEL}[{lookback}]", None,
        "vllm:e2e_request_latency_seconds_bucket{SEL}[{lookback}]",
        "vLLM's metrics (vllm:*; no error counter)"),
    "triton": _runtime(
        "triton", '{__name__=~"nv_inference_request_(success|failure)",SEL}[{lookback}]',
        "nv_inference_request_failure{SEL}[{lookback}]", None,
        "Triton's metrics (nv_inference_request_*; durations only as sums)"),
}


def app_pack(requests: str, errors: str, latency: str) -> Pack:
    return Pack("app", requests, errors, latency, "the app's own metrics (monitoring.metrics)")


def pack(name: str, app: Pack, traffic_mode: str | None) -> Pack:
    """The pack `name`; a runtime without an error counter (vLLM) takes requests and errors
    from the gateway when the tracks are routed by one, so its error rate still counts
    every 5xx a client saw."""
    if name == "app":
        return app
    if name == "gateway":
        return GATEWAY
    chosen = RUNTIME_PACKS[name]
    if chosen.errors is None and traffic_mode == "gateway-api":
        return Pack(chosen.name, GATEWAY.requests, GATEWAY.errors, chosen.latency,
                    f"{chosen.source}; requests and errors from the gateway",
                    needs_gateway=True)
    return chosen

