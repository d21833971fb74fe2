"""Benchmark: the sequential canary judge against a Flagger-style rule, on the same traffic.

Traffic (simulated, common to both judges in every run): Poisson requests at 10 or 100 per
second; each request goes to the canary with the step's weight, and fails with its version's
error rate. Stable fails 0.5%. The canary is identical (0.5%) or five times worse (2.5%).
A run is one 15-minute analysis: canary weight 10% for 5 minutes, then 25%, then 50%; a
judge's abort ends its run there (both judges watch the same run; neither changes the traffic).

- modelship: `release.analysis.judge.Judge` with the default check (error_rate vs stable),
  alpha 0.01 configured, of which a deploy's judge spends half (`factory.segment_share(0)`:
  the rest is kept for promotes after a pause), looking every 15 s (what the analysis does
  for a 60 s interval).
- Flagger-style rule (the baseline): every 60 s, the canary's success rate over the last
  minute must be >= 99% (Flagger's documented request-success-rate example); no requests in
  that minute is a failed check; rollback after `threshold` = 5 failed checks.

Printed per rate: the false-abort rate on identical versions (goal <= 1% at both rates), the
median time to abort the 5x regression (goal at 100 req/s: <= 2 min and <= 0.5x Flagger's),
and the median requests the bad canary served before the abort (goal <= 0.5x Flagger's).
A run that never aborts counts as 15 minutes and every canary request served.

`--scenario ttft` runs the LLM scenario instead (benchmarks/analysis_ttft.py): a 2x time-to-
first-token regression at 5 req/s, the judge's `ttft_ms: {above: 500}` against a fixed rule
(p95 TTFT over 60 s windows, 5 failed checks). Its default run is short (1000 runs per case,
a few seconds); `--runs 10000` is the longer one.

    python benchmarks/analysis_bench.py [--scenario errors|ttft] [--runs N] [--seed 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import analysis_ttft

from modelship.release.analysis.canary import poll_seconds
from modelship.release.analysis.counts import Counts
from modelship.release.analysis.factory import segment_share
from modelship.release.analysis.judge import Check, Event, Judge

STABLE_ERROR_RATE = 0.005
SCHEDULE = ((0.10, 300), (0.25, 300), (0.50, 300))  # (canary weight, seconds)
RUN_SECONDS = sum(seconds for _, seconds in SCHEDULE)
ALPHA = 0.01
LOOK = int(poll_seconds(60.0))  # 15 s
FLAGGER_INTERVAL = 60
FLAGGER_MIN_SUCCESS = 0.99
FLAGGER_THRESHOLD = 5


@dataclass
class Traffic:
    """Per second: canary and stable requests and errors (one run)."""

    canary: np.ndarray
    canary_errors: np.ndarray
    stable: np.ndarray
    stable_errors: np.ndarray


def simulate(rng: np.random.Generator, rate: float, canary_error_rate: float) -> Traffic:
    weights = np.concatenate([np.full(seconds, w) for w, seconds in SCHEDULE])
    total = rng.poisson(rate, RUN_SECONDS)
    canary = rng.binomial(total, weights)
    stable = total - canary
    return Traffic(canary, rng.binomial(canary, canary_error_rate), stable,
                   rng.binomial(stable, STABLE_ERROR_RATE))


@dataclass
class Abort:
    second: int | None  # None: never aborted
    canary_requests: int  # served by the canary until the abort (or the end)


def modelship(traffic: Traffic) -> Abort:
    judge = Judge([Check("error_rate vs stable", "compare", Event())],
                  ALPHA * segment_share(0))
    for end in range(LOOK, RUN_SECONDS + 1, LOOK):
        window = slice(end - LOOK, end)
        judge.observe(Counts(int(traffic.canary[window].sum()),
                             int(traffic.canary_errors[window].sum())),
                      Counts(int(traffic.stable[window].sum()),
                             int(traffic.stable_errors[window].sum())))
        if judge.rejected():
            return Abort(end, int(traffic.canary[:end].sum()))
    return Abort(None, int(traffic.canary.sum()))


def flagger(traffic: Traffic) -> Abort:
    failed = 0
    for end in range(FLAGGER_INTERVAL, RUN_SECONDS + 1, FLAGGER_INTERVAL):
        window = slice(end - FLAGGER_INTERVAL, end)
        requests = int(traffic.canary[window].sum())
        errors = int(traffic.canary_errors[window].sum())
        if requests == 0 or (requests - errors) / requests < FLAGGER_MIN_SUCCESS:
            failed += 1
        if failed >= FLAGGER_THRESHOLD:
            return Abort(end, int(traffic.canary[:end].sum()))
    return Abort(None, int(traffic.canary.sum()))


@dataclass
class Row:
    rate: float
    judge: str
    false_aborts: float
    median_abort_seconds: float
    caught: float
    median_bad_requests: float


def measure(rate: float, runs: int, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    results: dict[str, dict[str, list[Abort]]] = {
        "modelship": {"same": [], "worse": []}, "flagger-style": {"same": [], "worse": []}}
    for kind, canary_rate in (("same", STABLE_ERROR_RATE), ("worse", 5 * STABLE_ERROR_RATE)):
        for _ in range(runs):
            traffic = simulate(rng, rate, canary_rate)  # one run, fed to both judges
            results["modelship"][kind].append(modelship(traffic))
            results["flagger-style"][kind].append(flagger(traffic))
    rows = []
    for name, by_kind in results.items():
        same, worse = by_kind["same"], by_kind["worse"]
        rows.append(Row(
            rate, name,
            sum(a.second is not None for a in same) / len(same),
            statistics.median(a.second if a.second is not None else RUN_SECONDS
                              for a in worse),
            sum(a.second is not None for a in worse) / len(worse),
            statistics.median(a.canary_requests for a in worse)))
    return rows


def wilson_upper(p: float, n: int, z: float = 1.96) -> float:
    """Upper end of the Wilson 95% interval of a proportion p observed in n runs."""
    centre = p + z * z / (2 * n)
    spread = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return (centre + spread) / (1 + z * z / n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("errors", "ttft"), default="errors",
                        help="errors: 5x error rate at 10 and 100 req/s; ttft: 2x time to "
                             "first token at 5 req/s")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per rate and case (default: 4000 errors, 1000 ttft)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.scenario == "ttft":
        return 0 if analysis_ttft.report(args.runs or 1000, args.seed, wilson_upper) else 1
    args.runs = args.runs or 4000
    started = time.perf_counter()
    rows = [row for i, rate in enumerate((10.0, 100.0))
            for row in measure(rate, args.runs, args.seed + i)]
    print(f"{args.runs} runs per rate and scenario; stable error rate 0.5%, canary 0.5% "
          f"(identical) or 2.5% (5x); weights 10/25/50% for 5 min each; alpha {ALPHA}, "
          f"looks every {LOOK}s; Flagger-style: 1m checks, success >= 99%, threshold "
          f"{FLAGGER_THRESHOLD}\n")
    header = ("req/s", "judge", "false aborts (identical) [95% upper]", "5x caught in 15 min",
              "median time to abort 5x", "median bad-canary requests")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        upper = wilson_upper(row.false_aborts, args.runs)
        print(f"{row.rate:g} | {row.judge} | {row.false_aborts:.2%} [{upper:.2%}] | "
              f"{row.caught:.1%} | "
              f"{row.median_abort_seconds:.0f} s | {row.median_bad_requests:.0f}")
    print()
    ok = True
    for rate in (10.0, 100.0):
        ours = next(r for r in rows if r.rate == rate and r.judge == "modelship")
        base = next(r for r in rows if r.rate == rate and r.judge == "flagger-style")
        time_ratio = ours.median_abort_seconds / base.median_abort_seconds
        request_ratio = ours.median_bad_requests / base.median_bad_requests
        print(f"{rate:g} req/s: time-to-abort ratio {time_ratio:.2f}x, bad-canary requests "
              f"ratio {request_ratio:.2f}x (modelship / flagger-style)")
        goals = [("false aborts <= 1%", ours.false_aborts <= 0.01)]
        if rate == 100.0:
            goals += [("median abort <= 120 s", ours.median_abort_seconds <= 120),
                      ("time ratio <= 0.5", time_ratio <= 0.5),
                      ("request ratio <= 0.5", request_ratio <= 0.5)]
        for goal, met in goals:
            print(f"  goal {goal}: {'met' if met else 'MISSED'}")
            ok = ok and met
    print(f"\nran in {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
