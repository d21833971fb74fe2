"""Release notifications on the real test bed: `modelship deploy` (a subprocess, as in a
workflow) tells a REAL HTTP receiver on 127.0.0.1 about each release event. The example model's
pods run on the real node; the canary is judged by probes alone (no load, no Prometheus: the
lean path), short intervals.

- 2.0.0 (the same good model) is promoted: the receiver gets started, one step-passed per step
  (name and weight), promoted.
- `bad` (examples/sentiment-bad: wrong answers, no HTTP errors) is aborted at its first step
  (exit 1): the receiver gets started, then aborted naming the rejecting check (agreement)
  with its value. A second webhook that answers 500 is a warning line, and the exit code stays 1.
- The webhook URLs carry a token in their path: it appears in no output of either command.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.release.conftest import REPO, Images, Project
from tests.support.real_node import Traffic
from tests.support.webhook import TOKEN, receiver

pytestmark = pytest.mark.integration

EVAL_SET = REPO / "examples" / "sentiment" / "eval" / "eval.jsonl"
RUN = {"GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_REPOSITORY": "acme/sentiment",
       "GITHUB_RUN_ID": "4242"}


def probes_only(proj: Project) -> None:
    proj.config["serve"] = {"port": 8080, "health": "/healthz", "predict": "/predict"}
    proj.config["gate"] = {"online": {"request": {"text": "{text}"}, "response_field": "label"}}
    proj.write(canary={"steps": [50, 100], "interval": "2s"},
               analysis={"on_inconclusive": "abort", "max_wait": "10s",
                         "probes": {"eval_set": str(EVAL_SET), "rows": 10,
                                    "agreement": ">= 0.9"}})


def test_one_notification_per_release_event_and_no_secret_in_any_output(
        real_project: Project, variant_images: Images, kube: Any) -> None:
    proj = real_project
    proj.images = variant_images
    probes_only(proj)
    proj.deploy("1.0.0")  # the first install, before any webhook is configured
    proj.config["notify"] = [{"kind": "webhook", "url_env": "RELEASE_HOOK"},
                             {"kind": "slack", "url_env": "BROKEN_SLACK",
                              "events": ["aborted"]}]
    probes_only(proj)
    with receiver() as hook, receiver(status=500) as broken:
        env = {**RUN, "RELEASE_HOOK": hook.url, "BROKEN_SLACK": broken.url}
        good = proj.run("deploy", "--json", "--image", proj.images.ref("2.0.0"), env=env)
        promoted = list(hook.bodies)
        bad = proj.run("deploy", "--json", "--image", proj.images.ref("bad"), env=env, check=1)
        aborted = hook.bodies[len(promoted):]
        broken_posts = len(broken.posts)
    print(f"\nnotifications: promoted {[b['event'] for b in promoted]} in {good.seconds:.1f}s,"
          f" aborted {[b['event'] for b in aborted]} in {bad.seconds:.1f}s")
    assert good.json["outcome"] == "promoted"
    passed = [s["name"] for s in good.json["steps"] if s["verdict"] == "passed"]
    assert [b["event"] for b in promoted] == ["started", *["step-passed"] * len(passed),
                                              "promoted"]
    assert [(b["step"]["name"], b["step"]["weight"]) for b in promoted[1:-1]] == [
        (s["name"], s["weight"]) for s in good.json["steps"] if s["verdict"] == "passed"]
    assert ("canary-50", 50) in [(b["step"]["name"], b["step"]["weight"]) for b in promoted[1:-1]]
    for body in promoted:
        assert (body["release"], body["namespace"], body["version"]) == (
            proj.release, proj.namespace, "2.0.0")
        assert body["digest"] == variant_images.digests["2.0.0"]
        assert body["run_url"] == "https://github.example.com/acme/sentiment/actions/runs/4242"
    assert promoted[-1]["revision"] == good.json["revision"]

    assert bad.json["outcome"] == "aborted"
    assert [b["event"] for b in aborted] == ["started", "aborted"]
    last = aborted[-1]
    assert (last["version"], last["digest"]) == ("bad", variant_images.digests["bad"])
    assert last["previous"]["version"] == "2.0.0"
    assert last["step"]["name"] == "canary-50"
    (check,) = last["checks"]
    assert (check["name"], check["source"]) == ("agreement", "probes")
    assert check["value"] < 0.9
    assert check["value"] == bad.json["steps"][-1]["evidence"]["probes"]["agreement"]
    # the webhook that answers 500: tried twice, one warning, the release's exit code kept
    assert broken_posts == 2
    assert "warning: slack notification of aborted (BROKEN_SLACK) failed: HTTP 500" in bad.err
    for result in (good, bad):
        for secret in (TOKEN, "xoxbSeCrEt", hook.url, broken.url):
            assert secret not in result.out + result.err
    Traffic(kube, proj.namespace).only("sentiment", "2.0.0")
