"""The rendered CD and rollback workflows under act against the real test bed: the example
model goes through gate, build and push to staging and production (real pods on the test bed's
real node), a second push is released by canary steps, and a `rollback-v1.0.0` tag puts
production back on 1.0.0's digest. The registry password and the kubeconfig stay out of act's
log. Needs the release engine (`modelship deploy`, `rollback`, `status`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sentiment"
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
        "replicas": 2, "timeout": "180s", "canary": {"steps": [50, 100], "interval": "1s"},
        "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
                   "terminationGracePeriodSeconds": 5,
                   "probes": {"startup": {"periodSeconds": 1},
                              "readiness": {"periodSeconds": 1}}},
    }
    config["environments"] = {env: {"namespace": ns} for env, ns in namespaces.items()}
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


def run(act, pipeline: Pipeline, workflow: str, event: str, payload: dict[str, Any]) -> str:
    from testbed import workflow_project

    result = act(pipeline.root / ".github" / "workflows" / workflow, event, json.dumps(payload),
                 cwd=pipeline.root, secrets=pipeline.secrets,
                 extra=workflow_project.act_args(pipeline.root), timeout=1500)
    print(f"act {event} {workflow}: {result.seconds:.1f}s")
    assert result.returncode == 0, result.log[-8000:]
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


def test_push_release_canary_and_rollback_tag(act, pipeline: Pipeline):
    push = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}
    # 1.0.0: the first release in both environments
    set_version(pipeline, "1.0.0")
    pipeline.git("commit", "-qam", "release 1.0.0")
    log = run(act, pipeline, "modelship-cd.yml", "push", push)
    assert "Summary - ### modelship deploy: sentiment (staging) promoted" in log
    assert "Summary - ### modelship deploy: sentiment (production) promoted" in log
    first = pipeline.status("production")["stable"]

    # 2.0.0, a code change: released by canary steps, staging then production
    set_version(pipeline, "2.0.0")
    server = pipeline.root / "server.py"
    server.write_text(server.read_text() + "\n# a second version\n")
    pipeline.git("commit", "-qam", "fix: 2.0.0")
    log = run(act, pipeline, "modelship-cd.yml", "push", push)
    assert "| canary-50 | 50% | passed |" in log
    second = pipeline.status("production")["stable"]
    assert second["digest"] != first["digest"]

    # the tag rollback-v1.0.0 puts production back on 1.0.0's digest; staging is untouched
    pipeline.git("tag", "rollback-v1.0.0")
    log = run(act, pipeline, "modelship-rollback.yml", "push",
              {"ref": "refs/tags/rollback-v1.0.0"})
    assert "::set-output:: outcome=rolled-back" in log
    assert pipeline.status("production")["stable"]["digest"] == first["digest"]
    assert pipeline.status("staging")["stable"]["digest"] == second["digest"]
