"""Judge metrics: thresholds and the production baseline.

- threshold: `metric: "OP VALUE"` with OP one of >=, >, <=, <; a bare number means "at least"
  for metrics where higher is better and "at most" for latency and error rate.
- baseline: the candidate may be worse than the baseline report by at most the tolerance, in the
  metric's own direction: `0.01` is absolute, `"10%"` is relative to the baseline value. The
  metrics compared are those named under `tolerance`; without a tolerance mapping (no key, null or
  an empty mapping `{}`), every metric both reports have, with no tolerance.
Unknown metric names are configuration errors with a "did you mean".
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from modelship import ghactions
from modelship.config import Config, suggest
from modelship.errors import UsageError
from modelship.gate import metrics as m
from modelship.gate import ranges

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_EXPR = re.compile(r"^\s*(>=|<=|>|<|=>|=<)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
# METRIC[=]OP VALUE; the lookahead keeps the name whole ("accuracy" alone must not read as
# metric "accurac" with threshold "y")
_FLAG = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)(?![A-Za-z0-9_])\s*=?\s*([<>=]*\s*[^<>=\s].*)$")


@dataclass
class Threshold:
    metric: str
    op: str
    value: float
    source: str  # where it was given, for error messages


@dataclass
class Tolerance:
    metric: str
    amount: float
    relative: bool  # amount is a percentage of the baseline value

    def shown(self) -> str | float:
        return f"{self.amount:g}%" if self.relative else self.amount


@dataclass(frozen=True)
class Check:
    """One verdict: `value OP threshold`. A baseline check also carries the baseline value, the
    tolerance and the delta; `within_noise` says whether the baseline lies inside the
    candidate's 95% interval (None without an interval)."""

    name: str
    value: float | None  # None: no row could be scored (all failed), which fails the check
    op: str
    threshold: float
    passed: bool
    kind: Literal["threshold", "baseline"]
    interval: list[float] | None = None
    baseline: float | None = None
    tolerance: str | float | None = None
    delta: float | None = None
    within_noise: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report's check object (DESIGN.md, "Gate contract"), keys in contract order."""
        out: dict[str, Any] = {"name": self.name, "value": self.value, "op": self.op,
                               "threshold": self.threshold, "passed": self.passed,
                               "kind": self.kind}
        if self.kind == "baseline":
            out.update(baseline=self.baseline, tolerance=self.tolerance, delta=self.delta)
        out["interval"] = self.interval
        if self.within_noise is not None:
            out["within_noise"] = self.within_noise
        return out


@dataclass
class Baseline:
    path: Path
    metrics: dict[str, float]
    tolerances: list[Tolerance] | None  # None: every metric both reports have, tolerance 0


def check_metric_name(name: str, error: Callable[[str, str | None], Exception]) -> None:
    if name not in m.ALL:
        raise error(f"unknown metric '{name}'; known metrics: {', '.join(m.ALL)}",
                    suggest(name, m.ALL))


def parse_expression(name: str, expr: Any, error: Callable[[str, str | None], Exception],
                     source: str) -> Threshold:
    if isinstance(expr, bool) or not isinstance(expr, str | int | float):
        raise error(f"expected \"OP VALUE\" such as \">= 0.9\", got {expr!r}", None)
    if isinstance(expr, int | float):
        op, value = (">=" if m.higher_is_better(name) else "<="), float(expr)
    else:
        match = _EXPR.match(expr)
        if not match:
            raise error(f"expected \"OP VALUE\" with OP one of >=, >, <=, <, got '{expr}'",
                        "for example \">= 0.9\" or \"<= 250\"")
        op = {"=>": ">=", "=<": "<="}.get(match.group(1) or "", match.group(1) or "")
        op = op or (">=" if m.higher_is_better(name) else "<=")
        value = float(match.group(2))
    if not math.isfinite(value):
        raise error(f"threshold must be a finite number, got {expr!r}", None)
    return Threshold(name, op, value, source)


def thresholds_from_config(cfg: Config) -> dict[str, Threshold]:
    out: dict[str, Threshold] = {}
    for name, expr in cfg.get_mapping("gate.thresholds", {}).items():
        key = f"gate.thresholds.{name}"

        def error(message: str, hint: str | None, key: str = key) -> Exception:
            return cfg.error(key, message, hint=hint)

        check_metric_name(str(name), error)
        out[str(name)] = parse_expression(str(name), expr, error, f"{cfg.file}: {key}")
        warning = ranges.check(out[str(name)], error)
        if warning:
            ghactions.warning(f"{key}: {warning}", file=cfg.file, line=cfg.lines.get(key))
    return out


def thresholds_from_flags(flags: list[str]) -> dict[str, Threshold]:
    out: dict[str, Threshold] = {}
    for flag in flags:
        match = _FLAG.match(flag)
        if not match:
            raise UsageError(f"--threshold '{flag}': expected METRIC='OP VALUE', "
                             "for example accuracy='>= 0.9'")
        name, expr = match.group(1), match.group(2).strip().strip("'\"").strip()

        def error(message: str, hint: str | None, flag: str = flag) -> Exception:
            return UsageError(f"--threshold '{flag}': {message}", hint=hint)

        check_metric_name(name, error)
        out[name] = parse_expression(name, expr, error, f"--threshold {flag}")
        warning = ranges.check(out[name], error)
        if warning:
            ghactions.warning(f"--threshold '{flag}': {warning}")
    return out


def tolerances_from_config(cfg: Config) -> list[Tolerance] | None:
    """The tolerances named under gate.baseline.tolerance, or None (compare every shared metric)
    when there are none: an absent key, null and `{}` all mean "no tolerance", never "no check"."""
    if not cfg.has("gate.baseline.tolerance"):
        return None
    mapping = cfg.get_mapping("gate.baseline.tolerance")
    if not mapping:
        return None
    out = []
    for name, value in mapping.items():
        key = f"gate.baseline.tolerance.{name}"

        def error(message: str, hint: str | None = None, key: str = key) -> Exception:
            return cfg.error(key, message, hint=hint)

        check_metric_name(str(name), error)
        out.append(parse_tolerance(str(name), value, error))
    return out


def parse_tolerance(name: str, value: Any, error: Callable[[str], Exception]) -> Tolerance:
    text = str(value).strip() if isinstance(value, str) else None
    try:
        if isinstance(value, bool):
            raise ValueError
        if text is not None and text.endswith("%"):
            amount, relative = float(text[:-1]), True
        else:
            amount, relative = float(value), False
    except (TypeError, ValueError):
        raise error(f"expected an absolute tolerance such as 0.01 or a relative one such as "
                    f"\"10%\", got {value!r}") from None
    if not math.isfinite(amount) or amount < 0:
        raise error(f"tolerance must be a number >= 0, got {value!r}")
    return Tolerance(name, amount, relative)


def load_baseline(path: Path, tolerances: list[Tolerance] | None) -> Baseline:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise UsageError(f"{path}: baseline report does not exist",
                         hint="write one with `modelship gate --report-json` on the production "
                              "model, or remove gate.baseline") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read baseline report: {e}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}: baseline report is not valid JSON: {e.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise UsageError(f"{path}: not a gate report; expected a JSON object with \"metrics\"")
    values: dict[str, float] = {}
    for name, value in data["metrics"].items():
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            values[str(name)] = float(value)
    for tolerance in tolerances or []:
        if tolerance.metric not in values:
            raise UsageError(f"{path}: baseline report has no metric '{tolerance.metric}' "
                             f"(it has: {', '.join(values) or 'none'})",
                             hint=suggest(tolerance.metric, list(values)))
    return Baseline(path, values, tolerances)


def availability_error(name: str, task: str, metrics: Mapping[str, float], *,
                       precomputed: bool, online: bool) -> str:
    if precomputed:
        return f"metric '{name}' is not in the precomputed metrics (it has: {', '.join(metrics)})"
    if name in m.LATENCY:
        return f"metric '{name}' needs latency_ms in the results rows"
    if name in m.ONLINE and not online:
        return f"metric '{name}' is measured by online evaluation only (--endpoint URL)"
    family = "classification" if name in m.CLASSIFICATION else "generation"
    return f"metric '{name}' is a {family} metric; the task is {task} (set gate.task or --task)"


def compare(value: float, op: str, threshold: float) -> bool:
    """value OP threshold; >= and <= forgive float noise (an F1 of 0.8999999999999999 is 0.9)."""
    if OPS[op](value, threshold):
        return True
    return op in (">=", "<=") and math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)


def _round(value: float) -> float:
    """For the report: 0.92 - 0.01 shows as 0.91, not 0.9100000000000001. The comparison uses
    the exact value and forgives float noise, so a candidate equal to the baseline passes."""
    return round(value, 12)


def judge(metrics: Mapping[str, float], thresholds: Mapping[str, Threshold],
          baseline: Baseline | None, intervals: Mapping[str, Any]) -> list[Check]:
    """One check per threshold, then one per baseline comparison, in the order given."""
    checks: list[Check] = []
    for name, t in thresholds.items():
        value = metrics.get(name)
        checks.append(Check(name, value, t.op, t.value,
                            passed=value is not None and compare(value, t.op, t.value),
                            kind="threshold", interval=_pair(intervals.get(name))))
    if baseline is None:
        return checks
    if not baseline.tolerances:  # None (or an empty list): every metric both reports have
        compared = [Tolerance(name, 0.0, False) for name in metrics if name in baseline.metrics]
    else:
        compared = baseline.tolerances
    for tol in compared:
        value, base = metrics.get(tol.metric), baseline.metrics[tol.metric]
        amount = abs(base) * tol.amount / 100 if tol.relative else tol.amount
        higher = m.higher_is_better(tol.metric)
        op = ">=" if higher else "<="
        exact = base - amount if higher else base + amount
        interval = _pair(intervals.get(tol.metric))
        checks.append(Check(
            tol.metric, value, op, _round(exact),
            passed=value is not None and compare(value, op, exact), kind="baseline",
            interval=interval, baseline=base, tolerance=tol.shown(),
            delta=None if value is None else value - base,
            # is the baseline value inside the candidate's 95% interval?
            within_noise=bool(interval[0] <= base <= interval[1]) if interval else None))
    return checks


def require_shared_metrics(metrics: Mapping[str, float], baseline: Baseline | None) -> None:
    """A baseline compared on every metric both reports have must share one: a comparison of
    nothing would pass without having measured anything (UsageError, exit 2)."""
    if baseline is None or baseline.tolerances or any(n in baseline.metrics for n in metrics):
        return
    raise UsageError(f"{baseline.path}: the baseline report shares no metric with these results "
                     f"(baseline: {', '.join(baseline.metrics) or 'none'}; results: "
                     f"{', '.join(metrics) or 'none'}), so nothing would be compared",
                     hint="point the baseline at a report of the same task, or name the "
                          "metrics to compare under gate.baseline.tolerance")


def _pair(interval: Any) -> list[float] | None:
    if not interval or interval.get("low") is None:
        return None
    return [interval["low"], interval["high"]]
