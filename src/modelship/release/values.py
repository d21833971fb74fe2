"""Desired state <-> chart values. Pure. The only code that knows the chart values contract
(DESIGN.md, "Chart values contract"; helm-chart/values.yaml).

The engine always sends the whole desired state (never --reuse-values), so one upgrade is
idempotent: applying the same Desired twice renders the same objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from modelship.release.model import COLOURS, Desired, Track


def _track(track: Track | None) -> dict[str, str]:
    if track is None:
        return {"image": "", "version": ""}
    return {"image": track.image, "version": track.version}


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def chart_values(desired: Desired, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Chart values for `desired`, on top of the user's extra values (deploy.values)."""
    values: dict[str, Any] = _merge({}, extra or {})
    stable: dict[str, Any] = {"replicas": desired.replicas}
    if desired.strategy != "blue-green" and desired.stable is not None:
        stable.update(_track(desired.stable))
    canary_on = desired.strategy == "canary" and desired.canary is not None
    ours: dict[str, Any] = {
        "strategy": desired.strategy,
        "stable": stable,
        "canary": {"enabled": canary_on, **_track(desired.canary if canary_on else None),
                   "weight": desired.weight if canary_on else 0},
    }
    if desired.strategy == "blue-green":
        ours["blueGreen"] = {"blue": _track(desired.blue), "green": _track(desired.green),
                             "active": desired.active, "idleReplicas": desired.idle_replicas}
    else:  # no colours outside blue-green (the chart ignores them; keep values clean)
        ours["blueGreen"] = {"blue": _track(None), "green": _track(None), "active": "blue",
                             "idleReplicas": None}
    return _merge(values, ours)


def _read_track(node: object) -> Track | None:
    if not isinstance(node, Mapping):
        return None
    image = node.get("image")
    if not isinstance(image, str) or not image:
        return None
    version = node.get("version")
    return Track(image, version if isinstance(version, str) and version else
                 _version_from_image(image))


def _version_from_image(image: str) -> str:
    """As the chart labels it: the tag, else the first 12 hex digits of the digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return digest.split(":", 1)[-1][:12] if digest else image


def desired_from_values(values: Mapping[str, Any]) -> Desired | None:
    """The desired state a revision's values describe; None when they are not ours."""
    strategy = values.get("strategy", "rolling")
    stable = values.get("stable") if isinstance(values.get("stable"), Mapping) else {}
    assert isinstance(stable, Mapping)
    replicas = stable.get("replicas", 2)
    if not isinstance(replicas, int) or strategy not in ("canary", "blue-green", "rolling"):
        return None
    if strategy == "blue-green":
        bg = values.get("blueGreen") if isinstance(values.get("blueGreen"), Mapping) else {}
        assert isinstance(bg, Mapping)
        active = bg.get("active", "blue")
        idle = bg.get("idleReplicas")
        return Desired("blue-green", replicas, blue=_read_track(bg.get("blue")),
                       green=_read_track(bg.get("green")),
                       active=active if active in COLOURS else "blue",
                       idle_replicas=idle if isinstance(idle, int) else None)
    canary = values.get("canary") if isinstance(values.get("canary"), Mapping) else {}
    assert isinstance(canary, Mapping)
    canary_track = _read_track(canary) if strategy == "canary" and canary.get("enabled") else None
    weight = canary.get("weight", 0) if canary_track else 0
    return Desired(strategy, replicas, stable=_read_track(stable), canary=canary_track,
                   weight=weight if isinstance(weight, int) else 0)


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
