"""Release settings: `deploy` merged with `environments.NAME` -> frozen dataclasses.

Every value is read through `Config`'s typed getters under the dotted key it came from
(`environments.prod.replicas` when the environment sets it, else `deploy.replicas`), so a bad
value names the exact key and line. Unknown keys are refused with a "did you mean".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship import serving
from modelship.config import Config, deep_merge, suggest
from modelship.errors import UsageError
from modelship.provenance import policy as verify_policy
from modelship.serving import chart as serving_chart

STRATEGIES = ("canary", "blue-green", "rolling")
DEPLOY_KEYS = ("release", "namespace", "kube_context", "strategy", "replicas", "timeout",
               "values", "canary", "blue_green", "analysis",
               "verify")  # verify: read by modelship.provenance.policy
ENVIRONMENT_KEYS = DEPLOY_KEYS
CANARY_KEYS = ("steps", "interval", "shadow")
BLUE_GREEN_KEYS = ("scale_down_delay", "auto_promote", "fallback", "preview_interval")
FALLBACKS = ("canary", "none")
DEFAULT_STEPS = (10, 25, 50, 100)
DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 600.0
DEFAULT_SCALE_DOWN_DELAY = 600.0
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RELEASE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class CanarySettings:
    steps: tuple[int, ...] = DEFAULT_STEPS  # strictly increasing, ends at 100
    interval: float = DEFAULT_INTERVAL  # seconds each step holds (analysis interval)
    shadow: float = 0.0  # seconds of mirrored traffic before the first weighted step


@dataclass(frozen=True)
class BlueGreenSettings:
    scale_down_delay: float = DEFAULT_SCALE_DOWN_DELAY  # old colour kept warm after a switch
    auto_promote: bool = True  # switch after the preview check; false: pause before it
    fallback: str | None = None  # "canary": run a canary when two GPU copies do not fit
    preview_interval: float = DEFAULT_INTERVAL  # how long the preview step is analysed


@dataclass(frozen=True)
class ReleaseSettings:
    model: str
    release: str
    namespace: str
    environment: str | None
    kube_context: str | None
    strategy: str
    replicas: int
    timeout: float  # readiness wait per step, seconds
    values: Mapping[str, Any] = field(default_factory=dict)  # extra chart values
    canary: CanarySettings = CanarySettings()
    blue_green: BlueGreenSettings = BlueGreenSettings()
    # validated as a mapping only; the analysis package parses it (deploy.analysis)
    analysis: Mapping[str, Any] | None = None
    analysis_key: str = "deploy.analysis"  # where `analysis` came from, for its errors

    @property
    def gpu_count(self) -> int:
        gpu = self.values.get("gpu")
        count = gpu.get("count", 0) if isinstance(gpu, Mapping) else 0
        return count if isinstance(count, int) and not isinstance(count, bool) else 0


class _Source:
    """Reads a setting from the environment's override, else from `deploy`."""

    def __init__(self, cfg: Config, environment: str | None) -> None:
        self.cfg = cfg
        self.env_prefix = f"environments.{environment}" if environment else None

    def key(self, name: str) -> str:
        if self.env_prefix and self.cfg.has(f"{self.env_prefix}.{name}"):
            return f"{self.env_prefix}.{name}"
        return f"deploy.{name}"

    def has(self, name: str) -> bool:
        return self.cfg.has(self.key(name))


def environments(cfg: Config) -> list[str]:
    envs = cfg.raw("environments", {})
    if not isinstance(envs, Mapping):
        raise cfg.error("environments", "expected a mapping of environment name: overrides, "
                        f"got {type(envs).__name__}")
    return [str(name) for name in envs]


def _check_keys(cfg: Config, prefix: str, allowed: tuple[str, ...]) -> None:
    node = cfg.raw(prefix, None)
    if node is None:
        return
    if not isinstance(node, Mapping):
        raise cfg.error(prefix, f"expected a mapping ({', '.join(allowed)}), got "
                        f"{_kind(node)}")
    for key in node:
        if key not in allowed:
            raise cfg.error(f"{prefix}.{key}", f"unknown key; expected one of "
                            f"{', '.join(sorted(allowed))}",
                            hint=suggest(str(key), sorted(allowed)))


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'"
    return f"a {type(value).__name__}"


def _validate_keys(cfg: Config, environment: str | None) -> None:
    _check_keys(cfg, "deploy", DEPLOY_KEYS)
    _check_keys(cfg, "deploy.canary", CANARY_KEYS)
    _check_keys(cfg, "deploy.blue_green", BLUE_GREEN_KEYS)
    for name in environments(cfg):
        prefix = f"environments.{name}"
        _check_keys(cfg, prefix, ENVIRONMENT_KEYS)
        _check_keys(cfg, f"{prefix}.canary", CANARY_KEYS)
        _check_keys(cfg, f"{prefix}.blue_green", BLUE_GREEN_KEYS)
    if environment is not None and environment not in environments(cfg):
        known = environments(cfg)
        listed = ", ".join(known) if known else "none are defined"
        raise UsageError(f"--environment {environment}: no such environment in {cfg.file} "
                         f"(environments: {listed})",
                         hint=suggest(environment, known) if known else
                         f"add environments.{environment} to {cfg.file}")


def model_name(cfg: Config) -> str:
    if cfg.has("model.name"):
        return cfg.get_str("model.name")
    return Path(cfg.root).resolve().name


def _release_name(model: str) -> str:
    """The default release name: the model name made a valid Helm release name."""
    return re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:53].rstrip("-")


def _steps(cfg: Config, key: str) -> tuple[int, ...]:
    raw = cfg.get_list(key)
    steps: list[int] = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise cfg.error(key, f"expected weights between 1 and 100, got {value!r}",
                            hint="e.g. steps: [10, 25, 50, 100]")
        if steps and value <= steps[-1]:
            raise cfg.error(key, f"expected increasing weights, got {value} after {steps[-1]}")
        steps.append(value)
    if not steps:
        raise cfg.error(key, "expected at least one weight, e.g. [10, 25, 50, 100]")
    if steps[-1] != 100:
        steps.append(100)  # the last step always gives the new version all traffic
    return tuple(steps)


def _positive_duration(cfg: Config, key: str, default: float) -> float:
    seconds = cfg.get_duration(key, default)
    if seconds <= 0:
        raise cfg.error(key, f"expected a duration above 0, got '{cfg.raw(key, default)}'")
    return seconds


def _shadow(cfg: Config, key: str, strategy: str, values: Mapping[str, Any]) -> float:
    """deploy.canary.shadow: mirroring is the Gateway API's (HTTPRoute RequestMirror), so a
    canary routed by the Gateway API is the only release that can have one."""
    from modelship.release.values import traffic_mode  # values -> strategy -> settings

    seconds = cfg.get_duration(key, 0)
    if seconds < 0:
        raise cfg.error(key, f"expected a duration such as 60s, got '{cfg.raw(key)}'")
    mode = traffic_mode(values)
    if seconds and (strategy != "canary" or mode != "gateway-api"):
        raise cfg.error(key, f"a shadow step mirrors requests with the Gateway API; this "
                             f"release has strategy {strategy} and traffic.mode {mode}",
                        hint="use strategy canary with deploy.values.traffic.mode gateway-api, "
                             "or drop canary.shadow")
    return seconds


def _values(cfg: Config, environment: str | None) -> dict[str, Any]:
    """deploy.values with environments.NAME.values on top; the engine's own keys refused."""
    values: dict[str, Any] = cfg.get_mapping("deploy.values", {})
    if environment and cfg.has(f"environments.{environment}.values"):
        values = deep_merge(values, cfg.get_mapping(f"environments.{environment}.values"))
    # the chart's probes and scrape target from the resolved serve spec (serve.protocol's
    # preset included); the user's values on top, so what the user writes wins
    values = deep_merge(
        serving_chart.chart_values(serving.ServeSpec.from_config(cfg), values), values)
    for reserved in ("strategy", "stable", "canary", "blueGreen"):
        if reserved in values:
            key = (f"environments.{environment}.values.{reserved}"
                   if environment and reserved in cfg.raw(f"environments.{environment}.values",
                                                          {})
                   else f"deploy.values.{reserved}")
            raise cfg.error(key, "set by the release engine; expected other chart values "
                            "(resources, gpu, traffic, monitoring, ...)",
                            hint="use deploy.strategy, deploy.replicas and --image instead")
    return values


def load(cfg: Config, environment: str | None = None, *, strategy: str | None = None,
         timeout: float | None = None) -> ReleaseSettings:
    """Settings for one environment (None: `deploy` alone). `strategy` and `timeout` are the
    command-line overrides (already validated by the CLI)."""
    _validate_keys(cfg, environment)
    verify_policy.load(cfg, environment)  # deploy.verify's mistakes exit 2 with the rest
    src = _Source(cfg, environment)
    model = model_name(cfg)

    release_key = src.key("release")
    release = cfg.get_str(release_key).strip() if src.has("release") else _release_name(model)
    if len(release) > 53 or not _RELEASE.match(release):
        where = release_key if src.has("release") else "model.name"
        raise cfg.error(where, f"'{release}' is not a Helm release name; expected at most 53 "
                        "lowercase letters, digits, '-' and '.', starting and ending with a "
                        "letter or digit", hint="set deploy.release")
    namespace_key = src.key("namespace")
    namespace = cfg.get_str(namespace_key, "default").strip()
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise cfg.error(namespace_key, f"'{namespace}' is not a namespace name; expected at "
                        "most 63 lowercase letters, digits and '-'")
    context = cfg.get_str(src.key("kube_context")) if src.has("kube_context") else None
    chosen = strategy or cfg.get_str(src.key("strategy"), "canary", choices=STRATEGIES)
    replicas = cfg.get_int(src.key("replicas"), 2, minimum=1)
    step_timeout = timeout if timeout is not None else _positive_duration(
        cfg, src.key("timeout"), DEFAULT_TIMEOUT)

    values = _values(cfg, environment)
    canary = CanarySettings(
        steps=_steps(cfg, src.key("canary.steps")) if src.has("canary.steps")
        else DEFAULT_STEPS,
        interval=_positive_duration(cfg, src.key("canary.interval"), DEFAULT_INTERVAL),
        shadow=_shadow(cfg, src.key("canary.shadow"), chosen, values),
    )
    fallback = cfg.get_str(src.key("blue_green.fallback"), "none", choices=FALLBACKS)
    blue_green = BlueGreenSettings(
        scale_down_delay=cfg.get_duration(src.key("blue_green.scale_down_delay"),
                                          DEFAULT_SCALE_DOWN_DELAY),
        auto_promote=cfg.get_bool(src.key("blue_green.auto_promote"), True),
        fallback=None if fallback == "none" else fallback,
        preview_interval=_positive_duration(
            cfg, src.key("blue_green.preview_interval"),
            canary.interval if src.has("canary.interval") else DEFAULT_INTERVAL),
    )
    analysis_key = src.key("analysis")
    analysis = cfg.get_mapping(analysis_key) if cfg.has(analysis_key) else None
    return ReleaseSettings(model=model, release=release, namespace=namespace,
                           environment=environment, kube_context=context, strategy=chosen,
                           replicas=replicas, timeout=step_timeout, values=values,
                           canary=canary, blue_green=blue_green, analysis=analysis,
                           analysis_key=analysis_key)

