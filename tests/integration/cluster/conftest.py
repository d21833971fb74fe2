"""Fixtures for tests against the test bed's Kubernetes cluster (or MODELSHIP_TEST_KUBECONFIG's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.kube import create_namespace


@pytest.fixture(scope="session")
def new_namespace(kube: Any) -> Iterator[Callable[[str], str]]:
    """make(prefix) -> a fresh namespace; all are deleted at the end of the session."""
    from kubernetes import client

    made: list[str] = []

    def make(prefix: str) -> str:
        made.append(create_namespace(kube, prefix))
        return made[-1]

    yield make
    for name in made:
        client.CoreV1Api(kube).delete_namespace(name)


@pytest.fixture
def namespace(kube: Any) -> Iterator[str]:
    """A fresh namespace for one test, deleted after it: its pods must not hold fake GPUs or
    CPUs that later tests count on."""
    from kubernetes import client

    name = create_namespace(kube, "t")
    yield name
    client.CoreV1Api(kube).delete_namespace(name)
