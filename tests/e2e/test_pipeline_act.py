"""The rendered CD and rollback workflows under act against the real test bed: the example
model goes through gate, build and push to staging and production (real pods on the test bed's
real node), a second push is released by canary steps judged by the analysis on live traffic
(the test bed's Prometheus, a load generator on production's Service), and a `rollback-v1.0.0`
tag puts production back on 1.0.0's digest. A push of the misbehaving variant
(examples/sentiment-flaky: 1 request in 5 fails, +300 ms; the offline gate passes) is aborted
by the analysis in production, which keeps serving the previous digest. The registry password
and the kubeconfig stay out of act's log. (The rejected variant, gated out with nothing pushed,
is tests/e2e/test_templates_act.py's CD test.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sentiment"
FLAKY = REPO / "examples" / "sentiment-flaky"
PUSH = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}
RPS = 20  # live requests per second to production's Service while a CD run is in its canary
SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}


@dataclass
class Pipeline:
    root: Path
    namespaces: dict[str, str]  # environment -> namespace
    secrets: dict[str, str]
    kube_env: dict[str, str]

    def git(self, *args: str) -> None:
        subprocess.run(["git", "-C", str(self.root), "-c", "user.name=e2e", "-c",
                        "user.email=e2e@example.com", *args], check=True)

    def status(self, environment: str) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "modelship", "status", "--json",
                               "--environment", environment], cwd=self.root,
                              capture_output=True, text=True, check=False,
                              env={**self.kube_env, "PYTHONPATH": str(REPO / "src")})
        assert proc.returncode == 0, proc.stderr[-3000:]
        data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return data


@pytest.fixture
def pipeline(tmp_path: Path, act, registry, kube, tools, cluster_env: dict[str, str],
             local_action: str) -> Iterator[Pipeline]:
    from kubernetes import client
    from testbed import workflow_project
    from tests.support.kube import create_namespace
    from tests.support.real_node import PULL_SECRET, create_pull_secret

    if not cluster_env.get("MODELSHIP_TEST_GATEWAY"):
        pytest.fail("the test bed runs no real node; the pipeline needs pods that run")
    namespaces = {env: create_namespace(kube, f"pipe-{env[:4]}")
                  for env in ("staging", "production")}
    for namespace in namespaces.values():
        create_pull_secret(kube, namespace, registry)
    root = workflow_project.make(tmp_path / "model", EXAMPLE,
                                 ["--registry", registry.host, "--image",
                                  f"e2e/{namespaces['production']}", "--strategy", "canary"])
    config = yaml.safe_load((root / "modelship.yaml").read_text())
    config["deploy"] = {
        "release": "sentiment", "namespace": namespaces["production"], "strategy": "canary",
        "replicas": 2, "timeout": "180s", "canary": {"steps": [50, 100], "interval": "3s"},
        "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
                   "terminationGracePeriodSeconds": 5, "monitoring": {"enabled": True},
                   "probes": {"startup": {"periodSeconds": 1},
                              "readiness": {"periodSeconds": 1}}},
    }
    # production is judged on live traffic; staging gets none here, so readiness judges it
    config["environments"] = {
        "staging": {"namespace": namespaces["staging"]},
        "production": {"namespace": namespaces["production"],
                       "analysis": workflow_project.live_analysis(
                           cluster_env["MODELSHIP_TEST_PROMETHEUS"])}}
    (root / "modelship.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    kubeconfig = Path(cluster_env["KUBECONFIG"]).read_text()
    pipe = Pipeline(root, namespaces,
                    {"REGISTRY_USERNAME": registry.user, "REGISTRY_PASSWORD": registry.password,
                     "KUBECONFIG": kubeconfig},
                    {**os.environ, **tools.env, "KUBECONFIG": cluster_env["KUBECONFIG"],
                     "MODELSHIP_REGISTRY_USER": registry.user,
                     "MODELSHIP_REGISTRY_PASSWORD": registry.password})
    pipe.git("commit", "-qam", "deploy: staging and production on the test bed")
    yield pipe
    for namespace in namespaces.values():
        tools.helm("uninstall", "sentiment", "--namespace", namespace, "--wait", check=False)
        client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)


@pytest.fixture(scope="module")
def local_action(action_image: str) -> str:
    from testbed import workflow_project

    return workflow_project.tag_action_image(action_image)


def run(act, pipeline: Pipeline, workflow: str, event: str, payload: dict[str, Any],
        *, succeeds: bool = True, runner: str | None = None) -> str:
    """act runs the workflow; `runner`: another image for ubuntu-latest (the later -P wins)."""
    from testbed import workflow_project

    extra = workflow_project.act_args(pipeline.root)
    if runner:
        extra += ["-P", f"ubuntu-latest={runner}"]
    result = act(pipeline.root / ".github" / "workflows" / workflow, event, json.dumps(payload),
                 cwd=pipeline.root, secrets=pipeline.secrets, extra=extra, timeout=1500)
    print(f"act {event} {workflow}: {result.seconds:.1f}s, exit {result.returncode}")
    if result.returncode != 0:  # shown when the test fails: where the run stopped
        print(result.log[-3000:])
    assert (result.returncode == 0) == succeeds, result.log[-8000:]
    assert pipeline.secrets["REGISTRY_PASSWORD"] not in result.log
    for line in pipeline.secrets["KUBECONFIG"].splitlines():
        key, _, value = line.strip().partition(": ")
        if key in ("client-key-data", "client-certificate-data", "token"):
            assert value not in result.log, f"the kubeconfig's {key} is in the log"
    return result.log


def set_version(pipeline: Pipeline, version: str) -> None:
    """model.version: the build tags the image with it, so `rollback-v<version>` finds it."""
    path = pipeline.root / "modelship.yaml"
    config = yaml.safe_load(path.read_text())
    config["model"]["version"] = version
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def production_url(pipeline: Pipeline) -> str:
    """The prediction URL of production's Service (kube-proxy routes it from the host)."""
    from testbed.load import service_url

    return service_url(pipeline.kube_env, pipeline.namespaces["production"], "sentiment")


@contextmanager
def production_traffic(pipeline: Pipeline) -> Iterator[Any]:
    """Live requests to production's Service while the block runs."""
    from testbed.load import Load

    url = production_url(pipeline)
    # 8 workers: the flaky canary holds each of its requests 300 ms
    with Load(url, rps=RPS, workers=8, seconds=900).running() as sent:
        yield sent
    print(f"load on {url}: {sent.line()}")


def release_first_version(act, pipeline: Pipeline) -> dict[str, Any]:
    """1.0.0 through CD into both environments (a first install: readiness only)."""
    set_version(pipeline, "1.0.0")
    pipeline.git("commit", "-qam", "release 1.0.0")
    log = run(act, pipeline, "modelship-cd.yml", "push", PUSH)
    assert "Summary - ### modelship deploy: sentiment (staging) promoted" in log
    assert "Summary - ### modelship deploy: sentiment (production) promoted" in log
    stable: dict[str, Any] = pipeline.status("production")["stable"]
    return stable


def production_deploy(log: str) -> dict[str, Any]:
    """`modelship deploy --json`'s result for production, as the act log shows it."""
    from testbed import act_log

    result = act_log.deploy_result(log, "production")
    assert result is not None, "no `modelship deploy` result for production in the act log"
    for line in act_log.evidence_lines(result):
        print("production", line)
    return result


def test_push_release_canary_and_rollback_tag(act, pipeline: Pipeline):
    first = release_first_version(act, pipeline)

    # 2.0.0, a code change: released by canary steps, staging then production, where each step
    # is judged on live traffic
    set_version(pipeline, "2.0.0")
    server = pipeline.root / "server.py"
    server.write_text(server.read_text() + "\n# a second version\n")
    pipeline.git("commit", "-qam", "fix: 2.0.0")
    with production_traffic(pipeline) as sent:
        log = run(act, pipeline, "modelship-cd.yml", "push", PUSH)
    assert sent.statuses[200] > 0
    assert "| canary-50 | 50% | passed |" in log
    assert "#### Canary analysis" in log  # production's job summary shows the evidence
    deployed = production_deploy(log)
    assert deployed["outcome"] == "promoted"
    judged = {s["name"]: s for s in deployed["steps"]}["canary-50"]
    assert judged["verdict"] == "passed"
    evidence = judged["evidence"]
    assert evidence["decided_by"] == "traffic", evidence
    assert evidence["tracks"]["canary"]["requests"] >= evidence["min_requests"] == 30
    assert evidence["tracks"]["stable"]["requests"] > 0  # compared with stable, same moment
    assert evidence["tracks"]["canary"]["errors"] == 0
    assert evidence["checks"]
    assert not any(c["rejected"] for c in evidence["checks"])
    probes = evidence["probes"]  # the eval rows on both versions, through the API server
    assert probes["rows"] == 40
    assert probes["agreement"] >= 0.9
    assert probes["canary"]["success"] == 1.0
    second = pipeline.status("production")["stable"]
    assert second["digest"] != first["digest"]

    # the tag rollback-v1.0.0 puts production back on 1.0.0's digest; staging is untouched
    pipeline.git("tag", "rollback-v1.0.0")
    log = run(act, pipeline, "modelship-rollback.yml", "push",
              {"ref": "refs/tags/rollback-v1.0.0"})
    assert "::set-output:: outcome=rolled-back" in log
    assert pipeline.status("production")["stable"]["digest"] == first["digest"]
    assert pipeline.status("staging")["stable"]["digest"] == second["digest"]

    # the tag v2.0.0 runs the Release workflow: CD pushed 2.0.0's image, so the version job
    # finds it in the registry (docker buildx imagetools, as on GitHub's runners), gate and
    # build are skipped, and production gets that digest again by judged canary steps
    from testbed import docker_runner

    pipeline.git("tag", "v2.0.0")
    with production_traffic(pipeline):
        log = run(act, pipeline, "modelship-release.yml", "push", {"ref": "refs/tags/v2.0.0"},
                  runner=docker_runner.image())
    assert f"in the registry: true ({second['digest']})" in log
    for job in ("Gate the model", "Build, smoke-test and push the image"):
        assert f"[modelship release/{job}] ⭐ Run Set up job" not in log
    released = production_deploy(log)
    assert released["outcome"] == "promoted"
    assert released["digest"] == second["digest"]
    verdicts = {s["name"]: s["verdict"] for s in released["steps"]}
    assert verdicts["canary-50"] == verdicts["canary-100"] == "passed", verdicts
    assert set(verdicts.values()) == {"passed"}
    assert {s["name"]: s for s in released["steps"]}["canary-50"]["evidence"][
        "decided_by"] == "traffic"
    assert pipeline.status("production")["stable"]["digest"] == second["digest"]


def become_flaky(pipeline: Pipeline) -> None:
    """The push a misbehaving change makes: examples/sentiment-flaky's server and serve
    command; model, eval results and gate are the good example's, so the gate passes."""
    shutil.copy(FLAKY / "server_flaky.py", pipeline.root / "server_flaky.py")
    path = pipeline.root / "modelship.yaml"
    config = yaml.safe_load(path.read_text())
    config["serve"]["command"] = yaml.safe_load(
        (FLAKY / "modelship.yaml").read_text())["serve"]["command"]
    config["model"]["version"] = "1.1.0"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    pipeline.git("add", "-A")
    pipeline.git("commit", "-qm", "perf: a faster server (it is not)")


def test_misbehaving_push_is_aborted_in_production(act, pipeline: Pipeline, kube):
    from kubernetes import client
    from tests.support.kube import wait_for

    first = release_first_version(act, pipeline)
    become_flaky(pipeline)
    with production_traffic(pipeline) as sent:
        log = run(act, pipeline, "modelship-cd.yml", "push", PUSH, succeeds=False)
    # staging (readiness only) took it; production's analysis aborted the canary: exit 1
    assert "Summary - ### modelship deploy: sentiment (production) aborted" in log, log[-8000:]
    assert "Summary - ### modelship deploy: sentiment (staging) promoted" in log
    assert "Failure - Main Deploy with analysis" in log
    assert sent.statuses[500] > 0  # the flaky canary really served live requests
    deployed = production_deploy(log)
    assert deployed["outcome"] == "aborted"
    assert deployed["previous"]["digest"] == first["digest"]
    assert deployed["digest"] != first["digest"]
    failed = deployed["steps"][-1]
    assert (failed["name"], failed["verdict"]) == ("canary-50", "failed")
    evidence = failed["evidence"]
    # whichever evidence was clear first decides: live traffic (errors, latency) or the
    # probes (a failed answer counts against agreement), which always see the fault
    assert evidence["decided_by"] in ("traffic", "probes"), evidence
    assert evidence["reason"].startswith(evidence["decided_by"] + ": ")
    assert evidence["probes"]["canary"]["success"] < 1.0
    assert evidence["probes"]["stable"]["success"] == 1.0
    if evidence["decided_by"] == "probes":  # often: 40 rows answer before Prometheus scrapes
        assert evidence["probes"]["agreement"] < 0.9
    else:
        assert evidence["tracks"]["canary"]["errors"] > 0
        assert evidence["tracks"]["stable"]["errors"] == 0
        assert any(c["rejected"] for c in evidence["checks"])

    # production: still the previous digest, every pod runs it, every answer is good
    status = pipeline.status("production")
    assert status["stable"]["digest"] == first["digest"]
    assert status["canary"] is None
    api = client.CoreV1Api(kube)

    def images() -> set[str] | None:
        pods = api.list_namespaced_pod(pipeline.namespaces["production"]).items
        seen = {c.image for p in pods for c in p.spec.containers}
        return seen if len(seen) == 1 else None  # the aborted canary's pod may be going

    assert wait_for(images, "production's pods to run one image").pop().endswith(
        "@" + first["digest"])
    url = production_url(pipeline)
    with requests.Session() as session:
        session.trust_env = False
        codes = [session.post(url, json={"text": "a wonderful day"},
                              timeout=10, headers={"Connection": "close"}).status_code
                 for _ in range(40)]
    assert codes == [200] * 40  # the flaky server fails every 5th request
