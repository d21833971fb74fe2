"""Desired state <-> chart values. Pure. The only code that knows the chart values contract
(DESIGN.md, "Chart values contract"; helm-chart/values.yaml).

The engine always sends the whole desired state (never --reuse-values), so one upgrade is
idempotent: applying the same Desired twice renders the same objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from modelship.config import deep_merge
from modelship.release import strategy as strategies
from modelship.release.desired import Desired


def chart_values(desired: Desired, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Chart values for `desired`, on top of the user's extra values (deploy.values)."""
    return deep_merge(extra or {}, strategies.of(desired.strategy).values(desired))


def desired_from_values(values: Mapping[str, Any]) -> Desired | None:
    """The desired state a revision's values describe; None when they are not ours."""
    name = values.get("strategy", "rolling")
    stable = values.get("stable") if isinstance(values.get("stable"), Mapping) else {}
    assert isinstance(stable, Mapping)
    replicas = stable.get("replicas", 2)
    if not isinstance(replicas, int) or name not in strategies.NAMES:
        return None
    return strategies.of(name).read(values, replicas)


def user_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a revision carried besides the engine's own (deploy.values at the time)."""
    return {k: copy.deepcopy(v) for k, v in values.items()
            if k not in ("strategy", "stable", "canary", "blueGreen")}


def fullname(release: str, extra: Mapping[str, Any] | None = None) -> str:
    """The chart's `<fullname>`: fullnameOverride or the release name, cut to 52 characters."""
    override = (extra or {}).get("fullnameOverride")
    name = override if isinstance(override, str) and override else release
    return name[:52].rstrip("-")


def traffic_mode(extra: Mapping[str, Any] | None) -> str:
    traffic = (extra or {}).get("traffic")
    mode = traffic.get("mode") if isinstance(traffic, Mapping) else None
    return mode if isinstance(mode, str) else "replicas"


def replicas_split(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) pods in `replicas` traffic mode, as the chart computes them
    (helm-chart/README.md, "Traffic modes"): half-up rounding, each track at least one pod
    while 0 < weight < 100; a total of 1 becomes 1 + 1."""
    if weight <= 0:
        return total, 0
    if weight >= 100:
        return 0, total
    if total == 1:
        return 1, 1
    canary = min(max((total * weight + 50) // 100, 1), total - 1)
    return total - canary, canary
