"""Canary analysis through `modelship deploy` on the real test bed: the example model's pods
run on the real node, a bounded load generator (testbed/load.py) sends live requests through
the release's Service, the test bed's Prometheus finds the pods through the API server and
scrapes them every 2 s, and the probes reach the per-track Services through the API server's
service proxy, as they would from a GitHub runner outside the cluster.

Versions: 1.0.0 and 2.0.0 are the same good model (so 2.0.0 is an identical version);
`flaky` is examples/sentiment-flaky (every fifth /predict fails with 500, +300 ms) and `bad`
is examples/sentiment-bad (wrong answers, no HTTP errors).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
from testbed import load
from tests.integration.release.conftest import REPO, Images, Project, Result
from tests.support.kube import wait_for
from tests.support.real_node import Traffic, service_url

pytestmark = pytest.mark.integration

EVAL_SET = REPO / "examples" / "sentiment" / "eval" / "eval.jsonl"
RPS = 25.0
STEPS = [25, 50, 100]  # replicas 4: one canary pod, then two, then all


def analysis(prometheus: str, *, probes: bool, **overrides: Any) -> dict[str, Any]:
    """A user's analysis with short intervals: both sequential comparisons with stable, an
    absolute limit, and (optionally) the eval set probed on both versions."""
    section: dict[str, Any] = {
        "prometheus": prometheus, "alpha": 0.01, "min_requests": 30,
        "on_inconclusive": "hold", "max_wait": "60s",
        "compare": {"error_rate": "stable", "latency_ms": {"above": 250}},
        "thresholds": {"error_rate": "<= 0.05"},
    }
    if probes:
        section["probes"] = {"eval_set": str(EVAL_SET), "rows": 40, "agreement": ">= 0.9",
                             "tolerance": {"accuracy": 0.05}}
    return {**section, **overrides}


def analysed(proj: Project, prometheus: str, *, probes: bool = True,
             interval: str = "5s", **overrides: Any) -> None:
    """The project as a user configures analysis: the serve contract the probes use, the
    chart's monitoring on (the metrics Service Prometheus discovers), canary steps."""
    proj.config["serve"] = {"port": 8080, "health": "/healthz", "predict": "/predict",
                            "metrics": "/metrics"}
    proj.config["gate"] = {"online": {"request": {"text": "{text}"}, "response_field": "label"}}
    values = {**proj.config["deploy"]["values"], "monitoring": {"enabled": True}}
    proj.write(values=values, canary={"steps": STEPS, "interval": interval},
               analysis=analysis(prometheus, probes=probes, **overrides))


def deploy(proj: Project, version: str, summary: Path, *, check: int | None,
           timeout: float = 300) -> Result:
    return proj.run("deploy", "--json", "--image", proj.images.ref(version), check=check,
                    timeout=timeout, env={"GITHUB_STEP_SUMMARY": str(summary)})


@pytest.fixture
def production(real_project: Project, variant_images: Images, kube: Any,
               traffic: dict[str, str]) -> tuple[Project, Traffic, str]:
    """1.0.0 serving 4 pods (monitoring on), and the URL live traffic goes to."""
    proj = real_project
    proj.images = variant_images
    analysed(proj, traffic["MODELSHIP_TEST_PROMETHEUS"])
    proj.deploy("1.0.0")
    see = Traffic(kube, proj.namespace)
    see.only("sentiment", "1.0.0")
    return proj, see, service_url(kube, proj.namespace, "sentiment") + "/predict"


def timings(what: str, data: dict[str, Any], seconds: float, sent: load.Sent | None) -> None:
    """One line for the closing notes: the deploy's time and each step's verdict and time."""
    shown = ", ".join(f"{s['name']} {s['verdict']} {s['seconds']:.1f}s"
                      f" ({(s['evidence'] or {}).get('decided_by', '-')})" for s in data["steps"])
    print(f"\n{what}: outcome {data['outcome']} in {seconds:.1f}s: {shown}"
          + (f"; load {sent.line()}" if sent else ""))


def steps(result: Result) -> list[tuple[str, str]]:
    return [(s["name"], s["verdict"]) for s in result.json["steps"]]


def evidence(result: Result, step: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s["evidence"] for s in result.json["steps"]
                                 if s["name"] == step)
    return found


def test_good_version_promoted_through_every_step_with_analysis(
        production: tuple[Project, Traffic, str], tmp_path: Path) -> None:
    proj, see, url = production
    with load.Load(url, rps=RPS, seconds=240).running() as sent:
        result = deploy(proj, "2.0.0", tmp_path / "summary.md", check=0)
    data = result.json
    timings("good 2.0.0", data, result.seconds, sent)
    assert data["outcome"] == "promoted"
    analysed_steps = [s for s in data["steps"] if s["evidence"].get("decided_by")]
    assert [s["name"] for s in analysed_steps][:2] == ["canary-25", "canary-50"]
    for step in analysed_steps:
        assert step["verdict"] == "passed", step
        ev = step["evidence"]
        if step["weight"] < 100:  # live traffic on both tracks, judged
            assert ev["decided_by"] == "traffic", ev
            assert ev["tracks"]["canary"]["requests"] >= 30
            assert ev["tracks"]["stable"]["requests"] > 0
            assert all(c["statistic"] < c["threshold"] for c in ev["checks"])
            assert ev["probes"]["agreement"] >= 0.9
        else:  # no stable pods left: nothing to agree with
            assert ev["probes"]["stable"] is None
        assert ev["probes"]["canary"]["accuracy"] >= 0.85
    see.only("sentiment", "2.0.0")
    assert proj.status()["stable"]["version"] == "2.0.0"
    summary = (tmp_path / "summary.md").read_text()
    assert "#### Canary analysis" in summary
    assert "```mermaid" in summary


def test_misbehaving_version_aborted_at_the_first_step_by_live_traffic(
        production: tuple[Project, Traffic, str], tmp_path: Path,
        traffic: dict[str, str]) -> None:
    """Prometheus evidence only (no probes): the sequential tests on live traffic catch the
    errors and the added latency, the release is put back, exit 1."""
    proj, see, url = production
    analysed(proj, traffic["MODELSHIP_TEST_PROMETHEUS"], probes=False)
    with load.Load(url, rps=RPS, seconds=240).running() as sent:
        result = deploy(proj, "flaky", tmp_path / "summary.md", check=1)
    timings("flaky", result.json, result.seconds, sent)
    see.only("sentiment", "1.0.0")  # every answer from the old version's pods
    data = result.json
    assert data["outcome"] == "aborted"
    assert steps(result) == [("canary-25", "failed")]
    ev = evidence(result, "canary-25")
    assert ev["decided_by"] == "traffic"
    canary, stable = ev["tracks"]["canary"], ev["tracks"]["stable"]
    # the judge stops at the first clear evidence: often the latency (every canary request is
    # 300 ms slower) before the first error (1 in 5) was scraped
    assert canary["latency_p95_ms"] > 250 > stable["latency_p95_ms"]
    assert stable["errors"] == 0
    rejected = [c for c in ev["checks"] if c["statistic"] >= c["threshold"]]
    assert rejected, ev["checks"]
    for check in rejected:  # each rejection is the canary being worse, never stable's noise
        assert check["canary_rate"] > (check["stable_rate"] or 0.0), check
    assert proj.status()["stable"]["version"] == "1.0.0"
    assert proj.status()["canary"] is None
    summary = (tmp_path / "summary.md").read_text()
    assert "❌ failed" in summary
    assert rejected[0]["name"] in summary
    assert "traffic" in summary


def test_rejected_version_aborted_by_the_probes(
        production: tuple[Project, Traffic, str], tmp_path: Path) -> None:
    """Wrong answers with no HTTP errors: traffic looks healthy, the probes' agreement with
    the current version and accuracy on labelled rows fail the step."""
    proj, see, url = production
    with load.Load(url, rps=RPS, seconds=240).running() as sent:
        result = deploy(proj, "bad", tmp_path / "summary.md", check=1)
    timings("bad", result.json, result.seconds, sent)
    assert result.json["outcome"] == "aborted"
    assert steps(result) == [("canary-25", "failed")]
    ev = evidence(result, "canary-25")
    assert ev["decided_by"] == "probes"
    probes = ev["probes"]
    assert probes["agreement"] < 0.9
    assert probes["canary"]["accuracy"] < probes["stable"]["accuracy"] - 0.05
    assert probes["canary"]["success"] == 1.0  # no HTTP errors: only the answers are wrong
    assert "agreement" in ev["reason"]
    see.only("sentiment", "1.0.0")
    assert proj.status()["stable"]["version"] == "1.0.0"


def _has_canary_series(prometheus_url: str, namespace: str) -> bool:
    query = f'sum(http_requests_total{{namespace="{namespace}",track="canary"}})'
    try:
        answer = requests.get(f"{prometheus_url}/api/v1/query",
                              params={"query": query}, timeout=3).json()
    except (requests.RequestException, ValueError):
        return False
    return bool(answer.get("data", {}).get("result"))


def test_prometheus_stopped_mid_canary_is_never_promoted_and_exits_3(
        production: tuple[Project, Traffic, str], tmp_path: Path) -> None:
    """A Prometheus of the test's own (same discovery as the test bed's) is stopped once it
    has seen the canary: the step cannot be judged, the analysis waits up to max_wait for it,
    then the release is put back with exit 3 (infrastructure), never promoted."""
    from testbed import cluster, prometheus

    proj, see, url = production
    own = cluster.another_prometheus(tmp_path / "prometheus")
    prom_url = prometheus.url(own)
    try:
        # min_requests beyond what the first interval brings: the step is still judging
        analysed(proj, prom_url, probes=False, min_requests=100000, max_wait="20s",
                 interval="3s")
        with load.Load(url, rps=RPS, seconds=240).running():
            begun = time.monotonic()
            running = proj.start("deploy", "--json", "--image", proj.images.ref("2.0.0"))
            wait_for(lambda: _has_canary_series(prom_url, proj.namespace),
                     "the test's Prometheus scraping the canary", timeout=120, interval=1)
            prometheus.down(own)
            stopped = time.monotonic()
            out, err = running.communicate(timeout=180)
    finally:
        prometheus.down(own)
    waited = time.monotonic() - stopped
    assert running.returncode == 3, err[-3000:]
    data = json.loads(out.strip().splitlines()[-1])
    timings(f"Prometheus stopped (exit {running.returncode}, {waited:.1f}s after the stop)",
            data, time.monotonic() - begun, None)
    assert data["outcome"] != "promoted"
    assert data["steps"][-1]["verdict"] == "inconclusive"
    assert data["steps"][-1]["evidence"]["decided_by"] == "prometheus"
    assert "Prometheus unreachable" in err
    assert waited >= 5  # it waited for Prometheus (max_wait 20 s from the step's start)
    assert proj.status()["stable"]["version"] == "1.0.0"
    see.only("sentiment", "1.0.0")


def test_identical_version_on_low_traffic_is_held_never_aborted(
        production: tuple[Project, Traffic, str], tmp_path: Path,
        traffic: dict[str, str]) -> None:
    """A few requests per interval on an identical version: not enough to pass a step, and
    nothing to abort on; `hold` leaves the release paused (exit 3) for a person, who promotes."""
    proj, see, url = production
    analysed(proj, traffic["MODELSHIP_TEST_PROMETHEUS"], probes=False, min_requests=200,
             max_wait="25s", interval="5s")
    with load.Load(url, rps=2, seconds=120).running() as sent:
        held = deploy(proj, "2.0.0", tmp_path / "summary.md", check=3)
    timings("low traffic", held.json, held.seconds, sent)
    assert held.json["outcome"] == "paused"
    assert steps(held) == [("canary-25", "inconclusive")]
    ev = evidence(held, "canary-25")
    assert ev["decided_by"] == "few-requests"
    assert 0 < ev["tracks"]["canary"]["requests"] < 200
    assert "modelship promote" in held.err
    status = proj.status()
    assert status["paused"] is True
    assert status["stable"]["version"] == "1.0.0"
    assert proj.run("promote", "--full", "--json").json["outcome"] == "promoted"
    see.only("sentiment", "2.0.0")


def test_probes_reach_services_through_the_api_server(production: tuple[Project, Traffic, str],
                                                      kube: Any) -> None:
    """The probes' path: the API server's service proxy with the kubeconfig's credentials
    answers a prediction from the release's pods (no cluster DNS or Service IP needed)."""
    from modelship.release import proxy

    proj, _, url = production
    port = urllib.parse.urlsplit(url).port  # the chart's service.port (80)
    assert port is not None
    base = proxy.service_url(kube, proj.namespace, "sentiment", port)
    assert urllib.parse.urlsplit(base).path == (
        f"/api/v1/namespaces/{proj.namespace}/services/sentiment:{port}/proxy")
    with proxy.Sessions(kube)() as session:
        answer = session.post(f"{base}/predict", json={"text": "a wonderful day"}, timeout=10)
        assert answer.status_code == 200, answer.text[:200]
        assert answer.json()["label"] == "positive"
        session.headers.pop("authorization", None)
        session.cert = None
        refused = session.post(f"{base}/predict", json={"text": "x"}, timeout=10)
    assert refused.status_code in (401, 403)
