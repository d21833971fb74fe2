"""Plans: (settings, current desired state, target) -> steps. Pure; one function per strategy.

A step is one or more `Desired` states applied in order (each a `helm upgrade --wait`), then,
when `analyse` is set, an analysis verdict. Some moves take two applies so that production
never has zero ready pods: the chart splits a canary by pod count (`replicas` mode), so at
weight 100 the stable track has no pods, and scaling one track up while the other goes to zero
in a single upgrade would leave a gap until the new pods are ready. Worked example, 4 pods:
abort from weight 100 first applies weight 99 (stable 1 pod of the old version, canary 3),
waits for that pod, then removes the canary (stable 1 -> 4), so a ready pod serves throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from modelship.release import strategy as strategies
from modelship.release.desired import Desired, Version
from modelship.release.settings import ReleaseSettings


@dataclass(frozen=True)
class Step:
    name: str  # canary-25, preview, switch, promote, install, rollout, abort, ...
    weight: int  # share of traffic the new version has once the step is applied
    applies: tuple[Desired, ...]
    analyse: bool = False  # ask the analysis once ready (otherwise readiness only)
    pause_after: bool = False  # stop here and leave the release paused
    interval: float = 0.0  # how long the analysis (or readiness-only hold) lasts
    scale_down_after: float | None = None  # blue-green: scale the old colour down after this
    bake: bool = False  # no apply: judge production at 100% for deploy.analysis.bake


@dataclass(frozen=True)
class Plan:
    strategy: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)  # lines shown before it runs

    @property
    def empty(self) -> bool:
        return not self.steps


def deploy(settings: ReleaseSettings, current: Desired | None, new: Version, *,
           pause_at: int | None = None, strategy: str | None = None) -> Plan:
    """The plan that takes `current` (None: nothing deployed yet) to `new`."""
    chosen = strategies.of(strategy or settings.strategy)
    chosen.check_pause_at(settings, pause_at)
    serving = current.serving if current is not None else None
    if current is None or serving is None:
        return first_install(settings, chosen.name, new)
    if strategies.of(current.strategy).colours != chosen.colours:
        return relayout(settings, current, serving, new, chosen.name, pause_at)
    return chosen.deploy(settings, current, new, pause_at)


def relayout(settings: ReleaseSettings, current: Desired, serving: Version, new: Version,
             chosen: str, pause_at: int | None) -> Plan:
    """Into or out of blue-green the chart's Deployments change (tracks <-> colours): first the
    version production runs now is laid out the new way (readiness only: it is already
    trusted), then the new version goes through the chosen strategy's steps and analysis as
    any release does, never straight to 100%."""
    moved = first_install(settings, chosen, serving).steps[0]
    relaid = moved.applies[-1]
    note = (f"switching {settings.release} from {current.strategy} to {chosen}: its pods are "
            f"replaced by {chosen} ones running {serving.version} first (the chart's "
            "Deployments change; expect a short gap while they start)")
    rest = () if new == serving else deploy(settings, relaid, new, pause_at=pause_at,
                                            strategy=chosen).steps
    return Plan(chosen, (replace(moved, name=f"re-layout-{chosen}"), *rest), notes=(note,))


def check_pause_at(settings: ReleaseSettings, strategy: str, pause_at: int | None) -> None:
    strategies.of(strategy).check_pause_at(settings, pause_at)


def first_install(settings: ReleaseSettings, strategy: str, new: Version) -> Plan:
    """Nothing to compare with: the version becomes stable (or the active colour) with
    readiness only."""
    target = strategies.of(strategy).first_install(settings, new)
    return Plan(strategy, (Step("install", 100, (target,)),))


def canary(settings: ReleaseSettings, current: Desired, new: Version, *,
           pause_at: int | None = None, after: int = 0, full: bool = False) -> Plan:
    """Weighted steps above `after` (a paused canary resumes there), each analysed, then
    promotion. `full`: straight to promotion."""
    stable = current.stable
    assert stable is not None
    from modelship.release.values import traffic_mode  # values -> strategy -> plan

    steps: list[Step] = []
    weight_now = current.weight if current.canary == new else 0
    # a routed mode (gateway-api, nginx) sends the canary's share to its Service as soon as
    # the route has it: with no ready pod behind it clients get 503s, so the canary's pods
    # start at weight 0 first (the chart runs one pod there), and the shadow step does that too
    ready_at_zero = traffic_mode(settings.values) == "replicas" or weight_now > 0
    warm = Desired("canary", settings.replicas, stable=stable, canary=new, weight=0)
    if settings.canary.shadow and not full and after == 0 and weight_now == 0:
        # warm first here too: the mirror's target Service then exists before the gateway is
        # told to copy requests to it (Traefik: a mirror to a Service it has not seen yet
        # unbuilds the service in front of stable, and clients get 404s)
        mirrored = replace(warm, shadow=True)
        steps.append(Step("shadow", 0, (*(() if ready_at_zero else (warm,)), mirrored),
                          analyse=True, interval=settings.canary.shadow))
        ready_at_zero = True
    for weight in () if full else settings.canary.steps:
        if weight <= after:
            continue
        applies: list[Desired] = []
        if not ready_at_zero:
            applies.append(warm)
            ready_at_zero = True
        target = Desired("canary", settings.replicas, stable=stable, canary=new, weight=weight)
        applies.append(target)
        steps.append(Step(f"canary-{weight}", weight, tuple(applies), analyse=True,
                          pause_after=weight == pause_at,
                          interval=settings.canary.interval))
        weight_now = weight
    if weight_now >= 100:
        steps.append(BAKE)
    steps.append(promotion(settings, new, weight_now))
    return Plan("canary", tuple(steps))


# after 100%, the analysis keeps judging production for `bake` while the previous version can
# still take over (canary: before promotion; blue-green: the old colour is warm); the runner
# skips it when no bake is configured
BAKE = Step("bake", 100, (), analyse=True, bake=True)


def promotion(settings: ReleaseSettings, new: Version, weight_now: int) -> Step:
    """The new version becomes stable. From a canary that runs, both tracks serve it for one
    apply (weight 50), so the canary's pods serve while the stable pods roll over."""
    final = Desired("canary", settings.replicas, stable=new)
    if weight_now <= 0:
        return Step("promote", 100, (final,))
    both = Desired("canary", settings.replicas, stable=new, canary=new, weight=50)
    return Step("promote", 100, (both, final))


def blue_green(settings: ReleaseSettings, current: Desired, new: Version, *,
               pause_at: int | None = None) -> Plan:
    """New version to the idle colour (warm), preview check, switch; the old colour stays
    warm for scale_down_delay, then goes to 0."""
    idle = current.idle
    preview = replace(current, replicas=settings.replicas, idle_replicas=None).with_colour(
        idle, new)
    pause = pause_at == 0 or not settings.blue_green.auto_promote
    steps = [Step("preview", 0, (preview,), analyse=True, pause_after=pause,
                  interval=settings.blue_green.preview_interval)]
    steps += [switch(settings, preview), BAKE]
    return Plan("blue-green", tuple(steps))


def switch(settings: ReleaseSettings, current: Desired) -> Step:
    """Send the main Service to the idle colour; the old one stays warm for the delay."""
    switched = replace(current, active=current.idle, idle_replicas=None)
    return Step("switch", 100, (switched,),
                scale_down_after=settings.blue_green.scale_down_delay)


def scale_down_idle(current: Desired) -> Desired:
    return replace(current, idle_replicas=0)


def rolling(settings: ReleaseSettings, current: Desired, new: Version) -> Plan:
    del current  # a rolling update needs nothing of the current state but its existence
    return Plan("rolling", (Step("rollout", 100,
                                 (Desired("rolling", settings.replicas, stable=new),)), BAKE))


def resume(settings: ReleaseSettings, current: Desired, *, full: bool = False,
           idle_is_new: bool = False) -> Plan:
    """`promote`: a paused release through its remaining steps (`full`: straight to 100%).
    Blue-green: `idle_is_new` says the idle colour holds the new version waiting for the
    switch (the values alone cannot tell it from the old version kept warm after one)."""
    return strategies.of(current.strategy).resume(settings, current, full=full,
                                                  idle_is_new=idle_is_new)


def abort(current: Desired, *, idle_is_new: bool = False) -> Plan:
    """Stable (or the active colour) back to 100%, the new version scaled to 0."""
    return strategies.of(current.strategy).abort(current, idle_is_new=idle_is_new)


def rollback(settings: ReleaseSettings, current: Desired | None, target: Version, *,
             warm_idle: bool) -> tuple[str, Plan]:
    """(method, plan) to put `target` back at 100% with no steps and no analysis: a selector
    switch when the idle colour is warm with it, otherwise an upgrade."""
    if current is None or current.serving is None:
        return "upgrade", first_install(settings, settings.strategy, target)
    return strategies.of(current.strategy).rollback(settings, current, target,
                                                    warm_idle=warm_idle)
