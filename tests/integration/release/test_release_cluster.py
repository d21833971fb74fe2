"""The release engine on the test bed's real API server and real helm (KWOK nodes: pods become
Ready without running, so these tests check revisions, values, live objects, Leases and the
commands' contract; traffic through Services is checked where a real node runs the pods)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.integration.release.conftest import KWOK_VALUES, Project
from tests.support.kube import Tools, wait_for
from tests.unit.chart.chart_render import CHART

pytestmark = pytest.mark.integration


def helm_history(tools: Tools, proj: Project) -> list[dict[str, Any]]:
    out = tools.helm("history", proj.release, "--namespace", proj.namespace, "--output",
                     "json").stdout
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def helm_values(tools: Tools, proj: Project) -> dict[str, Any]:
    out = tools.helm("get", "values", proj.release, "--namespace", proj.namespace,
                     "--output", "json").stdout
    data: dict[str, Any] = json.loads(out)
    return data


def service_selector(kube: Any, proj: Project, name: str) -> dict[str, str]:
    from kubernetes import client

    svc = client.CoreV1Api(kube).read_namespaced_service(name, proj.namespace)
    return dict(svc.spec.selector)


def test_first_deploy_then_canary_steps_promote(project: Project, tools: Tools,
                                               deployments: Any) -> None:
    images = project.images
    first = project.deploy("1.0.0").json
    assert first["outcome"] == "promoted"
    assert [s["name"] for s in first["steps"]] == ["install"]
    assert first["previous"] is None
    assert first["digest"] == images.digests["1.0.0"]
    assert first["image"] == images.pinned("1.0.0")  # by digest, the tag resolved first

    second = project.deploy("2.0.0")
    data = second.json
    assert data["outcome"] == "promoted", second.err
    assert set(data) == {"release", "namespace", "environment", "strategy", "outcome",
                         "revision", "image", "digest", "previous", "steps"}
    assert data["previous"] == {"image": images.pinned("1.0.0"),
                                "digest": images.digests["1.0.0"]}
    steps = data["steps"]
    assert [(s["name"], s["weight"], s["verdict"]) for s in steps] == [
        ("canary-10", 10, "passed"), ("canary-25", 25, "passed"), ("canary-50", 50, "passed"),
        ("canary-100", 100, "passed"), ("promote", 100, "passed")]
    # the split the chart rendered, read back from the live Deployments (4 pods in total)
    rendered = {s["name"]: s["evidence"]["split"]["pods"] for s in steps[:4]}
    assert {n: (p["stable"]["replicas"], p["canary"]["replicas"])
            for n, p in rendered.items()} == {
        "canary-10": (3, 1), "canary-25": (3, 1), "canary-50": (2, 2), "canary-100": (0, 4)}
    assert [s["evidence"]["split"]["weight"] for s in steps[:4]] == [25, 25, 50, 100]
    assert all(s["seconds"] >= 1 for s in steps[:4])  # each held its 1s interval
    # promoted: stable runs the new version, the canary is gone
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"][2] == images.pinned("2.0.0")
    assert live["stable"][:2] == (4, 4)
    values = helm_values(tools, project)
    assert values["canary"]["enabled"] is False
    assert values["stable"]["image"] == images.pinned("2.0.0")
    # every revision carries its record
    revisions = helm_history(tools, project)
    assert data["revision"] == revisions[-1]["revision"]
    record = json.loads(revisions[-1]["description"].removeprefix("modelship: "))
    assert record["version"] == "2.0.0"
    assert record["digest"] == images.digests["2.0.0"]
    assert record["strategy"] == "canary"
    assert "pid" in record["by"]
    # `status`: the contract's JSON
    status = project.status()
    assert set(status) == {"release", "namespace", "strategy", "revision", "stable", "canary",
                           "active_colour", "paused", "history"}
    assert status["stable"] == {"image": images.pinned("2.0.0"),
                                "digest": images.digests["2.0.0"], "version": "2.0.0"}
    assert status["canary"] is None
    assert status["paused"] is False
    assert status["history"][0]["version"] == "2.0.0"
    assert status["history"][0]["status"] == "deployed"
    assert status["history"][-1]["version"] == "1.0.0"
    assert set(status["history"][0]) == {"revision", "version", "digest", "git_sha", "status"}
    text = project.run("status").out
    assert "2.0.0" in text
    assert "revision" in text

    # deploying what already runs changes nothing
    again = project.deploy("2.0.0").json
    assert again["outcome"] == "unchanged"
    assert again["revision"] == data["revision"]


def test_pause_at_then_abort_then_promote(project: Project, tools: Tools,
                                         deployments: Any) -> None:
    images = project.images
    project.deploy("1.0.0")
    paused = project.deploy("2.0.0", "--pause-at", "25").json
    assert paused["outcome"] == "paused"
    assert [s["name"] for s in paused["steps"]] == ["canary-10", "canary-25"]
    status = project.status()
    assert status["paused"] is True
    assert status["canary"] == {"image": images.pinned("2.0.0"),
                                "digest": images.digests["2.0.0"], "weight": 25}
    assert status["stable"]["version"] == "1.0.0"

    aborted = project.run("abort", "--json").json
    assert aborted["outcome"] == "aborted"
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"] == (4, 4, images.pinned("1.0.0"))
    status = project.status()
    assert status["paused"] is False
    assert status["canary"] is None
    assert project.run("abort", "--json").json["outcome"] == "unchanged"

    project.deploy("3.0.0", "--pause-at", "50")
    done = project.run("promote", "--json").json
    assert done["outcome"] == "promoted"
    assert [s["name"] for s in done["steps"]] == ["canary-100", "promote"]
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"][2] == images.pinned("3.0.0")

    project.deploy("4.0.0", "--pause-at", "10")
    full = project.run("promote", "--full", "--json").json
    assert [s["name"] for s in full["steps"]] == ["promote"]
    assert deployments(project)["stable"][2] == images.pinned("4.0.0")


def test_bad_pause_at_is_a_usage_error(project: Project) -> None:
    project.deploy("1.0.0")
    bad = project.deploy("2.0.0", "--pause-at", "30", check=2)
    assert "expected one of 10, 25, 50, 100" in bad.err
    assert "Traceback" not in bad.err


def test_blue_green_preview_switch_rollback_and_scale_down(project: Project, tools: Tools,
                                                           kube: Any, deployments: Any) -> None:
    images = project.images
    project.write(strategy="blue-green")
    project.deploy("1.0.0")
    assert service_selector(kube, project, project.release)["modelship.io/colour"] == "blue"

    paused = project.deploy("2.0.0", "--pause-at", "0").json
    assert paused["outcome"] == "paused"
    assert [s["name"] for s in paused["steps"]] == ["preview"]
    # the preview Service selects the new colour; the main Service still the old one
    assert service_selector(kube, project, f"{project.release}-preview")[
        "modelship.io/colour"] == "green"
    assert service_selector(kube, project, project.release)["modelship.io/colour"] == "blue"
    assert deployments(project)["green"] == (4, 4, images.pinned("2.0.0"))
    status = project.status()
    assert status["active_colour"] == "blue"
    assert status["paused"] is True
    assert status["canary"]["digest"] == images.digests["2.0.0"]

    project.write(blue_green={"scale_down_delay": "15s", "preview_interval": "1s"})
    switched = project.run("promote", "--json")
    assert [s["name"] for s in switched.json["steps"]] == ["switch"]
    assert service_selector(kube, project, project.release)["modelship.io/colour"] == "green"
    # promote returned after its switch; the old colour stays warm for the delay (15s),
    # then the next command on the release scales it to 0
    assert deployments(project)["blue"][0] == 4
    warm = project.status()["warm_colour"]
    assert (warm["colour"], warm["version"]) == ("blue", "1.0.0")
    time.sleep(max(warm["seconds_left"], 0) + 1)
    assert project.status()["warm_colour"] is None
    assert deployments(project)["blue"][0] == 0

    # a new version, then a rollback inside the delay: a selector switch
    project.write(blue_green={"scale_down_delay": "30s", "preview_interval": "1s"})
    project.deploy("3.0.0")
    assert service_selector(kube, project, project.release)["modelship.io/colour"] == "blue"
    assert deployments(project)["green"] == (4, 4, images.pinned("2.0.0"))  # kept warm
    rolled = project.run("rollback", "--to", "v2.0.0", "--json")
    data = rolled.json
    assert data["method"] == "colour-switch"
    assert data["outcome"] == "rolled-back"
    assert data["to"]["version"] == "2.0.0"
    assert data["to"]["digest"] == images.digests["2.0.0"]
    assert data["from"]["version"] == "3.0.0"
    assert data["seconds"] < 10
    assert service_selector(kube, project, project.release)["modelship.io/colour"] == "green"
    # the rollback keeps 3.0.0 warm for its own delay; the next command after it scales it
    # to 0, and production (green, 2.0.0) is untouched
    assert deployments(project)["blue"][0] == 4
    time.sleep(max(project.status()["warm_colour"]["seconds_left"], 0) + 1)
    project.status()
    assert deployments(project)["blue"][0] == 0
    assert deployments(project)["green"] == (4, 4, images.pinned("2.0.0"))


def test_rollback_by_version_tag_revision_digest(project: Project, tools: Tools,
                                                 deployments: Any) -> None:
    images = project.images
    project.write(strategy="rolling")
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        project.deploy(version)
    rolled = project.run("rollback", "--to", "v1.0.0", "--json").json
    assert rolled["outcome"] == "rolled-back"
    assert rolled["method"] == "upgrade"
    assert rolled["to"]["digest"] == images.digests["1.0.0"]
    assert deployments(project)["stable"][2] == images.pinned("1.0.0")
    assert project.status()["stable"]["version"] == "1.0.0"

    assert project.run("rollback", "--to", "rollback-v3.0.0", "--json").json["to"][
        "version"] == "3.0.0"
    assert deployments(project)["stable"][2] == images.pinned("3.0.0")
    revision_of_v2 = next(h["revision"] for h in project.status()["history"]
                          if h["version"] == "2.0.0")
    assert project.run("rollback", "--to", str(revision_of_v2), "--json").json["to"][
        "version"] == "2.0.0"
    assert project.run("rollback", "--to", images.digests["1.0.0"], "--json").json["to"][
        "version"] == "1.0.0"

    unknown = project.run("rollback", "--to", "v9.9.9", "--json", check=2)
    assert "1.0.0, 2.0.0, 3.0.0" in unknown.err
    assert json.loads(unknown.out)["exit_code"] == 2
    # never deployed here, but in the registry: tag -> digest
    from_registry = project.run("rollback", "--to", "4.0.0", "--json").json
    assert from_registry["to"]["digest"] == images.digests["4.0.0"]
    assert deployments(project)["stable"][2] == images.pinned("4.0.0")


def test_rolling_that_never_becomes_ready_goes_back(project: Project, tools: Tools,
                                                   deployments: Any) -> None:
    """Pods that cannot be scheduled (no node has 99 GPUs) never become ready: exit 1 within
    the timeout, the pod problem named, production back on the last deployed revision."""
    images = project.images
    project.write(strategy="rolling", timeout="8s")
    project.deploy("1.0.0")
    good = helm_history(tools, project)[-1]["revision"]
    project.config["environments"] = {"big": {"values": {"gpu": {"count": 99}}}}
    project.write()
    failed = project.deploy("2.0.0", "--environment", "big", check=1)
    assert failed.seconds < 60
    data = failed.json
    assert data["outcome"] == "aborted"
    assert data["steps"][0]["verdict"] == "failed"
    assert "Insufficient nvidia.com/gpu" in failed.err
    assert any("Insufficient nvidia.com/gpu" in p
               for p in data["steps"][0]["evidence"]["problems"])
    assert f"rolling back to revision {good}" in failed.err
    history = helm_history(tools, project)
    assert history[-1]["status"] == "deployed"
    assert helm_values(tools, project)["stable"]["image"] == images.pinned("1.0.0")
    wait_for(lambda: deployments(project)["stable"] == (4, 4, images.pinned("1.0.0")),
             "the stable track back on 1.0.0", 60)


def test_canary_whose_pods_never_become_ready_is_aborted(project: Project,
                                                        deployments: Any) -> None:
    images = project.images
    project.write(timeout="6s")
    project.deploy("1.0.0")
    project.config["environments"] = {"big": {"values": {"gpu": {"count": 99}}}}
    project.write()
    failed = project.deploy("2.0.0", "--environment", "big", check=1)
    steps = failed.json["steps"]
    assert [(s["name"], s["verdict"]) for s in steps] == [("canary-10", "failed")]
    assert failed.json["outcome"] == "aborted"
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"][2] == images.pinned("1.0.0")


def _gpu_nodes_free_of_other_tests(kube: Any, own_namespace: str) -> None:
    """Earlier tests' KWOK pods can outlive their namespace's deletion for a while; the GPU
    arithmetic below needs the fake GPU nodes to ourselves. Terminating leftovers (they run
    nothing) are let go at once; a live GPU pod of another namespace fails the test by name."""
    from kubernetes import client

    core = client.CoreV1Api(kube)

    def others() -> list[Any]:
        return [p for p in core.list_pod_for_all_namespaces().items
                if p.metadata.namespace != own_namespace
                and (p.spec.node_name or "").startswith("gpu-")
                and p.status.phase not in ("Succeeded", "Failed")]

    for pod in others():
        if pod.metadata.deletion_timestamp is not None:
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                       grace_period_seconds=0)
    wait_for(lambda: not others(), "no other test's pods on the GPU nodes "
             f"({[f'{p.metadata.namespace}/{p.metadata.name}' for p in others()]})", 60, 1)


def test_gpu_capacity_refusal_and_canary_fallback(project: Project, tools: Tools, kube: Any,
                                                  deployments: Any) -> None:
    """KWOK GPU nodes: 2 x 4 nvidia.com/gpu. Three pods of 2 GPUs fit once (6 of 8), not
    twice."""
    _gpu_nodes_free_of_other_tests(kube, project.namespace)
    gpu_values = {**KWOK_VALUES, "gpu": {"count": 2}}
    project.write(strategy="blue-green", replicas=3, values=gpu_values)
    project.deploy("1.0.0")
    refused = project.deploy("2.0.0", check=2)
    assert "a second copy needs 3 pods x 2 nvidia.com/gpu; 1 fit" in refused.err
    assert "blue_green.fallback: canary" in refused.err
    assert deployments(project)["blue"][2] == project.images.pinned("1.0.0")

    project.write(blue_green={"fallback": "canary", "scale_down_delay": "1s",
                              "preview_interval": "1s"})
    fallback = project.deploy("2.0.0")
    assert "falling back to a canary" in fallback.err
    assert fallback.json["strategy"] == "canary"
    assert fallback.json["outcome"] == "promoted"
    # production (1.0.0) moves to the canary layout first; 2.0.0 then goes through the steps
    names = [s["name"] for s in fallback.json["steps"]]
    assert names[:3] == ["re-layout-canary", "canary-10", "canary-25"], names


def test_lock_held_by_another_command(project: Project, kube: Any) -> None:
    from kubernetes import client

    project.deploy("1.0.0")
    api = client.CoordinationV1Api(kube)
    name = f"modelship-{project.release}"
    now = datetime.now(UTC)
    lease = api.read_namespaced_lease(name, project.namespace)
    lease.spec.holder_identity = "https://github.com/org/repo/actions/runs/42 #abcd1234"
    lease.spec.lease_duration_seconds = 120
    lease.spec.renew_time = now
    api.replace_namespaced_lease(name, project.namespace, lease)
    blocked = project.deploy("2.0.0", "--lock-timeout", "2s", check=3)
    assert "https://github.com/org/repo/actions/runs/42" in blocked.err
    assert "waiting for the release lock" in blocked.err
    assert project.status()["stable"]["version"] == "1.0.0"

    # a holder that stopped renewing (killed) loses the lock
    lease = api.read_namespaced_lease(name, project.namespace)
    lease.spec.renew_time = now - timedelta(minutes=5)
    api.replace_namespaced_lease(name, project.namespace, lease)
    taken = project.deploy("2.0.0", "--lock-timeout", "2s")
    assert "taking over from https://github.com/org/repo/actions/runs/42" in taken.err
    assert taken.json["outcome"] == "promoted"
    lease = api.read_namespaced_lease(name, project.namespace)
    assert lease.spec.holder_identity is None  # released at the end


def test_two_deploys_at_once_queue(project: Project) -> None:
    project.deploy("1.0.0")
    first = project.start("deploy", "--json", "--image", project.images.ref("2.0.0"))
    time.sleep(0.5)
    second = project.start("deploy", "--json", "--image", project.images.ref("3.0.0"))
    out1, err1 = first.communicate(timeout=180)
    out2, err2 = second.communicate(timeout=180)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "waiting for the release lock" in err1 + err2
    # each deploy outlives the 6s lease: renewal kept the first one's lock, never taken over
    assert "taking over" not in err1 + err2
    outcomes = {json.loads(out1)["digest"], json.loads(out2)["digest"]}
    assert outcomes == {project.images.digests["2.0.0"], project.images.digests["3.0.0"]}
    assert project.status()["stable"]["version"] in ("2.0.0", "3.0.0")


def test_helm_killed_mid_upgrade_then_deploy_recovers(project: Project, tools: Tools,
                                                      deployments: Any) -> None:
    """The deploy and its helm are killed -9 while helm waits (pending-upgrade); the Lease
    expires (6s in tests); the next deploy recovers to the last deployed revision and goes on."""
    import os
    import signal

    images = project.images
    project.write(strategy="rolling", timeout="60s")
    project.deploy("1.0.0")
    project.config["environments"] = {"big": {"values": {"gpu": {"count": 99}}}}
    project.write()
    proc = project.start("deploy", "--environment", "big", "--image", images.ref("2.0.0"))
    wait_for(lambda: helm_history(tools, project)[-1]["status"] == "pending-upgrade",
             "helm's pending-upgrade", 60)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert helm_history(tools, project)[-1]["status"] == "pending-upgrade"
    # helm itself refuses now: "another operation (install/upgrade/rollback) is in progress"
    busy = tools.helm("upgrade", project.release, "--namespace", project.namespace,
                      "--reuse-values", str(CHART), check=False)
    assert busy.returncode != 0
    assert "another operation" in busy.stderr
    again = project.deploy("3.0.0")
    assert "left by a process that no longer holds the lock; recovering to revision" in again.err
    assert again.json["outcome"] == "promoted"
    assert helm_history(tools, project)[-1]["status"] == "deployed"
    wait_for(lambda: deployments(project)["stable"] == (4, 4, images.pinned("3.0.0")),
             "3.0.0 on the stable track", 60)


def test_usage_errors(project: Project) -> None:
    unknown_env = project.run("status", "--environment", "nope", "--json", check=2)
    assert "--environment nope" in unknown_env.err
    missing = project.deploy("0.0.9", check=2)
    assert "does not exist in its registry" in missing.err
    project.write(strategy="sideways")
    bad = project.run("status", "--json", check=2)
    assert "deploy.strategy" in bad.err
    assert "Traceback" not in bad.err + missing.err + unknown_env.err


def test_analysis_error_aborts_with_exit_3(project: Project, deployments: Any) -> None:
    """deploy.analysis with a Prometheus that does not answer: the step's verdict is not a
    pass, the canary is aborted and the exit code is 3 (infrastructure), production on 1.0.0."""
    images = project.images
    project.deploy("1.0.0")
    project.write(analysis={"prometheus": {"url": "http://127.0.0.1:9", "timeout": "1s",
                                           "retries": 0},
                            "max_wait": "3s", "min_requests": 1})
    failed = project.deploy("2.0.0", check=3)
    data = failed.json
    assert data["outcome"] == "aborted"
    assert [(s["name"], s["verdict"]) for s in data["steps"]] == [("canary-10", "inconclusive")]
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"][2] == images.pinned("1.0.0")
    assert "Traceback" not in failed.err


def test_inconclusive_with_on_inconclusive_abort_aborts(project: Project,
                                                        cluster_env: dict[str, str],
                                                        deployments: Any) -> None:
    """on_inconclusive: abort with a Prometheus that answers but has no series for the canary:
    the step is inconclusive, the release is aborted (not left paused), exit 3, production
    back on 1.0.0."""
    images = project.images
    project.deploy("1.0.0")
    project.write(analysis={"prometheus": {"url": cluster_env["MODELSHIP_TEST_PROMETHEUS"]},
                            "on_inconclusive": "abort", "max_wait": "30s"})
    failed = project.deploy("2.0.0", check=3)
    data = failed.json
    assert data["outcome"] == "aborted"
    assert [(s["name"], s["verdict"]) for s in data["steps"]] == [("canary-10", "inconclusive")]
    live = deployments(project)
    assert set(live) == {"stable"}
    assert live["stable"][2] == images.pinned("1.0.0")


def test_job_summary_outputs_and_run_url_in_actions(project: Project, tools: Tools,
                                                    tmp_path: Any) -> None:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
               "GITHUB_OUTPUT": str(outputs), "GITHUB_REPOSITORY": "org/models",
               "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4242",
               "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
               "GITHUB_REF": "refs/heads/main"}
    project.run("deploy", "--image", project.images.ref("1.0.0"), env=actions)
    project.run("deploy", "--json", "--image", project.images.ref("2.0.0"), env=actions)
    text = summary.read_text()
    assert "| canary-25 | 25% | passed |" in text
    assert "xychart-beta" in text
    assert "line [0, 10, 25, 50, 100, 100]" in text
    written = outputs.read_text()
    assert "outcome<<" in written
    assert "promoted" in written
    record = json.loads(helm_history(tools, project)[-1]["description"].removeprefix(
        "modelship: "))
    assert record["by"] == "https://github.com/org/models/actions/runs/4242"
    assert record["git_sha"] == "0123456789abcdef0123456789abcdef01234567"
    status = project.status()
    assert status["history"][0]["git_sha"] == "0123456789abcdef0123456789abcdef01234567"


def test_first_install_killed_then_deploy_installs_again(project: Project, tools: Tools,
                                                         deployments: Any) -> None:
    """Killed during the very first install (pending-install, nothing deployed to go back
    to): the next deploy removes the half-made release and installs."""
    import os
    import signal

    images = project.images
    project.config["environments"] = {"big": {"values": {"gpu": {"count": 99}}}}
    project.write(timeout="60s")
    proc = project.start("deploy", "--environment", "big", "--image", images.ref("1.0.0"))
    wait_for(lambda: (h := tools.helm("history", project.release, "--namespace",
                                       project.namespace, "--output", "json",
                                       check=False)).returncode == 0
             and json.loads(h.stdout)[-1]["status"] == "pending-install",
             "helm's pending-install", 60)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    again = project.deploy("1.0.0")
    assert "interrupted first install" in again.err
    assert again.json["outcome"] == "promoted"
    assert helm_history(tools, project)[-1]["status"] == "deployed"
    wait_for(lambda: deployments(project).get("stable") == (4, 4, images.pinned("1.0.0")),
             "1.0.0 installed", 60)


@pytest.fixture
def gateway_api_crds(tools: Tools) -> None:
    """The Gateway API CRDs come with the test bed (its Gateway); the HTTPRoute one must be
    there for the chart to render a route."""
    found = tools.kubectl("get", "crd", "httproutes.gateway.networking.k8s.io",
                          check=False)
    assert found.returncode == 0, f"the test bed has no Gateway API CRDs: {found.stderr}"


def test_gateway_api_weights_are_read_back(project: Project, gateway_api_crds: None) -> None:
    """traffic.mode gateway-api: the split is the HTTPRoute's backend weights, read back."""
    project.write(values={**project.config["deploy"]["values"],
                          "traffic": {"mode": "gateway-api"}})
    project.deploy("1.0.0")
    paused = project.deploy("2.0.0", "--pause-at", "25").json
    splits = [s["evidence"]["split"] for s in paused["steps"]]
    assert [(s["mode"], s["weight"]) for s in splits] == [("gateway-api", 10),
                                                          ("gateway-api", 25)]
    # stable keeps its pods in this mode; the canary runs the weight's share of them
    assert [(s["pods"]["stable"]["replicas"], s["pods"]["canary"]["replicas"])
            for s in splits] == [(4, 1), (4, 1)]
