"""deploy | promote | abort | rollback | status: the release contract (DESIGN.md) on top of
settings, state, plans, the runner, the lock and the history.

Every changing command takes the Lease, recovers a release left pending-* by a process that
no longer holds it (back to its last deployed revision), scales down an old blue-green colour
whose delay has passed, then plans from the state as it is, so a re-run converges.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from modelship import console, ghactions
from modelship.config import Config, parse_duration
from modelship.errors import EXIT_OK, UsageError
from modelship.image import gitinfo, tags
from modelship.outcome import Outcome
from modelship.provenance import release_check
from modelship.release import history, image_version, kube, lock, registry, report, settings
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release.analysis import preflight
from modelship.release.analysis.base import Analysis, Endpoint, ReadinessOnly
from modelship.release.helm import Helm, HelmError
from modelship.release.model import Desired, Track, repository_of
from modelship.release.runner import Runner, RunResult
from modelship.release.values import chart_values

DEFAULT_LOCK_TIMEOUT = 300.0


# -- arguments ------------------------------------------------------------------------------
def _duration(flag: str) -> Any:
    def parse(text: str) -> float:
        seconds = parse_duration(text)
        if seconds is None:
            raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 5m or 1h, "
                                             f"got '{text}' ({flag})")
        return seconds
    return parse


def add_common(parser: argparse.ArgumentParser, *, changes: bool = True) -> None:
    parser.add_argument("--environment", metavar="NAME",
                        help="environments.NAME overrides deploy (namespace, release, ...)")
    if changes:
        parser.add_argument("--lock-timeout", type=_duration("--lock-timeout"),
                            default=DEFAULT_LOCK_TIMEOUT, metavar="D",
                            help="how long to wait for another release command of this model "
                                 "and environment (default 5m)")


def _weight(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a weight 0-100, got '{text}'") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a weight 0-100, got {value}")
    return value


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--image", metavar="REF",
                        help="image to deploy (repo:tag or repo@sha256:...; a tag is resolved "
                             "to its digest). Default: image.repository at the model version")
    parser.add_argument("--strategy", choices=settings.STRATEGIES,
                        help="canary, blue-green or rolling (default: deploy.strategy)")
    parser.add_argument("--pause-at", type=_weight, metavar="WEIGHT",
                        help="stop once this weight passed analysis and leave the release "
                             "paused (blue-green: 0 stops before the switch)")
    parser.add_argument("--timeout", type=_duration("--timeout"), metavar="D",
                        help="readiness wait per step (default: deploy.timeout, 10m)")
    release_check.add_arguments(parser)  # --allow-unverified (provenance)


# -- a session: settings, helm, cluster ------------------------------------------------------
@dataclass
class Session:
    cfg: Config
    settings: settings.ReleaseSettings
    helm: Helm
    api: Any
    lock_timeout: float

    def state(self, *, with_history: bool = True) -> live_state.ReleaseState:
        return live_state.read(self.helm, self.settings.release, with_history=with_history)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with lock.held(self.api, self.settings.namespace, self.settings.release,
                       history.who(), self.lock_timeout):
            yield


def session(args: argparse.Namespace, cfg: Config, *, strategy: str | None = None,
            timeout: float | None = None,
            chosen: settings.ReleaseSettings | None = None) -> Session:
    if chosen is None:
        chosen = settings.load(cfg, args.environment, strategy=strategy, timeout=timeout)
    api = kube.client(chosen.kube_context)  # first: a kube_context typo is a usage error
    helm = Helm(chosen.namespace, chosen.kube_context)
    return Session(cfg, chosen, helm, api, getattr(args, "lock_timeout", DEFAULT_LOCK_TIMEOUT))


def analysis_for(chosen: settings.ReleaseSettings, cfg: Config, *,
                 segment: int = 0) -> Analysis:
    """ReadinessOnly when deploy.analysis is absent; otherwise the analysis package's (one
    object for every step the command runs). A release that pauses is judged in segments (the
    deploy, then each promote) by separate judges, so `alpha` is split between them: segment k
    (0 = the deploy) gets alpha / 2^(k+1), and the chance of ever aborting identical versions
    stays at most alpha however often the release pauses and resumes."""
    if chosen.analysis is None:
        return ReadinessOnly()
    from modelship.release.analysis import factory

    return factory.from_settings(chosen, cfg, alpha_share=factory.segment_share(segment))


# -- convergence --------------------------------------------------------------------------
def recover(sess: Session, state: live_state.ReleaseState) -> live_state.ReleaseState:
    """A release left pending-* (helm killed, job cancelled) by a process that no longer holds
    the lock (we hold it now) goes back to its last deployed revision."""
    if not state.pending or state.latest is None:
        return state
    latest = state.latest
    if state.deployed is None:
        console.info(f"release {sess.settings.release} is {latest.status} (revision "
                     f"{latest.number}) from an interrupted first install; no deployed revision "
                     "to recover to, installing again over it")
        sess.helm.run("uninstall", sess.settings.release, "--wait", "--timeout",
                      f"{int(sess.settings.timeout)}s", timeout=sess.settings.timeout + 60)
        return sess.state()
    console.info(f"release {sess.settings.release} is {latest.status} (revision "
                 f"{latest.number}), left by a process that no longer holds the lock; "
                 f"recovering to revision {state.deployed}, its last deployed revision")
    sess.helm.rollback(sess.settings.release, state.deployed, timeout=sess.settings.timeout)
    return sess.state()


def converge_scale_down(sess: Session, state: live_state.ReleaseState,
                        record: history.Record) -> live_state.ReleaseState:
    """An old blue-green colour whose keep-warm delay has passed goes to 0 now."""
    marker = state.record.scale_down if state.record else {}
    desired = state.desired
    if not marker or desired is None or desired.strategy != "blue-green":
        return state
    if float(marker.get("at", 0)) > time.time() or desired.idle_replicas == 0:
        return state
    if marker.get("colour") != desired.idle:
        return state
    console.info(f"the {desired.idle} colour's keep-warm delay has passed; scaling it to 0")
    runner = Runner(sess.settings, sess.helm, sess.api, ReadinessOnly(),
                    replace(record, action="scale-down"), extra=dict(sess.settings.values))
    runner.apply(plans.scale_down_idle(desired), "scale-down")
    return sess.state()


def scale_down_after_delay(sess: Session, marker_at: float, record: history.Record) -> None:
    """Keep the old colour warm for scale_down_delay, then scale it to 0, unless a later
    command changed the release meanwhile (e.g. a rollback switched back).

    Why the command waits (rather than a Job in the cluster): no extra image has to be
    pullable in the cluster (air-gapped and private registries), no Role may scale Deployments
    behind Helm's back (the release's values stay the truth, so `helm rollback` never brings a
    colour back that the values say is off), and the lock is free while it waits, so a
    `rollback` inside the window is a plain selector switch. If the job is cancelled, the next
    command converges (converge_scale_down), and `status` shows the colour still warm."""
    remaining = marker_at - time.time()
    if remaining > 0:
        progress = console.Progress(f"keeping the old colour warm for {remaining:.0f}s "
                                    "(blue_green.scale_down_delay) so a rollback is a selector "
                                    "switch")
        while time.time() < marker_at:
            time.sleep(min(5.0, max(marker_at - time.time(), 0.05)))
            progress.tick(f"{max(marker_at - time.time(), 0):.0f}s left")
        progress.done("delay over")
    with sess.locked():
        state = sess.state(with_history=False)
        marker = state.record.scale_down if state.record else {}
        if not marker or abs(float(marker.get("at", 0)) - marker_at) > 1:
            console.info("the release changed while the old colour was kept warm; leaving the "
                         "scale-down to that command")
            return
        converge_scale_down(sess, state, record)


def _scale_down_later(sess: Session, marker_at: float,
                      record: history.Record) -> Callable[[], None]:
    """The scale-down as the command's `after`: the CLI prints the result first."""
    return lambda: scale_down_after_delay(sess, marker_at, record)


# -- images ---------------------------------------------------------------------------------
def _model_version(cfg: Config) -> str:
    configured = cfg.get_str("model.version", "auto")
    return tags.version(configured, gitinfo.detect(cfg.root))


def _repository(cfg: Config, chosen: settings.ReleaseSettings) -> str:
    if cfg.has("image.repository"):
        return cfg.get_str("image.repository").strip()
    return f"modelship/{tags.repository_component(chosen.model)}"


def target_image(args: argparse.Namespace, cfg: Config,
                 chosen: settings.ReleaseSettings) -> Track:
    """--image (or image.repository at the model version), pinned by digest. Its version: the
    tag, else the image's version label (a digest-only --image, as CD jobs pass the build's
    digest), else the digest's first 12 hex digits."""
    ref = args.image or f"{_repository(cfg, chosen)}:{_model_version(cfg)}"
    parsed = registry.parse(ref)
    pinned, digest = registry.pin(ref)
    if parsed.tag:
        return Track(pinned, history.normalise_version(parsed.tag))
    if not args.image:
        return Track(pinned, _model_version(cfg))
    labelled = image_version.from_registry(ref, digest)
    if labelled is not None:
        console.info(f"{pinned}: version {labelled.version} from its {labelled.label} label")
        return Track(pinned, labelled.version)
    version = digest.split(":", 1)[1][:12]
    console.info(f"{pinned} has no tag and no {' or '.join(image_version.VERSION_LABELS)} "
                 f"label; recording its version as {version}, the digest's first 12 hex "
                 "digits")
    return Track(pinned, version)


def base_record(cfg: Config, action: str, strategy: str, track: Track | None) -> history.Record:
    """The record of one change. Its gate report digest comes from the image itself
    (release_check.stamp), never from a file in the working directory."""
    git = gitinfo.detect(cfg.root)
    return history.Record(action=action, step="", strategy=strategy,
                          version=track.version if track else None,
                          image=track.image if track else None,
                          digest=track.digest if track else None,
                          git_sha=git.sha or ghactions.sha(), by=history.who())


# -- deploy ---------------------------------------------------------------------------------
def deploy(args: argparse.Namespace, cfg: Config) -> Outcome:
    chosen = settings.load(cfg, args.environment, strategy=args.strategy, timeout=args.timeout)
    # usage errors first: exit 2 even while helm, the registry or the cluster is unavailable
    plans.check_pause_at(chosen, chosen.strategy, args.pause_at)
    analysis = analysis_for(chosen, cfg)
    sess = session(args, cfg, chosen=chosen)
    # -- issue 24 preflight (move into deploy.py at merge): before the lock and any change,
    # can the probes read a prediction from the version serving now? exit 2 if not
    def serving_now() -> Endpoint | None:
        state = sess.state(with_history=False)
        return preflight.serving_endpoint(sess.api, chosen.namespace, chosen.release,
                                          state.desired, state.extra)

    preflight.before_deploy(analysis, serving_now, config_file=cfg.file)
    # -- end of the issue 24 preflight
    new = target_image(args, cfg, chosen)
    # provenance: the digest is verified (deploy.verify) before the lock, helm or the cluster
    evidence = release_check.check(cfg, args.environment, new.image, requested=args.image,
                                   allow_unverified=getattr(args, "allow_unverified", False))
    with sess.locked():
        state = recover(sess, sess.state())
        record = release_check.stamp(base_record(cfg, "deploy", chosen.strategy, new), evidence)
        state = converge_scale_down(sess, state, record)
        current = state.desired
        previous = current.serving if current else None
        strategy = _strategy_with_gpu_check(sess, current, new)
        if strategy != chosen.strategy:
            chosen = replace(chosen, strategy=strategy)
            sess.settings = chosen
            record = replace(record, strategy=strategy)
        plan = _deploy_plan(sess, state, new, args.pause_at)
        runner = Runner(chosen, sess.helm, sess.api, analysis, record,
                        restore_extra=state.extra if state.deployed is not None else None)
        on_failure = None
        if state.deployed is not None and (current is None or strategy == "rolling"
                                           or current.strategy != strategy):
            deployed = state.deployed

            def on_failure() -> None:
                console.info(f"rolling back to revision {deployed}, the last deployed one")
                sess.helm.rollback(chosen.release, deployed, timeout=chosen.timeout)

        for note in plan.notes:
            console.info(note)
        result = runner.run(plan, current, on_failure=on_failure) if not plan.empty \
            else RunResult("unchanged", final=current)
        revision = _latest_revision(sess)
    outcome = report.deploy_outcome(chosen, result, new, previous, revision)
    if evidence.checked:  # provenance: what deploy.verify found
        outcome.result["verification"] = evidence.as_json()
    if result.scale_down_at is not None and result.outcome == "promoted":
        outcome.after = _scale_down_later(sess, result.scale_down_at, record)
    return outcome


def _deploy_plan(sess: Session, state: live_state.ReleaseState, new: Track,
                 pause_at: int | None) -> plans.Plan:
    chosen = sess.settings
    current = state.desired
    if current is not None and current.serving == new and not current.in_progress and (
            current.strategy == chosen.strategy) and not _idle_waiting(current, state):
        same = Desired(current.strategy, chosen.replicas, stable=current.stable,
                       blue=current.blue, green=current.green, active=current.active,
                       idle_replicas=current.idle_replicas)
        if chart_values(same, chosen.values) == chart_values(current, state.extra):
            console.info(f"{new.version} ({new.digest}) already serves {chosen.release}; "
                         "nothing to do")
            return plans.Plan(chosen.strategy, ())
        return plans.Plan(chosen.strategy, (plans.Step("configure", 100, (same,)),))
    if (current is not None and current.strategy == "canary" == chosen.strategy
            and current.canary == new):  # a re-run of an interrupted canary goes on from there
        passed = [s for s in chosen.canary.steps if s < current.weight]
        plans.check_pause_at(chosen, "canary", pause_at)
        return plans.canary(chosen, current, new, pause_at=pause_at,
                            after=passed[-1] if passed else 0)
    return plans.deploy(chosen, current, new, pause_at=pause_at)


def _idle_is_new(state: live_state.ReleaseState) -> bool:
    """Blue-green: the deployed revision put a new version in the idle colour (the preview
    step, paused or interrupted) rather than keeping the old one warm after a switch."""
    return bool(state.record and state.record.step in ("preview", "prepare"))


def _idle_waiting(current: Desired, state: live_state.ReleaseState) -> bool:
    if current.strategy != "blue-green" or not _idle_is_new(state):
        return False
    waiting = current.colour(current.idle)
    return waiting is not None and current.idle_replicas != 0 and waiting != current.serving


def _strategy_with_gpu_check(sess: Session, current: Desired | None, new: Track) -> str:
    chosen = sess.settings
    if chosen.strategy != "blue-green" or chosen.gpu_count <= 0 or current is None \
            or current.serving is None:
        return chosen.strategy
    gpu = chosen.values.get("gpu")
    gpu = gpu if isinstance(gpu, dict) else {}
    product = gpu.get("product") or None
    label = gpu.get("productLabel") or "nvidia.com/gpu.product"
    found = live_state.live(sess.api, chosen.release, chosen.namespace, chosen.values)
    idle = found.get(current.idle)
    needed = chosen.replicas - (idle.replicas if idle else 0)
    if needed <= 0:
        return chosen.strategy
    capacity = live_state.gpu_capacity(sess.api, pods=needed, gpus_per_pod=chosen.gpu_count,
                                       product=product if isinstance(product, str) else None,
                                       product_label=str(label))
    if capacity.enough:
        console.info(f"GPU capacity for blue-green: {capacity.describe()}")
        return chosen.strategy
    if chosen.blue_green.fallback == "canary":
        console.info(f"blue-green does not fit: {capacity.describe()}; falling back to a canary "
                     "(blue_green.fallback: canary)")
        return "canary"
    raise UsageError(f"blue-green of {new.version} does not fit: {capacity.describe()}",
                     hint="free GPUs, lower deploy.replicas, or set blue_green.fallback: canary "
                          "(or use --strategy canary)")


def _latest_revision(sess: Session) -> int | None:
    try:
        revisions = sess.helm.history(sess.settings.release)
    except HelmError:
        return None
    return revisions[-1].number if revisions else None


# -- promote / abort --------------------------------------------------------------------------
def promote(args: argparse.Namespace, cfg: Config) -> Outcome:
    sess = session(args, cfg)
    analysis_for(sess.settings, cfg)  # a bad deploy.analysis: exit 2 before the lock
    with sess.locked():
        state = recover(sess, sess.state())
        current = state.desired
        if current is None:
            raise UsageError(f"release {sess.settings.release} is not deployed in namespace "
                             f"{sess.settings.namespace}; nothing to promote")
        plan = plans.resume(sess.settings, current, full=args.full,
                            idle_is_new=_idle_is_new(state))
        new = current.canary if current.strategy == "canary" else current.colour(current.idle)
        analysis = analysis_for(sess.settings, cfg, segment=history.pauses(
            state.history, new.digest if new else None))
        record = base_record(cfg, "promote", current.strategy, new)
        if state.record is not None:  # provenance: the paused deploy's, for the same digest
            record = replace(record, gate_report=state.record.gate_report,
                             verified=state.record.verified)
        if current.strategy != sess.settings.strategy:
            sess.settings = replace(sess.settings, strategy=current.strategy)
        runner = Runner(sess.settings, sess.helm, sess.api, analysis, record,
                        extra=dict(sess.settings.values))
        if plan.empty:
            console.info(f"{sess.settings.release} is not paused; nothing to promote")
            result = RunResult("unchanged", final=current)
        else:
            result = runner.run(plan, current)
        revision = _latest_revision(sess)
    outcome = report.deploy_outcome(sess.settings, result, new or current.serving,
                                    current.serving, revision, command="promote")
    if result.scale_down_at is not None and result.outcome == "promoted":
        outcome.after = _scale_down_later(sess, result.scale_down_at, record)
    return outcome


def abort(args: argparse.Namespace, cfg: Config) -> Outcome:
    sess = session(args, cfg)
    with sess.locked():
        state = recover(sess, sess.state())
        current = state.desired
        if current is None:
            raise UsageError(f"release {sess.settings.release} is not deployed in namespace "
                             f"{sess.settings.namespace}; nothing to abort")
        plan = plans.abort(current, idle_is_new=_idle_is_new(state))
        new = current.canary if current.strategy == "canary" else current.colour(current.idle)
        record = base_record(cfg, "abort", current.strategy, current.serving)
        sess.settings = replace(sess.settings, strategy=current.strategy)
        runner = Runner(sess.settings, sess.helm, sess.api, ReadinessOnly(), record,
                        extra=dict(sess.settings.values))
        if plan.empty:
            console.info(f"{sess.settings.release}: no canary or waiting colour; nothing to "
                         "abort")
            result = RunResult("unchanged", final=current)
        else:
            result = runner.run(plan, current)
            if result.exit_code == EXIT_OK:
                result.outcome = "aborted"
        revision = _latest_revision(sess)
    return report.deploy_outcome(sess.settings, result, new or current.serving,
                                 current.serving, revision, command="abort")


# -- rollback -------------------------------------------------------------------------------
def rollback(args: argparse.Namespace, cfg: Config) -> Outcome:
    sess = session(args, cfg)
    begun = time.monotonic()
    # provenance: the target is found (read-only) and verified before the lock is taken
    target = _rollback_target(sess, cfg, sess.state(), args.to)
    evidence = release_check.check(cfg, args.environment, target.image, action="rollback",
                                   allow_unverified=getattr(args, "allow_unverified", False))
    with sess.locked():
        state = recover(sess, sess.state())
        state = converge_scale_down(sess, state, base_record(cfg, "rollback", "", None))
        current = state.desired
        record = release_check.stamp(base_record(cfg, "rollback", current.strategy if current
                                                 else sess.settings.strategy, target), evidence)
        if current is not None:
            sess.settings = replace(sess.settings, strategy=current.strategy)
        warm = False
        if current is not None and current.strategy == "blue-green":
            found = live_state.live(sess.api, sess.settings.release, sess.settings.namespace,
                                    sess.settings.values)
            idle = found.get(current.idle)
            warm = idle is not None and idle.replicas > 0 and idle.ready >= idle.replicas
        method, plan = plans.rollback(sess.settings, current, target, warm_idle=warm)
        console.info(f"rolling {sess.settings.release} back to {target.version} "
                     f"({target.digest}) by {method}")
        runner = Runner(sess.settings, sess.helm, sess.api, ReadinessOnly(), record,
                        extra=dict(sess.settings.values))
        result = runner.run(plan, current)
        seconds = time.monotonic() - begun
        revision = _latest_revision(sess)
    outcome = report.rollback_outcome(sess.settings, result, state, target, method, revision,
                                      seconds)
    if evidence.checked:  # provenance: what deploy.verify found
        outcome.result["verification"] = evidence.as_json()
    if result.scale_down_at is not None and result.exit_code == EXIT_OK:
        outcome.after = _scale_down_later(sess, result.scale_down_at, record)
    return outcome


def _rollback_target(sess: Session, cfg: Config, state: live_state.ReleaseState,
                     wanted: str) -> Track:
    entry = history.find(state.history, wanted)
    if entry is not None and entry.track is not None:
        return entry.track
    known = history.known_versions(state.history)
    listed = ", ".join(known) if known else "none"
    if wanted.strip().isdigit() and len(wanted.strip()) < 12:
        revisions = ", ".join(str(e.revision) for e in state.history) or "none"
        raise UsageError(f"--to {wanted}: no revision {wanted} of {sess.settings.release} "
                         f"(revisions: {revisions}; versions: {listed})")
    by_tag = _rollback_by_git_tag(sess, cfg, state, wanted)
    if by_tag is not None:
        return by_tag
    # never deployed here: the registry may still have it (tag -> digest)
    repository = (repository_of(state.desired.serving.image)
                  if state.desired is not None and state.desired.serving is not None
                  else _repository(cfg, sess.settings))
    text = wanted.strip()
    if text.startswith("sha256:"):
        candidates = [f"{repository}@{text}"]
    else:
        version = history.normalise_version(text)
        candidates = [f"{repository}:{version}", f"{repository}:v{version}"]
    for ref in candidates:
        if "@" in ref:
            break
        digest = registry.resolve(ref)
        if digest is not None:
            console.info(f"{wanted} was never deployed as {sess.settings.release}; found "
                         f"{ref} in the registry ({digest})")
            return Track(f"{repository}@{digest}", history.normalise_version(text))
    raise UsageError(f"--to {wanted}: no such version in the history of "
                     f"{sess.settings.release} (namespace {sess.settings.namespace}) or in "
                     f"{repository}; known versions: {listed}")


def _rollback_by_git_tag(sess: Session, cfg: Config, state: live_state.ReleaseState,
                         wanted: str) -> Track | None:
    """A version no revision recorded (deployed by digest, before the image had a version
    label): the project's git tag v<version> (or <version>) names a commit; the newest deploy
    made from that commit is the target, under the version asked for."""
    text = wanted.strip()
    if text.startswith("sha256:"):
        return None
    version = history.normalise_version(text)
    found = gitinfo.tag_commit(cfg.root, version)
    if found is None:
        return None
    tag, sha = found
    entry = history.find_by_commit(state.history, sha)
    if entry is None or entry.track is None:
        console.info(f"{wanted}: git tag {tag} in {cfg.root} points at commit {sha[:12]}, but no "
                     f"deploy of {sess.settings.release} recorded that commit")
        return None
    console.info(f"{wanted}: no revision of {sess.settings.release} recorded version {version}; "
                 f"found it by git tag {tag} in {cfg.root}: commit {sha[:12]}, which revision "
                 f"{entry.revision} deployed ({entry.track.digest}, recorded as version "
                 f"{entry.version})")
    return Track(entry.track.image, version)


# -- status ---------------------------------------------------------------------------------
def status(args: argparse.Namespace, cfg: Config) -> Outcome:
    sess = session(args, cfg)
    state = sess.state()
    found: dict[str, live_state.Live] = {}
    problems: list[live_state.PodProblem] = []
    if state.exists:
        found = live_state.live(sess.api, sess.settings.release, sess.settings.namespace,
                                sess.settings.values)
        problems = live_state.pod_problems(sess.api, sess.settings.release,
                                           sess.settings.namespace)
    return report.status_outcome(sess.settings, state, found, problems)
