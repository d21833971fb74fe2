"""Every check can fail (issue 24), through `modelship deploy` on the real test bed: the example
model's pods run on the real node, the probes reach them through the API server's service
proxy, the test bed's Prometheus scrapes them.

- Probes whose answers hold no prediction at `gate.online.response_field`: `deploy` stops with
  exit 2 before any change (same helm revision, nothing new in the cluster), naming the key
  and showing one answer.
- A check that becomes unmeasurable mid-release: canary-25 passes on live traffic, the traffic
  stops while the release is paused, and canary-50 counts zero canary requests. With
  `min_requests: 0` and `on_inconclusive: promote` (the most lenient settings) the step is
  inconclusive, never passed, and the release is put back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from testbed import load
from tests.integration.release.conftest import REPO, Project
from tests.support.real_node import Traffic, service_url

pytestmark = pytest.mark.integration

EVAL_SET = REPO / "examples" / "sentiment" / "eval" / "eval.jsonl"


def _probes_only(proj: Project, *, response_field: str | None) -> None:
    """Analysis by probes alone (no Prometheus), a short interval; the serve contract of the
    example model, whose answers are {"label", "score"}."""
    online: dict[str, Any] = {"request": {"text": "{text}"}}
    if response_field is not None:
        online["response_field"] = response_field
    proj.config["serve"] = {"port": 8080, "health": "/healthz", "predict": "/predict"}
    proj.config["gate"] = {"online": online}
    proj.write(canary={"steps": [50, 100], "interval": "2s"},
               analysis={"on_inconclusive": "abort", "max_wait": "10s",
                         "probes": {"eval_set": str(EVAL_SET), "rows": 10,
                                    "agreement": ">= 0.9"}})


def _revisions(tools: Any, proj: Project) -> list[int]:
    listed = tools.helm("history", proj.release, "--namespace", proj.namespace, "-o", "json")
    return [int(r["revision"]) for r in json.loads(listed.stdout)]


def test_probes_that_read_no_prediction_stop_the_deploy_before_any_change(
        real_project: Project, tools: Any, kube: Any) -> None:
    proj = real_project
    _probes_only(proj, response_field="label")
    proj.deploy("1.0.0")  # a first install: nothing to ask, readiness only
    before = _revisions(tools, proj)
    _probes_only(proj, response_field=None)  # the default, `prediction`: not in the answers
    begun = time.monotonic()
    result = proj.deploy("2.0.0", check=2)
    seconds = time.monotonic() - begun
    shown = [line for line in result.err.splitlines() if line.startswith("error:")]
    print(f"\npreflight: exit {result.code} in {seconds:.1f}s: {shown}")
    assert "gate.online.response_field" in result.err
    assert "no field 'prediction'" in result.err
    assert '"label"' in result.err  # one answer shown
    assert "Traceback" not in result.err
    assert _revisions(tools, proj) == before  # helm never touched
    status = proj.status()
    assert status["stable"]["version"] == "1.0.0"
    assert status["canary"] is None
    Traffic(kube, proj.namespace).only("sentiment", "1.0.0")
    # the right field: the same deploy goes through, judged by the probes
    _probes_only(proj, response_field="label")
    promoted = proj.deploy("2.0.0")
    assert promoted.json["outcome"] == "promoted"
    canary = next(s for s in promoted.json["steps"] if s["name"] == "canary-50")
    assert canary["evidence"]["probes"]["agreement"] >= 0.9
    assert "preflight: read 3/3 predictions from 1.0.0" in promoted.err


def test_a_check_that_becomes_unmeasurable_mid_release_is_never_passed(
        real_project: Project, kube: Any, traffic: dict[str, str], tmp_path: Path) -> None:
    proj = real_project
    values = {**proj.config["deploy"]["values"], "monitoring": {"enabled": True}}
    proj.write(values=values, canary={"steps": [25, 50, 100], "interval": "5s"}, analysis={
        "prometheus": traffic["MODELSHIP_TEST_PROMETHEUS"], "min_requests": 0,
        "on_inconclusive": "promote", "max_wait": "20s",
        "compare": {"error_rate": "stable"}, "thresholds": {"error_rate": "<= 0.05"}})
    proj.deploy("1.0.0")
    url = service_url(kube, proj.namespace, "sentiment") + "/predict"
    with load.Load(url, rps=20.0, seconds=120).running():
        paused = proj.deploy("2.0.0", "--pause-at", "25")
    assert paused.json["outcome"] == "paused"
    first = paused.json["steps"][0]
    assert (first["name"], first["verdict"]) == ("canary-25", "passed")
    assert first["evidence"]["tracks"]["canary"]["requests"] > 0  # measured on live traffic
    # the traffic has stopped: canary-50 counts nothing
    begun = time.monotonic()
    resumed = proj.run("promote", "--json", check=3)
    seconds = time.monotonic() - begun
    data = resumed.json
    shown = ", ".join(f"{s['name']} {s['verdict']} ({s['evidence'].get('decided_by')})"
                      for s in data["steps"])
    print(f"\nunmeasurable mid-release: exit {resumed.code}, outcome {data['outcome']} in "
          f"{seconds:.1f}s: {shown}")
    assert data["outcome"] != "promoted"
    step = data["steps"][0]
    assert (step["name"], step["verdict"]) == ("canary-50", "inconclusive")
    assert step["evidence"]["decided_by"] == "no-data"
    assert "0 canary requests" in step["evidence"]["reason"]
    status = proj.status()
    assert status["stable"]["version"] == "1.0.0"
    assert status["canary"] is None
    Traffic(kube, proj.namespace).only("sentiment", "1.0.0")
