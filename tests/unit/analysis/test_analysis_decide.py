"""A step's verdict from its state: traffic evidence first, then probes, then enough data,
then the on_inconclusive policy; no data never passes, Prometheus down is an error."""

from __future__ import annotations

import dataclasses

import pytest

from modelship.release.analysis.decide import Look, decide
from modelship.release.analysis.judge import Check, CheckResult, Event

WORSE = CheckResult(Check("error_rate vs stable", "compare", Event()), 512.0, 100.0, True,
                    0.025, 0.005)
BASE = Look(now=100.0, started_at=0.0, interval=60.0, max_wait=300.0, policy="hold",
            min_requests=200, traffic_needed=True, canary_requests=500.0, unreachable=None,
            rejected=(), probes=None)


def _look(**changes: object) -> Look:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("look", "verdict", "decided_by"), [
    pytest.param(_look(), "passed", "traffic", id="enough-clean-traffic"),
    pytest.param(_look(now=30.0), None, None, id="before-the-interval"),
    pytest.param(_look(now=5.0, rejected=(WORSE,), canary_requests=20.0), "failed", "traffic",
                 id="evidence-stops-early"),
    pytest.param(_look(probes="failed", probe_reason="agreement 0.4 < 0.9"), "failed", "probes",
                 id="probes-fail"),
    pytest.param(_look(rejected=(WORSE,), probes="failed"), "failed", "traffic",
                 id="traffic-named-first"),
    pytest.param(_look(probes="passed", probe_reason="agreement 1.0"), "passed", "traffic",
                 id="probes-and-traffic"),
    pytest.param(_look(canary_requests=50.0), None, None, id="few-held"),
    pytest.param(_look(canary_requests=50.0, now=300.0), "inconclusive", "few-requests",
                 id="few-held-out"),
    pytest.param(_look(canary_requests=50.0, policy="abort"), "inconclusive", "few-requests",
                 id="few-abort"),
    pytest.param(_look(canary_requests=50.0, policy="promote"), "passed", "policy",
                 id="few-promote"),
    pytest.param(_look(canary_requests=None, policy="promote", now=300.0), "inconclusive",
                 "no-data", id="no-data-never-promoted"),
    pytest.param(_look(canary_requests=None), None, None, id="no-data-held"),
    pytest.param(_look(unreachable="connection refused"), None, None, id="down-held"),
    pytest.param(_look(unreachable="connection refused", policy="abort"), None, None,
                 id="down-held-even-with-abort"),
    pytest.param(_look(unreachable="connection refused", now=300.0), "error", "prometheus",
                 id="down-past-max-wait"),
    pytest.param(_look(unreachable="refused", now=300.0, policy="promote"), "error",
                 "prometheus", id="down-never-promoted"),
    pytest.param(_look(traffic_needed=False, canary_requests=None), "passed", "nothing",
                 id="no-live-traffic"),
    pytest.param(_look(traffic_needed=False, probes="passed", probe_reason="ok"), "passed",
                 "probes", id="preview-by-probes"),
    pytest.param(_look(max_wait=10.0, canary_requests=50.0, now=60.0), "inconclusive",
                 "few-requests", id="max-wait-below-interval"),
])
def test_decide(look: Look, verdict: str | None, decided_by: str | None) -> None:
    decision = decide(look)
    if verdict is None:
        assert decision is None
        return
    assert decision is not None
    assert (decision.verdict, decision.decided_by) == (verdict, decided_by)


def test_reasons_name_the_evidence() -> None:
    failed = decide(_look(rejected=(WORSE,)))
    assert failed is not None
    assert failed.reason == ("traffic: error_rate vs stable: e-value 512 >= 100 "
                             "(canary 2.50%, stable 0.50%)")
    few = decide(_look(canary_requests=50.0, policy="abort"))
    assert few is not None
    assert few.reason == "inconclusive: 50 canary requests, 200 needed"
    down = decide(_look(unreachable="connection refused", now=300.0))
    assert down is not None
    assert down.reason == "Prometheus unreachable: connection refused"
