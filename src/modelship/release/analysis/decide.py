"""Pure: one step's state after a look -> its verdict, or None to keep looking.

Order of evidence (the first that speaks decides, and the reason names it):
1. traffic: a sequential check has rejected (canary worse than stable, or over a limit)
   -> failed, at any look, even before `min_requests` (the test holds however often it looks);
2. probes: the new version's answers disagree with the current one's, or its accuracy on
   labelled rows fell below the tolerance -> failed;
3. before one interval has passed, keep looking;
4. enough evidence -> passed: at least `min_requests` (and at least 1) canary requests, every
   configured traffic check measured this step (requests for error checks, a latency
   histogram for latency checks, stable traffic too for a comparison below weight 100), or no
   live traffic to judge (weight 0 / without Prometheus); and probes passed when configured;
5. otherwise the step is inconclusive. `hold` keeps looking until max_wait; `abort` ends it at
   the interval; `promote` passes it at the interval when there was traffic, just too little,
   and nothing else is missing. Prometheus unreachable is not inconclusive but an error: every
   policy waits for it until max_wait. No data (no series, NaN, zero requests, a check with no
   value, probes that read no prediction) never passes, whatever the policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from modelship.release.analysis.base import Verdict
from modelship.release.analysis.counts import Counts
from modelship.release.analysis.judge import Check, CheckResult

Policy = Literal["hold", "abort", "promote"]
ProbeVerdict = Literal["passed", "failed", "inconclusive"]
DecidedBy = Literal["traffic", "probes", "policy", "prometheus", "no-data", "few-requests",
                    "nothing"]


@dataclass(frozen=True)
class Look:
    now: float
    started_at: float
    interval: float
    max_wait: float
    policy: Policy
    min_requests: int
    traffic_needed: bool  # a provider is configured and the new version gets live traffic
    canary_requests: float | None  # this step, None: no data
    unreachable: str | None  # the provider's last failure, None when the last look worked
    rejected: Sequence[CheckResult]
    probes: ProbeVerdict | None  # None: not configured
    probe_reason: str = ""
    unmeasured: Sequence[str] = ()  # configured traffic checks with no value this step


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    decided_by: DecidedBy
    reason: str


def decide(look: Look) -> Decision | None:
    if look.rejected:
        first = look.rejected[0]
        source: DecidedBy = "probes" if first.test.measured is not None else "traffic"
        return Decision("failed", source,
                        f"{source}: {first.test.name}: e-value {first.statistic:.3g} >= "
                        f"{first.threshold:g} ({_rates(first)})")
    if look.probes == "failed":
        return Decision("failed", "probes", f"probes: {look.probe_reason}")
    elapsed = look.now - look.started_at
    if elapsed < look.interval:
        return None
    waited_out = elapsed >= max(look.interval, look.max_wait)
    problems = [p for p in (_shortfall(look), _probe_shortfall(look)) if p is not None]
    if not problems:
        return Decision("passed", "traffic" if look.traffic_needed else
                        "probes" if look.probes == "passed" else "nothing",
                        _passed_reason(look))
    kind, text = problems[0]
    text = "; ".join(t for _, t in problems)
    if kind == "prometheus":
        return Decision("error", "prometheus", text) if waited_out else None
    if look.policy == "promote" and [k for k, _ in problems] == ["few-requests"]:
        return Decision("passed", "policy", f"{text}; promoted by on_inconclusive: promote")
    if look.policy == "abort" or waited_out:
        wait = "" if look.policy == "abort" else f" after {look.max_wait:g}s"
        return Decision("inconclusive", kind, f"{text}{wait}")
    return None


def _shortfall(look: Look) -> tuple[DecidedBy, str] | None:
    if not look.traffic_needed:
        return None
    if look.unreachable is not None:
        return "prometheus", f"Prometheus unreachable: {look.unreachable}"
    requests = look.canary_requests
    if requests is None or not math.isfinite(requests):
        return "no-data", "no data: Prometheus has no request series for the canary"
    if requests <= 0:  # whatever min_requests says: nothing counted is nothing measured
        return "no-data", "no data: 0 canary requests counted"
    if look.unmeasured:
        return "no-data", f"no data for {'; '.join(look.unmeasured)}"
    if requests < look.min_requests:
        return "few-requests", (f"inconclusive: {requests:.0f} canary requests, "
                                f"{look.min_requests} needed")
    return None


def _probe_shortfall(look: Look) -> tuple[DecidedBy, str] | None:
    if look.probes != "inconclusive":
        return None
    return "probes", look.probe_reason


def unmeasured(tests: Sequence[Check], canary: Counts | None, stable: Counts | None,
               weight: int) -> list[str]:
    """The configured traffic checks this step's counts give no value for: no canary requests
    (error checks) or no latency histogram (latency checks); for a comparison, the same on
    stable, unless the canary has all the traffic (weight 100: nothing left to compare)."""
    out = []
    for test in tests:
        if test.measured is not None:  # timed by the probes: llm.observe says what it missed
            continue
        what = "requests" if test.event.slower_than is None else "latency histogram"
        if not test.event.count(canary or Counts(None))[0] > 0:  # 0 or NaN
            out.append(f"{test.name} (no {what} on the canary)")
        elif test.kind == "compare" and weight < 100 and \
                not test.event.count(stable or Counts(None))[0] > 0:
            out.append(f"{test.name} (no {what} on stable)")
    return out


def _passed_reason(look: Look) -> str:
    parts = []
    if look.traffic_needed:
        parts.append(f"traffic: {look.canary_requests:.0f} canary requests, no check reached "
                     "its bar")
    if look.probes == "passed":
        parts.append(f"probes: {look.probe_reason}")
    return "; ".join(parts) or "nothing to judge: no live traffic and no probes"


def _rates(result: CheckResult) -> str:
    canary, stable = _rate(result.canary_rate), _rate(result.stable_rate)
    if result.test.kind != "compare":
        return f"canary {canary}"
    measured = result.test.measured
    if measured is not None and measured.above is None:  # the paired sign test
        return f"canary worse on {canary} of rows, better on {stable}"
    return f"canary {canary}, stable {stable}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
