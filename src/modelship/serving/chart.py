"""The chart values the serve contract decides, from the one resolved ServeSpec: the probes'
paths (readiness and startup on serve.health, liveness on the preset's cheaper path), the
startup probe's budget (serve.startup_timeout) and where metrics are scraped. The release
engine puts deploy.values on top, so a value the user writes still wins."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelship.serving.spec import ServeSpec

STARTUP_PERIOD = 10  # seconds between startup probes (the chart's default)


def chart_values(spec: ServeSpec, user: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`serve.*` and `probes.*` chart values (helm-chart/values.yaml) for this server. `user`:
    the chart values the user writes (deploy.values), which win over these; a startup
    `periodSeconds` of theirs sizes the failure threshold, so the budget stays
    serve.startup_timeout."""
    serve: dict[str, Any] = {"port": spec.port, "health": spec.health, "predict": spec.predict}
    if spec.metrics:
        serve["metrics"] = spec.metrics
    if spec.metrics_port is not None and spec.metrics_port != spec.port:
        serve["metricsPort"] = spec.metrics_port
    # liveness only applies once the startup probe passed: a pod still loading its weights is
    # given the whole serve.startup_timeout instead of being restarted
    period = _user_period(user) or STARTUP_PERIOD
    probes: dict[str, Any] = {"startup": {
        "periodSeconds": period,
        "failureThreshold": max(1, math.ceil(spec.startup_timeout / period))}}
    if spec.liveness:
        probes["liveness"] = {"path": spec.liveness}
    return {"serve": serve, "probes": probes}


def _user_period(user: Mapping[str, Any] | None) -> int | None:
    probes = (user or {}).get("probes")
    startup = probes.get("startup") if isinstance(probes, Mapping) else None
    period = startup.get("periodSeconds") if isinstance(startup, Mapping) else None
    if isinstance(period, int) and not isinstance(period, bool) and period > 0:
        return period  # Kubernetes takes whole seconds
    return None
