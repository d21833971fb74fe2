"""The gate's report: the JSON (DESIGN.md, "Gate contract"), the terminal table, the job summary
(a table and a Mermaid chart of candidate vs baseline) and one annotation per failed check."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from modelship import console, markdown
from modelship.errors import UsageError
from modelship.gate import metrics as m
from modelship.outcome import Annotation

HEADERS = ("metric", "value", "95% interval", "threshold", "baseline", "delta", "verdict")
ERROR_HEADERS = ("failed requests", "count", "example line", "status", "example answer")


def build(*, passed: bool, n: int | None, metrics: dict[str, float],
          checks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The contract's keys first, then extras (task, intervals, baseline, source ...)."""
    return {"passed": passed, "n": n, "metrics": metrics, "checks": checks, **extra}


def write(report: dict[str, Any], path: Path) -> None:
    """Write atomically, so a reader (or a later baseline) never sees half a report."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gate-report-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"{path}: cannot write the report: {e.strerror or e}") from None


def _fmt_op(check: dict[str, Any]) -> str:
    return f"{check['op']} {check['threshold']:.6g}"


def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One row per metric: value, interval, threshold, baseline, delta, verdict."""
    baseline = (report.get("baseline") or {}).get("metrics") or {}
    intervals = report.get("intervals") or {}
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for check in report["checks"]:
        by_metric.setdefault(check["name"], []).append(check)
    out = []
    names = list(report["metrics"]) + [n for n in by_metric if n not in report["metrics"]]
    for name in names:
        value = report["metrics"].get(name)
        checks = by_metric.get(name, [])
        thresholds = [_fmt_op(c) for c in checks if c["kind"] == "threshold"]
        for c in checks:
            if c["kind"] == "baseline":
                thresholds.append(f"{_fmt_op(c)} (baseline, tolerance {c['tolerance']:g})"
                                  if not isinstance(c["tolerance"], str)
                                  else f"{_fmt_op(c)} (baseline, tolerance {c['tolerance']})")
        interval = intervals.get(name)
        shown = (f"[{interval['low']:.4g}, {interval['high']:.4g}]"
                 if interval and interval.get("low") is not None else None)
        base = baseline.get(name)
        delta = None if base is None or value is None else f"{value - base:+.4g}"
        if not checks:
            verdict = "-"
        elif all(c["passed"] for c in checks):
            verdict = "pass"
        else:
            noise = any(c.get("within_noise") for c in checks if not c["passed"])
            verdict = "FAIL (within noise)" if noise else "FAIL"
        out.append((name, value, shown, "; ".join(thresholds) or None, base, delta, verdict))
    return out


def error_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Online evaluation's failed requests, one row per cause: count and one example."""
    groups = (report.get("online") or {}).get("errors_by_cause") or []
    return [(g["cause"], g["count"], g["example"]["line"], g["example"]["status"],
             g["example"]["body"] or g["example"]["detail"] or None) for g in groups]


def text(report: dict[str, Any]) -> str:
    head = (f"gate {'passed' if report['passed'] else 'FAILED'}: "
            f"{report.get('task', '')} on {_rows(report)}")
    failed = [c for c in report["checks"] if not c["passed"]]
    online = report.get("online") or {}
    lines = [head]
    if online.get("failure"):
        lines.append(online["failure"])
    lines += ["", console.table_text(HEADERS, rows(report))]
    if failed:
        lines += ["", f"{len(failed)} of {len(report['checks'])} checks failed"]
    elif not report["checks"] and not online.get("failure"):
        lines += ["", "no thresholds or baseline configured: nothing was judged"]
    if error_rows(report):
        lines += ["", console.table_text(ERROR_HEADERS, error_rows(report))]
    return "\n".join(lines)


def _rows(report: dict[str, Any]) -> str:
    n = report.get("n")
    return "precomputed metrics" if n is None else f"{n:,} rows"


def summary(report: dict[str, Any]) -> str:
    icon = "✅ passed" if report["passed"] else "❌ failed"
    out = [f"### modelship gate: {icon}", "",
           f"{report.get('task', '')} on {_rows(report)} from `{report.get('results', '')}`"]
    if report.get("baseline"):
        out[-1] += f", baseline `{report['baseline'].get('report')}`"
    online = report.get("online") or {}
    if online.get("failure"):
        out += ["", f"**{markdown.escape(online['failure'])}**"]
    out += ["", markdown.table(HEADERS, rows(report))]
    if error_rows(report):
        out += [f"{online['errors']:,} of {online['rows']:,} requests to "
                f"`{online.get('url', online.get('endpoint'))}` failed:", "",
                markdown.table(ERROR_HEADERS, error_rows(report))]
    out.append(chart(report))
    if any(c.get("within_noise") for c in report["checks"] if not c["passed"]):
        out.append("_within noise_: the baseline value lies inside the candidate's 95% "
                   "bootstrap interval, so the difference may be chance.\n")
    return "\n".join(part for part in out if part is not None)


def chart(report: dict[str, Any]) -> str:
    """Candidate vs baseline, one chart per scale (scores, latency) so bars are comparable."""
    baseline = (report.get("baseline") or {}).get("metrics") or {}
    values = report["metrics"]
    groups = {
        "scores": [k for k in values if k not in m.LATENCY and k != "throughput_rps"],
        "latency (ms)": [k for k in values if k in m.LATENCY],
    }
    parts = []
    for title, names in groups.items():
        if not names:
            continue
        series = {"candidate": [values[k] for k in names]}
        if baseline and all(k in baseline for k in names):
            series["baseline"] = [baseline[k] for k in names]
        label = "candidate vs baseline" if "baseline" in series else "candidate"
        parts.append(markdown.bar_chart(f"{label}: {title}", names, series))
    return "\n".join(parts)


def failed_checks(report: dict[str, Any]) -> list[Annotation]:
    failure = (report.get("online") or {}).get("failure")
    if failure:  # every request failed: that is the one thing to say (the checks say "-")
        return [Annotation("error", failure, "modelship gate: online evaluation")]
    found = []
    for check in report["checks"]:
        if check["passed"]:
            continue
        what = "baseline" if check["kind"] == "baseline" else "threshold"
        shown = "not measured" if check["value"] is None else f"{check['value']:.6g}"
        message = f"{check['name']} = {shown}, expected {_fmt_op(check)} ({what})"
        if check["kind"] == "baseline":
            message += f"; baseline {check['baseline']:.6g}, tolerance {check['tolerance']}"
            if check.get("within_noise"):
                message += "; within the 95% interval, may be noise"
        found.append(Annotation("error", message, f"modelship gate: {check['name']}"))
    return found
