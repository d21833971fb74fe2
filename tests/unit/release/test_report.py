"""The job summary and JSON of release results (pure: built from a RunResult)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.release import report
from modelship.release.desired import Version
from modelship.release.runner import RunResult, StepResult
from modelship.release.settings import ReleaseSettings
from modelship.release.state import PodProblem

S = ReleaseSettings(model="m", release="m", namespace="ns", environment="prod",
                    kube_context=None, strategy="canary", replicas=4, timeout=60)
NEW = Version("r/m@sha256:" + "2" * 64, "2.0.0")
OLD = Version("r/m@sha256:" + "1" * 64, "1.0.0")


def test_failed_canary_summary_has_steps_chart_and_problems() -> None:
    result = RunResult("aborted", exit_code=1, message="canary-25: resources did not become ready",
                       steps=[StepResult("canary-10", 10, "passed", 3.2, {}, "ready", 3.2),
                              StepResult("canary-25", 25, "failed", 60.0, {}, "timed out",
                                         63.2)],
                       problems=[PodProblem("m-canary-x", "canary", "ImagePullBackOff",
                                            "Back-off pulling image")])
    outcome = report.deploy_outcome(S, result, NEW, OLD, 7)
    assert outcome.exit_code == 1
    assert outcome.result["outcome"] == "aborted"
    assert outcome.result["previous"] == {"image": OLD.image, "digest": OLD.digest}
    assert outcome.result["steps"][1] == {"name": "canary-25", "weight": 25,
                                          "verdict": "failed", "seconds": 60.0, "evidence": {}}
    summary = outcome.summary
    assert "| canary-10 | 10% | passed | 3.2 | ready |" in summary
    assert "xychart-beta" in summary
    assert 'x-axis ["0s", "3s", "63s"]' in summary
    assert "line [0, 10, 0]" in summary  # the failed step's traffic went back to 0
    assert "m-canary-x (canary): ImagePullBackOff: Back-off pulling image" in summary
    assert "ImagePullBackOff" in outcome.text


def test_rollback_needs_to_unless_a_rollback_tag_was_pushed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from modelship import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_REF", raising=False)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    assert cli.main(["rollback"]) == 2
    # on a rollback-v1.0.0 tag push the version comes from the tag: past that check, the
    # command stops where the cluster is needed (no helm or kube config here: exit 3, not 2)
    monkeypatch.setenv("GITHUB_REF", "refs/tags/rollback-v1.0.0")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["rollback"]) == 3
