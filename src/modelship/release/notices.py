"""The release events the verbs send (modelship.notify), built from the release's own records.

Where each one comes from:
    started       deploy, under the lock, once it has a plan that changes something
    step-passed   the runner, as each step's verdict passes (deploy and promote)
    paused        deploy or promote ending paused (--pause-at, or an inconclusive hold)
    promoted      deploy or promote ending with the new version at 100%
    aborted       a step failed and production was put back (with the rejecting checks), a
                  run aborted on request, or `modelship abort` putting production back
    rolled-back   rollback done
A verb that changed nothing (`unchanged`) sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from modelship import ghactions
from modelship.notify import Event, Release
from modelship.release import history
from modelship.release.desired import Version
from modelship.release.runner import RunResult, StepResult
from modelship.release.settings import ReleaseSettings

if TYPE_CHECKING:
    from modelship.release.session import Done, Session


def release_of(chosen: ReleaseSettings, new: Version | None,
               previous: Version | None) -> Release:
    return Release(chosen.release, chosen.namespace, chosen.environment, chosen.strategy,
                   new.version if new else None, new.image if new else None,
                   new.digest if new else None,
                   previous.version if previous else None,
                   previous.digest if previous else None)


def started(sess: Session, new: Version, previous: Version | None) -> None:
    sess.notifier.send(Event("started", release_of(sess.settings, new, previous),
                             run_url=ghactions.run_url()))


def on_step_passed(sess: Session, new: Version | None,
                   previous: Version | None) -> Callable[[StepResult], None]:
    """The runner's hook: one step-passed event per passed step."""
    def passed(step: StepResult) -> None:
        sess.notifier.send(Event("step-passed", release_of(sess.settings, new, previous),
                                 step=step_of(step), reason=step.reason,
                                 run_url=ghactions.run_url()))
    return passed


def finished(sess: Session, command: str, done: Done) -> None:
    """The verb's end as an event (none when it changed nothing)."""
    result = done.result
    name = event_name(command, result)
    if name is None or not sess.notifier:
        return
    failed = failed_step(result) if name == "aborted" else None
    last = result.steps[-1] if result.steps else None
    step = failed or (last if name == "paused" else None)
    reason = result.message
    if command == "abort" and not reason:
        reason = f"`modelship abort` by {history.who()}: production put back"
    sess.notifier.send(Event(
        name, release_of(sess.settings, done.target, done.previous),
        step=step_of(step) if step else None,
        checks=rejecting(failed.evidence) if failed else (), reason=reason,
        revision=done.revision, run_url=ghactions.run_url()))


def event_name(command: str, result: RunResult) -> str | None:
    """Pure: the event a verb's result is, or None."""
    if command == "rollback":
        return "rolled-back" if result.outcome == "promoted" else (
            "aborted" if result.outcome == "aborted" else None)
    if command == "abort":
        # only when this command put production back: a run it asked to stop reports itself
        return "aborted" if result.outcome == "aborted" and result.steps else None
    return result.outcome if result.outcome in ("paused", "promoted", "aborted") else None


def failed_step(result: RunResult) -> StepResult | None:
    for step in reversed(result.steps):
        if step.verdict != "passed":
            return step
    return None


def step_of(step: StepResult) -> dict[str, Any]:
    return {"name": step.name, "weight": step.weight, "verdict": step.verdict,
            "seconds": round(step.seconds, 1)}


def rejecting(evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pure: the checks that rejected a step, by name with their values: the judge's
    sequential tests that rejected (traffic, or latencies the probes timed), the probe checks
    that failed, and pods that never became ready."""
    found = [_judged(c) for c in evidence.get("checks") or ()
             if isinstance(c, Mapping) and c.get("rejected")]
    probes = evidence.get("probes")
    if isinstance(probes, Mapping):
        found += [_probe(c) for c in probes.get("checks") or ()
                  if isinstance(c, Mapping) and c.get("passed") is False]
    found += [{"name": "pods", "source": "readiness", "value": str(p), "detail": ""}
              for p in evidence.get("problems") or ()]
    return found


def _judged(check: Mapping[str, Any]) -> dict[str, Any]:
    canary, stable = check.get("canary_rate"), check.get("stable_rate")
    statistic, threshold = check.get("statistic"), check.get("threshold")
    parts = [f"canary {_rate(canary)} {check.get('event') or 'bad events'}"]
    if check.get("kind") == "compare":
        parts.append(f"stable {_rate(stable)}")
    elif check.get("limit") is not None:
        parts.append(f"limit {_rate(check.get('limit'))}")
    if isinstance(statistic, int | float) and isinstance(threshold, int | float):
        parts.append(f"e-value {statistic:.3g} >= {threshold:g}")
    return {"name": check.get("name"), "source": "judge", "value": canary,
            "canary": canary, "stable": stable, "statistic": statistic,
            "threshold": threshold, "detail": "; ".join(parts)}


def _probe(check: Mapping[str, Any]) -> dict[str, Any]:
    op, threshold = check.get("op"), check.get("threshold")
    detail = f"needs {op} {threshold:.4g}" if isinstance(threshold, int | float) and op else ""
    return {"name": check.get("name"), "source": "probes", "value": check.get("value"),
            "op": op, "threshold": threshold, "detail": detail}


def _rate(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, int | float) else "-"
