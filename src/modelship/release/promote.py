"""`promote`: a paused release through its remaining steps (`full`: straight to 100%)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelship import console
from modelship.config import Config
from modelship.errors import UsageError
from modelship.outcome import Outcome
from modelship.release import history, notices, report, session
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.deploy import analysis_for, idle_is_new
from modelship.release.runner import RunResult


@dataclass(frozen=True)
class PromoteArgs:
    environment: str | None = None
    full: bool = False
    lock_timeout: float = session.DEFAULT_LOCK_TIMEOUT


def run(args: PromoteArgs, cfg: Config) -> Outcome:
    sess = session.open_session(cfg, args.environment, lock_timeout=args.lock_timeout)
    done = session.run(sess, Promote(args, cfg))
    current = done.state.desired
    assert current is not None
    notices.finished(sess, "promote", done)
    return report.deploy_outcome(sess.settings, done.result, done.target or current.serving,
                                 current.serving, done.revision, command="promote")


class Promote:
    def __init__(self, args: PromoteArgs, cfg: Config) -> None:
        self.args, self.cfg = args, cfg

    def before_lock(self, sess: session.Session) -> None:
        analysis_for(sess.settings, self.cfg)  # a bad deploy.analysis: exit 2 before the lock

    def execute(self, sess: session.Session, state: live_state.ReleaseState) -> session.Done:
        current = state.desired
        if current is None:
            raise UsageError(f"release {sess.settings.release} is not deployed in namespace "
                             f"{sess.settings.namespace}; nothing to promote")
        plan = plans.resume(sess.settings, current, full=self.args.full,
                            idle_is_new=idle_is_new(state))
        new = strategies.of(current.strategy).incoming(current)
        analysis = analysis_for(sess.settings, self.cfg, segment=history.pauses(
            state.history, new.digest if new else None))
        record = sess.record("promote", current.strategy, new)
        if state.record is not None:  # provenance: the paused deploy's, for the same digest
            record = replace(record, gate_report=state.record.gate_report,
                             verified=state.record.verified)
        sess.with_strategy(current.strategy)
        if plan.empty:
            console.info(f"{sess.settings.release} is not paused; nothing to promote")
            result = RunResult("unchanged", final=current)
        else:
            result = sess.runner(record, analysis, abort_requested=sess.abort_requested,
                                 on_passed=notices.on_step_passed(sess, new, current.serving)
                                 ).run(plan, current)
        return session.Done(result, new, current.serving, state)
