"""The TTFT scenario of benchmarks/analysis_bench.py (`--scenario ttft`): a 2x time-to-first-
token regression at 5 requests per second, the sequential judge against a fixed-threshold rule.

Traffic (simulated, common to both judges in every run): Poisson requests at 5 per second, each
to the canary with the step's weight (10%, 25%, 50% for 5 minutes each, as in the error
scenario). Time to first token is lognormal, median 200 ms and sigma 0.35 (p95 356 ms) on
stable; the canary is identical, or twice as slow on every request (2x TTFT).

- modelship: `release.analysis.judge.Judge` with the check `compare: {ttft_ms: {above: 500}}`
  (`llm.parse`), fed every 15 s with each version's requests and those whose TTFT exceeded
  500 ms, as the judge is fed `latency_ms: {above}` from traffic (and a TTFT histogram with a
  bucket at the bound, such as vLLM's at 0.5 s, gives exactly these counts); alpha 0.01 of
  which a deploy spends half (`factory.segment_share(0)`).
- fixed-threshold rule (the baseline, Flagger-style): every 60 s, the canary's p95 TTFT over
  the last minute must be <= 500 ms (the same bound, about 1.4x stable's p95); a minute
  without canary requests fails too; abort after `threshold` = 5 failed checks.

Printed: false aborts on identical versions (goal <= 1%), the 2x regressions caught in the
15 minutes, the median time to abort and the median requests the slow canary served first,
and the ratios against the fixed rule. A run that never aborts counts as 15 minutes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelship.release.analysis.canary import poll_seconds
from modelship.release.analysis.factory import segment_share
from modelship.release.analysis.judge import Judge, Tally
from modelship.release.analysis.llm import parse

RATE = 5.0  # requests per second, both tracks
SCHEDULE = ((0.10, 300), (0.25, 300), (0.50, 300))  # (canary weight, seconds)
RUN_SECONDS = sum(seconds for _, seconds in SCHEDULE)
MEDIAN_MS, SIGMA = 200.0, 0.35
BOUND_MS = 500.0
ALPHA = 0.01
LOOK = int(poll_seconds(60.0))  # 15 s
FIXED_INTERVAL, FIXED_THRESHOLD = 60, 5
CHECK = parse("ttft_ms", {"above": BOUND_MS})


@dataclass
class Traffic:
    """One run: per request its second, its track and its TTFT in ms."""

    second: np.ndarray
    canary: np.ndarray  # bool
    ttft_ms: np.ndarray


def simulate(rng: np.random.Generator, slower: float) -> Traffic:
    weights = np.concatenate([np.full(seconds, w) for w, seconds in SCHEDULE])
    per_second = rng.poisson(RATE, RUN_SECONDS)
    second = np.repeat(np.arange(RUN_SECONDS), per_second)
    canary = rng.random(second.size) < weights[second]
    ttft = rng.lognormal(math.log(MEDIAN_MS), SIGMA, second.size)
    return Traffic(second, canary, np.where(canary, slower * ttft, ttft))


@dataclass
class Abort:
    second: int | None  # None: never aborted
    canary_requests: int  # served by the canary until the abort (or the end)


def _served(traffic: Traffic, until: int) -> int:
    return int(np.count_nonzero(traffic.canary & (traffic.second < until)))


def modelship(traffic: Traffic) -> Abort:
    judge = Judge([CHECK], ALPHA * segment_share(0))
    look = traffic.second // LOOK
    looks = RUN_SECONDS // LOOK
    slow = traffic.ttft_ms > BOUND_MS
    counts = [np.bincount(look, weights=w, minlength=looks)
              for w in (traffic.canary, traffic.canary & slow, ~traffic.canary,
                        ~traffic.canary & slow)]
    for i in range(looks):
        judge.observe_tally(CHECK, Tally(*(float(c[i]) for c in counts)))
        if judge.rejected():
            end = (i + 1) * LOOK
            return Abort(end, _served(traffic, end))
    return Abort(None, _served(traffic, RUN_SECONDS))


def fixed_rule(traffic: Traffic) -> Abort:
    failed = 0
    minute = traffic.second // FIXED_INTERVAL
    for i in range(RUN_SECONDS // FIXED_INTERVAL):
        window = traffic.ttft_ms[traffic.canary & (minute == i)]
        if window.size == 0 or float(np.percentile(window, 95)) > BOUND_MS:
            failed += 1
        if failed >= FIXED_THRESHOLD:
            end = (i + 1) * FIXED_INTERVAL
            return Abort(end, _served(traffic, end))
    return Abort(None, _served(traffic, RUN_SECONDS))


@dataclass
class Row:
    judge: str
    false_aborts: float
    caught: float
    median_abort_seconds: float
    median_slow_requests: float


def measure(runs: int, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    judges = {"modelship": modelship, "fixed-threshold": fixed_rule}
    results: dict[str, dict[str, list[Abort]]] = {n: {"same": [], "slow": []} for n in judges}
    for kind, slower in (("same", 1.0), ("slow", 2.0)):
        for _ in range(runs):
            traffic = simulate(rng, slower)  # one run, fed to both judges
            for name, judge in judges.items():
                results[name][kind].append(judge(traffic))
    rows = []
    for name, by_kind in results.items():
        same, slow = by_kind["same"], by_kind["slow"]
        rows.append(Row(
            name, sum(a.second is not None for a in same) / runs,
            sum(a.second is not None for a in slow) / runs,
            statistics.median(a.second if a.second is not None else RUN_SECONDS for a in slow),
            statistics.median(a.canary_requests for a in slow)))
    return rows


def report(runs: int, seed: int, wilson_upper: Callable[[float, int], float]) -> bool:
    """Measure, print the table and the ratios; whether the goals were met."""
    started = time.perf_counter()
    rows = measure(runs, seed)
    p95 = MEDIAN_MS * math.exp(1.645 * SIGMA)
    print(f"TTFT scenario, {runs} runs per case: {RATE:g} req/s; TTFT lognormal median "
          f"{MEDIAN_MS:g} ms (p95 {p95:.0f} ms) on stable, canary identical or 2x; weights "
          f"10/25/50% for 5 min each; modelship: compare ttft_ms above {BOUND_MS:g} ms, alpha "
          f"{ALPHA} (a deploy spends half), looks every {LOOK}s; fixed-threshold rule: p95 "
          f"TTFT <= {BOUND_MS:g} ms per {FIXED_INTERVAL}s window, abort after "
          f"{FIXED_THRESHOLD} failed checks\n")
    header = ("judge", "false aborts (identical) [95% upper]", "2x caught in 15 min",
              "median time to abort 2x", "median slow-canary requests")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        print(f"{row.judge} | {row.false_aborts:.2%} [{wilson_upper(row.false_aborts, runs):.2%}]"
              f" | {row.caught:.1%} | {row.median_abort_seconds:.0f} s | "
              f"{row.median_slow_requests:.0f}")
    ours, base = rows
    time_ratio = ours.median_abort_seconds / base.median_abort_seconds
    request_ratio = ours.median_slow_requests / base.median_slow_requests
    print(f"\ntime-to-abort ratio {time_ratio:.2f}x, slow-canary requests ratio "
          f"{request_ratio:.2f}x (modelship / fixed-threshold)")
    goals = [("false aborts <= 1%", ours.false_aborts <= 0.01),
             ("time ratio < 1", time_ratio < 1.0)]
    for goal, met in goals:
        print(f"  goal {goal}: {'met' if met else 'MISSED'}")
    print(f"\nran in {time.perf_counter() - started:.1f} s")
    return all(met for _, met in goals)
