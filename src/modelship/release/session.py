"""The one sequence every changing release verb runs, written once:

    before the lock   the verb's own checks (usage first: exit 2 while the cluster is away)
    lock              the release's Lease (lock.py): one command at a time
    recover           a release left pending-* by a dead process goes back to its last
                      deployed revision
    scale down        an old blue-green colour whose keep-warm delay has passed goes to 0
    read state        helm's revisions and values (state.py)
    execute           the verb's plan through the runner
    record            the revision it made (each apply carries its history record)
    drain             the version moved away from serves nothing through the Service
    report            the verb turns what happened into an Outcome (report.py)

A verb is a `Verb`: `before_lock` (hook point for checks that need the cluster but not the
lock: provenance verification, probe preflight), and `execute` under the lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from modelship import console, ghactions, notify
from modelship.config import Config
from modelship.errors import EXIT_INFRA, EXIT_OK, InfraError
from modelship.image import gitinfo
from modelship.release import drain, history, kube, lock, settings
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.analysis.base import ReadinessOnly
from modelship.release.desired import Desired, Version
from modelship.release.helm import Helm, HelmError
from modelship.release.runner import Runner, RunResult

DEFAULT_LOCK_TIMEOUT = 300.0


@dataclass
class Session:
    cfg: Config
    settings: settings.ReleaseSettings
    helm: Helm
    api: Any
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    held: lock.Lock | None = None  # while the verb runs under the lock
    notifier: notify.Notifier = field(default_factory=notify.Notifier)  # notify: webhooks

    def state(self, *, with_history: bool = True) -> live_state.ReleaseState:
        return live_state.read(self.helm, self.settings.release, with_history=with_history)

    @contextmanager
    def locked(self) -> Iterator[lock.Lock]:
        with lock.held(self.api, self.settings.namespace, self.settings.release,
                       history.who(), self.lock_timeout) as held:
            self.held = held
            try:
                yield held
            finally:
                self.held = None

    def abort_requested(self) -> str | None:
        """Who asked this command to abort (`modelship abort` meanwhile), or None."""
        return self.held.abort_requested() if self.held is not None else None

    def with_strategy(self, name: str) -> None:
        if name != self.settings.strategy:
            self.settings = replace(self.settings, strategy=name)

    def runner(self, record: history.Record, analysis: Any = None, **kw: Any) -> Runner:
        return Runner(self.settings, self.helm, self.api, analysis or ReadinessOnly(), record,
                      **({"extra": dict(self.settings.values)} | kw))

    def record(self, action: str, strategy: str, version: Version | None) -> history.Record:
        """This command's history record (the checkout's commit). The gate report's digest
        comes from the image itself (provenance.release_check.stamp), never from a file in the
        working directory."""
        git = gitinfo.detect(self.cfg.root)
        return history.Record(action=action, step="", strategy=strategy,
                              version=version.version if version else None,
                              image=version.image if version else None,
                              digest=version.digest if version else None,
                              git_sha=git.sha or ghactions.sha(), by=history.who())


def open_session(cfg: Config, environment: str | None, *, strategy: str | None = None,
                 timeout: float | None = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 chosen: settings.ReleaseSettings | None = None) -> Session:
    if chosen is None:
        chosen = settings.load(cfg, environment, strategy=strategy, timeout=timeout)
    notifier = notify.from_config(cfg)  # a bad `notify:` is a usage error; URLs masked now
    api = kube.client(chosen.kube_context)  # first: a kube_context typo is a usage error
    helm = Helm(chosen.namespace, chosen.kube_context)
    return Session(cfg, chosen, helm, api, lock_timeout, notifier=notifier)


@dataclass
class Done:
    """What a verb did: the runner's result and what the report needs."""

    result: RunResult
    target: Version | None  # the version that serves once it is done
    previous: Version | None  # what served before
    state: live_state.ReleaseState  # as it was when the verb started
    revision: int | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # verb-specific (rollback's method)


class Verb(Protocol):
    def before_lock(self, sess: Session) -> None:
        """Checks before the lock is taken (usage errors, verification, preflight)."""

    def execute(self, sess: Session, state: live_state.ReleaseState) -> Done:
        """The verb's work under the lock, from the state as it is now."""


def run(sess: Session, verb: Verb) -> Done:
    begun = time.monotonic()
    verb.before_lock(sess)
    with sess.locked():
        state = recover(sess, sess.state())
        state = scale_down_due(sess, state)
        done = verb.execute(sess, state)
        done.revision = latest_revision(sess)
        wait_drained(sess, done)
    done.seconds = time.monotonic() - begun
    return done


# -- convergence --------------------------------------------------------------------------
def recover(sess: Session, state: live_state.ReleaseState) -> live_state.ReleaseState:
    """A release left pending-* (helm killed, job cancelled) by a process that no longer holds
    the lock (we hold it now) goes back to its last deployed revision."""
    if not state.pending or state.latest is None:
        return state
    latest, release = state.latest, sess.settings.release
    if state.deployed is None:
        console.info(f"release {release} is {latest.status} (revision {latest.number}) from "
                     "an interrupted first install; no deployed revision to recover to, "
                     "installing again over it")
        sess.helm.run("uninstall", release, "--wait", "--timeout",
                      f"{int(sess.settings.timeout)}s", timeout=sess.settings.timeout + 60)
        return sess.state()
    console.info(f"release {release} is {latest.status} (revision {latest.number}), left by a "
                 "process that no longer holds the lock; recovering to revision "
                 f"{state.deployed}, its last deployed revision")
    sess.helm.rollback(release, state.deployed, timeout=sess.settings.timeout)
    return sess.state()


def warm_colour(state: live_state.ReleaseState) -> tuple[str, float] | None:
    """(colour, epoch) of an old blue-green colour kept warm after a switch and when it is due
    to go to 0; None when no colour is kept warm."""
    marker = state.record.scale_down if state.record else {}
    desired = state.desired
    if not marker or desired is None or not strategies.of(desired.strategy).colours:
        return None
    if desired.idle_replicas == 0 or marker.get("colour") != desired.idle:
        return None
    return desired.idle, float(marker.get("at", 0))


def due(warm: tuple[str, float], now: float | None = None) -> bool:
    return warm[1] <= (time.time() if now is None else now)


def scale_down_due(sess: Session, state: live_state.ReleaseState) -> live_state.ReleaseState:
    """An old blue-green colour whose keep-warm delay has passed goes to 0 now (never
    earlier: inside the delay a rollback is a selector switch). Needs the lock."""
    warm = warm_colour(state)
    if warm is None or not due(warm):
        return state
    desired = state.desired
    assert desired is not None
    console.info(f"the {warm[0]} colour's keep-warm delay (blue_green.scale_down_delay) has "
                 "passed; scaling it to 0")
    record = sess.record("scale-down", desired.strategy, desired.serving)
    runner = Runner(sess.settings, sess.helm, sess.api, ReadinessOnly(), record,
                    extra=dict(state.extra))
    runner.apply(plans.scale_down_idle(desired), "scale-down")
    return sess.state()


def latest_revision(sess: Session) -> int | None:
    try:
        revisions = sess.helm.history(sess.settings.release)
    except HelmError:
        return None
    return revisions[-1].number if revisions else None


def drain_goal(result: RunResult) -> tuple[Version, bool] | None:
    """Pure: what to wait for once a verb ran: (the version that alone must serve, whether
    the other versions' pods must be gone too). None when production is not on one version
    (paused with a canary), or nothing changed. Blue-green keeps the old colour's pods warm:
    only the Service's endpoints must be the active colour's."""
    final: Desired | None = result.final
    if final is None or result.outcome in ("paused", "unchanged"):
        return None
    strategy = strategies.of(final.strategy)
    serving = final.serving
    if serving is None:
        return None
    if strategy.colours:
        return serving, False
    if strategy.incoming(final) not in (None, serving):
        return None
    return serving, True


def wait_drained(sess: Session, done: Done) -> None:
    """Done means done: once production is on one version again, return only when the version
    moved away from serves nothing through the release's Service (bounded by deploy.timeout)."""
    goal = drain_goal(done.result)
    if goal is None or done.result.exit_code == EXIT_INFRA:  # the cluster failed: no wait
        return
    try:
        drain.wait(sess.api, sess.settings.namespace, sess.settings.release,
                   dict(sess.settings.values), goal[0], pods_gone=goal[1],
                   timeout=sess.settings.timeout)
    except (drain.NotDrained, InfraError) as e:
        if done.result.exit_code == EXIT_OK:
            done.result.exit_code = EXIT_INFRA
        done.result.message = "; ".join(x for x in (done.result.message, str(e)) if x)

