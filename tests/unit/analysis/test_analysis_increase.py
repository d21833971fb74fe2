"""Exact counter increases from raw samples: baseline before the window, series born inside
it, resets, and NaN."""

from __future__ import annotations

import math

import pytest

from modelship.release.analysis.prometheus import Labels, default_queries, increase, render


@pytest.mark.parametrize(("samples", "lookback", "expected"), [
    pytest.param([(90, 5), (100, 5), (110, 9), (120, 12)], True, 7, id="from-last-before"),
    pytest.param([(105, 3), (110, 9)], True, 9, id="born-inside-counts-from-zero"),
    pytest.param([(105, 3), (110, 9)], False, 6, id="no-lookback-from-first"),
    pytest.param([(90, 50), (105, 60), (110, 4), (120, 10)], True, 20, id="reset"),
    pytest.param([(90, 5), (95, 5)], True, 0, id="nothing-inside"),
    pytest.param([(90, math.nan), (105, 2)], True, 2, id="nan-skipped"),
])
def test_increase(samples: list[tuple[float, float]], lookback: bool, expected: float) -> None:
    assert increase(samples, 100.0, lookback=lookback) == expected


def test_increase_of_nothing_is_nan_not_zero() -> None:
    assert math.isnan(increase([], 100.0, lookback=True))
    assert math.isnan(increase([(90, math.nan)], 100.0, lookback=True))


def test_render_fills_only_our_placeholders() -> None:
    labels = Labels('we"ird', "sentiment")
    text = render(default_queries()["errors"], track="canary", labels=labels,
                  window_seconds=30.2)
    assert text == ('http_requests_total{namespace="we\\"ird",track="canary",'
                    'status=~"5.."}[151s]')
    assert render("x[{window}] {release}", track="t", labels=labels, window_seconds=0.2) == \
        "x[1s] sentiment"
