"""Every check kind, fed no data, NaN or zero answers, is never "passed" (issue 24).

Each row names a check kind, the evidence it gets with nothing measured, and a control: the
same configuration with real data, which does pass, so a row cannot be green by never passing.
Traffic and probe rows run the whole step loop (CanaryAnalysis: counts -> judge -> decide) on
a simulated clock under every on_inconclusive policy; gate rows run the gate's judge.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelship.errors import UsageError
from modelship.gate import judge as gate_judge
from modelship.release.analysis import llm
from modelship.release.analysis.base import Progress, StepContext
from modelship.release.analysis.canary import CanaryAnalysis, ProbeOutcome
from modelship.release.analysis.counts import Counts
from modelship.release.analysis.judge import Check, Event
from modelship.release.analysis.probe import ServeProber, VersionProbe
from modelship.release.analysis.prometheus import Labels
from modelship.release.analysis.settings import AnalysisSettings, Policy, ProbeSettings
from modelship.serving import ServeSpec
from modelship.serving.sse import Timing

ERRORS_VS_STABLE = Check("error_rate vs stable", "compare", Event())
SLOW_VS_STABLE = Check("latency > 250 ms vs stable", "compare", Event(slower_than=0.25))
ERROR_LIMIT = Check("error_rate <= 0.05", "threshold", Event(), limit=0.05)
P95_LIMIT = Check("latency_p95_ms <= 300", "threshold", Event(slower_than=0.3), limit=0.05)
BUCKETS = {0.1: 400.0, 0.25: 495.0, 0.5: 500.0, math.inf: 500.0}  # cumulative, 500 timed
GOOD = Counts(500.0, 1.0, BUCKETS)
POLICIES: tuple[Policy, ...] = ("hold", "abort", "promote")


class Clock:
    """Simulated time: sleeping moves it on, so a step's whole max_wait takes no real time."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)


@dataclass
class Fixed:
    """Counts a provider returns at every look, per track (an in-memory provider: the
    Prometheus side of these cases is tested on the real test bed)."""

    canary: Counts
    stable: Counts

    def counts(self, track: str, labels: Labels, since: float, at: float) -> Counts:
        return self.canary if track == "canary" else self.stable


@dataclass
class Probed:
    """A prober whose answers were already read: the real ServeProber judges them."""

    new: VersionProbe
    current: VersionProbe | None
    prober: ServeProber

    def probe(self, step: StepContext, progress: Progress) -> ProbeOutcome:
        return self.prober.judge(self.new, self.current)


def _step(clock: Clock, weight: int) -> StepContext:
    return StepContext(release="sentiment", namespace="models", environment=None,
                       strategy="canary", step=f"canary-{weight}", weight=weight,
                       interval_seconds=10.0, started_at=clock())


def _assess(settings: AnalysisSettings, provider: Fixed | None, probes: Probed | None,
            weight: int) -> tuple[str, str]:
    clock = Clock()
    analysis = CanaryAnalysis(settings, provider, probes, clock=clock, sleep=clock.sleep)
    verdict = analysis.assess(_step(clock, weight), lambda line: None)
    return verdict.verdict, verdict.reason


# -- traffic checks (Prometheus counts) --------------------------------------------------------
@dataclass(frozen=True)
class Traffic:
    tests: tuple[Check, ...]
    canary: Counts
    stable: Counts
    weight: int = 50
    min_requests: int = 100


TRAFFIC = [
    pytest.param(Traffic((ERROR_LIMIT,), Counts(None), GOOD), id="error_rate-threshold-no-series"),
    pytest.param(Traffic((ERROR_LIMIT,), Counts(math.nan), GOOD), id="error_rate-threshold-nan"),
    pytest.param(Traffic((ERROR_LIMIT,), Counts(0.0), GOOD, min_requests=0),
                 id="error_rate-threshold-zero-requests"),
    pytest.param(Traffic((P95_LIMIT,), Counts(500.0, 1.0), GOOD),
                 id="latency-threshold-no-histogram"),
    pytest.param(Traffic((P95_LIMIT,), Counts(500.0, 1.0, {math.inf: math.nan}), GOOD),
                 id="latency-threshold-nan-histogram"),
    pytest.param(Traffic((ERRORS_VS_STABLE,), GOOD, Counts(None)),
                 id="compare-error_rate-stable-no-series"),
    pytest.param(Traffic((ERRORS_VS_STABLE,), GOOD, Counts(math.nan)),
                 id="compare-error_rate-stable-nan"),
    pytest.param(Traffic((ERRORS_VS_STABLE,), GOOD, Counts(0.0)),
                 id="compare-error_rate-stable-zero-requests"),
    pytest.param(Traffic((SLOW_VS_STABLE,), GOOD, Counts(500.0, 1.0)),
                 id="compare-latency-stable-no-histogram"),
    pytest.param(Traffic((SLOW_VS_STABLE,), Counts(500.0, 1.0), GOOD),
                 id="compare-latency-canary-no-histogram"),
    pytest.param(Traffic((), Counts(0.0), GOOD, min_requests=0),
                 id="min_requests-0-zero-requests"),
    pytest.param(Traffic((), Counts(None), GOOD), id="min_requests-no-series"),
    pytest.param(Traffic((ERRORS_VS_STABLE,), Counts(0.0), Counts(0.0), min_requests=0),
                 id="zero-requests-on-both-tracks"),
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", TRAFFIC)
def test_traffic_check_without_data_is_never_passed(case: Traffic, policy: Policy) -> None:
    settings = AnalysisSettings(min_requests=case.min_requests, on_inconclusive=policy,
                                max_wait=30.0, compare=(), thresholds=case.tests)
    verdict, reason = _assess(settings, Fixed(case.canary, case.stable), None, case.weight)
    assert verdict == "inconclusive", reason
    assert "no data" in reason
    # the control: the same checks with real counts on both tracks pass
    control, why = _assess(settings, Fixed(GOOD, GOOD), None, case.weight)
    assert control == "passed", why


def test_a_comparison_at_weight_100_needs_no_stable_traffic() -> None:
    """At 100% no stable pods are left: the comparison is not applicable, the limits speak."""
    settings = AnalysisSettings(min_requests=100, compare=(ERRORS_VS_STABLE,),
                                thresholds=(ERROR_LIMIT,))
    verdict, reason = _assess(settings, Fixed(GOOD, Counts(None)), None, 100)
    assert verdict == "passed", reason


def test_too_few_requests_are_promoted_only_when_something_was_counted() -> None:
    settings = AnalysisSettings(min_requests=1000, on_inconclusive="promote", compare=())
    assert _assess(settings, Fixed(GOOD, GOOD), None, 50)[0] == "passed"  # 500 of 1000
    assert _assess(settings, Fixed(Counts(0.0), GOOD), None, 50)[0] == "inconclusive"


# -- probes --------------------------------------------------------------------------------------
REFS = ["pos", "neg", "neu", "pos"]
MISSING_FIELD = "answer has no field 'prediction': http://x/predict, answer {\"label\": \"pos\"}"


def _version(predictions: list[str | None], *, unreadable: bool = True) -> VersionProbe:
    answered = [p for p in predictions if p is not None]
    correct = sum(p == r for p, r in zip(predictions, REFS, strict=True))
    failed = len(answered) < len(predictions)
    return VersionProbe(len(predictions), len(answered), len(REFS), correct,
                        tuple(20.0 for _ in answered), tuple(predictions),
                        MISSING_FIELD if failed else "", unreadable and failed)


READ = _version(list(REFS))
NOTHING = _version([None, None, None, None])
NOTHING_LABELLED = VersionProbe(4, 4, 0, 0, (20.0,) * 4, tuple(REFS))  # no references


def _prober(agreement: float | None, tolerances: tuple[gate_judge.Tolerance, ...],
            gate_baseline: dict[str, float] | None = None) -> ServeProber:
    settings = ProbeSettings(Path("eval.jsonl"), 4, agreement, False, tolerances)
    return ServeProber(settings, ServeSpec(), [], list(tolerances), gate_baseline)


ACCURACY = (gate_judge.Tolerance("accuracy", 0.02, False),)
ERROR_RATE = (gate_judge.Tolerance("error_rate", 0.0, False),)


@dataclass(frozen=True)
class Probes:
    prober: Callable[[], ServeProber]
    new: VersionProbe
    current: VersionProbe | None
    control_new: VersionProbe = READ
    control_current: VersionProbe | None = READ


PROBES = [
    pytest.param(Probes(lambda: _prober(0.9, ()), NOTHING, NOTHING),
                 id="agreement-no-field-on-either-version"),
    pytest.param(Probes(lambda: _prober(0.9, ()), READ, NOTHING),
                 id="agreement-current-version-unreadable"),
    pytest.param(Probes(lambda: _prober(None, ACCURACY), NOTHING, NOTHING),
                 id="accuracy-tolerance-no-field-on-either-version"),
    pytest.param(Probes(lambda: _prober(None, ACCURACY), READ, NOTHING),
                 id="accuracy-tolerance-current-version-unreadable"),
    pytest.param(Probes(lambda: _prober(None, ACCURACY), NOTHING_LABELLED, NOTHING_LABELLED,
                        control_new=READ, control_current=READ),
                 id="accuracy-tolerance-no-labelled-rows"),
    pytest.param(Probes(lambda: _prober(None, ERROR_RATE), READ, NOTHING),
                 id="error_rate-tolerance-current-version-unreadable"),
    pytest.param(Probes(lambda: _prober(None, ACCURACY, {"accuracy": 0.9}), NOTHING, None,
                        control_current=None),
                 id="accuracy-vs-gate-baseline-new-version-unreadable"),
    pytest.param(Probes(lambda: _prober(None, ()), NOTHING, None, control_current=None),
                 id="success-no-field-no-current-version"),
    pytest.param(Probes(lambda: _prober(None, ()), NOTHING, NOTHING),
                 id="success-no-field-on-either-version"),
    pytest.param(Probes(lambda: _prober(None, ()), VersionProbe(0, 0, 0, 0, (), ()), None,
                        control_current=None),
                 id="success-zero-rows"),
]


@pytest.mark.parametrize("case", PROBES)
def test_probe_check_without_answers_is_inconclusive(case: Probes) -> None:
    outcome = case.prober().judge(case.new, case.current)
    assert outcome.verdict == "inconclusive", outcome.reason
    assert not [c for c in outcome.evidence["checks"] if c["passed"] is False]
    control = case.prober().judge(case.control_new, case.control_current)
    assert control.verdict == "passed", control.reason


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", PROBES)
def test_probe_step_without_answers_is_never_passed(case: Probes, policy: Policy) -> None:
    """Through the step loop, with and without live traffic, under every policy."""
    settings = AnalysisSettings(min_requests=100, on_inconclusive=policy, max_wait=30.0,
                                compare=())
    probes = Probed(case.new, case.current, case.prober())
    for provider, weight in ((Fixed(GOOD, GOOD), 50), (None, 0)):
        verdict, reason = _assess(settings, provider, probes, weight)
        assert verdict == "inconclusive", reason


def test_a_new_version_that_answers_nothing_readable_fails_beside_one_that_does() -> None:
    """The same rows and the same reader got predictions from the current version: the new
    version's missing predictions are its own (a measured failure, not missing data)."""
    outcome = _prober(0.9, ACCURACY).judge(NOTHING, READ)
    assert outcome.verdict == "failed"
    assert [c["name"] for c in outcome.evidence["checks"] if not c["passed"]] == \
        ["success", "agreement", "accuracy"]


def test_server_errors_are_a_measurement_not_missing_data() -> None:
    """Every request failed on the server's side (HTTP 500): the version was measured, and
    failed, even with nothing to compare it with."""
    errors = _version([None, None, None, None], unreadable=False)
    outcome = _prober(0.9, ()).judge(errors, None)
    assert outcome.verdict == "failed", outcome.reason
    assert outcome.reason.startswith("success 0, expected > 0")


def test_the_reason_names_the_response_field_and_shows_an_answer() -> None:
    outcome = _prober(0.9, ()).judge(NOTHING, NOTHING)
    assert "gate.online.response_field is 'prediction'" in outcome.reason
    assert '{"label": "pos"}' in outcome.reason


# -- LLM latency checks timed by the probes (llm.py) ---------------------------------------------
TIMED = dataclasses.replace(READ, timings=(Timing(60.0, 8, 350.0),) * 4)
NOT_STREAMED = dataclasses.replace(READ, unstreamed=4)  # answered whole, nothing timed
ONE_TOKEN = dataclasses.replace(READ, timings=(Timing(60.0, 1, 0.0),) * 4)


@dataclass
class Timed:
    """Read answers with their timings: the real ServeProber (streaming) judges them and
    attaches them for the release's judge."""

    new: VersionProbe
    current: VersionProbe | None
    stream: bool = True

    def probe(self, step: StepContext, progress: Progress) -> ProbeOutcome:
        prober = ServeProber(ProbeSettings(Path("eval.jsonl"), 4), ServeSpec(), [], [],
                             stream=self.stream)
        return prober.outcome(self.new, self.current)


LLM = [
    pytest.param(llm.parse("ttft_ms", {"above": 100}), Timed(NOT_STREAMED, NOT_STREAMED),
                 id="ttft_ms-above-server-does-not-stream"),
    pytest.param(llm.parse("ttft_ms", "stable"), Timed(TIMED, NOT_STREAMED),
                 id="ttft_ms-stable-current-version-not-streamed"),
    pytest.param(llm.parse("inter_token_ms", {"above": 40}), Timed(TIMED, NOTHING),
                 id="inter_token_ms-above-current-version-unreadable"),
    pytest.param(llm.parse("inter_token_ms", "stable"), Timed(NOTHING, NOTHING),
                 id="inter_token_ms-stable-every-request-failed"),
    pytest.param(llm.parse("tokens_per_s", "stable"), Timed(ONE_TOKEN, ONE_TOKEN),
                 id="tokens_per_s-single-token-answers"),
    pytest.param(llm.parse("ttft_ms", "stable"), Timed(TIMED, TIMED, stream=False),
                 id="ttft_ms-probes-did-not-stream"),
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(("check", "probes"), LLM)
def test_llm_check_without_timed_answers_is_never_passed(check: Check, probes: Timed,
                                                          policy: Policy) -> None:
    """Through the step loop, with and without live traffic, under every policy; the reason
    names the check."""
    settings = AnalysisSettings(min_requests=100, on_inconclusive=policy, max_wait=30.0,
                                compare=(check,))
    for provider, weight in ((Fixed(GOOD, GOOD), 50), (None, 0)):
        verdict, reason = _assess(settings, provider, probes, weight)
        assert verdict == "inconclusive", reason
        assert f"{check.name} (" in reason
        control, why = _assess(settings, provider, Timed(TIMED, TIMED), weight)
        assert control == "passed", why


# -- gate ----------------------------------------------------------------------------------------
def _threshold(metric: str, op: str, value: float) -> dict[str, gate_judge.Threshold]:
    return {metric: gate_judge.Threshold(metric, op, value, "test")}


GATE = [
    pytest.param({}, _threshold("accuracy", ">=", 0.9), None, id="threshold-not-computed"),
    pytest.param({"accuracy": math.nan}, _threshold("accuracy", ">=", 0.9), None,
                 id="threshold-nan-higher-is-better"),
    pytest.param({"latency_p95_ms": math.nan}, _threshold("latency_p95_ms", "<=", 300.0), None,
                 id="threshold-nan-lower-is-better"),
    pytest.param({"error_rate": math.nan}, _threshold("error_rate", "<", 0.1), None,
                 id="threshold-nan-strict"),
    pytest.param({}, {}, ACCURACY, id="baseline-tolerance-not-computed"),
    pytest.param({"accuracy": math.nan}, {}, ACCURACY, id="baseline-tolerance-nan"),
    pytest.param({"latency_p95_ms": math.nan}, {},
                 (gate_judge.Tolerance("latency_p95_ms", 10.0, True),),
                 id="baseline-relative-tolerance-nan"),
    pytest.param({"accuracy": math.nan}, {}, None, id="baseline-every-shared-metric-nan"),
]


@pytest.mark.parametrize(("metrics", "thresholds", "tolerances"), GATE)
def test_gate_check_without_a_value_never_passes(
        metrics: dict[str, float], thresholds: dict[str, gate_judge.Threshold],
        tolerances: tuple[gate_judge.Tolerance, ...] | None) -> None:
    baseline = None if not tolerances and thresholds else gate_judge.Baseline(
        Path("baseline.json"), {"accuracy": 0.92, "latency_p95_ms": 250.0},
        list(tolerances) if tolerances else None)
    checks = gate_judge.judge(metrics, thresholds, baseline, {})
    assert checks, "a configured check must produce a verdict"
    assert not any(c.passed for c in checks)
    control = {"accuracy": 0.95, "latency_p95_ms": 200.0, "error_rate": 0.0}
    assert all(c.passed for c in gate_judge.judge(control, thresholds, baseline, {}))


def test_a_baseline_sharing_no_metric_with_the_results_is_a_usage_error() -> None:
    baseline = gate_judge.Baseline(Path("baseline.json"), {"accuracy": 0.92}, None)
    assert gate_judge.judge({"bleu": 30.0}, {}, baseline, {}) == []  # would compare nothing
    with pytest.raises(UsageError, match="shares no metric"):
        gate_judge.require_shared_metrics({"bleu": 30.0}, baseline)
    gate_judge.require_shared_metrics({"accuracy": 0.9}, baseline)


def test_traffic_checks_no_step_will_ever_judge_are_inconclusive() -> None:
    """A blue-green preview has no live traffic; without probes and without a bake after the
    switch, the configured traffic checks would never yield a value."""
    never = AnalysisSettings(min_requests=100, thresholds=(ERROR_LIMIT,))
    verdict, reason = _assess(never, Fixed(GOOD, GOOD), None, 0)
    assert verdict == "inconclusive"
    assert "deploy.analysis.probes or deploy.analysis.bake" in reason
    later = AnalysisSettings(min_requests=100, thresholds=(ERROR_LIMIT,), bake=60.0)
    assert _assess(later, Fixed(GOOD, GOOD), None, 0)[0] == "passed"  # the bake judges it
