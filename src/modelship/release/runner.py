"""Executes plans: apply each state through helm (--wait, with progress lines from the live
Deployments), read back the split the chart rendered, ask the step's analysis, and abort on
failure. One runner for every strategy; strategies are data (plan.py).

Verdicts: passed -> next step; failed -> abort, exit 1; error -> abort, exit 3; inconclusive
-> paused (on_inconclusive: hold) or abort (on_inconclusive: abort), exit 3.
A step whose pods never become ready fails (exit 1) with the pod problems named. A cluster that
stops answering ends the run with exit 3; a re-run converges from whatever state it left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modelship import console
from modelship.errors import (
    EXIT_INFRA,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    InfraError,
    ModelshipError,
    UsageError,
)
from modelship.release import state as live_state
from modelship.release.analysis.base import (
    Analysis,
    Endpoint,
    StepContext,
    StepVerdict,
)
from modelship.release.helm import ClusterUnreachable, Helm, HelmError, HelmWaitFailed
from modelship.release.history import Record
from modelship.release.model import Desired, Track
from modelship.release.plan import Plan, Step
from modelship.release.settings import ReleaseSettings
from modelship.release.values import chart_values, fullname, replicas_split, traffic_mode


@dataclass
class StepResult:
    name: str
    weight: int
    verdict: str  # passed | failed | inconclusive | skipped (error is reported as inconclusive)
    seconds: float
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    ended_at: float = 0.0  # seconds since the run started, for the weight-over-time chart

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "verdict": self.verdict,
                "seconds": round(self.seconds, 2), "evidence": self.evidence}


@dataclass
class RunResult:
    outcome: str  # promoted | paused | aborted | unchanged
    exit_code: int = EXIT_OK
    steps: list[StepResult] = field(default_factory=list)
    message: str = ""  # why it stopped, when it did not succeed
    problems: list[live_state.PodProblem] = field(default_factory=list)
    final: Desired | None = None  # the last state applied
    scale_down_at: float | None = None  # epoch when the old colour goes to 0


class Runner:
    def __init__(self, settings: ReleaseSettings, helm: Helm, api: Any, analysis: Analysis,
                 record: Record, extra: dict[str, Any] | None = None,
                 progress_every: float = 5.0,
                 restore_extra: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.helm = helm
        self.api = api
        self.analysis = analysis
        self.record = record  # version, digest, git sha, ... of this command; step set per apply
        self.extra = dict(settings.values if extra is None else extra)
        # chart values are shared by all tracks: putting production back also puts back the
        # values it ran with (the last deployed revision's), not this command's new ones
        self.restore_extra = restore_extra
        self.progress_every = progress_every
        self.started = time.time()
        self.seen_problems: list[live_state.PodProblem] = []
        self.bake_seconds = _bake_seconds(analysis)

    # -- one apply ----------------------------------------------------------------------------
    def apply(self, desired: Desired, step: str, *, paused: bool = False,
              scale_down: dict[str, Any] | None = None, timeout: float | None = None) -> None:
        record = replace(self.record, step=step, strategy=desired.strategy, paused=paused,
                         scale_down=scale_down or {})
        values = chart_values(desired, self.extra)
        seconds = self.settings.timeout if timeout is None else timeout
        failure: list[BaseException] = []

        def upgrade() -> None:
            try:
                self.helm.upgrade(self.settings.release, values, timeout=seconds,
                                  description=record.describe())
            except BaseException as e:  # handed to the waiting thread
                failure.append(e)

        worker = threading.Thread(target=upgrade, name="helm-upgrade", daemon=True)
        progress = console.Progress(f"{step}: helm upgrade --wait ({_describe(desired)})",
                                    every=self.progress_every)
        worker.start()
        self.seen_problems = []
        checked = 0.0
        while worker.is_alive():
            worker.join(timeout=1.0)
            if worker.is_alive():
                progress.tick(self._readiness())
                if time.monotonic() - checked > 2:  # kept: a failed upgrade cleans its pods up
                    checked = time.monotonic()
                    self.seen_problems = self._problems() or self.seen_problems
        if failure:
            progress.done("failed")
            raise failure[0]
        progress.done(f"ready: {self._readiness()}")

    def _readiness(self) -> str:
        try:
            found = live_state.live(self.api, self.settings.release, self.settings.namespace,
                                    self.extra)
        except InfraError:
            return "cluster not answering"
        return ", ".join(f"{t} {d.ready}/{d.replicas} ready" for t, d in found.items()) or \
            "no Deployment yet"

    def rendered_split(self, desired: Desired) -> dict[str, Any]:
        """What the chart actually rendered: pods per track (and the canary's share of them),
        or the HTTPRoute's weights in gateway-api mode."""
        found = live_state.live(self.api, self.settings.release, self.settings.namespace,
                                self.extra)
        pods = {t: {"replicas": d.replicas, "ready": d.ready, "version": d.version}
                for t, d in found.items()}
        split: dict[str, Any] = {"pods": pods}
        if desired.strategy == "canary":
            stable = found.get("stable")
            canary = found.get("canary")
            total = (stable.replicas if stable else 0) + (canary.replicas if canary else 0)
            share = round(100 * (canary.replicas if canary else 0) / total) if total else 0
            mode = traffic_mode(self.extra)
            split["mode"] = mode
            if mode == "replicas":
                split["weight"] = share
                expected = replicas_split(desired.replicas, desired.weight if desired.canary
                                          else 0)
                split["expected_pods"] = {"stable": expected[0], "canary": expected[1]}
            else:
                split["weight"] = self._route_weight(desired)
        elif desired.strategy == "blue-green":
            split["active"] = desired.active
            split["weight"] = 100
        else:
            split["weight"] = 100
        return split

    def _route_weight(self, desired: Desired) -> int:
        from kubernetes import client

        custom: Any = client.CustomObjectsApi(self.api)
        name = fullname(self.settings.release, self.extra)
        try:
            route: dict[str, Any] = custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", self.settings.namespace, "httproutes", name)
        except Exception:  # no route (nginx mode, or no CRD): say what was asked
            return desired.weight if desired.canary else 0
        weights = {ref.get("name"): ref.get("weight", 1)
                   for rule in route.get("spec", {}).get("rules", [])
                   for ref in rule.get("backendRefs", [])}
        canary = weights.get(f"{name}-canary", 0)
        total = sum(w for w in weights.values() if isinstance(w, int))
        return round(100 * canary / total) if total else 0

    # -- a plan -------------------------------------------------------------------------------
    def run(self, plan: Plan, previous: Desired | None, *,
            on_failure: Callable[[], None] | None = None) -> RunResult:
        """Run the steps; on a failed step put production back (the plan's abort, or
        `on_failure`, e.g. a helm rollback for rolling) and report why."""
        result = RunResult("promoted")
        current = attempted = previous
        for step in plan.steps:
            begun = time.time()
            before = current
            if step.bake and self.bake_seconds <= 0:
                continue
            try:
                for index, desired in enumerate(step.applies):
                    last = index == len(step.applies) - 1
                    scale_down = None
                    if last and step.scale_down_after is not None:
                        at = time.time() + step.scale_down_after
                        scale_down = {"colour": desired.idle, "at": round(at, 1)}
                        result.scale_down_at = at
                    attempted = desired
                    self.apply(desired, step.name, paused=last and step.pause_after,
                               scale_down=scale_down)
                    current = desired
                desired_now = step.applies[-1] if step.applies else current
                assert desired_now is not None
                split = self.rendered_split(desired_now)
                verdict = self._assess(step, desired_now, split, begun)
            except ClusterUnreachable as e:
                result.steps.append(self._result(step, "inconclusive", begun, {}, str(e)))
                result.outcome, result.exit_code = "aborted", EXIT_INFRA
                result.message = (f"{step.name}: {e.message}. The release is left at this "
                                  "step; production keeps serving what is ready. Re-run the "
                                  "command once the cluster answers to converge.")
                result.final = current
                return result
            except HelmError as e:
                problems = self._problems() or self.seen_problems
                evidence = {"problems": [p.line() for p in problems]}
                code = helm_failure_exit(e)
                verdict_name = "failed" if code == EXIT_REJECTED else "inconclusive"
                result.steps.append(self._result(step, verdict_name, begun, evidence,
                                                 e.message))
                result.problems = problems
                return self._fail(result, attempted, f"{step.name}: {e.message}",
                                  code, on_failure, before=before)
            result.steps.append(self._result(step, verdict.verdict, begun,
                                             {**dict(verdict.evidence), "split": split},
                                             verdict.reason))
            if (verdict.verdict == "inconclusive" and not step.bake
                    and _on_inconclusive(self.analysis) == "hold"):
                return self._hold(result, step, current, verdict.reason)
            if verdict.verdict != "passed":
                code = {"failed": EXIT_REJECTED, "usage": EXIT_USAGE}.get(verdict.verdict,
                                                                          EXIT_INFRA)
                if step.bake and attempted is not None and attempted.strategy == "blue-green":
                    before = replace(attempted, active=attempted.idle)  # switch back
                return self._fail(result, attempted, f"{step.name}: {verdict.reason}", code,
                                  on_failure, before=before)
            if step.pause_after:
                result.outcome = "paused"
                result.final = current
                return result
        result.final = current
        return result

    def _hold(self, result: RunResult, step: Step, current: Desired | None,
              reason: str) -> RunResult:
        """Inconclusive after the analysis' own max_wait: not enough evidence either way, so
        the release stays paused at this step (recorded) for a person to decide."""
        line = (f"{step.name}: analysis inconclusive ({reason}); the release is paused here: "
                "run `modelship promote` to go on or `modelship abort` to stop")
        console.info(line)
        if current is not None:
            try:
                self.apply(current, step.name, paused=True)
            except ModelshipError as e:
                line += f" (recording the pause failed: {e.message})"
        result.outcome, result.exit_code, result.message = "paused", EXIT_INFRA, line
        result.final = current
        return result

    def _assess(self, step: Step, desired: Desired, split: dict[str, Any],
                begun: float) -> StepVerdict:
        if not step.analyse:
            return StepVerdict("passed", "ready", {})
        # blue-green: the new colour has live traffic only after the switch (preview 0)
        weight = step.weight if desired.strategy == "blue-green" else split.get("weight")
        new, current, track = self._versions(step, desired)
        context = StepContext(
            release=self.settings.release, namespace=self.settings.namespace,
            environment=self.settings.environment, strategy=desired.strategy, step=step.name,
            weight=weight if isinstance(weight, int) else step.weight,
            interval_seconds=step.interval, started_at=time.time(),
            stable=current, canary=new,
            labels={"release": self.settings.release, "namespace": self.settings.namespace,
                    "track": track})
        try:
            if step.bake:
                from modelship.release.analysis import factory

                return factory.bake(self.analysis, context, console.info)
            return self.analysis.assess(context, console.info)
        except UsageError as e:  # e.g. a PromQL query Prometheus refuses: names the key
            return StepVerdict("usage", str(e), {})  # type: ignore[arg-type]
        except ModelshipError as e:
            return StepVerdict("error", f"analysis failed: {e.message}", {})

    def _versions(self, step: Step, desired: Desired) -> tuple[Endpoint | None,
                                                               Endpoint | None, str]:
        """(new version, current one, the new one's `track` label). Canary at 100%: no stable
        pods; rolling: one track; a blue-green bake: the active colour, the old one warm."""
        if desired.strategy == "blue-green":  # the main Service, or the preview one (idle)
            return (self._endpoint(desired, stable=step.bake),
                    self._endpoint(desired, stable=not step.bake),
                    desired.active if step.bake else desired.idle)
        if desired.strategy == "rolling":
            return self._endpoint(desired, stable=True), None, "stable"
        current = None if desired.weight >= 100 else self._endpoint(desired, stable=True)
        return self._endpoint(desired, stable=False), current, "canary"

    def _endpoint(self, desired: Desired, *, stable: bool) -> Endpoint | None:
        base = fullname(self.settings.release, self.extra)
        port = _service_port(self.extra)
        ns = self.settings.namespace
        if desired.strategy == "blue-green":
            track = desired.serving if stable else desired.colour(desired.idle)
            service = base if stable else f"{base}-preview"
        else:
            track = desired.stable if stable else desired.canary
            service = f"{base}-stable" if stable else f"{base}-canary"
        if track is None:
            return None
        from modelship.release import proxy

        # through the API server: the runner may sit outside the cluster's network
        return Endpoint(proxy.service_url(self.api, ns, service, port), track.version,
                        track.digest, proxy.Sessions(self.api))

    def _problems(self) -> list[live_state.PodProblem]:
        try:
            return live_state.pod_problems(self.api, self.settings.release,
                                           self.settings.namespace)
        except InfraError:
            return []

    def _result(self, step: Step, verdict: str, begun: float, evidence: dict[str, Any],
                reason: str) -> StepResult:
        now = time.time()
        shown = "inconclusive" if verdict in ("error", "usage") else verdict  # contract's enum
        return StepResult(step.name, step.weight, shown, now - begun, evidence, reason,
                          now - self.started)

    def _fail(self, result: RunResult, attempted: Desired | None, reason: str, code: int,
              on_failure: Callable[[], None] | None, *, before: Desired | None) -> RunResult:
        """Production back on its last good version: the abort of the state last attempted
        (stable at 100%, the new version at 0), or `on_failure` (rolling: helm rollback)."""
        from modelship.release import plan as plans

        result.outcome, result.exit_code, result.message = "aborted", code, reason
        for problem in result.problems:
            console.info(f"  {problem.line()}")
        console.info(f"{reason}; putting production back")
        restore = plans.abort(attempted, idle_is_new=True) if attempted is not None else None
        if (attempted is not None and before is not None and attempted.strategy == "blue-green"
                and attempted.active != before.active):  # a failed switch: switch back
            restore = plans.Plan("blue-green", (Step("abort", 0, (before,)),))
        try:
            if restore is not None and not restore.empty:
                back = restore.steps[0].applies[-1].serving
                self.record = replace(self.record, action="abort",
                                      version=back.version if back else None,
                                      image=back.image if back else None,
                                      digest=back.digest if back else None)
                if self.restore_extra is not None:
                    self.extra = dict(self.restore_extra)
                for desired in restore.steps[0].applies:
                    self.apply(desired, "abort")
                    result.final = desired
            elif on_failure is not None:
                on_failure()
        except ModelshipError as e:
            result.exit_code = EXIT_INFRA
            result.message = (f"{reason}; putting production back failed too: {e.message}. "
                              "Re-run `modelship abort` once the cluster answers.")
        return result


def _bake_seconds(analysis: Analysis) -> float:
    from modelship.release.analysis import factory

    return factory.bake_seconds(analysis)


def helm_failure_exit(error: HelmError) -> int:
    """Exit 1 only when the new version never became ready (its fault); any other helm failure
    (cluster timeouts, RBAC, unknown) is infrastructure, exit 3."""
    return EXIT_REJECTED if isinstance(error, HelmWaitFailed) else EXIT_INFRA


def _on_inconclusive(analysis: Analysis) -> str:
    from modelship.release.analysis import factory

    return factory.on_inconclusive(analysis)


def _service_port(extra: dict[str, Any]) -> int:
    service = extra.get("service")
    port = service.get("port") if isinstance(service, dict) else None
    return port if isinstance(port, int) else 80


def _describe(desired: Desired) -> str:
    def v(track: Track | None) -> str:
        return track.version if track else "-"

    if desired.strategy == "blue-green":
        idle = "warm" if desired.idle_replicas is None else f"{desired.idle_replicas} pods"
        return (f"blue {v(desired.blue)}, green {v(desired.green)}, active {desired.active}, "
                f"idle {idle}")
    if desired.strategy == "canary" and desired.canary is not None:
        return f"stable {v(desired.stable)}, canary {v(desired.canary)} at {desired.weight}%"
    return f"stable {v(desired.stable)}"
