"""The release verbs' notification hook points, driven directly (no cluster): which event each
verb's result is, the rejecting checks read from a failed step's evidence, the runner's
step-passed hook, and a verb's end sent to a REAL local receiver, whose failures (HTTP 500,
connection refused) leave the release's outcome and exit code as they were."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.webhook import TOKEN, receiver, refused_url

from modelship import console
from modelship.config import Config
from modelship.errors import EXIT_OK, EXIT_REJECTED
from modelship.notify import Notifier
from modelship.notify.settings import Target
from modelship.release import notices, session
from modelship.release.analysis import judge
from modelship.release.analysis.base import ReadinessOnly, StepVerdict
from modelship.release.desired import Desired, Version
from modelship.release.history import Record
from modelship.release.plan import Plan, Step
from modelship.release.runner import Runner, RunResult, StepResult
from modelship.release.settings import BlueGreenSettings, CanarySettings, ReleaseSettings

V1 = Version("r/m@sha256:" + "1" * 64, "1.0.0")
V2 = Version("r/m@sha256:" + "2" * 64, "2.0.0")
S = ReleaseSettings(model="m", release="m", namespace="ns", environment="staging",
                    kube_context=None, strategy="canary", replicas=2, timeout=60,
                    canary=CanarySettings((10, 100), 1.0),
                    blue_green=BlueGreenSettings(scale_down_delay=30, preview_interval=2))
ERRORS = judge.Check("error_rate vs stable", "compare", judge.Event())
SLOW = judge.Check("latency_p95_ms <= 300", "threshold", judge.Event(0.3), limit=0.05)
EVIDENCE = {
    "decided_by": "traffic",
    "checks": [judge.CheckResult(ERRORS, 3.1e6, 200.0, True, 0.125, 0.01).as_dict(),
               judge.CheckResult(SLOW, 0.4, 200.0, False, 0.02, None).as_dict()],
    "probes": {"checks": [
        {"name": "success", "value": 1.0, "op": ">", "threshold": 0.0, "passed": True},
        {"name": "accuracy", "value": 0.81, "op": ">=", "threshold": 0.93, "passed": False}]},
}


@pytest.fixture(autouse=True)
def no_secrets_known() -> Iterator[None]:
    console.forget_secrets()
    yield
    console.forget_secrets()


def aborted_result() -> RunResult:
    return RunResult("aborted", EXIT_REJECTED, steps=[
        StepResult("canary-10", 10, "passed", 2.0, {}, "ready"),
        StepResult("canary-100", 100, "failed", 5.0, EVIDENCE, "traffic: error_rate ...")],
        message="canary-100: traffic: error_rate vs stable: e-value 3.1e+06 >= 200")


def sess(url: str | None) -> session.Session:
    environ = {"HOOK": url} if url else {}
    return session.Session(Config({}), S, helm=None, api=None,  # type: ignore[arg-type]
                           notifier=Notifier([Target("webhook", "HOOK")], environ=environ))


@pytest.mark.parametrize(("command", "outcome", "steps", "event"), [
    ("deploy", "promoted", 1, "promoted"), ("deploy", "paused", 1, "paused"),
    ("deploy", "aborted", 1, "aborted"), ("deploy", "unchanged", 0, None),
    ("promote", "promoted", 1, "promoted"), ("promote", "unchanged", 0, None),
    ("rollback", "promoted", 1, "rolled-back"), ("rollback", "aborted", 1, "aborted"),
    ("abort", "aborted", 1, "aborted"),
    ("abort", "aborted", 0, None),  # the run it asked to stop put production back: it says so
    ("abort", "unchanged", 0, None),
])
def test_which_event_a_verb_result_is(command: str, outcome: str, steps: int,
                                      event: str | None) -> None:
    result = RunResult(outcome, steps=[StepResult("s", 0, "passed", 0.0)] * steps)
    assert notices.event_name(command, result) == event


def test_the_rejecting_checks_by_name_with_their_values() -> None:
    found = notices.rejecting({**EVIDENCE, "problems": ["pod m-canary-x: ImagePullBackOff"]})
    assert [(c["name"], c["source"]) for c in found] == [
        ("error_rate vs stable", "judge"), ("accuracy", "probes"), ("pods", "readiness")]
    traffic, probe, pods = found
    assert (traffic["value"], traffic["canary"], traffic["stable"]) == (0.125, 0.125, 0.01)
    assert traffic["detail"] == "canary 12.50% errors; stable 1.00%; e-value 3.1e+06 >= 200"
    assert (probe["value"], probe["detail"]) == (0.81, "needs >= 0.93")
    assert pods["value"] == "pod m-canary-x: ImagePullBackOff"
    assert notices.rejecting({}) == []


class NoClusterRunner(Runner):
    """The real runner, its two cluster reads replaced: the split the chart rendered (a fake:
    there is no cluster here) and the step's verdict (`failing` names the step that fails)."""

    failing = ""

    def rendered_split(self, desired: Desired) -> dict[str, Any]:
        return {}

    def _assess(self, step: Step, desired: Desired, split: dict[str, Any],
                begun: float) -> StepVerdict:
        return StepVerdict("failed" if step.name == self.failing else "passed", "judged", {})


def run_plan(*steps: Step, failing: str = "") -> tuple[RunResult, list[StepResult]]:
    seen: list[StepResult] = []
    runner = NoClusterRunner(S, helm=None, api=None,  # type: ignore[arg-type]
                             analysis=ReadinessOnly(), record=Record("deploy", "", "canary"),
                             on_passed=seen.append)
    runner.failing = failing
    return runner.run(Plan("canary", steps), Desired("canary", 2, stable=V1)), seen


def test_the_runner_calls_the_hook_as_each_step_passes() -> None:
    result, seen = run_plan(Step("canary-10", 10, ()), Step("canary-50", 50, (),
                                                             pause_after=True))
    assert result.outcome == "paused"
    assert [(s.name, s.weight, s.verdict) for s in seen] == [("canary-10", 10, "passed"),
                                                              ("canary-50", 50, "passed")]


def test_the_runner_calls_no_hook_for_a_failed_step() -> None:
    result, seen = run_plan(Step("canary-10", 10, ()), Step("canary-50", 50, ()),
                            failing="canary-50")
    assert (result.outcome, result.exit_code) == ("aborted", EXIT_REJECTED)
    assert [s.name for s in seen] == ["canary-10"]


def test_step_passed_carries_the_step_name_and_weight() -> None:
    with receiver() as hook:
        sent = sess(hook.url)
        notices.on_step_passed(sent, V2, V1)(StepResult("canary-10", 10, "passed", 4.2, {},
                                                        "traffic: 300 canary requests"))
        (body,) = hook.bodies
    assert body["event"] == "step-passed"
    assert body["step"] == {"name": "canary-10", "weight": 10, "verdict": "passed",
                            "seconds": 4.2}
    assert (body["version"], body["digest"]) == ("2.0.0", V2.digest)
    assert body["previous"] == {"version": "1.0.0", "digest": V1.digest}
    assert body["reason"] == "traffic: 300 canary requests"


def test_an_aborted_deploy_names_its_rejecting_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/iris")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    with receiver() as hook:
        notices.finished(sess(hook.url), "deploy", session.Done(
            aborted_result(), V2, V1, None, revision=5))  # type: ignore[arg-type]
        (body,) = hook.bodies
    assert body["event"] == "aborted"
    assert body["step"]["name"] == "canary-100"
    assert [c["name"] for c in body["checks"]] == ["error_rate vs stable", "accuracy"]
    assert body["reason"].startswith("canary-100: traffic: error_rate vs stable")
    assert body["revision"] == 5
    assert body["run_url"] == "https://github.example.com/acme/iris/actions/runs/4242"


@pytest.mark.parametrize("broken", ["http-500", "refused"])
def test_a_broken_webhook_changes_nothing_in_the_release(broken: str,
                                                         capfd: pytest.CaptureFixture[str]):
    result = aborted_result()
    done = session.Done(result, V2, V1, None, revision=5)  # type: ignore[arg-type]
    if broken == "http-500":
        with receiver(status=500) as hook:
            notices.finished(sess(hook.url), "deploy", done)
            assert len(hook.posts) == 2  # one retry
    else:
        notices.finished(sess(refused_url()), "deploy", done)
    assert (result.outcome, result.exit_code) == ("aborted", EXIT_REJECTED)
    assert done.revision == 5
    out, err = capfd.readouterr()
    assert "warning: webhook notification of aborted (HOOK) failed" in err
    assert TOKEN not in out + err


def test_a_missing_variable_is_a_warning_and_the_release_goes_on(
        capfd: pytest.CaptureFixture[str]) -> None:
    result = RunResult("promoted", EXIT_OK, steps=[StepResult("canary-100", 100, "passed", 1)])
    notices.finished(sess(None), "deploy", session.Done(result, V2, V1, None))  # type: ignore[arg-type]
    assert (result.outcome, result.exit_code) == ("promoted", EXIT_OK)
    assert "the environment variable HOOK is not set" in capfd.readouterr().err


def test_the_abort_command_says_who_put_production_back() -> None:
    result = RunResult("aborted", EXIT_OK, steps=[StepResult("abort", 0, "passed", 1.0)])
    with receiver() as hook:
        notices.finished(sess(hook.url), "abort", session.Done(result, V2, V1, None))  # type: ignore[arg-type]
        (body,) = hook.bodies
    assert (body["event"], body["version"]) == ("aborted", "2.0.0")
    assert body["reason"].startswith("`modelship abort` by ")
    assert body["checks"] == []
