"""The action under act: `uses: ./` on push and tag events, outputs to later steps, a job
summary, and a secret input that never reaches the log."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WORKFLOW = Path(__file__).parent / "workflows" / "doctor.yml"


@pytest.mark.parametrize(
    ("ref", "is_tag"),
    [
        pytest.param("refs/heads/main", False, id="push"),
        pytest.param("refs/tags/v1.2.3", True, id="tag"),
    ],
)
def test_doctor_action_under_act(act, registry, ref: str, is_tag: bool):
    run = act(WORKFLOW, "push", f'{{"ref": "{ref}"}}',
              secrets={"REGISTRY_USER": registry.user, "REGISTRY_PASSWORD": registry.password},
              variables={"REGISTRY": registry.host})
    print(f"act {ref}: {run.seconds:.1f}s")
    assert run.returncode == 0, run.log[-4000:]
    assert "E2E result-reached-next-step docker=engine" in run.log
    assert "Summary - ### modelship doctor" in run.log
    assert f"{registry.host}: Login Succeeded" in run.log
    assert registry.password not in run.log
    assert ("E2E tag-build v1.2.3" in run.log) is is_tag
