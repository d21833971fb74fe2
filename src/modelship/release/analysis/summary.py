"""The analysis part of the deploy job summary: one row per step (counts per track, the
strongest test statistic against its bar, probe agreement and accuracy, what decided) and
Mermaid charts of canary vs stable error rate and p95 latency per step.

Input is `deploy --json`'s `steps` list: {"name", "weight", "verdict", "seconds", "evidence"}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelship import markdown

HEADERS = ("step", "weight", "verdict", "canary requests", "canary errors", "stable requests",
           "stable errors", "canary p95 ms", "stable p95 ms", "statistic / bar",
           "agreement", "accuracy", "decided by")


def rows(steps: Sequence[Mapping[str, Any]]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for step in steps:
        evidence = step.get("evidence") or {}
        canary = _track(evidence, "canary")
        stable = _track(evidence, "stable")
        probes = evidence.get("probes") or {}
        out.append((step.get("name"), f"{step.get('weight', '-')}%", _icon(step.get("verdict")),
                    canary.get("requests"), _errors(canary), stable.get("requests"),
                    _errors(stable), canary.get("latency_p95_ms"), stable.get("latency_p95_ms"),
                    _statistic(evidence), _share(probes.get("agreement")),
                    _share((probes.get("canary") or {}).get("accuracy")),
                    evidence.get("decided_by")))
    return out


def render(steps: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: the table, then the charts (only for steps that saw both tracks)."""
    if not steps:
        return "_no analysed steps_\n"
    parts = ["#### Canary analysis", "", markdown.table(HEADERS, rows(steps))]
    timed = llm_rows(steps)
    if timed:
        parts += ["LLM latency from the probes' streamed answers:", "",
                  markdown.table(LLM_HEADERS, timed)]
    reasons = [f"- **{s.get('name')}**: {_reason(s)}" for s in steps if _reason(s)]
    if reasons:
        parts += ["\n".join(reasons), ""]
    parts.append(charts(steps))
    return "\n".join(p for p in parts if p)


LLM_HEADERS = ("step", "canary TTFT p50 / p95 ms", "stable TTFT p50 / p95 ms",
               "canary tokens/s", "stable tokens/s", "rejected")


def llm_rows(steps: Sequence[Mapping[str, Any]]) -> list[tuple[object, ...]]:
    """Per step with timed probe answers: each version's TTFT p50/p95 and median tokens/s,
    and the checks that rejected (e.g. "ttft_ms > 100 ms vs stable")."""
    out: list[tuple[object, ...]] = []
    for step in steps:
        evidence = step.get("evidence") or {}
        timed = (evidence.get("probes") or {}).get("llm")
        if not timed:
            continue
        canary, stable = timed.get("canary") or {}, timed.get("stable") or {}
        out.append((step.get("name"), _pair(canary), _pair(stable),
                    _number(canary.get("tokens_per_s_p50")),
                    _number(stable.get("tokens_per_s_p50")),
                    ", ".join(evidence.get("rejected") or []) or "-"))
    return out


def _pair(stats: Mapping[str, Any]) -> str:
    return f"{_number(stats.get('ttft_p50_ms'))} / {_number(stats.get('ttft_p95_ms'))}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def charts(steps: Sequence[Mapping[str, Any]]) -> str:
    seen = [s for s in steps
            if _track(s.get("evidence") or {}, "canary") and _track(s.get("evidence") or {},
                                                                    "stable")]
    if not seen:
        return ""
    labels = [str(s.get("name")) for s in seen]
    out = []
    error_rates: dict[str, Sequence[float]] = {
        track: [100 * float(_track(s["evidence"], track).get("error_rate") or 0.0)
                for s in seen] for track in ("canary", "stable")}
    out.append(markdown.bar_chart("error rate % per step: canary (first bar) vs stable",
                                  labels, error_rates, "%"))
    latencies = {track: [_track(s["evidence"], track).get("latency_p95_ms") for s in seen]
                 for track in ("canary", "stable")}
    if all(v is not None for values in latencies.values() for v in values):
        out.append(markdown.bar_chart(
            "p95 latency ms per step: canary (first bar) vs stable", labels,
            {k: [float(v) for v in values if v is not None] for k, values in latencies.items()},
            "ms"))
    return "\n".join(out)


def _reason(step: Mapping[str, Any]) -> str | None:
    reason = step.get("reason") or (step.get("evidence") or {}).get("reason")
    return None if reason is None else str(reason)


def _track(evidence: Mapping[str, Any], name: str) -> dict[str, Any]:
    return dict(((evidence.get("tracks") or {}).get(name)) or {})


def _errors(track: Mapping[str, Any]) -> str | None:
    if track.get("errors") is None:
        return None
    rate = track.get("error_rate")
    return f"{track['errors']} ({rate:.2%})" if rate is not None else str(track["errors"])


def _statistic(evidence: Mapping[str, Any]) -> str | None:
    checks = evidence.get("checks") or []
    if not checks:
        return None
    top = max(checks, key=lambda c: c.get("statistic") or 0.0)
    return f"{top['statistic']:.3g} / {top['threshold']:g} ({top['name']})"


def _share(value: Any) -> str | None:
    return None if value is None else f"{value:.1%}"


def _icon(verdict: Any) -> str:
    return {"passed": "✅ passed", "failed": "❌ failed", "inconclusive": "⚠️ inconclusive",
            "error": "⚠️ error", "skipped": "skipped"}.get(str(verdict), str(verdict))
