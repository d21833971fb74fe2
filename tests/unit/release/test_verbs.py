"""Each verb's decisions without a cluster: deploy's plan from the state as it is, the warm
colour a blue-green switch leaves (when it is due, what status shows), abort's answer when a
running deploy stopped on its request."""

from __future__ import annotations

import time

import pytest

from modelship.release import abort, deploy, report, session
from modelship.release import plan as plans
from modelship.release.desired import Desired, Version
from modelship.release.history import Record
from modelship.release.settings import BlueGreenSettings, CanarySettings, ReleaseSettings
from modelship.release.state import ReleaseState

V1 = Version("r/m@sha256:" + "1" * 64, "1.0.0")
V2 = Version("r/m@sha256:" + "2" * 64, "2.0.0")
S = ReleaseSettings(model="m", release="m", namespace="ns", environment=None,
                    kube_context=None, strategy="canary", replicas=4, timeout=60,
                    canary=CanarySettings((10, 25, 50, 100), 1.0),
                    blue_green=BlueGreenSettings(scale_down_delay=30, preview_interval=2))
BG = ReleaseSettings(**{**S.__dict__, "strategy": "blue-green"})


def state(desired: Desired | None, step: str = "install", **record: object) -> ReleaseState:
    found = ReleaseState("m", "ns", deployed=3 if desired else None, desired=desired)
    if desired is not None:
        found.record = Record(str(record.pop("action", "deploy")), step, desired.strategy,
                              **record)  # type: ignore[arg-type]
    return found


def names(plan: plans.Plan) -> list[str]:
    return [s.name for s in plan.steps]


@pytest.mark.parametrize(("chosen", "current", "step", "new", "expected"), [
    (S, None, "install", V1, ["install"]),
    (S, Desired("canary", 4, stable=V1), "install", V1, []),  # already serving: nothing
    (S, Desired("canary", 2, stable=V1), "install", V1, ["configure"]),  # replicas changed
    (S, Desired("canary", 4, stable=V1), "install", V2,
     ["canary-10", "canary-25", "canary-50", "canary-100", "bake", "promote"]),
    # an interrupted canary of the same version goes on after the steps it passed
    (S, Desired("canary", 4, stable=V1, canary=V2, weight=50), "canary-50", V2,
     ["canary-50", "canary-100", "bake", "promote"]),
    # blue-green: the same version waiting in the idle colour is not "already serving"
    (BG, Desired("blue-green", 4, blue=V1, green=V2, active="blue"), "preview", V1,
     ["preview", "switch", "bake"]),
    (BG, Desired("blue-green", 4, blue=V1, active="blue"), "install", V2,
     ["preview", "switch", "bake"]),
    (BG, Desired("canary", 4, stable=V1), "install", V2,
     ["re-layout-blue-green", "preview", "switch", "bake"]),
])
def test_deploy_plan(chosen: ReleaseSettings, current: Desired | None, step: str, new: Version,
                     expected: list[str]) -> None:
    assert names(deploy.deploy_plan(chosen, state(current, step), new, None)) == expected


SWITCHED = Desired("blue-green", 4, blue=V1, green=V2, active="green")


@pytest.mark.parametrize(("desired", "marker", "warm"), [
    (SWITCHED, {"colour": "blue", "at": 100.0}, ("blue", 100.0)),
    (SWITCHED, {}, None),  # no marker: the switch kept nothing warm
    (Desired("blue-green", 4, blue=V1, green=V2, active="green", idle_replicas=0),
     {"colour": "blue", "at": 100.0}, None),  # already scaled down
    (SWITCHED, {"colour": "green", "at": 100.0}, None),  # the marker of an older switch
    (Desired("canary", 4, stable=V2), {"colour": "blue", "at": 100.0}, None),
])
def test_warm_colour(desired: Desired, marker: dict[str, object],
                     warm: tuple[str, float] | None) -> None:
    assert session.warm_colour(state(desired, "switch", scale_down=marker)) == warm


def test_scale_down_is_due_at_its_time_never_earlier() -> None:
    assert not session.due(("blue", 100.0), now=99.0)
    assert session.due(("blue", 100.0), now=100.0)


def test_status_shows_the_warm_colour_and_when_it_goes() -> None:
    at = time.time() + 600
    data = report.status_json(BG, state(SWITCHED, "switch",
                                        scale_down={"colour": "blue", "at": at}))
    assert data["active_colour"] == "green"
    assert data["stable"]["version"] == "2.0.0"
    warm = data["warm_colour"]
    assert warm["colour"] == "blue"
    assert warm["version"] == "1.0.0"
    assert warm["digest"] == V1.digest
    assert 590 <= warm["seconds_left"] <= 600
    assert warm["scale_down_at"].endswith("+00:00")
    # the contract's fields are all still there
    assert {"release", "namespace", "strategy", "revision", "stable", "canary",
            "active_colour", "paused", "history"} <= set(data)


def test_status_without_a_warm_colour() -> None:
    assert "warm_colour" not in report.status_json(S, state(Desired("canary", 4, stable=V1)))
    assert report.status_json(BG, state(SWITCHED, "switch"))["warm_colour"] is None


@pytest.mark.parametrize(("asked", "action", "outcome"), [
    (True, "abort", "aborted"),  # the running deploy put production back when asked
    (False, "abort", "unchanged"),  # an earlier automatic abort: nothing for this command
    (True, "deploy", "unchanged"),
])
def test_abort_with_nothing_left_to_abort(asked: bool, action: str, outcome: str) -> None:
    verb = abort.Abort()
    verb.asked = asked
    found = state(Desired("canary", 4, stable=V1), "abort", action=action)
    assert verb.nothing_to_abort(found) == outcome
    assert plans.abort(Desired("canary", 4, stable=V1)).empty
