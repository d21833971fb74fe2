"""What an act log says about a modelship run: the job summaries, and the `result` output
(the command's `--json` object) each modelship step set, so the demo and the e2e tests read
a deploy's steps and their analysis evidence from the log the way a reader of the run would.
"""

from __future__ import annotations

import json
import re
from typing import Any

SUMMARY = re.compile(r"⚙  Summary - (.*?)(?=\n\[|\Z)", re.S)
RESULT = re.compile(r"⚙  ::set-output:: result=(\{.*\})\s*$", re.M)


def summaries(log: str) -> list[str]:
    """The job summaries act printed, in order."""
    return [m.strip() for m in SUMMARY.findall(log)]


def results(log: str) -> list[dict[str, Any]]:
    """Every `result` output in the log, in order (gate, build, deploy, ...)."""
    out = []
    for match in RESULT.finditer(log):
        try:
            out.append(json.loads(match.group(1)))
        except json.JSONDecodeError:  # a result act split over lines: not ours to guess
            continue
    return [r for r in out if isinstance(r, dict)]


def deploy_result(log: str, environment: str) -> dict[str, Any] | None:
    """The last `modelship deploy` result for one environment, or None when none ran."""
    found = [r for r in results(log)
             if r.get("environment") == environment and "steps" in r and "outcome" in r]
    return found[-1] if found else None


def evidence_lines(result: dict[str, Any]) -> list[str]:
    """One line per analysed step: verdict, canary and stable counts, what decided."""
    lines = []
    for step in result.get("steps", []):
        evidence = step.get("evidence") or {}
        if "decided_by" not in evidence:
            continue
        tracks = evidence.get("tracks") or {}
        counts = []
        for track in ("canary", "stable"):
            info = tracks.get(track)
            counts.append(f"{track} no data" if not info else
                          f"{track} {info['requests']} requests, {info['errors']} errors, "
                          f"p95 {info['latency_p95_ms'] or '-'} ms")
        probes = evidence.get("probes") or {}
        if probes.get("canary"):
            agreed = probes.get("agreement")
            counts.append(f"probes {probes['canary']['success']:.0%} of {probes['rows']} "
                          "rows answered" + ("" if agreed is None else
                                             f", agreement {agreed:.0%}"))
        lines.append(f"{step['name']} ({step['weight']}%): {step['verdict']} after "
                     f"{evidence.get('seconds')}s; {'; '.join(counts)}; decided by "
                     f"{evidence['decided_by']}: {evidence.get('reason')}")
    return lines
