"""`rollback --to X`: a version, tag, revision or digest straight back to 100% with no steps
and no analysis; a selector switch when its colour is still warm."""

from __future__ import annotations

from dataclasses import dataclass, replace

from modelship import console, registry
from modelship.config import Config
from modelship.image import gitinfo
from modelship.outcome import Outcome
from modelship.provenance import release_check
from modelship.provenance.verify import Evidence
from modelship.release import decisions, notices, report, session
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.deploy import default_repository
from modelship.release.desired import Desired, Version


@dataclass(frozen=True)
class RollbackArgs:
    to: str
    environment: str | None = None
    lock_timeout: float = session.DEFAULT_LOCK_TIMEOUT
    allow_unverified: bool = False  # go ahead when deploy.verify refuses (recorded)


def run(args: RollbackArgs, cfg: Config) -> Outcome:
    sess = session.open_session(cfg, args.environment, lock_timeout=args.lock_timeout)
    verb = Rollback(args, cfg)
    done = session.run(sess, verb)
    assert verb.target is not None
    outcome = report.rollback_outcome(sess.settings, done.result, done.state,
                                      verb.target.version, done.extra["method"], done.revision,
                                      done.seconds)
    if verb.evidence is not None and verb.evidence.checked:  # what deploy.verify found
        outcome.result["verification"] = verb.evidence.as_json()
    notices.finished(sess, "rollback", done)
    return outcome


class Rollback:
    def __init__(self, args: RollbackArgs, cfg: Config) -> None:
        self.args, self.cfg = args, cfg
        self.target: decisions.Target | None = None
        self.evidence: Evidence | None = None

    def before_lock(self, sess: session.Session) -> None:
        """The target is found (read-only) and verified (deploy.verify) before the lock."""
        self.target = target = find_target(sess, self.cfg, sess.state(), self.args.to)
        if target.found:
            console.info(target.found)
        self.evidence = release_check.check(self.cfg, self.args.environment,
                                            target.version.image, action="rollback",
                                            allow_unverified=self.args.allow_unverified)

    def execute(self, sess: session.Session, state: live_state.ReleaseState) -> session.Done:
        current = state.desired
        target = self.target
        assert target is not None
        strategy = current.strategy if current else sess.settings.strategy
        # the commit the target was built from (its own record's), never the checkout's
        record = release_check.stamp(replace(sess.record("rollback", strategy, target.version),
                                             git_sha=target.git_sha), self.evidence)
        sess.with_strategy(strategy)
        method, plan = plans.rollback(sess.settings, current, target.version,
                                      warm_idle=_warm_idle(sess, current))
        console.info(f"rolling {sess.settings.release} back to {target.version.version} "
                     f"({target.version.digest}) by {method}")
        result = sess.runner(record).run(plan, current)
        return session.Done(result, target.version, current.serving if current else None,
                            state, extra={"method": method})


def _warm_idle(sess: session.Session, current: Desired | None) -> bool:
    """Blue-green: the idle colour runs and is ready (a selector switch can take it)."""
    if current is None or not strategies.of(current.strategy).colours:
        return False
    found = live_state.live(sess.api, sess.settings.release, sess.settings.namespace,
                            sess.settings.values)
    idle = found.get(current.idle)
    return idle is not None and idle.replicas > 0 and idle.ready >= idle.replicas


def find_target(sess: session.Session, cfg: Config, state: live_state.ReleaseState,
                wanted: str) -> decisions.Target:
    """The history first, then the project's git tag, then the registry."""
    release = sess.settings.release
    found = decisions.in_history(state.history, wanted)
    if found is not None:
        return found
    if decisions.is_revision(wanted):
        raise decisions.no_revision(state.history, wanted, release)
    version = decisions.tag_version(wanted)
    tag = gitinfo.tag_commit(cfg.root, version) if version is not None else None
    by_tag = decisions.by_git_tag(state.history, wanted, release, tag, str(cfg.root))
    if by_tag is not None:
        return by_tag
    if tag is not None:
        console.info(f"{wanted}: git tag {tag[0]} in {cfg.root} points at commit "
                     f"{tag[1][:12]}, but no deploy of {release} recorded that commit")
    # never deployed here: the registry may still have it (tag -> digest)
    serving = state.desired.serving if state.desired is not None else None
    repository = serving.repository if serving is not None else default_repository(
        cfg, sess.settings)
    for ref in decisions.registry_candidates(repository, wanted):
        digest = registry.resolve(ref)
        if digest is not None:
            assert version is not None
            return decisions.Target(Version(f"{repository}@{digest}", version), None,
                                    f"{wanted} was never deployed as {release}; found {ref} "
                                    f"in the registry ({digest})")
    raise decisions.not_found(state.history, wanted, release, sess.settings.namespace,
                              repository)
