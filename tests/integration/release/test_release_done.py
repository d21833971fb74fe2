"""Done means done, on real pods: right after `rollback`, `deploy`, `promote`, `abort` and a
colour switch, 40 requests through the release's Service are all answered by the target version
(each pod's own request counter says who answered). A blue-green deploy returns soon after its
switch while the old colour stays warm, so a rollback right after is a selector switch; a short
window is closed by the next command. The times are printed for the closing note.

MODELSHIP_SRC (optional) runs another checkout's modelship (e.g. main's src) to measure a
baseline with the same scenario, MODELSHIP_BG_DELAY a shorter blue-green window for it; the
assertions are this checkout's contract.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.integration.release.conftest import Project
from tests.support.real_node import Traffic

pytestmark = pytest.mark.integration

N = 40
SERVICE = "sentiment"


def only(see: Traffic, version: str) -> None:
    """N requests right now (no waiting for kube-proxy): every one answered by `version`."""
    counts = see.versions(SERVICE, N)
    assert dict(counts) == {version: N}, counts


def use_src(proj: Project) -> None:
    src = os.environ.get("MODELSHIP_SRC")
    if src:
        proj.env["PYTHONPATH"] = src


@contextmanager
def old_gone(kube: Any, proj: Project, old_image: str) -> Iterator[list[float]]:
    """Seconds from entering until no pod of `old_image` exists and none is in the Service's
    EndpointSlices (polled every 0.2 s from the test's side of the API)."""
    from kubernetes import client

    core, discovery = client.CoreV1Api(kube), client.DiscoveryV1Api(kube)
    found: list[float] = []
    stop = threading.Event()
    begun = time.monotonic()

    def serving_old() -> bool:
        pods = core.list_namespaced_pod(
            proj.namespace, label_selector=f"app.kubernetes.io/instance={proj.release}").items
        old = {p.metadata.name for p in pods
               if (p.metadata.annotations or {}).get("modelship.io/image") == old_image}
        slices = discovery.list_namespaced_endpoint_slice(
            proj.namespace, label_selector=f"kubernetes.io/service-name={SERVICE}").items
        listed = {e.target_ref.name for s in slices for e in s.endpoints or [] if e.target_ref}
        return bool(old & listed) or (bool(old) and not _colours(pods))

    def watch() -> None:
        while not stop.is_set():
            if not serving_old():
                found.append(time.monotonic() - begun)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        thread.join(timeout=180)
        stop.set()


def _colours(pods: list[Any]) -> bool:
    return any((p.metadata.labels or {}).get("modelship.io/colour") for p in pods)


def test_rolling_rollback_and_deploy_answer_only_the_target_at_once(
        real_project: Project, traffic_of: Any, kube: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    use_src(proj)
    proj.write(strategy="rolling")
    proj.deploy("1.0.0")
    deployed = proj.deploy("2.0.0")
    only(see, "2.0.0")
    with old_gone(kube, proj, proj.images.pinned("2.0.0")) as gone:
        rolled = proj.run("rollback", "--to", "1.0.0", "--json")
        try:
            only(see, "1.0.0")
            answered_only_target = True
        except AssertionError as e:
            answered_only_target = False
            print(f"\nright after the rollback: {e}")
    print(f"\nrolling: deploy {deployed.seconds:.1f}s; rollback returned after "
          f"{rolled.seconds:.1f}s (JSON seconds {rolled.json['seconds']}), the old version "
          f"served nothing after {gone[0] if gone else float('nan'):.1f}s")
    assert answered_only_target
    assert rolled.json["outcome"] == "rolled-back"
    assert gone
    assert gone[0] <= rolled.seconds


def test_canary_abort_then_promote_answer_only_the_target_at_once(
        real_project: Project, traffic_of: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    use_src(proj)
    proj.deploy("1.0.0")
    proj.deploy("2.0.0", "--pause-at", "25")
    assert proj.run("abort", "--json").json["outcome"] == "aborted"
    only(see, "1.0.0")
    proj.deploy("2.0.0", "--pause-at", "25")
    assert proj.run("promote", "--json").json["outcome"] == "promoted"
    only(see, "2.0.0")


def test_blue_green_returns_after_its_switch_and_a_rollback_is_a_switch(
        real_project: Project, traffic_of: Any, deployments: Any) -> None:
    proj, see = real_project, traffic_of(real_project)
    use_src(proj)
    proj.write(strategy="blue-green",
               blue_green={"scale_down_delay": "10m", "preview_interval": "1s"})
    proj.deploy("1.0.0")
    delay = os.environ.get("MODELSHIP_BG_DELAY", "10m")  # a baseline may measure a shorter one
    proj.write(blue_green={"scale_down_delay": delay, "preview_interval": "1s"})
    deployed = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), timeout=900)
    print(f"\nblue-green deploy (scale_down_delay {delay}): the job took "
          f"{deployed.seconds:.1f}s")
    assert deployed.code == 0, deployed.err[-3000:]
    assert deployed.seconds < 120
    only(see, "2.0.0")  # the colour switch
    warm = proj.status()["warm_colour"]
    assert (warm["colour"], warm["version"]) == ("blue", "1.0.0")
    assert warm["seconds_left"] > 500
    rolled = proj.run("rollback", "--to", "1.0.0", "--json")
    print(f"blue-green rollback right after: {rolled.json['method']} in "
          f"{rolled.json['seconds']}s (command {rolled.seconds:.1f}s)")
    assert rolled.json["method"] == "colour-switch"
    assert rolled.json["seconds"] < 10
    only(see, "1.0.0")

    # a short window: the next command after it scales the old colour (2.0.0) down
    proj.write(blue_green={"scale_down_delay": "2s", "preview_interval": "1s"})
    proj.deploy("3.0.0")
    only(see, "3.0.0")
    assert deployments(proj)["blue"][0] == 4  # 1.0.0 kept warm: no command came since
    time.sleep(3)
    assert proj.status()["warm_colour"] is None  # this status scaled it down
    assert deployments(proj)["blue"][0] == 0
    only(see, "3.0.0")
