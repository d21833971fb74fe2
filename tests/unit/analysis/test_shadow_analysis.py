"""A shadow step (weight 0, the canary fed a mirrored copy of every request) is judged on the
canary's traffic like a weighted step; without the mirror, weight 0 has no traffic to judge."""

from __future__ import annotations

import dataclasses
import math

from tests.unit.analysis.test_every_check_can_fail import GOOD, Clock, Fixed, _step

from modelship.release.analysis.canary import CanaryAnalysis
from modelship.release.analysis.counts import Counts
from modelship.release.analysis.judge import Check, Event
from modelship.release.analysis.settings import AnalysisSettings

ERRORS_VS_STABLE = Check("error_rate vs stable", "compare", Event())
BUCKETS = {0.1: 400.0, 0.25: 495.0, 0.5: 500.0, math.inf: 500.0}


def _assess(canary: Counts, *, mirrored: bool) -> tuple[str, str]:
    clock = Clock()
    settings = AnalysisSettings(compare=(ERRORS_VS_STABLE,), min_requests=100, max_wait=20.0,
                                on_inconclusive="abort")
    analysis = CanaryAnalysis(settings, Fixed(canary, GOOD), None, clock=clock,
                              sleep=clock.sleep)
    step = dataclasses.replace(_step(clock, 0), step="shadow", mirrored=mirrored)
    verdict = analysis.assess(step, lambda line: None)
    return verdict.verdict, verdict.reason


def test_a_mirrored_canary_as_good_as_stable_passes_its_shadow_step() -> None:
    verdict, reason = _assess(Counts(500.0, 1.0, BUCKETS), mirrored=True)
    assert verdict == "passed", reason
    assert "500 canary requests" in reason


def test_a_mirrored_canary_that_fails_its_copies_is_rejected() -> None:
    verdict, reason = _assess(Counts(500.0, 100.0, BUCKETS), mirrored=True)
    assert verdict == "failed", reason
    assert "error_rate vs stable" in reason


def test_without_the_mirror_weight_0_has_no_traffic_to_judge() -> None:
    verdict, reason = _assess(Counts(500.0, 100.0, BUCKETS), mirrored=False)
    assert verdict == "inconclusive", reason
