"""The three release strategies, one small class each: everything that differs between
rolling, canary and blue-green lives here, so the plan, the runner, the values and the report
ask a question (`of(name).incoming(desired)`) instead of comparing strategy names.

Pure. The step shapes themselves are in plan.py; a strategy picks which ones it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from modelship.errors import UsageError
from modelship.release import plan as steps
from modelship.release.desired import COLOURS, Desired, Version
from modelship.release.settings import ReleaseSettings

# weight of the intermediate apply that brings back one stable pod before the canary goes
LAST_STABLE_POD = 99


def _track_values(version: Version | None) -> dict[str, str]:
    if version is None:
        return {"image": "", "version": ""}
    return {"image": version.image, "version": version.version}


_NO_COLOURS = {"blue": _track_values(None), "green": _track_values(None), "active": "blue",
               "idleReplicas": None}


class Strategy:
    """The tracks layout (stable + canary Deployments); rolling's answers."""

    name = "rolling"
    colours = False  # blue-green lays a release out as colours, the others as tracks
    pausable = False

    # -- what runs where ----------------------------------------------------------------------
    def serving(self, desired: Desired) -> Version | None:
        """The version production answers with."""
        return desired.stable

    def incoming(self, desired: Desired) -> Version | None:
        """The version on its way in (the canary track or the idle colour), if any."""
        return None

    def moved_to(self, desired: Desired) -> Version | None:
        """The version a revision with these values moved the release to (its history)."""
        return self.serving(desired)

    def waiting(self, desired: Desired, *, idle_is_new: bool) -> Version | None:
        """A new version held short of 100% (a paused canary, a colour before its switch);
        None when the release is at rest."""
        return None

    def first_install(self, settings: ReleaseSettings, new: Version) -> Desired:
        return Desired(self.name, settings.replicas, stable=new)

    # -- plans --------------------------------------------------------------------------------
    def check_pause_at(self, settings: ReleaseSettings, pause_at: int | None) -> None:
        if pause_at is not None:
            raise UsageError("--pause-at: a rolling release has no steps to pause at",
                             hint="use --strategy canary or blue-green")

    def deploy(self, settings: ReleaseSettings, current: Desired, new: Version,
               pause_at: int | None) -> steps.Plan:
        return steps.rolling(settings, current, new)

    def go_on(self, settings: ReleaseSettings, current: Desired, new: Version,
              pause_at: int | None) -> steps.Plan | None:
        """A re-run of an interrupted deploy of `new`: the plan from where it stopped, or None
        (start over)."""
        return None

    def resume(self, settings: ReleaseSettings, current: Desired, *, full: bool,
               idle_is_new: bool) -> steps.Plan:
        return steps.Plan(self.name, ())

    def abort(self, current: Desired, *, idle_is_new: bool) -> steps.Plan:
        return steps.Plan(self.name, ())

    def rollback(self, settings: ReleaseSettings, current: Desired, target: Version, *,
                 warm_idle: bool) -> tuple[str, steps.Plan]:
        back = Desired(self.name, settings.replicas, stable=target)
        return "upgrade", steps.Plan(self.name, (steps.Step("rollback", 100, (back,)),))

    def undo_by_helm_rollback(self, current: Desired | None) -> bool:
        """Whether a failed deploy puts production back with `helm rollback` (no abort plan
        describes the way back: rolling, or a change of layout)."""
        return True

    def switch_back(self, attempted: Desired) -> Desired | None:
        """After a failed bake: the state that serves the previous version again, when the
        strategy keeps it (blue-green's warm colour); None: the abort plan does it."""
        return None

    # -- chart values -------------------------------------------------------------------------
    def values(self, desired: Desired) -> dict[str, Any]:
        stable: dict[str, Any] = {"replicas": desired.replicas}
        if desired.stable is not None:
            stable.update(_track_values(desired.stable))
        canary = self.incoming(desired)
        return {"strategy": self.name, "stable": stable,
                "canary": {"enabled": canary is not None, **_track_values(canary),
                           "weight": desired.weight if canary is not None else 0,
                           "shadow": desired.shadow and canary is not None},
                "blueGreen": dict(_NO_COLOURS)}

    def read(self, values: Mapping[str, Any], replicas: int) -> Desired:
        stable = values.get("stable")
        return Desired(self.name, replicas,
                       stable=read_version(stable) if isinstance(stable, Mapping) else None)

    # -- the runner's questions ---------------------------------------------------------------
    def endpoints(self, desired: Desired, base: str, *, bake: bool = False
                  ) -> tuple[tuple[str, Version | None], tuple[str, Version | None]]:
        """(Service, version) of production and of the version judged, for probes."""
        return (f"{base}-stable", desired.stable), (f"{base}-canary", desired.canary)

    def analysed_track(self, desired: Desired, *, bake: bool = False) -> str:
        """The `track` label of the judged version's pods (Prometheus queries)."""
        return "canary"

    def analysed_weight(self, step_weight: int, rendered: Any) -> Any:
        """The share of live traffic the judged version has: what the cluster rendered."""
        return rendered

    def compares_with_stable(self, desired: Desired) -> bool:
        """Whether stable pods run to compare the new version with."""
        return True

    def split(self, desired: Desired, pods: dict[str, Any], found: Mapping[str, Any],
              mode: str, route_weight: int | None) -> dict[str, Any]:
        return {"pods": pods, "weight": 100}

    def describe(self, desired: Desired) -> str:
        return f"stable {_v(desired.stable)}"

    # -- status -------------------------------------------------------------------------------
    def status_fields(self, desired: Desired, *, paused: bool) -> tuple[dict[str, Any] | None,
                                                                        str | None]:
        """(the contract's `canary` object, `active_colour`)."""
        return None, None


class Rolling(Strategy):
    def endpoints(self, desired: Desired, base: str, *, bake: bool = False
                  ) -> tuple[tuple[str, Version | None], tuple[str, Version | None]]:
        # one track: what is judged (a bake) is the stable track itself
        return (f"{base}-stable", None), (f"{base}-stable", desired.stable)

    def analysed_track(self, desired: Desired, *, bake: bool = False) -> str:
        return "stable"

    def compares_with_stable(self, desired: Desired) -> bool:
        return False


class Canary(Strategy):
    name = "canary"
    pausable = True

    def incoming(self, desired: Desired) -> Version | None:
        return desired.canary

    def waiting(self, desired: Desired, *, idle_is_new: bool) -> Version | None:
        return desired.canary

    def moved_to(self, desired: Desired) -> Version | None:
        return desired.canary or desired.stable

    def check_pause_at(self, settings: ReleaseSettings, pause_at: int | None) -> None:
        if pause_at is not None and pause_at not in settings.canary.steps:
            listed = ", ".join(str(s) for s in settings.canary.steps)
            raise UsageError(f"--pause-at {pause_at}: not a canary step; expected one of "
                             f"{listed} (deploy.canary.steps)")

    def deploy(self, settings: ReleaseSettings, current: Desired, new: Version,
               pause_at: int | None) -> steps.Plan:
        return steps.canary(settings, current, new, pause_at=pause_at)

    def go_on(self, settings: ReleaseSettings, current: Desired, new: Version,
              pause_at: int | None) -> steps.Plan | None:
        if current.strategy != self.name or current.canary != new:
            return None
        self.check_pause_at(settings, pause_at)
        passed = [s for s in settings.canary.steps if s < current.weight]
        return steps.canary(settings, current, new, pause_at=pause_at,
                            after=passed[-1] if passed else 0)

    def resume(self, settings: ReleaseSettings, current: Desired, *, full: bool,
               idle_is_new: bool) -> steps.Plan:
        if current.canary is None:
            return steps.Plan(self.name, ())
        return steps.canary(settings, current, current.canary, after=current.weight,
                            full=full)

    def abort(self, current: Desired, *, idle_is_new: bool) -> steps.Plan:
        if current.canary is None:
            return steps.Plan(self.name, ())
        assert current.stable is not None
        return steps.Plan(self.name, (steps.Step("abort", 0, self._back(current,
                                                                        current.stable)),))

    def rollback(self, settings: ReleaseSettings, current: Desired, target: Version, *,
                 warm_idle: bool) -> tuple[str, steps.Plan]:
        *first, back = self._back(current, target)
        applies = (*first, replace(back, replicas=settings.replicas))
        return "upgrade", steps.Plan(self.name, (steps.Step("rollback", 100, applies),))

    def _back(self, current: Desired, stable: Version) -> tuple[Desired, ...]:
        """`stable` alone at 100%; from weight 100 (no stable pod runs) one stable pod comes
        back first, so a ready pod serves throughout."""
        back = Desired(self.name, current.replicas, stable=stable)
        if current.canary is not None and current.weight >= 100:
            return replace(current, weight=LAST_STABLE_POD), back
        return (back,)

    def undo_by_helm_rollback(self, current: Desired | None) -> bool:
        return current is None or current.strategy != self.name

    def read(self, values: Mapping[str, Any], replicas: int) -> Desired:
        desired = super().read(values, replicas)
        canary = values.get("canary")
        if not isinstance(canary, Mapping) or not canary.get("enabled"):
            return desired
        track = read_version(canary)
        weight = canary.get("weight", 0) if track else 0
        return replace(desired, canary=track, weight=weight if isinstance(weight, int) else 0,
                       shadow=bool(track and canary.get("shadow")))

    def compares_with_stable(self, desired: Desired) -> bool:
        return desired.weight < 100  # at 100% no stable pod is left to compare with

    def split(self, desired: Desired, pods: dict[str, Any], found: Mapping[str, Any],
              mode: str, route_weight: int | None) -> dict[str, Any]:
        from modelship.release.values import replicas_split

        stable, canary = found.get("stable"), found.get("canary")
        total = (stable.replicas if stable else 0) + (canary.replicas if canary else 0)
        share = round(100 * (canary.replicas if canary else 0) / total) if total else 0
        split: dict[str, Any] = {"pods": pods, "mode": mode}
        if mode == "replicas":
            split["weight"] = share
            expected = replicas_split(desired.replicas, desired.weight if desired.canary else 0)
            split["expected_pods"] = {"stable": expected[0], "canary": expected[1]}
        else:
            split["weight"] = route_weight if route_weight is not None else (
                desired.weight if desired.canary else 0)
        return split

    def describe(self, desired: Desired) -> str:
        if desired.canary is None:
            return super().describe(desired)
        return (f"stable {_v(desired.stable)}, canary {_v(desired.canary)} at "
                f"{desired.weight}%")

    def status_fields(self, desired: Desired, *, paused: bool) -> tuple[dict[str, Any] | None,
                                                                        str | None]:
        if desired.canary is None:
            return None, None
        return {"image": desired.canary.image, "digest": desired.canary.digest,
                "weight": desired.weight}, None


class BlueGreen(Strategy):
    name = "blue-green"
    colours = True
    pausable = True

    def serving(self, desired: Desired) -> Version | None:
        return desired.colour(desired.active)

    def incoming(self, desired: Desired) -> Version | None:
        return desired.colour(desired.idle)

    def waiting(self, desired: Desired, *, idle_is_new: bool) -> Version | None:
        """The idle colour holds the new version before its switch only when the deployed
        revision said so (`idle_is_new`): the values alone cannot tell it from the old version
        kept warm after a switch."""
        idle = desired.colour(desired.idle)
        if idle_is_new and idle is not None and desired.idle_replicas != 0 and \
                idle != self.serving(desired):
            return idle
        return None

    def first_install(self, settings: ReleaseSettings, new: Version) -> Desired:
        return Desired(self.name, settings.replicas, blue=new, active="blue")

    def check_pause_at(self, settings: ReleaseSettings, pause_at: int | None) -> None:
        if pause_at not in (None, 0):
            raise UsageError(f"--pause-at {pause_at}: a blue-green release pauses only before "
                             "the switch; expected --pause-at 0")

    def deploy(self, settings: ReleaseSettings, current: Desired, new: Version,
               pause_at: int | None) -> steps.Plan:
        return steps.blue_green(settings, current, new, pause_at=pause_at)

    def resume(self, settings: ReleaseSettings, current: Desired, *, full: bool,
               idle_is_new: bool) -> steps.Plan:
        if self.waiting(current, idle_is_new=idle_is_new) is None:
            return steps.Plan(self.name, ())
        return steps.Plan(self.name, (steps.switch(settings, current), steps.BAKE))

    def abort(self, current: Desired, *, idle_is_new: bool) -> steps.Plan:
        if self.waiting(current, idle_is_new=idle_is_new) is None:
            return steps.Plan(self.name, ())
        return steps.Plan(self.name, (steps.Step("abort", 0,
                                                 (steps.scale_down_idle(current),)),))

    def rollback(self, settings: ReleaseSettings, current: Desired, target: Version, *,
                 warm_idle: bool) -> tuple[str, steps.Plan]:
        idle = current.idle
        if current.colour(idle) == target and warm_idle:
            return "colour-switch", steps.Plan(self.name, (steps.switch(settings, current),))
        prepared = replace(current, idle_replicas=None).with_colour(idle, target)
        return "upgrade", steps.Plan(self.name, (steps.Step("prepare", 0, (prepared,)),
                                                 steps.switch(settings, prepared)))

    def undo_by_helm_rollback(self, current: Desired | None) -> bool:
        return current is None or current.strategy != self.name

    def switch_back(self, attempted: Desired) -> Desired | None:
        return replace(attempted, active=attempted.idle)

    def values(self, desired: Desired) -> dict[str, Any]:
        return {"strategy": self.name, "stable": {"replicas": desired.replicas},
                "canary": {"enabled": False, **_track_values(None), "weight": 0},
                "blueGreen": {"blue": _track_values(desired.blue),
                              "green": _track_values(desired.green),
                              "active": desired.active, "idleReplicas": desired.idle_replicas}}

    def read(self, values: Mapping[str, Any], replicas: int) -> Desired:
        bg = values.get("blueGreen")
        bg = bg if isinstance(bg, Mapping) else {}
        active = bg.get("active", "blue")
        idle = bg.get("idleReplicas")
        return Desired(self.name, replicas, blue=read_version(bg.get("blue")),
                       green=read_version(bg.get("green")),
                       active=active if active in COLOURS else "blue",
                       idle_replicas=idle if isinstance(idle, int) else None)

    def endpoints(self, desired: Desired, base: str, *, bake: bool = False
                  ) -> tuple[tuple[str, Version | None], tuple[str, Version | None]]:
        main, preview = (base, self.serving(desired)), (f"{base}-preview", self.incoming(desired))
        # before the switch the idle colour is judged; a bake judges the active colour, with
        # the old one kept warm behind the preview Service
        return (preview, main) if bake else (main, preview)

    def analysed_track(self, desired: Desired, *, bake: bool = False) -> str:
        return desired.active if bake else desired.idle

    def analysed_weight(self, step_weight: int, rendered: Any) -> Any:
        # the new colour has live traffic only after the switch (the preview step is 0)
        return step_weight

    def split(self, desired: Desired, pods: dict[str, Any], found: Mapping[str, Any],
              mode: str, route_weight: int | None) -> dict[str, Any]:
        return {"pods": pods, "active": desired.active, "weight": 100}

    def describe(self, desired: Desired) -> str:
        idle = "warm" if desired.idle_replicas is None else f"{desired.idle_replicas} pods"
        return (f"blue {_v(desired.blue)}, green {_v(desired.green)}, active "
                f"{desired.active}, idle {idle}")

    def status_fields(self, desired: Desired, *, paused: bool) -> tuple[dict[str, Any] | None,
                                                                        str | None]:
        waiting = self.waiting(desired, idle_is_new=paused)
        canary = ({"image": waiting.image, "digest": waiting.digest, "weight": 0}
                  if waiting is not None else None)
        return canary, desired.active


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (Canary(), BlueGreen(), Rolling())}
NAMES = tuple(STRATEGIES)  # canary, blue-green, rolling


def of(name: str) -> Strategy:
    found = STRATEGIES.get(name)
    if found is None:
        raise UsageError(f"unknown strategy '{name}'; expected one of {', '.join(NAMES)}")
    return found


def read_version(node: object) -> Version | None:
    """A track's or colour's {image, version} from chart values."""
    if not isinstance(node, Mapping):
        return None
    image = node.get("image")
    if not isinstance(image, str) or not image:
        return None
    version = node.get("version")
    from modelship.imageref import version_of

    return Version(image, version if isinstance(version, str) and version else
                   version_of(image))


def _v(version: Version | None) -> str:
    return version.version if version else "-"
