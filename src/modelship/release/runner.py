"""Executes plans: apply each state through helm (--wait, with progress lines from the live
Deployments), read back the split the chart rendered, ask the step's analysis, and act on its
verdict (verdicts.py: next step, put production back, or hold). One runner for every
strategy; what differs between them is asked of strategy.py.

A step whose pods never become ready fails (exit 1) with the pod problems named. A cluster that
stops answering ends the run with exit 3; a re-run converges from whatever state it left. An
`abort` run meanwhile is seen within one poll (about a second): production is put back and the
run ends as aborted on request (exit 0).
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
    InfraError,
    ModelshipError,
    UsageError,
)
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release import verdicts
from modelship.release.analysis.base import Analysis, Endpoint, StepContext, StepVerdict
from modelship.release.desired import Desired
from modelship.release.helm import ClusterUnreachable, Helm, HelmError, HelmWaitFailed
from modelship.release.history import Record
from modelship.release.plan import Plan, Step
from modelship.release.settings import ReleaseSettings
from modelship.release.values import chart_values, fullname, traffic_mode

POLL = 1.0  # seconds between looks at a running helm upgrade, analysis or abort request


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


class AbortRequested(Exception):
    """`modelship abort` asked this run to stop (seen at a poll)."""

    def __init__(self, by: str) -> None:
        super().__init__(by)
        self.by = by


class Runner:
    def __init__(self, settings: ReleaseSettings, helm: Helm, api: Any, analysis: Analysis,
                 record: Record, extra: dict[str, Any] | None = None,
                 progress_every: float = 5.0,
                 restore_extra: dict[str, Any] | None = None,
                 abort_requested: Callable[[], str | None] | None = None,
                 on_passed: Callable[[StepResult], None] | None = None) -> None:
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
        self.abort_requested = abort_requested or (lambda: None)
        self.on_passed = on_passed or (lambda step: None)  # e.g. a notification per step
        self.started = time.time()
        self.seen_problems: list[live_state.PodProblem] = []
        self.current: Desired | None = None  # the state last applied
        self.attempted: Desired | None = None  # the state last asked for
        self.previous: Desired | None = None  # the state the run started from

    # -- one apply ----------------------------------------------------------------------------
    def apply(self, desired: Desired, step: str, *, paused: bool = False,
              scale_down: dict[str, Any] | None = None, timeout: float | None = None) -> None:
        record = replace(self.record, step=step, strategy=desired.strategy, paused=paused,
                         scale_down=scale_down or {})
        values = chart_values(desired, self.extra)
        seconds = self.settings.timeout if timeout is None else timeout

        def upgrade() -> None:
            self.helm.upgrade(self.settings.release, values, timeout=seconds,
                              description=record.describe())

        progress = console.Progress(
            f"{step}: helm upgrade --wait ({strategies.of(desired.strategy).describe(desired)})",
            every=self.progress_every)
        self.seen_problems = []
        checked = [0.0]

        def tick() -> None:
            progress.tick(self._readiness())
            if time.monotonic() - checked[0] > 2:  # kept: a failed upgrade cleans its pods up
                checked[0] = time.monotonic()
                self.seen_problems = self._problems() or self.seen_problems

        try:
            _in_thread(upgrade, "helm-upgrade", tick)
        except BaseException:
            progress.done("failed")
            raise
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
        mode = traffic_mode(self.extra)
        route = None if mode == "replicas" else live_state.route_weight(
            self.api, self.settings.namespace, fullname(self.settings.release, self.extra))
        return strategies.of(desired.strategy).split(desired, pods, found, mode, route)

    # -- a plan -------------------------------------------------------------------------------
    def run(self, plan: Plan, previous: Desired | None, *,
            on_failure: Callable[[], None] | None = None) -> RunResult:
        """Run the steps; on a failed step put production back (the plan's abort, or
        `on_failure`, e.g. a helm rollback for rolling) and report why."""
        result = RunResult("promoted")
        self.current = self.attempted = self.previous = previous
        for step in plan.steps:
            if step.bake and self.analysis.bake_seconds <= 0:
                continue
            stopped = self._step(step, result, on_failure)
            if stopped is not None:
                return stopped
            self.on_passed(result.steps[-1])  # the step passed
            if step.pause_after:
                result.outcome = "paused"
                break
        result.final = self.current
        return result

    def _step(self, step: Step, result: RunResult,
              on_failure: Callable[[], None] | None) -> RunResult | None:
        """One step: its applies, then its verdict. A RunResult when the run ends here."""
        begun, before = time.time(), self.current
        try:
            self._check_abort()
            for index, desired in enumerate(step.applies):
                last = index == len(step.applies) - 1
                scale_down = None
                if last and step.scale_down_after is not None:
                    at = time.time() + step.scale_down_after
                    scale_down = {"colour": desired.idle, "at": round(at, 1)}
                    result.scale_down_at = at
                self.attempted = desired
                self.apply(desired, step.name, paused=last and step.pause_after,
                           scale_down=scale_down)
                self.current = desired
            now = step.applies[-1] if step.applies else self.current
            assert now is not None
            split = self.rendered_split(now)
            verdict = self._assess(step, now, split, begun)
        except AbortRequested as e:
            return self._aborted(step, result, e.by, begun, before, on_failure)
        except ClusterUnreachable as e:
            result.steps.append(self._result(step, "inconclusive", begun, {}, str(e)))
            result.outcome, result.exit_code = "aborted", EXIT_INFRA
            result.message = (f"{step.name}: {e.message}. The release is left at this "
                              "step; production keeps serving what is ready. Re-run the "
                              "command once the cluster answers to converge.")
            result.final = self.current
            return result
        except HelmError as e:
            problems = self._problems() or self.seen_problems
            code = helm_failure_exit(e)
            result.steps.append(self._result(
                step, "failed" if code == EXIT_REJECTED else "inconclusive", begun,
                {"problems": [p.line() for p in problems]}, e.message))
            result.problems = problems
            return self._fail(result, self.attempted, f"{step.name}: {e.message}", code,
                              on_failure, before=before)
        return self._act(step, result, verdict, split, begun, before, on_failure)

    def _act(self, step: Step, result: RunResult, verdict: StepVerdict,
             split: dict[str, Any], begun: float, before: Desired | None,
             on_failure: Callable[[], None] | None) -> RunResult | None:
        result.steps.append(self._result(step, verdict.verdict, begun,
                                         {**dict(verdict.evidence), "split": split},
                                         verdict.reason))
        action = verdicts.action(verdict.verdict, on_inconclusive=self.analysis.on_inconclusive,
                                 bake=step.bake)
        if action.then == "hold":
            return self._hold(result, step, verdict.reason)
        if action.then == "abort":
            attempted = self.attempted
            if step.bake and attempted is not None:  # the warm previous version takes over
                before = strategies.of(attempted.strategy).switch_back(attempted) or before
            return self._fail(result, attempted, f"{step.name}: {verdict.reason}",
                              action.exit_code, on_failure, before=before)
        return None

    def _aborted(self, step: Step, result: RunResult, by: str, begun: float,
                 before: Desired | None, on_failure: Callable[[], None] | None) -> RunResult:
        """`modelship abort` asked: production back (nothing to undo when this run applied
        nothing yet), then the run ends as aborted on request (exit 0)."""
        result.steps.append(self._result(step, "skipped", begun, {}, f"abort by {by}"))
        if self.attempted is self.previous:
            console.info(f"{step.name}: abort requested by {by}; nothing applied yet")
            result.outcome, result.final = "aborted", self.current
        else:
            self._fail(result, self.attempted, f"{step.name}: abort requested by {by}",
                       EXIT_OK, on_failure, before=before)
        if result.exit_code == EXIT_OK:
            result.message = f"aborted on request of {by}"
        return result

    def _hold(self, result: RunResult, step: Step, reason: str) -> RunResult:
        """Inconclusive after the analysis' own max_wait: not enough evidence either way, so
        the release stays paused at this step (recorded) for a person to decide."""
        line = (f"{step.name}: analysis inconclusive ({reason}); the release is paused here: "
                "run `modelship promote` to go on or `modelship abort` to stop")
        console.info(line)
        if self.current is not None:
            try:
                self.apply(self.current, step.name, paused=True)
            except ModelshipError as e:
                line += f" (recording the pause failed: {e.message})"
        result.outcome, result.exit_code, result.message = "paused", verdicts.HOLD.exit_code, line
        result.final = self.current
        return result

    # -- analysis -----------------------------------------------------------------------------
    def _assess(self, step: Step, desired: Desired, split: dict[str, Any],
                begun: float) -> StepVerdict:
        if not step.analyse:
            return StepVerdict("passed", "ready", {})
        context = self._context(step, desired, split)
        found: list[StepVerdict] = []

        def judge() -> None:
            ask = self.analysis.bake if step.bake else self.analysis.assess
            try:
                found.append(ask(context, console.info))
            except UsageError as e:  # e.g. a PromQL query Prometheus refuses: names the key
                found.append(StepVerdict("usage", str(e), {}))  # type: ignore[arg-type]
            except ModelshipError as e:
                found.append(StepVerdict("error", f"analysis failed: {e.message}", {}))

        # the analysis owns its waiting; the runner looks for an abort request meanwhile
        _in_thread(judge, "analysis", self._check_abort)
        return found[0]

    def _context(self, step: Step, desired: Desired, split: dict[str, Any]) -> StepContext:
        strategy = strategies.of(desired.strategy)
        weight = strategy.analysed_weight(step.weight, split.get("weight", step.weight))
        stable, canary = strategy.endpoints(desired, fullname(self.settings.release, self.extra),
                                            bake=step.bake)
        return StepContext(
            release=self.settings.release, namespace=self.settings.namespace,
            environment=self.settings.environment, strategy=desired.strategy, step=step.name,
            weight=weight if isinstance(weight, int) else step.weight,
            mirrored=any(d.shadow for d in step.applies),
            interval_seconds=step.interval, started_at=time.time(),
            # a canary at 100% has no stable pods left to compare with: probes then judge
            # the new version against the gate's baseline
            stable=self._endpoint(*stable) if strategy.compares_with_stable(desired) else None,
            canary=self._endpoint(*canary),
            labels={"release": self.settings.release, "namespace": self.settings.namespace,
                    "fullname": fullname(self.settings.release, self.extra),
                    "track": strategy.analysed_track(desired, bake=step.bake)})

    def _endpoint(self, service: str, version: Any) -> Endpoint | None:
        if version is None:
            return None
        from modelship.release import proxy

        # through the API server: the runner may sit outside the cluster's network
        return Endpoint(proxy.service_url(self.api, self.settings.namespace, service,
                                          _service_port(self.extra)),
                        version.version, version.digest, proxy.Sessions(self.api))

    def _check_abort(self) -> None:
        by = self.abort_requested()
        if by:
            raise AbortRequested(by)

    # -- results and the way back -------------------------------------------------------------
    def _problems(self) -> list[live_state.PodProblem]:
        try:
            return live_state.pod_problems(self.api, self.settings.release,
                                           self.settings.namespace)
        except InfraError:
            return []

    def _result(self, step: Step, verdict: str, begun: float, evidence: dict[str, Any],
                reason: str) -> StepResult:
        now = time.time()
        return StepResult(step.name, step.weight, verdicts.shown(verdict), now - begun,
                          evidence, reason, now - self.started)

    def _fail(self, result: RunResult, attempted: Desired | None, reason: str, code: int,
              on_failure: Callable[[], None] | None, *, before: Desired | None) -> RunResult:
        """Production back on its last good version: the abort of the state last attempted
        (stable at 100%, the new version at 0), or `on_failure` (rolling: helm rollback)."""
        result.outcome, result.exit_code, result.message = "aborted", code, reason
        for problem in result.problems:
            console.info(f"  {problem.line()}")
        console.info(f"{reason}; putting production back")
        restore = plans.abort(attempted, idle_is_new=True) if attempted is not None else None
        if (attempted is not None and before is not None and strategies.of(
                attempted.strategy).colours and attempted.active != before.active):
            restore = plans.Plan(attempted.strategy, (Step("abort", 0, (before,)),))
        try:
            if restore is not None and not restore.empty:
                self._restore(restore, result)
            elif on_failure is not None:
                on_failure()
        except ModelshipError as e:
            result.exit_code = EXIT_INFRA
            result.message = (f"{reason}; putting production back failed too: {e.message}. "
                              "Re-run `modelship abort` once the cluster answers.")
        return result

    def _restore(self, restore: Plan, result: RunResult) -> None:
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


def _in_thread(work: Callable[[], None], name: str, tick: Callable[[], None]) -> None:
    """Run `work` in a thread, calling `tick` every POLL seconds until it ends; its exception
    is raised here. An exception from `tick` ends the wait (the thread is left to finish)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:  # handed to the waiting thread
            failure.append(e)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=POLL)
        if worker.is_alive():
            tick()
    if failure:
        raise failure[0]


def helm_failure_exit(error: HelmError) -> int:
    """Exit 1 only when the new version never became ready (its fault); any other helm failure
    (cluster timeouts, RBAC, unknown) is infrastructure, exit 3."""
    return EXIT_REJECTED if isinstance(error, HelmWaitFailed) else EXIT_INFRA


def _service_port(extra: dict[str, Any]) -> int:
    service = extra.get("service")
    port = service.get("port") if isinstance(service, dict) else None
    return port if isinstance(port, int) else 80
