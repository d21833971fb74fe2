"""The strategies' answers as tables: which version serves, which comes in, which waits, what
the chart values say (and read back), where pauses are allowed, how a failure is undone."""

from __future__ import annotations

import pytest

from modelship.errors import UsageError
from modelship.release import strategy
from modelship.release.desired import Desired, Version
from modelship.release.settings import BlueGreenSettings, CanarySettings, ReleaseSettings
from modelship.release.values import chart_values, desired_from_values

V1 = Version("r/m@sha256:" + "1" * 64, "1.0.0")
V2 = Version("r/m@sha256:" + "2" * 64, "2.0.0")
S = ReleaseSettings(model="m", release="m", namespace="ns", environment=None,
                    kube_context=None, strategy="canary", replicas=4, timeout=60,
                    canary=CanarySettings((10, 25, 50, 100), 1.0),
                    blue_green=BlueGreenSettings(scale_down_delay=30, preview_interval=2))

ROLLING = Desired("rolling", 4, stable=V1)
CANARY_25 = Desired("canary", 4, stable=V1, canary=V2, weight=25)
CANARY_AT_REST = Desired("canary", 4, stable=V1)
BG_PREVIEW = Desired("blue-green", 4, blue=V1, green=V2, active="blue")
BG_SCALED = Desired("blue-green", 4, blue=V1, green=V2, active="blue", idle_replicas=0)


@pytest.mark.parametrize(("desired", "idle_is_new", "serving", "incoming", "waiting"), [
    (ROLLING, False, V1, None, None),
    (CANARY_AT_REST, False, V1, None, None),
    (CANARY_25, False, V1, V2, V2),
    (BG_PREVIEW, True, V1, V2, V2),  # the new version waits in the idle colour
    (BG_PREVIEW, False, V1, V2, None),  # the old version kept warm after a switch
    (BG_SCALED, True, V1, V2, None),  # the idle colour is scaled to 0: nothing waits
])
def test_versions(desired: Desired, idle_is_new: bool, serving: Version | None,
                  incoming: Version | None, waiting: Version | None) -> None:
    chosen = strategy.of(desired.strategy)
    assert chosen.serving(desired) == desired.serving == serving
    assert chosen.incoming(desired) == incoming
    assert chosen.waiting(desired, idle_is_new=idle_is_new) == waiting


@pytest.mark.parametrize("desired", [ROLLING, CANARY_25, CANARY_AT_REST, BG_PREVIEW, BG_SCALED])
def test_values_read_back(desired: Desired) -> None:
    values = chart_values(desired, {"resources": {"requests": {"cpu": "10m"}}})
    assert values["strategy"] == desired.strategy
    assert values["resources"] == {"requests": {"cpu": "10m"}}
    assert desired_from_values(values) == desired


@pytest.mark.parametrize(("name", "pause_at", "refused"), [
    ("rolling", None, None),
    ("rolling", 10, "a rolling release has no steps to pause at"),
    ("canary", 25, None),
    ("canary", 30, "expected one of 10, 25, 50, 100"),
    ("blue-green", 0, None),
    ("blue-green", 50, "expected --pause-at 0"),
])
def test_pause_at(name: str, pause_at: int | None, refused: str | None) -> None:
    if refused is None:
        strategy.of(name).check_pause_at(S, pause_at)
    else:
        with pytest.raises(UsageError, match=refused):
            strategy.of(name).check_pause_at(S, pause_at)


@pytest.mark.parametrize(("name", "current", "helm_rollback"), [
    ("rolling", ROLLING, True),
    ("canary", CANARY_AT_REST, False),  # the abort plan puts stable back
    ("canary", ROLLING, True),  # a change of layout: no abort plan describes the way back
    ("blue-green", BG_PREVIEW, False),
    ("blue-green", CANARY_AT_REST, True),
    ("canary", None, True),
])
def test_undo_by_helm_rollback(name: str, current: Desired | None, helm_rollback: bool) -> None:
    assert strategy.of(name).undo_by_helm_rollback(current) is helm_rollback


def test_switch_back_only_for_colours() -> None:
    switched = Desired("blue-green", 4, blue=V1, green=V2, active="green")
    assert strategy.of("blue-green").switch_back(switched) == BG_PREVIEW
    assert strategy.of("canary").switch_back(CANARY_25) is None


@pytest.mark.parametrize(("desired", "stable_service", "canary_service", "track"), [
    (CANARY_25, "m-stable", "m-canary", "canary"),
    (BG_PREVIEW, "m", "m-preview", "green"),
])
def test_endpoints_and_track(desired: Desired, stable_service: str, canary_service: str,
                             track: str) -> None:
    chosen = strategy.of(desired.strategy)
    (stable, old), (canary, new) = chosen.endpoints(desired, "m")
    assert (stable, canary) == (stable_service, canary_service)
    assert (old, new) == (V1, V2)
    assert chosen.analysed_track(desired) == track


def test_a_bake_judges_what_serves() -> None:
    """After the switch the active colour is judged, the old one warm behind the preview;
    rolling has one track, judged with nothing to compare with."""
    switched = Desired("blue-green", 4, blue=V1, green=V2, active="green")
    bg = strategy.of("blue-green")
    assert bg.endpoints(switched, "m", bake=True) == (("m-preview", V1), ("m", V2))
    assert bg.analysed_track(switched, bake=True) == "green"
    assert bg.analysed_weight(0, 100) == 0  # the preview step has no live traffic
    rolling = strategy.of("rolling")
    only = Desired("rolling", 2, stable=V2)
    assert rolling.endpoints(only, "m", bake=True) == (("m-stable", None), ("m-stable", V2))
    assert rolling.analysed_track(only) == "stable"
    assert not rolling.compares_with_stable(only)


def test_unknown_strategy_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="expected one of canary, blue-green, rolling"):
        strategy.of("shadow")
