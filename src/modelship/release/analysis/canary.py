"""The analysis a release runs: look at the traffic every few seconds, probe once per step,
judge, and hand the runner a verdict with its evidence.

One `CanaryAnalysis` follows one command's part of a release: its judge's e-processes run
across every step and the bake, which is what lets `alpha` bound false aborts over the release.
A release that pauses and resumes gets one judge per segment with a share of `alpha` each
(release/deploy.py analysis_for). Counts in the evidence are per step; the e-values are the
segment's so far.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from modelship.release.analysis import llm
from modelship.release.analysis.base import Progress, StepContext, StepVerdict
from modelship.release.analysis.counts import Counts, quantile
from modelship.release.analysis.decide import (
    Decision,
    Look,
    ProbeVerdict,
    decide,
    unmeasured,
)
from modelship.release.analysis.judge import Judge
from modelship.release.analysis.prometheus import Labels, PrometheusUnavailable
from modelship.release.analysis.settings import AnalysisSettings
from modelship.release.desired import COLOURS

STABLE, CANARY = "stable", "canary"


class CountsProvider(Protocol):
    def counts(self, track: str, labels: Labels, since: float, at: float) -> Counts: ...


@dataclass(frozen=True)
class ProbeOutcome:
    verdict: ProbeVerdict  # inconclusive: a configured probe check measured nothing
    reason: str
    evidence: dict[str, Any]
    streams: llm.Streams | None = None  # each version's timed (streamed) answers, per row


class Prober(Protocol):
    def probe(self, step: StepContext, progress: Progress) -> ProbeOutcome: ...


def poll_seconds(interval: float) -> float:
    """How often to look: a few looks per interval, at most every 15 s, at least every 1 s."""
    return max(1.0, min(15.0, interval / 4))


def tracks(step: StepContext) -> tuple[str, str]:
    """(new, current) values of the `track` label. The runner names the new version's track
    in `labels["track"]` (`canary`, or the idle colour in blue-green, whose current track is
    then the other colour); `canary_track` / `stable_track` name both explicitly."""
    new = step.labels.get("canary_track") or step.labels.get("track") or CANARY
    current = step.labels.get("stable_track")
    if not current:
        current = COLOURS[1 - COLOURS.index(new)] if new in COLOURS else STABLE
    return new, current


class CanaryAnalysis:
    def __init__(self, settings: AnalysisSettings, provider: CountsProvider | None,
                 prober: Prober | None = None, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 warmup: Callable[[StepContext, Progress], StepContext] | None = None) -> None:
        self.settings = settings
        self.provider = provider
        self.prober = prober
        self.warmup = warmup  # serve.warmup: the new pods warmed before a step is judged
        self.judge = Judge(settings.tests, settings.alpha)
        self._clock = clock
        self._sleep = sleep

    @property
    def bake_seconds(self) -> float:
        return self.settings.bake

    @property
    def on_inconclusive(self) -> str:
        return self.settings.on_inconclusive

    def assess(self, step: StepContext, progress: Progress) -> StepVerdict:
        if self.warmup is not None:
            step = self.warmup(step, progress)
        return self._run(step, progress, step.interval_seconds)

    def bake(self, step: StepContext, progress: Progress) -> StepVerdict:
        """Keep judging production at 100% for `bake`: limits and probes still speak (there is
        no stable traffic left to compare with); any failure rolls back."""
        if self.settings.bake <= 0:
            return StepVerdict("passed", "no bake configured", {"bake_seconds": 0})
        baking = dataclasses.replace(step, step=step.step or "bake",
                                     interval_seconds=self.settings.bake)
        return self._run(baking, progress, self.settings.bake)

    def _run(self, step: StepContext, progress: Progress, interval: float) -> StepVerdict:
        s = self.settings
        canary_track, stable_track = tracks(step)
        traffic_needed = self.provider is not None and (step.weight > 0 or step.mirrored)
        labels = Labels(step.namespace, step.release, step.labels.get("fullname"))
        last: dict[str, Counts | None] = {CANARY: None, STABLE: None}
        unreachable: str | None = None
        looks = 0
        probe, probed_at = None, 0.0
        never = self._never_judged(step)
        if never is not None:
            return self._verdict(step, never, last, looks, probe, unreachable)
        while True:
            # probes run once a step; ones that measured nothing are asked again each interval
            # while the policy waits (pods may still be warming up)
            if self.prober is not None and (probe is None or (
                    probe.verdict == "inconclusive"
                    and self._clock() - probed_at >= interval)):
                probed_at = self._clock()
                # one probe round is one look for the checks the probes time (llm.py)
                probe = llm.observe(self.judge, self.prober.probe(step, progress))
                timed = llm.progress_line(probe)
                if timed:
                    progress(f"{step.step}: {timed}")
            now = self._clock()
            if traffic_needed and self.provider is not None:
                looks += 1
                try:
                    current = {
                        CANARY: self.provider.counts(canary_track, labels, step.started_at, now),
                        STABLE: self.provider.counts(stable_track, labels, step.started_at, now)}
                except PrometheusUnavailable as e:
                    unreachable = e.message
                    progress(f"{step.step}: {e.message}; retrying until max_wait")
                else:
                    unreachable = None
                    # a track without data keeps its last counts, and one whose total dropped
                    # (a pod's series gone) its highest: nothing is counted twice
                    seen = {k: c.at_least(last[k]) for k, c in current.items()}
                    fresh = {k: c if c.has_data else Counts(0.0) for k, c in seen.items()}
                    stable_new = fresh[STABLE].since(last[STABLE])
                    if step.weight >= 100:  # stable serves nothing: what it shows is left over
                        stable_new = Counts(0.0)
                    self.judge.observe(fresh[CANARY].since(last[CANARY]), stable_new)
                    last = {k: c if c.has_data else last[k] for k, c in seen.items()}
                    progress(f"{step.step}: {_progress_line(last, self.judge)}")
            canary_now = last[CANARY]
            decision = decide(Look(
                now=now, started_at=step.started_at, interval=interval, max_wait=s.max_wait,
                policy=s.on_inconclusive, min_requests=s.min_requests,
                traffic_needed=traffic_needed,
                canary_requests=canary_now.requests if canary_now is not None else None,
                unreachable=unreachable, rejected=self.judge.rejected(),
                probes=None if probe is None else probe.verdict,
                probe_reason="" if probe is None else probe.reason,
                unmeasured=unmeasured(self.judge.tests, last[CANARY], last[STABLE],
                                      step.weight)))
            if decision is not None:
                return self._verdict(step, decision, last, looks, probe, unreachable)
            horizon = step.started_at + max(interval, s.max_wait)
            self._sleep(max(0.0, min(poll_seconds(interval), horizon - self._clock())))

    def _never_judged(self, step: StepContext) -> Decision | None:
        """A step without live traffic (a blue-green preview) and without probes, whose
        traffic checks no bake will judge either: they would never yield a value."""
        if self.provider is None or step.weight > 0 or step.mirrored or self.prober is not None \
                or self.settings.bake > 0:
            return None
        return Decision("inconclusive", "no-data",
                        f"no data: {step.step} has no live traffic and no probes, and no bake "
                        f"judges the traffic after it (set {self.settings.key}.probes or "
                        f"{self.settings.key}.bake)")

    def _verdict(self, step: StepContext, decision: Decision, last: dict[str, Counts | None],
                 looks: int, probe: ProbeOutcome | None, unreachable: str | None) -> StepVerdict:
        canary, stable = last[CANARY], last[STABLE]
        share = None
        if canary is not None and stable is not None and canary.has_data and stable.has_data:
            total = (canary.requests or 0.0) + (stable.requests or 0.0)
            share = (canary.requests or 0.0) / total if total > 0 else None
        evidence: dict[str, Any] = {
            "decided_by": decision.decided_by,
            "reason": decision.reason,
            "weight": step.weight,
            "canary_share": share,
            "tracks": {CANARY: track_evidence(canary), STABLE: track_evidence(stable)},
            "checks": [r.as_dict() for r in self.judge.results()],
            "rejected": [r.test.name for r in self.judge.rejected()],
            "alpha": self.settings.alpha,
            "min_requests": self.settings.min_requests,
            "looks": looks,
            "seconds": round(self._clock() - step.started_at, 1),
            "probes": None if probe is None else probe.evidence,
        }
        if unreachable:
            evidence["prometheus"] = unreachable
        return StepVerdict(decision.verdict, decision.reason, evidence)


def track_evidence(counts: Counts | None) -> dict[str, Any] | None:
    if counts is None or not counts.has_data:
        return None
    requests = counts.requests or 0.0
    p50, p95 = quantile(0.5, counts.buckets), quantile(0.95, counts.buckets)
    return {"requests": round(requests), "errors": round(counts.errors),
            "error_rate": counts.errors / requests if requests > 0 else None,
            "latency_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "latency_p95_ms": None if p95 is None else round(p95 * 1000, 3)}


def _progress_line(last: dict[str, Counts | None], judge: Judge) -> str:
    parts = []
    for name in (CANARY, STABLE):
        info = track_evidence(last[name])
        if info is None:
            parts.append(f"{name} no data")
        else:
            rate = "-" if info["error_rate"] is None else f"{info['error_rate']:.2%}"
            parts.append(f"{name} {info['requests']} requests, {info['errors']} errors ({rate})")
    top = max(judge.results(), key=lambda r: r.statistic, default=None)
    if top is not None:
        value = top.statistic if math.isfinite(top.statistic) else float("inf")
        parts.append(f"max e-value {value:.3g} of {top.threshold:g} ({top.test.name})")
    return "; ".join(parts)
