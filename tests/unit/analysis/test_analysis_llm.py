"""LLM latency checks (release/analysis/llm.py): `compare: {ttft_ms, inter_token_ms,
tokens_per_s}` parsed and refused where nothing can stream, tallied per probe round, judged by
the release's sequential judge (identical versions pass, a 2x time to first token fails), and
named in the step's reason, evidence and summary. The last tests run the real probes against
real HTTP servers that stream with known delays."""

from __future__ import annotations

import math
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.sse import Stream, handler
from tests.unit.analysis.test_every_check_can_fail import Clock

from modelship.config import Config
from modelship.errors import ConfigError
from modelship.release.analysis import llm, summary
from modelship.release.analysis import settings as s
from modelship.release.analysis.base import Endpoint, Progress, StepContext
from modelship.release.analysis.canary import CanaryAnalysis, ProbeOutcome
from modelship.release.analysis.judge import Judge, Measured, Tally
from modelship.release.analysis.probe import ServeProber
from modelship.serving import Row, ServeSpec
from modelship.serving.sse import Timing

TTFT_ABOVE = llm.parse("ttft_ms", {"above": 100})
TTFT_PAIRED = llm.parse("ttft_ms", "stable")
RATE_PAIRED = llm.parse("tokens_per_s", "stable")


def _cfg(analysis: Any, protocol: str = "openai-chat") -> Config:
    return Config({"serve": {"protocol": protocol, "model": "tiny"},
                   "deploy": {"analysis": analysis}}, file="modelship.yaml",
                  root=Path("/project"))


PROBES = {"eval_set": "eval/eval.jsonl", "rows": 20}


def test_the_contract_example_parses() -> None:
    got = s.parse(_cfg({"compare": {"ttft_ms": {"above": 100}, "tokens_per_s": "stable",
                                    "inter_token_ms": {"above": 40}}, "probes": PROBES}))
    assert got is not None
    assert [c.name for c in got.compare] == ["ttft_ms > 100 ms vs stable",
                                              "tokens_per_s vs stable",
                                              "inter_token_ms > 40 ms vs stable"]
    assert got.compare[0].measured == Measured("ttft_ms", 100.0, False)
    assert got.compare[1].measured == Measured("tokens_per_s", None, True)


@pytest.mark.parametrize(("analysis", "protocol", "key", "expected"), [
    pytest.param({"compare": {"ttft_ms": {"above": 100}}, "probes": PROBES}, "v2",
                 "deploy.analysis.compare.ttft_ms", "serve.protocol is 'v2'",
                 id="not-an-openai-protocol"),
    pytest.param({"compare": {"tokens_per_s": "stable"}, "probes": PROBES}, "custom",
                 "deploy.analysis.compare.tokens_per_s", "needs streamed answers",
                 id="custom-protocol"),
    pytest.param({"compare": {"ttft_ms": "stable"}}, "openai-chat",
                 "deploy.analysis.compare.ttft_ms", "none are configured", id="no-probes"),
    pytest.param({"compare": {"tokens_per_s": {"above": 5}}, "probes": PROBES}, "openai-chat",
                 "deploy.analysis.compare.tokens_per_s", "expected 'stable'",
                 id="tokens_per_s-above"),
    pytest.param({"compare": {"ttft_ms": {"above": 0}}, "probes": PROBES}, "openai-chat",
                 "deploy.analysis.compare.ttft_ms", "X > 0", id="ttft-above-0"),
    pytest.param({"compare": {"ttft": "stable"}, "probes": PROBES}, "openai-chat",
                 "deploy.analysis.compare.ttft", "did you mean 'ttft_ms'", id="typo"),
])
def test_checks_nothing_can_measure_are_refused_naming_the_key(
        analysis: Any, protocol: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        s.parse(_cfg(analysis, protocol))
    assert info.value.key == key


def _t(ttft: float, rate: float = 20.0, tokens: int = 8) -> Timing:
    return Timing(ttft, tokens, (tokens - 1) / rate * 1000)


def test_tallies_count_answers_above_and_rows_worse() -> None:
    canary = [_t(150), _t(60), None, _t(120)]
    stable = [_t(80), _t(95), _t(70), _t(60)]
    assert llm.tally(Measured("ttft_ms", 100.0), canary, stable) == Tally(3, 2, 4, 0)
    # paired: row 3 has no canary value; rows 1 and 4 worse, row 2 better
    assert llm.tally(Measured("ttft_ms"), canary, stable) == Tally(3, 2, 3, 1)
    # within 10% of each other: a tie, neither worse nor better (order of asking, not a model)
    assert llm.tally(Measured("ttft_ms"), [_t(100)], [_t(95)]) == Tally(1, 0, 1, 0)
    faster = [_t(80, rate=30.0)] * 4
    assert llm.tally(Measured("tokens_per_s", None, True), faster, [_t(80)] * 4) == \
        Tally(4, 0, 4, 4)  # more tokens per second is better on every row
    assert llm.tally(Measured("ttft_ms"), [None] * 4, stable) == \
        "no timed answer from the new version"


def _rounds(rng: np.random.Generator, rounds: int, rows: int,
            slower: float) -> list[tuple[list[Timing | None], list[Timing | None]]]:
    """Probe rounds: per row a prompt-dependent TTFT (lognormal around 80 ms) times a
    run-to-run jitter; the canary's is `slower` times the stable's."""
    out = []
    for _ in range(rounds):
        base = rng.lognormal(math.log(80.0), 0.5, rows)
        stable = base * rng.lognormal(0.0, 0.2, rows)
        canary = slower * base * rng.lognormal(0.0, 0.2, rows)
        out.append(([_t(v) for v in canary], [_t(v) for v in stable]))
    return out


CHECKS = [TTFT_ABOVE, TTFT_PAIRED]


def _release(rounds: list[tuple[list[Timing | None], list[Timing | None]]]) -> Judge:
    judge = Judge(CHECKS, alpha=0.01)
    for canary, stable in rounds:
        for check in CHECKS:
            assert check.measured is not None
            got = llm.tally(check.measured, canary, stable)
            assert isinstance(got, Tally)
            judge.observe_tally(check, got)
    return judge


def test_identical_versions_do_not_reject() -> None:
    """200 releases of 10 probe rounds x 50 rows on identical versions: alpha 0.01 bounds the
    releases that ever reject; none or a few may, by chance."""
    rng = np.random.default_rng(20)
    rejected = sum(bool(_release(_rounds(rng, 10, 50, 1.0)).rejected()) for _ in range(200))
    assert rejected <= 4


def test_twice_the_time_to_first_token_rejects() -> None:
    """The paired test sees the canary slower on nearly every row of the first round; the
    share above 100 ms (about 34% on stable, 80% on the canary) takes a few rounds."""
    rounds = _rounds(np.random.default_rng(21), 4, 50, 2.0)
    first = _release(rounds[:1])
    assert [r.test.name for r in first.rejected()] == ["ttft_ms vs stable"]
    paired = first.results()[1]
    assert paired.canary_rate is not None
    assert paired.canary_rate > 0.9  # worse on nearly every row
    assert [r.test.name for r in _release(rounds).rejected()] == \
        ["ttft_ms > 100 ms vs stable", "ttft_ms vs stable"]


# -- through the step loop -----------------------------------------------------------------------
class Rounds:
    """A prober whose rounds were already timed (ServeProber.outcome does the rest)."""

    def __init__(self, canary: list[Timing | None], stable: list[Timing | None]) -> None:
        self.canary, self.stable = canary, stable

    def probe(self, step: StepContext, progress: Progress) -> ProbeOutcome:
        outcome = ProbeOutcome("passed", "4/4 answered", {"rows": len(self.canary)})
        return ProbeOutcome(outcome.verdict, outcome.reason, outcome.evidence,
                            llm.Streams(tuple(self.canary), tuple(self.stable)))


def _assess(prober: Any, checks: tuple[Any, ...] = (TTFT_ABOVE,)) -> tuple[str, dict[str, Any]]:
    clock = Clock()
    settings = s.AnalysisSettings(compare=checks, on_inconclusive="abort", max_wait=30.0,
                                  probes=s.ProbeSettings(Path("eval.jsonl"), 4))
    analysis = CanaryAnalysis(settings, None, prober, clock=clock, sleep=clock.sleep)
    step = StepContext(release="llm", namespace="models", environment=None, strategy="canary",
                       step="canary-10", weight=10, interval_seconds=10.0, started_at=clock(),
                       canary=Endpoint("http://canary", "2"), stable=Endpoint("http://stable",
                                                                               "1"))
    verdict = analysis.assess(step, lambda line: None)
    return verdict.reason, {"name": step.step, "weight": 10, "verdict": verdict.verdict,
                            "evidence": dict(verdict.evidence)}


def test_the_rejecting_check_is_named_in_reason_evidence_and_summary() -> None:
    slow = [_t(240.0 + i) for i in range(16)]
    fast = [_t(60.0 + i, rate=25.0) for i in range(16)]
    reason, step = _assess(Rounds(slow, fast))
    assert step["verdict"] == "failed"
    assert reason.startswith("probes: ttft_ms > 100 ms vs stable: e-value")
    assert "(canary 100.00%, stable 0.00%)" in reason
    assert step["evidence"]["decided_by"] == "probes"
    assert step["evidence"]["rejected"] == ["ttft_ms > 100 ms vs stable"]
    timed = step["evidence"]["probes"]["llm"]
    assert timed["canary"]["ttft_p50_ms"] == pytest.approx(247.5)
    assert timed["stable"]["tokens_per_s_p50"] == pytest.approx(25.0)
    text = summary.render([step])
    assert "| canary-10 | 247.5 / 254.2 | 67.5 / 74.25 | 20 | 25 | ttft_ms > 100 ms vs " \
           "stable |" in text


def test_no_timed_values_is_inconclusive_naming_the_check() -> None:
    reason, step = _assess(Rounds([None] * 4, [_t(60.0)] * 4), (TTFT_ABOVE, RATE_PAIRED))
    assert step["verdict"] == "inconclusive"
    assert "ttft_ms > 100 ms vs stable (no timed answer from the new version)" in reason
    assert "tokens_per_s vs stable (no timed answer from the new version)" in reason


# -- the real probes against real streaming servers -------------------------------------------
Serve = Callable[[type[BaseHTTPRequestHandler]], str]
SPEC = ServeSpec(protocol="openai-chat", predict="/v1/chat/completions", model="tiny",
                 response_field="choices.0.message.content", concurrency=8)
ROWS = [Row(i + 1, {"prompt": f"say {i}", "reference": "w0 w1 w2 "}, Path("eval.jsonl"))
        for i in range(12)]


def _prober() -> ServeProber:
    return ServeProber(s.ProbeSettings(Path("eval.jsonl"), len(ROWS), 0.9), SPEC, ROWS, [],
                       stream=True)


def _endpoints(serve: Serve, canary_ttft: float, stable_ttft: float) -> tuple[str, str]:
    return (serve(handler(Stream(ttft=canary_ttft, gap=0.005, tokens=3))),
            serve(handler(Stream(ttft=stable_ttft, gap=0.005, tokens=3))))


def _real(serve: Serve, canary_ttft: float, stable_ttft: float,
          check: Any) -> tuple[str, dict[str, Any]]:
    canary, stable = _endpoints(serve, canary_ttft, stable_ttft)
    prober = _prober()
    clock = Clock()
    settings = s.AnalysisSettings(compare=(check,), on_inconclusive="abort", max_wait=30.0,
                                  probes=prober.settings)
    analysis = CanaryAnalysis(settings, None, prober, clock=clock, sleep=clock.sleep)
    step = StepContext(release="llm", namespace="models", environment=None, strategy="canary",
                       step="canary-10", weight=10, interval_seconds=10.0, started_at=clock(),
                       canary=Endpoint(canary, "2"), stable=Endpoint(stable, "1"))
    verdict = analysis.assess(step, lambda line: None)
    return verdict.reason, {"verdict": verdict.verdict, "evidence": dict(verdict.evidence)}


@pytest.mark.parametrize("check", [llm.parse("ttft_ms", {"above": 75}), TTFT_PAIRED],
                         ids=["above", "paired"])
def test_real_probes_reject_twice_the_time_to_first_token(http_server: Serve,
                                                          check: Any) -> None:
    reason, step = _real(http_server, 0.1, 0.05, check)
    assert step["verdict"] == "failed", reason
    assert reason.startswith(f"probes: {check.name}: e-value")
    timed = step["evidence"]["probes"]["llm"]
    assert timed["canary"]["streamed"] == timed["stable"]["streamed"] == 12
    assert timed["canary"]["ttft_p50_ms"] >= 100 > timed["stable"]["ttft_p50_ms"] >= 50
    assert step["evidence"]["probes"]["agreement"] == 1.0  # the text was still assembled


def test_real_probes_pass_identical_versions(http_server: Serve) -> None:
    reason, step = _real(http_server, 0.05, 0.05, TTFT_PAIRED)
    assert step["verdict"] == "passed", reason
    assert step["evidence"]["probes"]["llm"]["fed"] == ["ttft_ms vs stable"]


def test_real_probes_of_a_server_that_does_not_stream_are_inconclusive(
        http_server: Serve) -> None:
    prober = _prober()
    plain = http_server(handler(Stream(ttft=0.01, gap=0.001, streams=False)))
    step = StepContext(release="llm", namespace="models", environment=None, strategy="canary",
                       step="canary-10", weight=10, interval_seconds=10.0,
                       canary=Endpoint(plain, "2"), stable=Endpoint(plain, "1"))
    outcome = llm.observe(Judge([TTFT_PAIRED], 0.01), prober.probe(step, lambda line: None))
    assert outcome.verdict == "inconclusive"
    assert "ttft_ms vs stable (no timed answer from the new version; new version: 12 of 12 " \
           "answers had no streamed text" in outcome.reason
