"""The sequential judge: e-values on tables of counts, the false-abort bound on simulated
identical versions however often it looks, and the power to catch a 5x regression."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelship.release.analysis.counts import Counts, bucket_for, quantile, slow
from modelship.release.analysis.judge import HOLD, Check, EProcess, Event, Judge

ERRORS = Check("error_rate vs stable", "compare", Event())
SLOW = Check("latency > 250 ms vs stable", "compare", Event(slower_than=0.25))
LIMIT = Check("error_rate <= 0.02", "threshold", Event(), limit=0.02)


@pytest.mark.parametrize(("canary", "stable", "rejected"), [
    pytest.param(Counts(1000, 25), Counts(9000, 45), True, id="5x-worse-at-10pct"),
    pytest.param(Counts(1000, 7), Counts(9000, 45), False, id="identical-at-10pct"),
    pytest.param(Counts(1000, 0), Counts(9000, 45), False, id="canary-better"),
    pytest.param(Counts(5000, 40), Counts(5000, 10), True, id="4x-worse-at-50pct"),
    pytest.param(Counts(50, 2), Counts(450, 2), False, id="too-few-errors-to-tell"),
    pytest.param(Counts(None), Counts(9000, 45), False, id="canary-no-data"),
    pytest.param(Counts(1000, 25), Counts(None), False, id="stable-no-data"),
    pytest.param(Counts(1000, 25), Counts(0, 0), False, id="no-stable-traffic"),
    pytest.param(Counts(1000, 1000), Counts(9000, 0), True, id="canary-all-errors"),
])
def test_compare_table(canary: Counts, stable: Counts, rejected: bool) -> None:
    judge = Judge([ERRORS], alpha=0.01)
    judge.observe(canary, stable)
    result = judge.results()[0]
    assert result.rejected is rejected
    assert result.threshold == 100
    assert (result.statistic >= 100) is rejected


def test_worked_example_numbers() -> None:
    """The numbers the module docstring quotes."""
    judge = Judge([ERRORS], alpha=0.01)
    judge.observe(Counts(1000, 25), Counts(9000, 45))
    assert judge.results()[0].statistic == pytest.approx(3.1e6, rel=0.05)
    same = Judge([ERRORS], alpha=0.01)
    same.observe(Counts(1000, 7), Counts(9000, 45))
    assert same.results()[0].statistic == pytest.approx(0.30, abs=0.01)


def test_e_process_starts_at_one_and_ignores_empty_looks() -> None:
    process = EProcess()
    assert process.value == pytest.approx(1.0)
    process.update(0, 0, 0.1)
    process.update(5, 10, 0.0)  # no other side: no evidence
    process.update(5, 10, 1.0)
    assert process.value == pytest.approx(1.0)


def test_bonferroni_bar_and_rejection_sticks() -> None:
    judge = Judge([ERRORS, SLOW, LIMIT], alpha=0.01)
    assert judge.threshold == pytest.approx(300)
    judge.observe(Counts(1000, 300), Counts(9000, 45))
    assert [r.test.name for r in judge.rejected()] == [ERRORS.name, LIMIT.name]
    for _ in range(50):  # a long stretch of good looks after the evidence does not undo it
        judge.observe(Counts(1000, 0), Counts(9000, 45))
    assert [r.test.name for r in judge.rejected()] == [ERRORS.name, LIMIT.name]


def test_latency_compare_counts_slow_requests_from_buckets() -> None:
    fast = {0.1: 900.0, 0.25: 990.0, 0.5: 1000.0, math.inf: 1000.0}
    slowed = {0.1: 0.0, 0.25: 100.0, 0.5: 900.0, math.inf: 1000.0}
    judge = Judge([SLOW], alpha=0.01)
    judge.observe(Counts(1000, 0, slowed), Counts(9000, 0, {k: 9 * v for k, v in fast.items()}))
    result = judge.results()[0]
    assert result.rejected
    assert result.canary_rate == pytest.approx(0.9)
    assert result.stable_rate == pytest.approx(0.01)


@pytest.mark.parametrize(("errors", "rejected"), [
    pytest.param(20, False, id="at-limit"),
    pytest.param(10, False, id="below"),
    pytest.param(60, True, id="3x-over"),
])
def test_threshold_table(errors: int, rejected: bool) -> None:
    judge = Judge([LIMIT], alpha=0.01)
    judge.observe(Counts(1000, errors), Counts(None))  # no stable needed for a limit
    assert judge.results()[0].rejected is rejected


def test_counts_since_and_buckets() -> None:
    before = Counts(100, 2, {0.25: 90.0, math.inf: 98.0})
    after = Counts(150, 5, {0.25: 120.0, math.inf: 145.0})
    delta = after.since(before)
    assert (delta.requests, delta.errors) == (50, 3)
    assert dict(delta.buckets) == {0.25: 30.0, math.inf: 47.0}
    assert Counts(None).since(before).has_data is False
    assert after.since(Counts(None)) == after
    assert Counts(10, 0).since(Counts(12, 0)).requests == 0  # clamped, never negative
    assert Counts(float("nan")).has_data is False


def test_slow_uses_the_smallest_covering_bucket() -> None:
    buckets = {0.1: 50.0, 0.25: 80.0, 0.5: 95.0, math.inf: 100.0}
    assert bucket_for(0.3, buckets) == 0.5
    assert slow(Counts(100, 0, buckets), 0.3) == (100.0, 5.0)  # never more than really slower
    assert slow(Counts(100, 0, buckets), 0.25) == (100.0, 20.0)
    assert slow(Counts(100, 0, buckets), 9.0) == (100.0, 0.0)  # beyond the buckets: unknown


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.15)
    assert quantile(0.95, {0.1: 0.0, math.inf: 10.0}) == pytest.approx(0.1)
    assert quantile(0.95, {math.inf: 0.0}) is None


def _release(rng: np.random.Generator, judge: Judge, *, looks: int, per_look: float,
             share: float, stable_rate: float, canary_rate: float,
             steps: int = 1) -> int | None:
    """Feed Poisson traffic, look after look; the look at which the judge rejects, or None.
    With `steps`, the canary share doubles every looks/steps looks (10%, 20%, 40%...)."""
    for look in range(looks):
        n = rng.poisson(per_look)
        n_c = rng.binomial(n, min(share * 2 ** (look * steps // looks), 0.9))
        n_s = n - n_c
        judge.observe(Counts(n_c, rng.binomial(n_c, canary_rate)),
                      Counts(n_s, rng.binomial(n_s, stable_rate)))
        if judge.rejected():
            return look
    return None


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1),
       rate=st.sampled_from([0.002, 0.005, 0.02, 0.1]),
       share=st.sampled_from([0.05, 0.1, 0.25, 0.5]),
       per_look=st.sampled_from([10.0, 100.0, 1000.0]),
       steps=st.sampled_from([1, 3]))
def test_false_abort_rate_on_identical_versions_stays_below_alpha(
        seed: int, rate: float, share: float, per_look: float, steps: int) -> None:
    """400 releases of identical versions, 60 looks each, the canary share fixed or doubling
    at each of three steps; the judge may look after every one.
    With alpha = 0.05, Ville allows 20 false aborts in expectation; the bar below is alpha's
    binomial 99.9% upper quantile, so a correct judge fails this less than once in 1000."""
    rng = np.random.default_rng(seed)
    alpha, releases = 0.05, 400
    aborts = sum(
        _release(rng, Judge([ERRORS], alpha), looks=60, per_look=per_look, share=share,
                 stable_rate=rate, canary_rate=rate, steps=steps) is not None
        for _ in range(releases))
    assert aborts <= 34, f"{aborts} of {releases} identical releases aborted"


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1),
       share=st.sampled_from([0.05, 0.1, 0.25, 0.5]))
def test_5x_regression_is_caught(seed: int, share: float) -> None:
    """Stable fails 0.5%, the canary 2.5%; 1,000 requests per look, 100 looks: at least 95
    of 100 releases are aborted."""
    rng = np.random.default_rng(seed)
    caught = sum(
        _release(rng, Judge([ERRORS], 0.01), looks=100, per_look=1000,
                 share=share, stable_rate=0.005, canary_rate=0.025) is not None
        for _ in range(100))
    assert caught >= 95


def test_looks_that_see_one_version_at_a_time_are_judged_together() -> None:
    """Seen on the real node with MLServer: each pod is scraped on its own clock, so the
    looks alternated between canary-only (20 requests, all errors) and stable-only (32, no
    errors). Judged look by look that is no evidence at all and the canary was promoted;
    held until both versions served, it is rejected at once."""
    judge = Judge([ERRORS], alpha=0.01)
    judge.observe(Counts(20, 20), Counts(0, 0))
    assert not judge.rejected()  # nothing to compare with yet
    judge.observe(Counts(0, 0), Counts(32, 0))
    assert judge.rejected(), judge.results()
    # held for at most HOLD looks: counts older than that are dropped, never judged (the
    # versions are compared over nearly the same seconds)
    stale = Judge([ERRORS], alpha=0.01)
    for _ in range(HOLD):
        stale.observe(Counts(20, 20), Counts(0, 0))
    stale.observe(Counts(20, 0), Counts(0, 0))
    stale.observe(Counts(0, 0), Counts(32, 0))
    assert not stale.rejected(), stale.results()
    # a look where both served is judged as before, and nothing stays held after it
    same = Judge([ERRORS], alpha=0.01)
    same.observe(Counts(20, 1), Counts(30, 1))
    same.observe(Counts(0, 0), Counts(0, 0))
    assert not same.rejected()


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1),
       rate=st.sampled_from([0.005, 0.02, 0.1]),
       per_look=st.sampled_from([10.0, 100.0]),
       seen=st.sampled_from([0.3, 0.6]))
def test_holding_one_sided_looks_keeps_false_aborts_below_alpha(
        seed: int, rate: float, per_look: float, seen: float) -> None:
    """Identical versions whose new counts reach the judge late: at each look each version's
    requests so far are seen with probability `seen`, else they wait for a later look (the
    scrape lagging). 400 releases of 60 looks at alpha = 0.05: the same bar as above."""
    rng = np.random.default_rng(seed)
    aborts = 0
    for _ in range(400):
        judge = Judge([ERRORS], 0.05)
        waiting = [[0, 0], [0, 0]]  # canary, stable: [requests, errors] not yet seen
        for _look in range(60):
            n = rng.poisson(per_look)
            n_c = rng.binomial(n, 0.25)
            for side, served in ((0, n_c), (1, n - n_c)):
                waiting[side][0] += served
                waiting[side][1] += rng.binomial(served, rate)
            shown = [waiting[side] if rng.random() < seen else [0, 0] for side in (0, 1)]
            for side in (0, 1):
                if shown[side] is waiting[side]:
                    waiting[side] = [0, 0]
            judge.observe(Counts(*shown[0]), Counts(*shown[1]))
            if judge.rejected():
                aborts += 1
                break
    assert aborts <= 34, f"{aborts} of 400 identical releases aborted"


def test_counts_after_a_drop_are_not_counted_twice() -> None:
    """A stable pod stops mid-step: its series leaves the sum and the total falls from 40 to
    0, then grows to 32 and 52. Following the highest total seen, only the 12 requests past
    40 are new."""
    last = None
    new = []
    for total in (40, 0, 32, 52):
        seen = Counts(total, 0, {math.inf: total}).at_least(last)
        new.append(seen.since(last).requests)
        last = seen
    assert new == [40, 0, 0, 12]
    assert last.buckets == {math.inf: 52}
    assert Counts(None).at_least(Counts(5)).requests == 5  # no data keeps the last counts
    assert Counts(7).at_least(None).requests == 7


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1),
       limit=st.sampled_from([0.01, 0.02, 0.05]),
       per_look=st.sampled_from([20.0, 200.0]))
def test_a_canary_exactly_at_its_limit_is_rarely_failed(
        seed: int, limit: float, per_look: float) -> None:
    """The absolute limit's test holds alpha too: 400 releases of a canary failing exactly
    `limit` of its requests, 60 looks each, alpha 0.05 (same bar as above)."""
    rng = np.random.default_rng(seed)
    check = Check(f"error_rate <= {limit}", "threshold", Event(), limit=limit)
    aborts = 0
    for _ in range(400):
        judge = Judge([check], 0.05)
        for _ in range(60):
            n = rng.poisson(per_look)
            judge.observe(Counts(n, rng.binomial(n, limit)), Counts(None))
            if judge.rejected():
                aborts += 1
                break
    assert aborts <= 34
