"""Shared fixtures. The test bed fixtures bring up real parts (Docker engine, base images,
registry with auth, Kubernetes control plane) once per session and stop what they started."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


# modules whose tools a new machine builds in the background after the cluster's binaries
# (testbed.prebuild): the action image carries cosign, the serving runtimes' venvs compile
# llama.cpp. They run after the cluster modules, whose waiting on pods leaves the CPU to
# those builds, instead of making the first tests wait for them.
LAST = ("e2e/", "integration/runtimes/", "integration/provenance/",
        "integration/test_smoke_runner.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Light modules first (unit, Docker and registry tests), then the modules with a test
    that needs the cluster (whole modules, so their module fixtures are set up once), then
    LAST; the order is otherwise kept. On a new machine the cluster's binaries are still
    building meanwhile (scripts/test starts testbed.prebuild in the background)."""
    tests_dir = Path(__file__).parent
    cluster = {item.path for item in items if "cluster_env" in item.fixturenames}

    def group(item: pytest.Item) -> int:
        relative = item.path.relative_to(tests_dir).as_posix()
        if relative.startswith(LAST):
            return 2
        return 1 if item.path in cluster else 0

    items.sort(key=group)  # stable: the order inside each group is kept


@dataclass(frozen=True)
class Registry:
    host: str
    user: str
    password: str = field(repr=False)  # pytest shows fixture values in failure reports


def _bring_up(parts: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    import testbed

    before = testbed.running()
    env = testbed.up(parts)
    started = [p for p in parts if p not in before]
    return env, started


@pytest.fixture(scope="session")
def testbed_env() -> Iterator[dict[str, str]]:
    """Docker engine, base images and the authenticated registry; their variables."""
    import testbed

    env, started = _bring_up(("docker", "registry"))
    yield env
    if started and not os.environ.get("MODELSHIP_TESTBED_KEEP"):
        testbed.down(tuple(started))


@pytest.fixture(scope="session")
def registry(testbed_env: dict[str, str]) -> Registry:
    return Registry(testbed_env["MODELSHIP_TEST_REGISTRY"],
                    testbed_env["MODELSHIP_TEST_REGISTRY_USER"],
                    testbed_env["MODELSHIP_TEST_REGISTRY_PASSWORD"])


@pytest.fixture(scope="session")
def docker_client(testbed_env: dict[str, str]) -> Iterator[object]:
    import docker

    client = docker.from_env(timeout=600)
    yield client
    client.close()


@pytest.fixture(scope="session")
def cluster_env() -> Iterator[dict[str, str]]:
    """The Kubernetes control plane (KWOK nodes): KUBECONFIG, and helm/kubectl first on PATH.
    MODELSHIP_TEST_KUBECONFIG points the tests at an existing cluster instead."""
    import testbed

    env, started = _bring_up(("cluster",))
    yield env
    if "cluster" in started and not os.environ.get("MODELSHIP_TESTBED_KEEP"):
        testbed.down(("cluster",))


@pytest.fixture(scope="session")
def traffic(testbed_env: dict[str, str], cluster_env: dict[str, str]) -> dict[str, str]:
    """The real node is part of the test bed's own cluster (its variables say it runs); the
    node tests have a stricter one of their own (tests/integration/node/conftest.py)."""
    if not cluster_env.get("MODELSHIP_TEST_GATEWAY"):
        pytest.fail("the test bed runs no real node (no MODELSHIP_TEST_GATEWAY exported); "
                    "these tests need pods that run")
    return cluster_env


@pytest.fixture(scope="session")
def kube(cluster_env: dict[str, str]) -> Iterator[object]:
    """A kubernetes ApiClient for the test bed's cluster."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=cluster_env["KUBECONFIG"])
    yield api
    api.close()


@pytest.fixture(scope="session")
def tools(cluster_env: dict[str, str]):
    """helm and kubectl (the test bed's builds) bound to the cluster's environment."""
    from tests.support.kube import Tools

    return Tools.from_cluster_env(cluster_env)


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """Run as inside GitHub Actions: GITHUB_ACTIONS=true, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
    are empty files under tmp_path ({"output": ..., "summary": ...}); no secret registered by an
    earlier test is masked, and none registered here outlives the test."""
    from modelship import console

    files = {"output": tmp_path / "gh-output", "summary": tmp_path / "gh-summary"}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    console.forget_secrets()
    yield files
    console.forget_secrets()


@pytest.fixture
def http_server() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Start a real HTTP server on 127.0.0.1 for a handler class: `base_url = http_server(H)`.
    Every server started is stopped when the test ends (tests/support/http.py)."""
    from tests.support.http import http_server as serve

    with contextlib.ExitStack() as stack:
        yield lambda handler: stack.enter_context(serve(handler))
