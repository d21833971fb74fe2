"""`abort`: stable (or the active colour) back to 100%, the new version scaled to 0.

A deploy or promote that runs now is asked to stop (an annotation on the release's Lease,
which it reads at each poll); it puts production back itself and ends as aborted on request.
This command then takes the lock and returns once the release is aborted."""

from __future__ import annotations

from dataclasses import dataclass

from modelship import console
from modelship.config import Config
from modelship.errors import EXIT_OK, UsageError
from modelship.outcome import Outcome
from modelship.release import history, lock, notices, report, session
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.deploy import idle_is_new
from modelship.release.runner import RunResult


@dataclass(frozen=True)
class AbortArgs:
    environment: str | None = None
    lock_timeout: float = session.DEFAULT_LOCK_TIMEOUT


def run(args: AbortArgs, cfg: Config) -> Outcome:
    sess = session.open_session(cfg, args.environment, lock_timeout=args.lock_timeout)
    done = session.run(sess, Abort())
    current = done.state.desired
    assert current is not None
    notices.finished(sess, "abort", done)
    return report.deploy_outcome(sess.settings, done.result, done.target or current.serving,
                                 current.serving, done.revision, command="abort")


class Abort:
    def __init__(self) -> None:
        self.asked = False  # a running command was asked to stop

    def before_lock(self, sess: session.Session) -> None:
        """Ask a running deploy or promote to stop at its next poll."""
        asking = lock.Lock(sess.api, sess.settings.namespace, sess.settings.release,
                           history.who())
        holder = asking.request_abort()
        self.asked = holder is not None
        if holder is not None:
            console.info(f"asked {holder.describe()} to abort; waiting for it to put "
                         "production back")

    def execute(self, sess: session.Session, state: live_state.ReleaseState) -> session.Done:
        current = state.desired
        if current is None:
            raise UsageError(f"release {sess.settings.release} is not deployed in namespace "
                             f"{sess.settings.namespace}; nothing to abort")
        strategy = strategies.of(current.strategy)
        plan = plans.abort(current, idle_is_new=idle_is_new(state))
        new = strategy.incoming(current)
        record = sess.record("abort", current.strategy, current.serving)
        sess.with_strategy(current.strategy)
        if plan.empty:
            outcome = self.nothing_to_abort(state)
            console.info(f"{sess.settings.release}: no canary or waiting colour; "
                         + ("the running command aborted on request" if outcome == "aborted"
                            else "nothing to abort"))
            result = RunResult(outcome, final=current)
        else:
            result = sess.runner(record).run(plan, current)
            if result.exit_code == EXIT_OK:
                result.outcome = "aborted"
        return session.Done(result, new, current.serving, state)


    def nothing_to_abort(self, state: live_state.ReleaseState) -> str:
        """The outcome when no canary or colour waits: `aborted` when the command this one
        asked to stop put production back itself (its abort is the deployed revision), else
        `unchanged`."""
        if self.asked and state.record is not None and state.record.action == "abort":
            return "aborted"
        return "unchanged"
