"""`abort` while a canary deploy runs: the deploy sees the request within one poll (an
annotation on the release's Lease), puts production back itself and ends as aborted on request
(exit 0); `abort` returns once the release is aborted, never waiting for the canary's steps."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tests.integration.release.conftest import Project
from tests.support.kube import wait_for

pytestmark = pytest.mark.integration


def test_abort_stops_a_running_canary_within_one_poll(project: Project,
                                                      deployments: Any) -> None:
    images = project.images
    project.write(canary={"steps": [10, 25, 50, 100], "interval": "60s"})
    project.deploy("1.0.0")
    running = project.start("deploy", "--json", "--image", images.ref("2.0.0"))
    # the canary at 10% holds its 60 s interval
    wait_for(lambda: "canary" in deployments(project)
             and deployments(project)["canary"][1] >= 1, "the canary running", 90)
    begun = time.monotonic()
    aborted = project.run("abort", "--json")
    abort_seconds = time.monotonic() - begun
    out, err = running.communicate(timeout=120)
    print(f"\nabort of a running canary: abort returned after {abort_seconds:.1f}s")
    assert running.returncode == 0, err[-3000:]
    data = json.loads(out.strip().splitlines()[-1])
    assert data["outcome"] == "aborted"
    assert data["steps"][-1]["verdict"] == "skipped"
    assert "abort requested by" in err
    assert aborted.json["outcome"] == "aborted"
    # seen at the next poll, far inside the step's 60 s interval
    assert abort_seconds < 30
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"] == (4, 4, images.pinned("1.0.0"))
    status = project.status()
    assert status["canary"] is None
    assert status["stable"]["version"] == "1.0.0"
