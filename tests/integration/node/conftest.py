"""Fixtures for tests on the test bed's real node: the traffic parts' addresses, the
example image in the authenticated registry, and throw-away namespaces with a pull secret."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.kube import create_namespace
from tests.support.real_node import create_pull_secret, example_image


@pytest.fixture(scope="session")
def traffic(testbed_env: dict[str, str], cluster_env: dict[str, str]) -> dict[str, str]:
    """MODELSHIP_TEST_PROMETHEUS, _GATEWAY and _GATEWAY_NAME of the running test bed. The
    registry (testbed_env) comes first so the node can pull from it."""
    wanted = ("MODELSHIP_TEST_PROMETHEUS", "MODELSHIP_TEST_GATEWAY",
              "MODELSHIP_TEST_GATEWAY_NAME")
    missing = [k for k in wanted if not cluster_env.get(k)]
    if missing and (os.environ.get("MODELSHIP_TEST_KUBECONFIG")
                    or os.environ.get("MODELSHIP_TESTBED_REAL_NODE") in ("0", "off")):
        pytest.skip("the real node is part of the test bed's own cluster only")
    assert not missing, f"the test bed exported no {missing}"
    return {k: cluster_env[k] for k in wanted}


@pytest.fixture(scope="session")
def image(registry: Any, traffic: dict[str, str]) -> str:
    """The example model, `repo@sha256:...` in the authenticated test registry."""
    return example_image(registry)


@pytest.fixture
def namespace(kube: Any, registry: Any, traffic: dict[str, str]) -> Iterator[str]:
    """A fresh namespace holding the registry's pull secret; deleted after the test."""
    from kubernetes import client

    name = create_namespace(kube, "real")
    create_pull_secret(kube, name, registry)
    yield name
    client.CoreV1Api(kube).delete_namespace(name, grace_period_seconds=0)
