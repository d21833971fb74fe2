"""Which exit a helm failure during a step maps to: 1 only when the new version never became
ready, 3 for anything else helm reports (RBAC, cluster timeouts, unknown)."""

from __future__ import annotations

import pytest

from modelship.errors import EXIT_INFRA, EXIT_REJECTED
from modelship.release import helm, runner


@pytest.mark.parametrize(("output", "code"), [
    ("Error: UPGRADE FAILED: timed out waiting for the condition", EXIT_REJECTED),
    ('Error: UPGRADE FAILED: deployments.apps "m-stable" is forbidden: User "ci" cannot '
     'patch resource "deployments"', EXIT_INFRA),
    ("Error: UPGRADE FAILED: something helm has never said before", EXIT_INFRA),
])
def test_helm_failure_exit(output: str, code: int) -> None:
    error = helm._classify("upgrade", output)
    assert isinstance(error, helm.HelmError)
    assert runner.helm_failure_exit(error) == code
