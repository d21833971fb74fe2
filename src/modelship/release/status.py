"""`status`: the release as it is (a table, or the contract's JSON). Read-only, except that
an old blue-green colour whose keep-warm delay has passed is scaled down here too (as by any
command on the release), when the lock is free."""

from __future__ import annotations

from dataclasses import dataclass

from modelship import console
from modelship.config import Config
from modelship.errors import InfraError
from modelship.outcome import Outcome
from modelship.release import report, session
from modelship.release import state as live_state


@dataclass(frozen=True)
class StatusArgs:
    environment: str | None = None


def run(args: StatusArgs, cfg: Config) -> Outcome:
    sess = session.open_session(cfg, args.environment, lock_timeout=0)
    state = sess.state()
    due = session.warm_colour(state)
    if due is not None and session.due(due):
        state = _scale_down(sess, state)
    found: dict[str, live_state.Live] = {}
    problems: list[live_state.PodProblem] = []
    if state.exists:
        found = live_state.live(sess.api, sess.settings.release, sess.settings.namespace,
                                sess.settings.values)
        problems = live_state.pod_problems(sess.api, sess.settings.release,
                                           sess.settings.namespace)
    return report.status_outcome(sess.settings, state, found, problems)


def _scale_down(sess: session.Session, state: live_state.ReleaseState) -> \
        live_state.ReleaseState:
    """The due scale-down under the lock; left to the command that holds it when busy."""
    try:
        with sess.locked():
            return session.scale_down_due(sess, sess.state())
    except InfraError as e:
        console.info(f"the old colour's scale-down is due but was left for later: {e.message}")
        return state
