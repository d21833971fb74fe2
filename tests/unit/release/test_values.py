"""Desired state -> chart values and back: the values contract in one place."""

from __future__ import annotations

import pytest

from modelship.release.desired import Desired, Version
from modelship.release.values import (
    chart_values,
    desired_from_values,
    fullname,
    replicas_split,
    user_values,
)

V1 = Version("reg:5000/m@sha256:" + "1" * 64, "1.0.0")
V2 = Version("reg:5000/m@sha256:" + "2" * 64, "2.0.0")


@pytest.mark.parametrize(
    ("desired", "expected"),
    [
        pytest.param(
            Desired("rolling", 3, stable=V1),
            {"strategy": "rolling", "stable": {"replicas": 3, "image": V1.image,
                                               "version": "1.0.0"},
             "canary": {"enabled": False, "image": "", "version": "", "weight": 0,
                        "shadow": False}},
            id="rolling"),
        pytest.param(
            Desired("canary", 4, stable=V1, canary=V2, weight=25),
            {"strategy": "canary", "stable": {"replicas": 4, "image": V1.image,
                                              "version": "1.0.0"},
             "canary": {"enabled": True, "image": V2.image, "version": "2.0.0",
                        "weight": 25, "shadow": False}},
            id="canary-25"),
        pytest.param(
            Desired("canary", 4, stable=V1, canary=V2, weight=0, shadow=True),
            {"canary": {"enabled": True, "image": V2.image, "version": "2.0.0",
                        "weight": 0, "shadow": True}},
            id="canary-shadow"),
        pytest.param(
            Desired("blue-green", 2, blue=V1, green=V2, active="green", idle_replicas=0),
            {"strategy": "blue-green", "stable": {"replicas": 2},
             "canary": {"enabled": False, "image": "", "version": "", "weight": 0},
             "blueGreen": {"blue": {"image": V1.image, "version": "1.0.0"},
                           "green": {"image": V2.image, "version": "2.0.0"},
                           "active": "green", "idleReplicas": 0}},
            id="blue-green-scaled-down"),
    ],
)
def test_chart_values(desired: Desired, expected: dict[str, object]) -> None:
    values = chart_values(desired)
    for key, value in expected.items():
        assert values[key] == value
    assert desired_from_values(values) == desired  # the inverse reads the same state back


def test_user_values_stay_and_engine_values_win() -> None:
    extra = {"gpu": {"count": 1}, "traffic": {"mode": "gateway-api"},
             "stable": {"replicas": 9}}
    values = chart_values(Desired("rolling", 2, stable=V1), extra)
    assert values["gpu"] == {"count": 1}
    assert values["traffic"] == {"mode": "gateway-api"}
    assert values["stable"]["replicas"] == 2
    assert user_values(values) == {"gpu": {"count": 1}, "traffic": {"mode": "gateway-api"}}
    assert extra["stable"] == {"replicas": 9}  # the caller's mapping is not changed


def test_colours_are_cleared_outside_blue_green() -> None:
    values = chart_values(Desired("canary", 2, stable=V1))
    assert values["blueGreen"]["blue"]["image"] == ""
    assert values["blueGreen"]["green"]["image"] == ""


def test_version_from_image_when_values_have_none() -> None:
    got = desired_from_values({"strategy": "rolling", "stable": {
        "replicas": 1, "image": "r/m:1.2.3@sha256:" + "a" * 64}})
    assert got is not None
    assert got.stable is not None
    assert got.stable.version == "1.2.3"
    got = desired_from_values({"strategy": "rolling", "stable": {
        "replicas": 1, "image": "r/m@sha256:" + "ab" * 32}})
    assert got is not None
    assert got.stable is not None
    assert got.stable.version == "ab" * 6


def test_not_our_values() -> None:
    assert desired_from_values({"strategy": "fancy"}) is None


@pytest.mark.parametrize(
    ("total", "weight", "split"),
    [  # the table of helm-chart/README.md, "Traffic modes"
        (4, 25, (3, 1)), (4, 10, (3, 1)), (4, 50, (2, 2)), (4, 90, (1, 3)),
        (10, 25, (7, 3)), (1, 25, (1, 1)), (4, 100, (0, 4)), (4, 0, (4, 0)),
        (4, 99, (1, 3)),
    ],
)
def test_replicas_split_matches_the_chart(total: int, weight: int,
                                          split: tuple[int, int]) -> None:
    assert replicas_split(total, weight) == split


def test_fullname() -> None:
    assert fullname("a" * 60) == "a" * 52
    assert fullname("x", {"fullnameOverride": "y"}) == "y"
