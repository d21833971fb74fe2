"""`deploy.analysis` (DESIGN.md, "Analysis contract") -> frozen settings; errors name the key.

```yaml
analysis:
  prometheus: http://prometheus.monitoring:9090   # or a mapping: url, bearer_token_env,
                                    # bearer_token_file, ca_file, timeout, retries
  alpha: 0.01            # false-abort budget for the whole release
  min_requests: 200      # canary requests a step needs before it may pass
  on_inconclusive: hold  # hold | abort | promote
  max_wait: 10m
  compare: {error_rate: stable, latency_ms: {above: 250}}
  thresholds: {error_rate: "<= 0.02", latency_p95_ms: "<= 300"}
  queries: {requests: ..., errors: ..., latency: ...}   # PromQL templates
  probes: {eval_set: eval/eval.jsonl, rows: 200, agreement: ">= 0.9", tolerance: {accuracy: 0.02}}
  bake: 0s
  metrics: app           # app | gateway | vllm | tgi | triton | mlserver | bentoml (packs.py)
```
An environment may override single keys (`environments.<name>.analysis.alpha`): `parse` reads
each key from the override when it has it, so an error names the key the value came from.
The bearer token itself never sits in the file: it is read from an environment variable
(default MODELSHIP_PROMETHEUS_TOKEN) or a file (e.g. a service account token).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelship.config import Config, suggest
from modelship.errors import ConfigError
from modelship.gate.judge import Tolerance, parse_expression, parse_tolerance
from modelship.release.analysis import llm
from modelship.release.analysis.judge import Check, Event
from modelship.release.analysis.packs import PACK_NAMES

KEYS = ("prometheus", "alpha", "min_requests", "on_inconclusive", "max_wait", "compare",
        "thresholds", "queries", "probes", "bake", "metrics")
PROMETHEUS_KEYS = ("url", "bearer_token_env", "bearer_token_file", "ca_file", "timeout",
                   "retries")
PROBE_KEYS = ("eval_set", "rows", "agreement", "tolerance")
QUERY_NAMES = ("requests", "errors", "latency")
PLACEHOLDERS = ("track", "namespace", "release", "fullname", "window", "lookback")
POLICIES = ("hold", "abort", "promote")
COMPARE_KEYS = ("error_rate", "latency_ms", "ttft_ms", "inter_token_ms", "tokens_per_s")
THRESHOLD_NAMES = ("error_rate", "success_rate", "latency_p50_ms", "latency_p90_ms",
                   "latency_p95_ms", "latency_p99_ms")
PROBE_METRICS = ("accuracy", "error_rate", "latency_p95_ms")
TOKEN_ENV = "MODELSHIP_PROMETHEUS_TOKEN"  # noqa: S105 (a variable name, not a secret)
URL_ENV = "MODELSHIP_PROMETHEUS_URL"

_LATENCY_QUANTILE = re.compile(r"^latency_p(\d{1,2}(?:\.\d+)?)_ms$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Policy = Literal["hold", "abort", "promote"]


@dataclass(frozen=True)
class PrometheusSettings:
    url: str | None  # None: MODELSHIP_PROMETHEUS_URL when the analysis runs
    bearer_token_env: str = TOKEN_ENV
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    timeout: float = 10.0
    retries: int = 3


@dataclass(frozen=True)
class ProbeSettings:
    eval_set: Path
    rows: int = 200
    agreement: float | None = None  # at least this share of answers equal the current version's
    agreement_strict: bool = False  # ">" rather than ">="
    tolerance: tuple[Tolerance, ...] | None = None  # None: the gate's baseline tolerance


@dataclass(frozen=True)
class AnalysisSettings:
    prometheus: PrometheusSettings = field(default_factory=lambda: PrometheusSettings(None))
    alpha: float = 0.01
    min_requests: int = 200
    on_inconclusive: Policy = "hold"
    max_wait: float = 600.0
    compare: tuple[Check, ...] = (Check("error_rate vs stable", "compare", Event()),)
    thresholds: tuple[Check, ...] = ()
    queries: Mapping[str, str] = field(default_factory=dict)
    probes: ProbeSettings | None = None
    bake: float = 0.0
    metrics: str = "app"  # the metric pack (packs.py) the default queries come from
    key: str = "deploy.analysis"  # where it was read, for later messages

    @property
    def tests(self) -> tuple[Check, ...]:
        return self.compare + self.thresholds


class _Reader:
    """Reads a key from the environment's override when present, else from deploy."""

    def __init__(self, cfg: Config, base: str, override: str | None) -> None:
        self.cfg = cfg
        self.base = base
        self.override = override

    def key(self, name: str) -> str:
        if self.override and self.cfg.has(f"{self.override}.{name}"):
            return f"{self.override}.{name}"
        return f"{self.base}.{name}"

    def error(self, name: str, message: str, hint: str | None = None) -> ConfigError:
        return self.cfg.error(self.key(name), message, hint=hint)


def parse_release(cfg: Config, key: str) -> AnalysisSettings | None:
    """The analysis for a release whose settings name `key`: an environment's section
    (`environments.<name>.analysis`) overrides deploy.analysis key by key, never replaces it."""
    if key.startswith("environments."):
        return parse(cfg, "deploy.analysis", override=key)
    return parse(cfg, key)


def parse(cfg: Config, key: str = "deploy.analysis",
          override: str | None = None) -> AnalysisSettings | None:
    """The analysis settings, or None when neither `key` nor `override` configures one."""
    sections = [k for k in (key, override) if k and cfg.has(k)]
    if not sections:
        return None
    for section in sections:
        mapping = cfg.get_mapping(section)
        for name in mapping:
            if name not in KEYS:
                raise cfg.error(f"{section}.{name}",
                                f"unknown key; expected one of {', '.join(KEYS)}",
                                hint=suggest(str(name), KEYS))
    read = _Reader(cfg, key, override if override and cfg.has(override) else None)
    settings = AnalysisSettings(
        prometheus=_prometheus(read),
        alpha=_alpha(read),
        min_requests=cfg.get_int(read.key("min_requests"), 200, minimum=0),
        on_inconclusive=_policy(read),
        max_wait=cfg.get_duration(read.key("max_wait"), "10m"),
        compare=_compare(read),
        thresholds=_thresholds(read),
        queries=_queries(read),
        probes=_probes(read),
        bake=cfg.get_duration(read.key("bake"), 0),
        metrics=cfg.get_str(read.key("metrics"), "app", choices=PACK_NAMES),
        key=key,
    )
    _streamed(read, settings)
    return settings


def _streamed(read: _Reader, settings: AnalysisSettings) -> None:
    """Checks on streamed tokens (ttft_ms, ...) need probes that stream: an OpenAI preset's
    server (serve.protocol) asked by deploy.analysis.probes. Said now, before any step."""
    timed = [t.measured.metric for t in settings.compare if t.measured is not None]
    if not timed:
        return
    where = f"compare.{timed[0]}"
    protocol = read.cfg.raw("serve.protocol", "custom")
    if protocol not in llm.PROTOCOLS:
        raise read.error(where, f"needs streamed answers to time the tokens: the probes measure "
                                f"it on serve.protocol {' or '.join(llm.PROTOCOLS)}, and "
                                f"serve.protocol is {protocol!r}",
                         hint="use latency_ms / error_rate for this runtime, or serve it "
                              "through its OpenAI-compatible API")
    if settings.probes is None:
        raise read.error(where, "is measured by the probes, and none are configured",
                         hint=f"set {settings.key}.probes (eval_set, rows): the probes "
                              "stream each row to both versions and time the tokens")


def _alpha(read: _Reader) -> float:
    value = read.cfg.get_float(read.key("alpha"), 0.01)
    if not 0.0 < value <= 0.5:
        raise read.error("alpha", f"expected a false-abort probability in (0, 0.5], got {value}",
                         "for example 0.01 (one false abort in a hundred identical releases)")
    return value


def _policy(read: _Reader) -> Policy:
    value = read.cfg.get_str(read.key("on_inconclusive"), "hold", choices=POLICIES)
    return "hold" if value == "hold" else "abort" if value == "abort" else "promote"


def _prometheus(read: _Reader) -> PrometheusSettings:
    cfg, key = read.cfg, read.key("prometheus")
    raw = cfg.raw(key, None)
    if raw is None:
        return PrometheusSettings(None)
    if isinstance(raw, str):
        return PrometheusSettings(_url(cfg, key, raw))
    if not isinstance(raw, Mapping):
        raise cfg.error(key, "expected a URL such as http://prometheus.monitoring:9090 or a "
                             f"mapping ({', '.join(PROMETHEUS_KEYS)})")
    for name in raw:
        if name not in PROMETHEUS_KEYS:
            raise cfg.error(f"{key}.{name}",
                            f"unknown key; expected one of {', '.join(PROMETHEUS_KEYS)}",
                            hint=suggest(str(name), PROMETHEUS_KEYS))
    url = cfg.get_str(f"{key}.url", None) if cfg.has(f"{key}.url") else None
    token_env = cfg.get_str(f"{key}.bearer_token_env", TOKEN_ENV)
    if not _ENV_NAME.match(token_env):
        raise cfg.error(f"{key}.bearer_token_env",
                        f"expected the name of an environment variable, got '{token_env}'",
                        hint="name the variable holding the token, not the token")
    timeout = cfg.get_duration(f"{key}.timeout", "10s")
    if timeout <= 0:
        raise cfg.error(f"{key}.timeout", "expected a duration > 0 such as 10s")
    return PrometheusSettings(
        url=_url(cfg, f"{key}.url", url) if url is not None else None,
        bearer_token_env=token_env,
        bearer_token_file=(cfg.get_path(f"{key}.bearer_token_file")
                           if cfg.has(f"{key}.bearer_token_file") else None),
        ca_file=cfg.get_path(f"{key}.ca_file") if cfg.has(f"{key}.ca_file") else None,
        timeout=timeout,
        retries=cfg.get_int(f"{key}.retries", 3, minimum=0, maximum=20),
    )


def _url(cfg: Config, key: str, value: str) -> str:
    url = value.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise cfg.error(key, f"expected an http(s) URL such as http://prometheus:9090, "
                             f"got '{value}'")
    return url.rstrip("/")


def _compare(read: _Reader) -> tuple[Check, ...]:
    cfg, key = read.cfg, read.key("compare")
    if not cfg.has(key):
        return AnalysisSettings.compare
    tests = []
    for name, value in cfg.get_mapping(key).items():
        where = f"{key}.{name}"
        if name == "error_rate":
            if value != "stable":
                raise cfg.error(where, f"expected 'stable' (compare the canary with stable), "
                                       f"got {value!r}")
            tests.append(Check("error_rate vs stable", "compare", Event()))
        elif name == "latency_ms":
            above = value.get("above") if isinstance(value, Mapping) else None
            if not isinstance(value, Mapping) or set(value) != {"above"} or \
                    isinstance(above, bool) or not isinstance(above, int | float) or above <= 0:
                raise cfg.error(where, f"expected {{above: MS}} with MS > 0 (compare the share "
                                       f"of requests slower than MS), got {value!r}")
            tests.append(Check(f"latency > {above:g} ms vs stable", "compare",
                              Event(slower_than=float(above) / 1000)))
        elif name in llm.METRICS:
            try:
                tests.append(llm.parse(str(name), value))
            except ValueError as e:
                raise cfg.error(where, str(e)) from None
        else:
            raise cfg.error(where, f"unknown comparison; expected one of "
                                   f"{', '.join(COMPARE_KEYS)}",
                            hint=suggest(str(name), COMPARE_KEYS))
    return tuple(tests)


def _thresholds(read: _Reader) -> tuple[Check, ...]:
    cfg, key = read.cfg, read.key("thresholds")
    tests = []
    for name, expr in cfg.get_mapping(key, {}).items():
        where = f"{key}.{name}"

        def error(message: str, hint: str | None, where: str = where) -> Exception:
            return cfg.error(where, message, hint=hint)

        quantile = _LATENCY_QUANTILE.match(str(name))
        if name not in ("error_rate", "success_rate") and not quantile:
            raise error(f"unknown metric; expected one of {', '.join(THRESHOLD_NAMES)} "
                        "(any latency_pNN_ms)", suggest(str(name), THRESHOLD_NAMES))
        parsed = parse_expression(str(name) if name != "success_rate" else "accuracy", expr,
                                  error, f"{cfg.file}: {where}")
        higher = name == "success_rate"
        if (parsed.op in (">=", ">")) != higher:
            want = ">= or >" if higher else "<= or <"
            raise error(f"expected an upper limit ({want}) for {name}, got '{expr}'", None)
        if quantile:
            q = float(quantile.group(1)) / 100
            if not 0.0 < q < 1.0 or parsed.value <= 0:
                raise error(f"expected a quantile between p1 and p99 and a bound > 0 ms, "
                            f"got {name}: {expr!r}", None)
            limit, event = 1.0 - q, Event(slower_than=parsed.value / 1000)
        else:
            limit = 1.0 - parsed.value if higher else parsed.value
            if not 0.0 < limit < 1.0:
                raise error(f"expected a rate strictly between 0 and 1, got {expr!r}",
                            "a limit of 0 errors can never be shown by counting: use 0.001")
            event = Event()
        tests.append(Check(f"{name} {parsed.op} {parsed.value:g}", "threshold", event, limit))
    return tuple(tests)


def _queries(read: _Reader) -> dict[str, str]:
    cfg, key = read.cfg, read.key("queries")
    out = {}
    for name, template in cfg.get_mapping(key, {}).items():
        where = f"{key}.{name}"
        if name not in QUERY_NAMES:
            raise cfg.error(where, f"unknown query; expected one of {', '.join(QUERY_NAMES)}",
                            hint=suggest(str(name), QUERY_NAMES))
        if not isinstance(template, str) or not template.strip():
            raise cfg.error(where, "expected a PromQL template string")
        for placeholder in _PLACEHOLDER.findall(template):
            if placeholder not in PLACEHOLDERS:
                raise cfg.error(where, f"unknown placeholder {{{placeholder}}}; expected "
                                       f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
                                hint=suggest(placeholder, PLACEHOLDERS))
        out[str(name)] = template
    return out


def _probes(read: _Reader) -> ProbeSettings | None:
    cfg, key = read.cfg, read.key("probes")
    if not cfg.has(key):
        return None
    mapping = cfg.get_mapping(key)
    for name in mapping:
        if name not in PROBE_KEYS:
            raise cfg.error(f"{key}.{name}", f"unknown key; expected one of "
                                             f"{', '.join(PROBE_KEYS)}",
                            hint=suggest(str(name), PROBE_KEYS))
    eval_set = (cfg.get_path(f"{key}.eval_set") if cfg.has(f"{key}.eval_set")
                else cfg.get_path("gate.online.eval_set", None) if cfg.has("gate.online.eval_set")
                else None)
    if eval_set is None:
        raise cfg.error(f"{key}.eval_set", "missing: probes need an eval set (rows of input "
                                           "fields plus an optional reference)",
                        hint="set probes.eval_set or gate.online.eval_set")
    agreement, strict = None, False
    if cfg.has(f"{key}.agreement"):
        where = f"{key}.agreement"

        def error(message: str, hint: str | None) -> Exception:
            return cfg.error(where, message, hint=hint)

        parsed = parse_expression("accuracy", cfg.raw(where), error, where)
        if parsed.op not in (">=", ">") or not 0.0 <= parsed.value <= 1.0:
            raise cfg.error(where, f"expected a lower limit between 0 and 1 such as \">= 0.9\", "
                                   f"got {cfg.raw(where)!r}")
        agreement, strict = parsed.value, parsed.op == ">"
    tolerance = None
    if cfg.has(f"{key}.tolerance"):
        items = []
        for name, value in cfg.get_mapping(f"{key}.tolerance").items():
            where = f"{key}.tolerance.{name}"
            if name not in PROBE_METRICS:
                raise cfg.error(where, f"probes measure {', '.join(PROBE_METRICS)}; "
                                       f"got '{name}'", hint=suggest(str(name), PROBE_METRICS))

            def bad(message: str, where: str = where) -> Exception:
                return cfg.error(where, message)

            items.append(parse_tolerance(str(name), value, bad))
        tolerance = tuple(items)
    return ProbeSettings(eval_set=eval_set,
                         rows=cfg.get_int(f"{key}.rows", 200, minimum=1),
                         agreement=agreement, agreement_strict=strict, tolerance=tolerance)


def describe(settings: AnalysisSettings) -> dict[str, Any]:
    """The settings as JSON-able data (for the deploy report and debugging)."""
    return {"alpha": settings.alpha, "min_requests": settings.min_requests,
            "on_inconclusive": settings.on_inconclusive, "max_wait": settings.max_wait,
            "tests": [t.name for t in settings.tests], "bake": settings.bake,
            "metrics": settings.metrics,
            "probes": settings.probes is not None}
