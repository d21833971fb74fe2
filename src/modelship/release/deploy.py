"""`deploy`: take the release to a new version through its strategy's steps (or to
--pause-at), pinned by digest. Usage errors come first, before any network call."""

from __future__ import annotations

from dataclasses import dataclass

from modelship import console, imageref, registry
from modelship.config import Config
from modelship.image import gitinfo, tags
from modelship.outcome import Outcome
from modelship.provenance import release_check
from modelship.provenance.verify import Evidence
from modelship.release import (
    decisions,
    history,
    image_version,
    mirror,
    report,
    session,
    settings,
)
from modelship.release import plan as plans
from modelship.release import state as live_state
from modelship.release import strategy as strategies
from modelship.release.analysis import preflight
from modelship.release.analysis.base import Analysis, Endpoint, ReadinessOnly
from modelship.release.desired import Desired, Version
from modelship.release.runner import RunResult
from modelship.release.values import chart_values


@dataclass(frozen=True)
class DeployArgs:
    environment: str | None = None
    image: str | None = None  # default: image.repository at the model version
    strategy: str | None = None
    pause_at: int | None = None
    timeout: float | None = None
    lock_timeout: float = session.DEFAULT_LOCK_TIMEOUT
    allow_unverified: bool = False  # go ahead when deploy.verify refuses (recorded)


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


def run(args: DeployArgs, cfg: Config) -> Outcome:
    chosen = settings.load(cfg, args.environment, strategy=args.strategy, timeout=args.timeout)
    # usage errors first: exit 2 even while helm, the registry or the cluster is unavailable
    plans.check_pause_at(chosen, chosen.strategy, args.pause_at)
    verb = Deploy(args, cfg, analysis_for(chosen, cfg))
    sess = session.open_session(cfg, args.environment, lock_timeout=args.lock_timeout,
                                chosen=chosen)
    done = session.run(sess, verb)
    outcome = report.deploy_outcome(sess.settings, done.result, verb.new, done.previous,
                                    done.revision)
    if verb.evidence is not None and verb.evidence.checked:  # what deploy.verify found
        outcome.result["verification"] = verb.evidence.as_json()
    from modelship.release import notices

    notices.finished(sess, "deploy", done)
    return outcome


class Deploy:
    def __init__(self, args: DeployArgs, cfg: Config, analysis: Analysis) -> None:
        self.args, self.cfg, self.analysis = args, cfg, analysis
        self.new: Version | None = None
        self.evidence: Evidence | None = None

    def before_lock(self, sess: session.Session) -> None:
        """Before the lock and any change: can the probes read a prediction from the version
        serving now (exit 2 if not), and is the target digest verified (deploy.verify)?"""
        chosen = sess.settings

        def serving_now() -> Endpoint | None:
            state = sess.state(with_history=False)
            return preflight.serving_endpoint(sess.api, chosen.namespace, chosen.release,
                                              state.desired, state.extra)

        preflight.before_deploy(self.analysis, serving_now, config_file=self.cfg.file)
        if mirror.needed(chosen.values, chosen.strategy, bool(chosen.canary.shadow)):
            # can the Gateway mirror (or serve the TraefikService the chart will render)?
            mirror.check(sess.api, chosen.namespace, chosen.values, config_file=self.cfg.file)
        self.new = target_image(self.args.image, self.cfg, chosen)
        self.evidence = release_check.check(self.cfg, self.args.environment, self.new.image,
                                            requested=self.args.image,
                                            allow_unverified=self.args.allow_unverified)

    def execute(self, sess: session.Session, state: live_state.ReleaseState) -> session.Done:
        from modelship.release import notices

        new = self.new
        assert new is not None
        current = state.desired
        previous = current.serving if current else None
        sess.with_strategy(self._fitting_strategy(sess, current, new))
        chosen = sess.settings
        record = release_check.stamp(sess.record("deploy", chosen.strategy, new), self.evidence)
        plan = deploy_plan(chosen, state, new, self.args.pause_at)
        runner = sess.runner(record, self.analysis,
                             restore_extra=state.extra if state.deployed is not None else None,
                             abort_requested=sess.abort_requested,
                             on_passed=notices.on_step_passed(sess, new, previous))
        on_failure = None
        if state.deployed is not None and strategies.of(chosen.strategy).undo_by_helm_rollback(
                current):
            deployed = state.deployed

            def on_failure() -> None:
                console.info(f"rolling back to revision {deployed}, the last deployed one")
                sess.helm.rollback(chosen.release, deployed, timeout=chosen.timeout)

        for note in plan.notes:
            console.info(note)
        if not plan.empty:
            notices.started(sess, new, previous)
        result = runner.run(plan, current, on_failure=on_failure) if not plan.empty \
            else RunResult("unchanged", final=current)
        return session.Done(result, new, previous, state)

    def _fitting_strategy(self, sess: session.Session, current: Desired | None,
                          new: Version) -> str:
        """Blue-green needs room for a second copy of the GPUs: the strategy that fits."""
        chosen = sess.settings
        if not strategies.of(chosen.strategy).colours or chosen.gpu_count <= 0 \
                or current is None or current.serving is None:
            return chosen.strategy
        gpu = chosen.values.get("gpu")
        gpu = gpu if isinstance(gpu, dict) else {}
        product = gpu.get("product") or None
        found = live_state.live(sess.api, chosen.release, chosen.namespace, chosen.values)
        idle = found.get(current.idle)
        needed = chosen.replicas - (idle.replicas if idle else 0)
        if needed <= 0:
            return chosen.strategy
        capacity = live_state.gpu_capacity(
            sess.api, pods=needed, gpus_per_pod=chosen.gpu_count,
            product=product if isinstance(product, str) else None,
            product_label=str(gpu.get("productLabel") or "nvidia.com/gpu.product"))
        picked = decisions.gpu_strategy(chosen.strategy, chosen.blue_green.fallback,
                                        enough=capacity.enough, capacity=capacity.describe(),
                                        version=new.version)
        if picked == chosen.strategy:
            console.info(f"GPU capacity for blue-green: {capacity.describe()}")
        else:
            console.info(f"blue-green does not fit: {capacity.describe()}; falling back to a "
                         "canary (blue_green.fallback: canary)")
        return picked


def deploy_plan(chosen: settings.ReleaseSettings, state: live_state.ReleaseState, new: Version,
                pause_at: int | None) -> plans.Plan:
    """Pure: the plan from the release as it is to `new`: nothing (already serving with the
    same values), a re-configure, the rest of an interrupted canary, or the strategy's plan."""
    current = state.desired
    strategy = strategies.of(chosen.strategy)
    if current is not None and current.serving == new and strategies.of(
            current.strategy) is strategy and strategy.waiting(
                current, idle_is_new=idle_is_new(state)) is None:
        same = Desired(current.strategy, chosen.replicas, stable=current.stable,
                       blue=current.blue, green=current.green, active=current.active,
                       idle_replicas=current.idle_replicas)
        if chart_values(same, chosen.values) == chart_values(current, state.extra):
            console.info(f"{new.version} ({new.digest}) already serves {chosen.release}; "
                         "nothing to do")
            return plans.Plan(chosen.strategy, ())
        return plans.Plan(chosen.strategy, (plans.Step("configure", 100, (same,)),))
    if current is not None:
        going_on = strategy.go_on(chosen, current, new, pause_at)
        if going_on is not None:
            return going_on
    return plans.deploy(chosen, current, new, pause_at=pause_at)


def idle_is_new(state: live_state.ReleaseState) -> bool:
    """Blue-green: the deployed revision put a new version in the idle colour (the preview
    step, paused or interrupted) rather than keeping the old one warm after a switch."""
    return bool(state.record and state.record.step in ("preview", "prepare"))


# -- the image --------------------------------------------------------------------------------
def model_version(cfg: Config) -> str:
    return tags.version(cfg.get_str("model.version", "auto"), gitinfo.detect(cfg.root))


def default_repository(cfg: Config, chosen: settings.ReleaseSettings) -> str:
    if cfg.has("image.repository"):
        return cfg.get_str("image.repository").strip()
    return f"modelship/{imageref.repository_component(chosen.model)}"


def target_image(image: str | None, cfg: Config, chosen: settings.ReleaseSettings) -> Version:
    """--image (or image.repository at the model version), pinned by digest. Its version: the
    tag, else the image's version label (a digest-only --image, as CD jobs pass the build's
    digest), else the digest's first 12 hex digits."""
    ref = image or f"{default_repository(cfg, chosen)}:{model_version(cfg)}"
    parsed = imageref.parse(ref)
    pinned, digest = registry.pin(ref)
    if parsed.tag:
        return Version(pinned, history.normalise_version(parsed.tag))
    if not image:
        return Version(pinned, model_version(cfg))
    labelled = image_version.from_registry(ref, digest)
    if labelled is not None:
        console.info(f"{pinned}: version {labelled.version} from its {labelled.label} label")
        return Version(pinned, labelled.version)
    version = digest.split(":", 1)[1][:12]
    console.info(f"{pinned} has no tag and no {' or '.join(image_version.VERSION_LABELS)} "
                 f"label; recording its version as {version}, the digest's first 12 hex "
                 "digits")
    return Version(pinned, version)

