"""The release engine with real traffic: pods of the example model run on the test bed's real
node, requests go through the release's Service (kube-proxy), and who answered is read from
each pod's own request counter (exact), mapped to its `modelship.io/model-version` label.

Versions 1.0.0, 2.0.0 and 3.0.0 are the example image with a version label each (distinct
digests, shared layers); `never-ready` is the same image whose server never answers health.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest
import requests
from tests.integration.release.conftest import Project
from tests.support.real_node import REQUESTS, SELECTOR

pytestmark = pytest.mark.integration


def share_bounds(p: float, n: int, sigmas: float = 3.5) -> tuple[int, int]:
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return math.floor(n * p - spread), math.ceil(n * p + spread)


def test_canary_split_matches_the_chart_at_each_step(real_project: Project,
                                                     traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.deploy("1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    for weight, canary_pods in ((10, 1), (25, 1), (50, 2), (100, 4)):
        paused = proj.deploy("2.0.0", "--pause-at", str(weight)).json
        assert paused["outcome"] == "paused"
        share = canary_pods / 4  # what the chart's replicas split promises
        counts = see.versions("sentiment")
        if share == 1:
            assert set(counts) == {"2.0.0"}, counts
        else:
            low, high = share_bounds(share, REQUESTS)
            assert low <= counts["2.0.0"] <= high, (weight, counts)
    done = proj.run("promote", "--json").json
    assert done["outcome"] == "promoted"
    see.only("sentiment", "2.0.0")
    from tests.support.real_node import ready_pods

    versions = {p.metadata.labels["modelship.io/model-version"]
                for p in ready_pods(see.kube, proj.namespace, SELECTOR)}
    assert versions == {"2.0.0"}  # the old pods are gone


def test_pause_at_25_then_abort_then_promote(real_project: Project, traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.deploy("1.0.0")
    proj.deploy("2.0.0", "--pause-at", "25")
    assert see.versions("sentiment")["2.0.0"] > 0
    assert proj.run("abort", "--json").json["outcome"] == "aborted"
    see.only("sentiment", "1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    proj.deploy("2.0.0", "--pause-at", "25")
    assert proj.run("promote", "--json").json["outcome"] == "promoted"
    see.only("sentiment", "2.0.0")


def test_blue_green_preview_switch_rollback_scale_down(real_project: Project,
                                                       traffic_of: Any, deployments: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="blue-green")
    proj.deploy("1.0.0")
    proj.deploy("2.0.0", "--pause-at", "0")
    # before the switch: the preview Service answers the new version, the main one the old
    see.only("sentiment-preview", "2.0.0")  # (a reused ClusterIP may route stale a moment)
    assert set(see.versions("sentiment-preview")) == {"2.0.0"}
    assert set(see.versions("sentiment")) == {"1.0.0"}
    promote = proj.run("promote", "--json")  # switches; 1.0.0 stays warm for 20s
    assert promote.json["outcome"] == "promoted"
    assert set(see.versions("sentiment", 40)) == {"2.0.0"}  # done means done: at once
    begun = time.monotonic()
    rolled = proj.run("rollback", "--to", "1.0.0", "--json", check=None)
    see.only("sentiment", "1.0.0", timeout=10)
    switched_in = time.monotonic() - begun
    assert rolled.code == 0, rolled.err
    assert rolled.json["method"] == "colour-switch"
    assert switched_in < 30
    # the rollback keeps 2.0.0 warm for its delay; the next command after it scales it to 0
    time.sleep(max(proj.status()["warm_colour"]["seconds_left"], 0) + 1)
    proj.status()
    assert deployments(proj)["green"][0] == 0
    assert set(see.versions("sentiment")) == {"1.0.0"}


def test_rolling_never_ready_exits_1_and_production_answers(real_project: Project,
                                                            traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="rolling", timeout="25s")
    proj.deploy("1.0.0")
    url = see.url("sentiment")
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def loop() -> None:
        with requests.Session() as session:
            session.trust_env = False
            while not stop.is_set():
                try:
                    r = session.post(f"{url}/predict", json={"text": "fine"}, timeout=5,
                                     headers={"Connection": "close"})
                    if r.status_code != 200:
                        failures.append(f"HTTP {r.status_code}")
                    answered[0] += 1
                except requests.RequestException as e:
                    failures.append(str(e))
                time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        failed = proj.deploy("never-ready", check=1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert failed.seconds < 25 + 60
    assert "NotReady" in failed.err
    assert failures == [], failures[:5]
    assert answered[0] > 50
    assert proj.status()["stable"]["version"] == "1.0.0"
    assert set(see.versions("sentiment")) == {"1.0.0"}


def test_rollback_to_v1_after_v1_v2_v3(real_project: Project, traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    proj.write(strategy="rolling")
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        proj.deploy(version)
    see.only("sentiment", "3.0.0")
    assert proj.run("rollback", "--to", "v1.0.0", "--json").json["outcome"] == "rolled-back"
    see.only("sentiment", "1.0.0")
    assert set(see.versions("sentiment")) == {"1.0.0"}
    unknown = proj.run("rollback", "--to", "v7.0.0", check=2)
    assert "1.0.0, 2.0.0, 3.0.0" in unknown.err
