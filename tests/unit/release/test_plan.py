"""Plans as tables: (settings, current state, target) -> steps of desired states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelship.errors import UsageError
from modelship.release import plan
from modelship.release.desired import Desired, Version
from modelship.release.settings import BlueGreenSettings, CanarySettings, ReleaseSettings

V1 = Version("r/m@sha256:" + "1" * 64, "1.0.0")
V2 = Version("r/m@sha256:" + "2" * 64, "2.0.0")
V3 = Version("r/m@sha256:" + "3" * 64, "3.0.0")
S = ReleaseSettings(model="m", release="m", namespace="ns", environment=None,
                    kube_context=None, strategy="canary", replicas=4, timeout=60,
                    canary=CanarySettings((10, 25, 50, 100), 1.0),
                    blue_green=BlueGreenSettings(scale_down_delay=30, preview_interval=2))


def summary(p: plan.Plan) -> list[tuple[str, int, bool, bool, list[tuple[object, ...]]]]:
    """(name, weight, analyse, pause, [(stable/active version, canary/idle version, weight or
    active colour, idle replicas)] per apply)."""
    out = []
    for step in p.steps:
        applies: list[tuple[object, ...]] = []
        for d in step.applies:
            if d.strategy == "blue-green":
                applies.append((_v(d.blue), _v(d.green), d.active, d.idle_replicas))
            else:
                applies.append((_v(d.stable), _v(d.canary), d.weight))
        out.append((step.name, step.weight, step.analyse, step.pause_after, applies))
    return out


def _v(track: Version | None) -> str | None:
    return track.version if track else None


CANARY_V1 = Desired("canary", 4, stable=V1)
BG_V1 = Desired("blue-green", 4, blue=V1, active="blue")


@pytest.mark.parametrize(
    ("strategy", "current", "pause_at", "expected"),
    [
        pytest.param("canary", None, None,
                     [("install", 100, False, False, [("2.0.0", None, 0)])], id="first-canary"),
        pytest.param("blue-green", None, None,
                     [("install", 100, False, False, [("2.0.0", None, "blue", None)])],
                     id="first-blue-green"),
        pytest.param("canary", CANARY_V1, None, [
            ("canary-10", 10, True, False, [("1.0.0", "2.0.0", 10)]),
            ("canary-25", 25, True, False, [("1.0.0", "2.0.0", 25)]),
            ("canary-50", 50, True, False, [("1.0.0", "2.0.0", 50)]),
            ("canary-100", 100, True, False, [("1.0.0", "2.0.0", 100)]),
            ("bake", 100, True, False, []),
            ("promote", 100, False, False, [("2.0.0", "2.0.0", 50), ("2.0.0", None, 0)]),
        ], id="canary"),
        pytest.param("canary", CANARY_V1, 25, [
            ("canary-10", 10, True, False, [("1.0.0", "2.0.0", 10)]),
            ("canary-25", 25, True, True, [("1.0.0", "2.0.0", 25)]),
            ("canary-50", 50, True, False, [("1.0.0", "2.0.0", 50)]),
            ("canary-100", 100, True, False, [("1.0.0", "2.0.0", 100)]),
            ("bake", 100, True, False, []),
            ("promote", 100, False, False, [("2.0.0", "2.0.0", 50), ("2.0.0", None, 0)]),
        ], id="canary-pause-25"),
        pytest.param("blue-green", BG_V1, None, [
            ("preview", 0, True, False, [("1.0.0", "2.0.0", "blue", None)]),
            ("switch", 100, False, False, [("1.0.0", "2.0.0", "green", None)]),
            ("bake", 100, True, False, []),
        ], id="blue-green"),
        pytest.param("blue-green", BG_V1, 0, [
            ("preview", 0, True, True, [("1.0.0", "2.0.0", "blue", None)]),
            ("switch", 100, False, False, [("1.0.0", "2.0.0", "green", None)]),
            ("bake", 100, True, False, []),
        ], id="blue-green-pause-0"),
        pytest.param("blue-green", replace(BG_V1, green=V2, active="green", blue=V3,
                                           idle_replicas=0), None, [
            ("preview", 0, True, False, [("2.0.0", "2.0.0", "green", None)]),
            ("switch", 100, False, False, [("2.0.0", "2.0.0", "blue", None)]),
            ("bake", 100, True, False, []),
        ], id="blue-green-into-scaled-down-blue"),
        pytest.param("rolling", Desired("rolling", 4, stable=V1), None,
                     [("rollout", 100, False, False, [("2.0.0", None, 0)]),
                      ("bake", 100, True, False, [])], id="rolling"),
    ],
)
def test_deploy(strategy: str, current: Desired | None, pause_at: int | None,
                expected: list[object]) -> None:
    got = plan.deploy(replace(S, strategy=strategy), current, V2, pause_at=pause_at)
    assert summary(got) == expected


@pytest.mark.parametrize(
    ("strategy", "current", "new", "expected"),
    [
        pytest.param("blue-green", CANARY_V1, V2, [
            ("re-layout-blue-green", 100, False, False, [("1.0.0", None, "blue", None)]),
            ("preview", 0, True, False, [("1.0.0", "2.0.0", "blue", None)]),
            ("switch", 100, False, False, [("1.0.0", "2.0.0", "green", None)]),
            ("bake", 100, True, False, []),
        ], id="canary-to-blue-green"),
        pytest.param("canary", BG_V1, V2, [
            ("re-layout-canary", 100, False, False, [("1.0.0", None, 0)]),
            ("canary-10", 10, True, False, [("1.0.0", "2.0.0", 10)]),
            ("canary-25", 25, True, False, [("1.0.0", "2.0.0", 25)]),
            ("canary-50", 50, True, False, [("1.0.0", "2.0.0", 50)]),
            ("canary-100", 100, True, False, [("1.0.0", "2.0.0", 100)]),
            ("bake", 100, True, False, []),
            ("promote", 100, False, False, [("2.0.0", "2.0.0", 50), ("2.0.0", None, 0)]),
        ], id="blue-green-to-canary"),
        pytest.param("rolling", BG_V1, V1, [
            ("re-layout-rolling", 100, False, False, [("1.0.0", None, 0)]),
        ], id="same-version-only-moves"),
    ],
)
def test_a_strategy_switch_moves_production_first_then_judges_the_new_version(
        strategy: str, current: Desired, new: Version, expected: list[object]) -> None:
    """Into or out of blue-green: never straight to 100% with the new version."""
    got = plan.deploy(replace(S, strategy=strategy), current, new)
    assert summary(got) == expected
    assert "switching m from" in got.notes[0]


def test_switch_schedules_the_scale_down() -> None:
    got = plan.deploy(replace(S, strategy="blue-green"), BG_V1, V2)
    switch = got.steps[1]
    assert switch.scale_down_after == 30
    assert got.steps[0].interval == 2
    assert plan.scale_down_idle(switch.applies[-1]).idle_replicas == 0
    assert got.steps[-1].bake  # judged after the switch while the old colour is warm


def test_canary_steps_hold_the_interval() -> None:
    got = plan.deploy(S, CANARY_V1, V2)
    assert {s.interval for s in got.steps if s.analyse and not s.bake} == {1.0}


def test_auto_promote_false_pauses_before_the_switch() -> None:
    bg = replace(S, strategy="blue-green", blue_green=BlueGreenSettings(auto_promote=False))
    assert plan.deploy(bg, BG_V1, V2).steps[0].pause_after


@pytest.mark.parametrize(
    ("strategy", "pause_at", "message"),
    [
        pytest.param("canary", 30, "expected one of 10, 25, 50, 100", id="not-a-step"),
        pytest.param("blue-green", 50, "expected --pause-at 0", id="blue-green"),
        pytest.param("rolling", 0, "no steps", id="rolling"),
    ],
)
def test_bad_pause_at(strategy: str, pause_at: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan.deploy(replace(S, strategy=strategy), CANARY_V1, V2, pause_at=pause_at)


@pytest.mark.parametrize(
    ("current", "full", "expected"),
    [
        pytest.param(Desired("canary", 4, stable=V1, canary=V2, weight=25), False, [
            ("canary-50", 50, True, False, [("1.0.0", "2.0.0", 50)]),
            ("canary-100", 100, True, False, [("1.0.0", "2.0.0", 100)]),
            ("bake", 100, True, False, []),
            ("promote", 100, False, False, [("2.0.0", "2.0.0", 50), ("2.0.0", None, 0)]),
        ], id="canary-from-25"),
        pytest.param(Desired("canary", 4, stable=V1, canary=V2, weight=25), True, [
            ("promote", 100, False, False, [("2.0.0", "2.0.0", 50), ("2.0.0", None, 0)]),
        ], id="canary-full"),
        pytest.param(replace(BG_V1, green=V2), False, [
            ("switch", 100, False, False, [("1.0.0", "2.0.0", "green", None)]),
            ("bake", 100, True, False, []),
        ], id="blue-green-waiting"),
        pytest.param(CANARY_V1, False, [], id="nothing-paused"),
        pytest.param(replace(BG_V1, green=V2, idle_replicas=0), False, [],
                     id="blue-green-aborted"),
    ],
)
def test_resume(current: Desired, full: bool, expected: list[object]) -> None:
    assert summary(plan.resume(S, current, full=full, idle_is_new=True)) == expected


def test_resume_after_a_switch_does_not_switch_back() -> None:
    switched = replace(BG_V1, green=V2, active="green")  # blue: the old version, kept warm
    assert plan.resume(S, switched, idle_is_new=False).empty
    assert plan.abort(switched, idle_is_new=False).empty


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(Desired("canary", 4, stable=V1, canary=V2, weight=25),
                     [("abort", 0, False, False, [("1.0.0", None, 0)])], id="canary-25"),
        pytest.param(Desired("canary", 4, stable=V1, canary=V2, weight=100),
                     [("abort", 0, False, False, [("1.0.0", "2.0.0", 99), ("1.0.0", None, 0)])],
                     id="canary-100-keeps-a-stable-pod"),
        pytest.param(replace(BG_V1, green=V2),
                     [("abort", 0, False, False, [("1.0.0", "2.0.0", "blue", 0)])],
                     id="blue-green-before-switch"),
        pytest.param(CANARY_V1, [], id="nothing-to-abort"),
    ],
)
def test_abort(current: Desired, expected: list[object]) -> None:
    assert summary(plan.abort(current, idle_is_new=True)) == expected


@pytest.mark.parametrize(
    ("current", "warm", "method", "expected"),
    [
        pytest.param(replace(BG_V1, green=V2, active="green"), True, "colour-switch",
                     [("switch", 100, False, False, [("1.0.0", "2.0.0", "blue", None)])],
                     id="warm-colour"),
        pytest.param(replace(BG_V1, green=V2, active="green", idle_replicas=0), False,
                     "upgrade", [
                         ("prepare", 0, False, False, [("1.0.0", "2.0.0", "green", None)]),
                         ("switch", 100, False, False, [("1.0.0", "2.0.0", "blue", None)])],
                     id="cold-colour"),
        pytest.param(Desired("canary", 4, stable=V2), False, "upgrade",
                     [("rollback", 100, False, False, [("1.0.0", None, 0)])], id="canary"),
        pytest.param(Desired("rolling", 4, stable=V3), False, "upgrade",
                     [("rollback", 100, False, False, [("1.0.0", None, 0)])], id="rolling"),
    ],
)
def test_rollback(current: Desired, warm: bool, method: str, expected: list[object]) -> None:
    got_method, got = plan.rollback(replace(S, strategy=current.strategy), current, V1,
                                    warm_idle=warm)
    assert got_method == method
    assert summary(got) == expected
    assert not any(step.analyse for step in got.steps)  # a rollback window: no analysis


def test_a_shadow_step_mirrors_before_the_first_weighted_step() -> None:
    shadowed = replace(S, canary=CanarySettings((25, 100), 1.0, shadow=30.0))
    current = Desired("canary", 4, stable=V1)
    p = plan.deploy(shadowed, current, V2)
    first = p.steps[0]
    assert (first.name, first.weight, first.analyse, first.interval) == ("shadow", 0, True, 30)
    assert [(d.canary, d.weight, d.shadow) for d in first.applies] == [(V2, 0, True)]
    assert [s.name for s in p.steps[1:]] == ["canary-25", "canary-100", "bake", "promote"]
    assert not any(d.shadow for s in p.steps[1:] for d in s.applies)
    # resuming a paused canary (already past its shadow) does not mirror again
    paused = Desired("canary", 4, stable=V1, canary=V2, weight=25)
    assert "shadow" not in [s.name for s in plan.resume(shadowed, paused).steps]


def test_a_routed_canary_is_ready_at_weight_0_before_the_route_gives_it_a_share() -> None:
    """gateway-api / nginx: the route sends the canary's share to its Service at once; the
    first weighted step readies its pods at weight 0 first (clients once got 503 'no
    available server' from Traefik while they started). Replicas mode needs no such apply
    (the pods are the split), nor a step after the shadow step, nor a resumed canary."""
    routed = replace(S, values={"traffic": {"mode": "gateway-api"}})
    current = Desired("canary", 4, stable=V1)
    steps = summary(plan.deploy(routed, current, V2))
    assert steps[0] == ("canary-10", 10, True, False, [("1.0.0", "2.0.0", 0),
                                                       ("1.0.0", "2.0.0", 10)])
    assert all(len(applies) == 1 for name, *_, applies in steps[1:] if name.startswith("canary"))
    assert summary(plan.deploy(S, current, V2))[0][4] == [("1.0.0", "2.0.0", 10)]
    shadowed = replace(routed, canary=CanarySettings((25, 100), 1.0, shadow=30.0))
    shadow, first = plan.deploy(shadowed, current, V2).steps[:2]
    assert [(d.weight, d.shadow) for d in shadow.applies] == [(0, False), (0, True)]
    assert [d.weight for d in first.applies] == [25]
    paused = Desired("canary", 4, stable=V1, canary=V2, weight=25)
    assert [len(s.applies) for s in plan.resume(routed, paused).steps[:1]] == [1]
