"""Fixtures for the release engine on the test bed: the real registry (small images with
distinct digests, one per version), the cluster's API server (KWOK nodes: pods become Ready
but run nothing) and the test bed's helm. `modelship` runs as a subprocess, as in a workflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.images import build_and_push
from tests.support.kube import Tools, create_namespace
from tests.support.real_node import (
    PULL_SECRET,
    SMALL,
    Traffic,
    create_pull_secret,
    example_image,
)

REPO = Path(__file__).resolve().parents[3]
VERSIONS = ("1.0.0", "2.0.0", "3.0.0", "4.0.0")
# pods on the fake (KWOK) nodes: Ready without running; the nodes carry a taint once the test
# bed has a real node, so the pods tolerate it and select the fake nodes
KWOK_VALUES: dict[str, Any] = {
    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    "nodeSelector": {"type": "kwok"},
    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake",
                     "effect": "NoSchedule"}],
}


@dataclass(frozen=True)
class Images:
    repository: str  # registry/path, tags 1.0.0 ... pushed
    digests: dict[str, str]  # version -> sha256:...

    def ref(self, version: str) -> str:
        return f"{self.repository}:{version}"

    def pinned(self, version: str) -> str:
        return f"{self.repository}@{self.digests[version]}"


@pytest.fixture(scope="session")
def release_images(testbed_env: dict[str, str], docker_client: Any) -> Images:
    """Tiny images (FROM scratch, one file) per version, pushed with auth; their digests."""
    registry = testbed_env["MODELSHIP_TEST_REGISTRY"]
    auth = {"username": testbed_env["MODELSHIP_TEST_REGISTRY_USER"],
            "password": testbed_env["MODELSHIP_TEST_REGISTRY_PASSWORD"]}
    repository = f"{registry}/modelship-release-it/sentiment"
    digests: dict[str, str] = {}
    for version in VERSIONS:
        digests[version] = build_and_push(
            docker_client, repository, version,
            {"Dockerfile": "FROM scratch\nCOPY version /version\n", "version": f"{version}\n"},
            auth)
    assert set(digests) == set(VERSIONS)
    return Images(repository, digests)


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        lines = self.out.strip().splitlines()
        assert lines, f"no stdout; stderr:\n{self.err[-3000:]}"
        data: dict[str, Any] = json.loads(lines[-1])
        return data


@dataclass
class Project:
    """A modelship.yaml in a temp dir and a way to run modelship against it."""

    root: Path
    env: dict[str, str]
    namespace: str
    release: str
    images: Images
    config: dict[str, Any] = field(default_factory=dict)

    def write(self, **deploy: Any) -> None:
        self.config["deploy"] = {**self.config.get("deploy", {}), **deploy}
        (self.root / "modelship.yaml").write_text(yaml.safe_dump(self.config))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "modelship", *args]

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.root, env={**self.env, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def run(self, *args: str, timeout: float = 180, env: dict[str, str] | None = None,
            check: int | None = 0) -> Result:
        begun = time.monotonic()
        done = subprocess.run(self.command(*args), cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, env={**self.env, **(env or {})},
                              check=False)
        result = Result(done.returncode, done.stdout, done.stderr, time.monotonic() - begun)
        if check is not None and done.returncode != check:
            pytest.fail(f"modelship {' '.join(args)} exited {done.returncode}, expected {check}"
                        f"\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-5000:]}")
        return result

    def deploy(self, version: str, *args: str, check: int | None = 0) -> Result:
        return self.run("deploy", "--json", "--image", self.images.ref(version), *args,
                        check=check)

    def status(self) -> dict[str, Any]:
        return self.run("status", "--json").json


def base_config(images: Images, namespace: str, release: str) -> dict[str, Any]:
    return {
        "model": {"name": "sentiment", "version": "1.0.0"},
        "image": {"repository": images.repository},
        "deploy": {
            "release": release, "namespace": namespace, "strategy": "canary",
            "replicas": 4, "timeout": "60s",
            "canary": {"steps": [10, 25, 50, 100], "interval": "1s"},
            "blue_green": {"scale_down_delay": "4s", "preview_interval": "1s"},
            # the chart's PDB and cache volume are irrelevant here; keep the pods light
            "values": KWOK_VALUES,
        },
    }


@pytest.fixture
def project(tmp_path: Path, cluster_env: dict[str, str], tools: Tools, kube: Any,
            testbed_env: dict[str, str], release_images: Images) -> Iterator[Project]:
    namespace = create_namespace(kube, "rel")
    release = f"sentiment-{uuid.uuid4().hex[:6]}"
    env = {**tools.env, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": testbed_env["MODELSHIP_TEST_REGISTRY_USER"],
           "MODELSHIP_REGISTRY_PASSWORD": testbed_env["MODELSHIP_TEST_REGISTRY_PASSWORD"],
           "MODELSHIP_LEASE_SECONDS": "6"}
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_REF",
                 "GITHUB_SHA", "GITHUB_RUN_ID"):
        env.pop(name, None)
    proj = Project(tmp_path, env, namespace, release, release_images,
                   base_config(release_images, namespace, release))
    proj.write()
    yield proj
    if not os.environ.get("MODELSHIP_TEST_KEEP_NAMESPACES"):
        tools.helm("uninstall", release, "--namespace", namespace, "--wait", check=False)
        from kubernetes import client

        client.CoreV1Api(kube).delete_namespace(namespace)


@pytest.fixture
def deployments(kube: Any) -> Callable[[Project], dict[str, tuple[int, int, str]]]:
    """name suffix -> (spec replicas, ready replicas, image annotation) of the live
    Deployments of a project's release."""
    from kubernetes import client

    apps = client.AppsV1Api(kube)

    def read(proj: Project) -> dict[str, tuple[int, int, str]]:
        out = {}
        for dep in apps.list_namespaced_deployment(
                proj.namespace, label_selector=f"app.kubernetes.io/instance={proj.release}").items:
            track = dep.metadata.name.rsplit("-", 1)[-1]
            out[track] = (dep.spec.replicas or 0, dep.status.ready_replicas or 0,
                          (dep.metadata.annotations or {}).get("modelship.io/image", ""))
        return out

    return read


@pytest.fixture(scope="session")
def real_images(traffic: dict[str, str], registry: Any, docker_client: Any) -> Images:
    """The example model (built with `modelship build --push`) as 1.0.0, 2.0.0, 3.0.0 and a
    never-ready variant, each with its own digest, in the authenticated registry."""
    base = example_image(registry)
    repository = f"{registry.host}/it/sentiment-release"
    auth = {"username": registry.user, "password": registry.password}
    docker_client.login(username=registry.user, password=registry.password,
                        registry=registry.host)
    digests: dict[str, str] = {}
    variants = {v: f'LABEL org.opencontainers.image.version="{v}"\n'
                for v in ("1.0.0", "2.0.0", "3.0.0")}
    variants["never-ready"] = ('LABEL org.opencontainers.image.version="never-ready"\n'
                               'CMD ["python", "-c", "import time; time.sleep(10**6)"]\n')
    for version, extra in variants.items():
        digests[version] = build_and_push(docker_client, repository, version,
                                          {"Dockerfile": f"FROM {base}\n{extra}"}, auth)
    return Images(repository, digests)


@pytest.fixture
def real_project(tmp_path: Path, tools: Tools, kube: Any, registry: Any,
                 real_images: Images) -> Iterator[Project]:
    from kubernetes import client

    namespace = create_namespace(kube, "relreal")
    create_pull_secret(kube, namespace, registry)
    release = "sentiment"
    env = {**tools.env, "PYTHONPATH": str(REPO / "src"),
           "MODELSHIP_REGISTRY_USER": registry.user,
           "MODELSHIP_REGISTRY_PASSWORD": registry.password, "MODELSHIP_LEASE_SECONDS": "6"}
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    config = {
        "model": {"name": "sentiment", "version": "1.0.0"},
        "image": {"repository": real_images.repository},
        "deploy": {
            "release": release, "namespace": namespace, "strategy": "canary",
            "replicas": 4, "timeout": "120s",
            "canary": {"steps": [10, 25, 50, 100], "interval": "1s"},
            "blue_green": {"scale_down_delay": "20s", "preview_interval": "1s"},
            "values": {"imagePullSecrets": [{"name": PULL_SECRET}], "resources": SMALL,
                       "terminationGracePeriodSeconds": 5,
                       "probes": {"startup": {"periodSeconds": 1},
                                  "readiness": {"periodSeconds": 1}}},
        },
    }
    proj = Project(tmp_path, env, namespace, release, real_images, config)
    proj.write()
    yield proj
    tools.helm("uninstall", release, "--namespace", namespace, "--wait", check=False)
    client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)


@pytest.fixture
def traffic_of(kube: Any) -> Callable[[Project], Traffic]:
    return lambda proj: Traffic(kube, proj.namespace)


@pytest.fixture(scope="session")
def variant_images(real_images: Images, registry: Any, docker_client: Any) -> Images:
    """real_images plus the example's two defective variants, each built from its project
    with `modelship build --push` and pushed to the same repository: `flaky`
    (examples/sentiment-flaky: every fifth /predict fails with 500, +300 ms) and `bad`
    (examples/sentiment-bad: wrong answers, no errors)."""
    auth = {"username": registry.user, "password": registry.password}
    digests = dict(real_images.digests)
    for version, project in (("flaky", "sentiment-flaky"), ("bad", "sentiment-bad")):
        base = example_image(registry, project)
        digests[version] = build_and_push(
            docker_client, real_images.repository, version,
            {"Dockerfile": f'FROM {base}\nLABEL org.opencontainers.image.version="{version}"\n'},
            auth)
    return Images(real_images.repository, digests)
