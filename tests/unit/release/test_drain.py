"""Done means done, decided from EndpointSlices and pods as tables."""

from __future__ import annotations

from typing import Any

import pytest

from modelship.release import drain
from modelship.release.desired import Desired, Version
from modelship.release.runner import RunResult
from modelship.release.session import drain_goal

NEW, OLD = "r/m@sha256:" + "2" * 64, "r/m@sha256:" + "1" * 64
V1, V2 = Version(OLD, "1.0.0"), Version(NEW, "2.0.0")


def slice_of(*pods: tuple[str, bool]) -> dict[str, Any]:
    return {"endpoints": [{"targetRef": {"kind": "Pod", "name": name},
                           "conditions": {"ready": ready}} for name, ready in pods]}


@pytest.mark.parametrize(("slices", "images", "pods_gone", "done"), [
    # only the new version in the Service, the old pods gone
    ([slice_of(("a", True), ("b", True))], {"a": NEW, "b": NEW}, True, True),
    # an old pod still listed (terminating): the old version still answers
    ([slice_of(("a", True), ("o", False))], {"a": NEW, "o": OLD}, True, False),
    # out of the Service but not terminated yet
    ([slice_of(("a", True))], {"a": NEW, "o": OLD}, True, False),
    # blue-green: the old colour stays warm, only the Service matters
    ([slice_of(("a", True))], {"a": NEW, "o": OLD}, False, True),
    # an endpoint whose pod is gone from the pod list is not the target's
    ([slice_of(("a", True), ("gone", True))], {"a": NEW}, True, False),
    # the Service lists none of the target's pods yet: nothing serves the target
    ([slice_of()], {"a": NEW}, True, False),
])
def test_judge(slices: list[dict[str, Any]], images: dict[str, str], pods_gone: bool,
               done: bool) -> None:
    seen = drain.judge(slices, images, NEW, addressed=set(images))
    assert seen.done(pods_gone) is done


def test_pods_without_addresses_need_no_endpoints() -> None:
    # pods that never get an address (e.g. on a node that runs nothing) cannot be listed
    assert drain.judge([slice_of()], {"a": NEW}, NEW, addressed=set()).done(True)


@pytest.mark.parametrize(("result", "goal"), [
    (RunResult("promoted", final=Desired("rolling", 2, stable=V2)), (V2, True)),
    (RunResult("aborted", 1, final=Desired("canary", 2, stable=V1)), (V1, True)),
    (RunResult("paused", final=Desired("canary", 2, stable=V1, canary=V2, weight=25)), None),
    (RunResult("unchanged", final=Desired("rolling", 2, stable=V2)), None),
    (RunResult("promoted", final=Desired("blue-green", 2, blue=V1, green=V2, active="green")),
     (V2, False)),
    (RunResult("aborted", 3, final=None), None),
])
def test_drain_goal(result: RunResult, goal: tuple[Version, bool] | None) -> None:
    assert drain_goal(result) == goal
