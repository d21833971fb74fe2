r"""The sequential judge: is the canary worse than stable, or worse than an absolute limit?

Pure: counts in, e-values out. No clock, no I/O. One `Judge` follows a whole release (every
step and the bake), so `alpha` bounds the chance of ever aborting identical versions, over the
release, however often it looks.

The maths
---------
Every test watches one kind of *bad event*: an error (5xx), or a request slower than a
latency bound (from histogram buckets, see counts.py).

**Canary vs stable** (`compare`). In look t the canary served n_c requests and stable n_s, so
the realised canary share is rho_t = n_c / (n_c + n_s); B_t bad events happened, x_t of them
on the canary. If both versions are equally good (bad-event rate p on both), each bad event
belongs to the canary with probability rho_t, whatever p is and however the traffic was split:
given B_t, x_t is hypergeometric, which is at most as spread as Binomial(B_t, rho_t)
(Hoeffding 1963). If instead the canary's rate is r times stable's, the share becomes
theta_t(r) = r rho_t / (r rho_t + 1 - rho_t). The likelihood ratio of look t is

    LR_t(r) = (theta/rho)^x (1-theta)^(B-x) / (1-rho)^(B-x) = r^x / (1 + (r-1) rho_t)^B

This is the conditional-binomial reduction of Lindon & Malek, "Anytime-valid inference for
multinomial count data" (NeurIPS 2022), written in the rate ratio r so that the split may
change from look to look (and from step to step). No single r is known, so the judge mixes
over a grid of ratios r_1..r_K (1.2x to 30x, equal prior weights w_k = 1/K):

    M_t = sum_k w_k prod_{s<=t} LR_s(r_k)

A mixture of likelihood ratios with a fixed prior is a nonnegative martingale with M_0 = 1
under "canary no worse" (for r_true < 1 each factor has expectation below 1, since theta > rho;
LR is convex in x, so the hypergeometric case is covered by Hoeffding's inequality).
Ville's inequality: P(sup_t M_t >= 1/a) <= a. Looking after every scrape costs nothing.

**Absolute limit** (`thresholds`, e.g. error_rate <= 0.02, latency_p95_ms <= 300 which is
"at most 5% of requests slower than 300 ms"). In look t the canary served n_t requests with
x_t bad ones; under "rate <= p0" x_t is at most Binomial(n_t, p0). The same formula with
rho = p0 and B = n gives an e-process against the limit (r is then the odds ratio).

**LLM latency from the probes** (`compare: {ttft_ms: ..., inter_token_ms: ...,
tokens_per_s: stable}`, release/analysis/llm.py). The probes send the same eval rows to both
versions once per round and time each streamed answer. `{above: MS}` counts, per version, the
answers whose value exceeds MS: the canary-vs-stable formula above, with rho the canary's share
of timed answers. `stable` is a paired sign test: per row answered by both, the canary is worse
or better (ties dropped); on identical versions "worse" is a fair coin, so x = worse rows of
B = worse + better with rho = 1/2 is the same e-process (r is then the odds of "worse"). Each
probe round is one look, in the same judge: one alpha for traffic and probe checks together.

**Several tests**: with m tests, test i fails when M_i >= m / alpha (Bonferroni), so the
chance that any fails on identical versions (or on a canary exactly at its limits) is <= alpha.

Worked example (alpha = 0.01, compare on errors only, so the bar is 1/0.01 = 100). A 10%
canary: one look sees 1,000 canary and 9,000 stable requests, rho = 0.1. Stable fails 0.5%
(45 errors); a canary five times worse fails 2.5% (25 errors): B = 70, x = 25. At r = 5,
log LR = 25 ln 5 - 70 ln(1.4) = 40.24 - 23.55 = 16.7; at r = 1.2: 25 ln 1.2 - 70 ln 1.02 =
3.17. Averaged over the 12 ratios, M = 3.1e6, far above 100: the canary fails in that look.
On identical versions the same look would typically see x = 7 of B = 52: log LR(1.2) = 7 ln 1.2
- 52 ln 1.02 = 0.25, log LR(5) = 11.3 - 17.5 = -6.2; M = 0.30, far below 100.
`python -m modelship.release.analysis.judge` prints both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from modelship.release.analysis.counts import Counts, slow

# Alternatives mixed over: rate (or odds) ratios from 1.2x to 30x, log-spaced. A coarser grid
# costs ln(K) nats of evidence; a wider one buys power against tiny or huge regressions.
RATIOS: tuple[float, ...] = tuple(1.2 * (30 / 1.2) ** (k / 11) for k in range(12))
# looks a compare test holds one version's counts while waiting for the other's (scrapes of
# the two versions' pods land a few seconds apart, so a look may see only one of them)
HOLD = 3


@dataclass(frozen=True)
class Event:
    """A kind of bad event: errors, or requests slower than `slower_than` seconds."""

    slower_than: float | None = None

    def count(self, counts: Counts) -> tuple[float, float]:
        """(requests it is counted among, bad events), nonnegative and consistent."""
        if not counts.has_data:
            return 0.0, 0.0
        if self.slower_than is None:
            n = counts.requests or 0.0
            return n, min(counts.errors, n)
        return slow(counts, self.slower_than)

    @property
    def label(self) -> str:
        if self.slower_than is None:
            return "errors"
        return f"requests slower than {self.slower_than * 1000:g} ms"


@dataclass(frozen=True)
class Measured:
    """A check on values the probes time per streamed answer, not on traffic counts."""

    metric: str  # ttft_ms | inter_token_ms | tokens_per_s
    above: float | None = None  # the share of answers above this vs stable; None: sign test
    higher_is_better: bool = False

    @property
    def label(self) -> str:
        if self.above is not None:
            return f"probe answers with {self.metric} above {self.above:g}"
        return f"rows where the canary's {self.metric} was worse"


@dataclass(frozen=True)
class Check:
    """One sequential test. `limit` is p0 for a threshold test, None for canary vs stable.
    `measured`: fed by the probes' timed answers (Judge.observe_tally), not by traffic."""

    name: str  # e.g. "error_rate vs stable", "latency_p95_ms <= 300"
    kind: Literal["compare", "threshold"]
    event: Event
    limit: float | None = None
    measured: Measured | None = None

    @property
    def label(self) -> str:
        return self.measured.label if self.measured is not None else self.event.label


@dataclass(frozen=True)
class Tally:
    """What one look saw for one check: bad events among the counted on each version."""

    canary: float
    canary_bad: float
    stable: float = 0.0
    stable_bad: float = 0.0


class EProcess:
    """M_t = sum_k w_k prod_s LR_s(r_k), kept as log products per ratio (no overflow)."""

    def __init__(self, ratios: Sequence[float] = RATIOS) -> None:
        self.ratios = tuple(ratios)
        self.log_products = [0.0] * len(self.ratios)

    def update(self, bad: float, trials: float, share: float) -> None:
        """One look: `bad` of `trials` events fell on the watched side, whose share under the
        null is `share` (canary traffic share, or the limit p0)."""
        if trials <= 0 or not 0.0 < share < 1.0:
            return  # no events, or no other side to compare with: no evidence either way
        bad = min(max(bad, 0.0), trials)
        for k, r in enumerate(self.ratios):
            self.log_products[k] += bad * math.log(r) - trials * math.log1p((r - 1.0) * share)

    @property
    def log_value(self) -> float:
        top = max(self.log_products)
        total = sum(math.exp(v - top) for v in self.log_products)
        return top + math.log(total / len(self.log_products))

    @property
    def value(self) -> float:
        return math.exp(min(self.log_value, 700.0))


@dataclass(frozen=True)
class CheckResult:
    test: Check
    statistic: float  # the e-value M_t
    threshold: float  # m / alpha
    rejected: bool
    canary_rate: float | None  # bad events per request on the canary, over the release so far
    stable_rate: float | None

    def as_dict(self) -> dict[str, object]:
        return {"name": self.test.name, "kind": self.test.kind, "event": self.test.label,
                "limit": self.test.limit, "statistic": _finite(self.statistic),
                "threshold": self.threshold, "rejected": self.rejected,
                "canary_rate": self.canary_rate, "stable_rate": self.stable_rate}


class Judge:
    """Follows a release: `observe` each look's counts (what happened since the last look);
    `results` says which tests have rejected. Once rejected, a test stays rejected."""

    def __init__(self, tests: Iterable[Check], alpha: float) -> None:
        self.tests = tuple(tests)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self.threshold = max(len(self.tests), 1) / alpha
        self._processes = [EProcess() for _ in self.tests]
        self._totals: list[list[float]] = [[0.0, 0.0, 0.0, 0.0] for _ in self.tests]
        # a compare test's counts from looks where one version served nothing, held until a
        # look where both did, for at most HOLD looks (see _update)
        self._held = [Tally(0.0, 0.0) for _ in self.tests]
        self._held_looks = [0] * len(self.tests)
        self._rejected = [False] * len(self.tests)

    def observe(self, canary: Counts, stable: Counts) -> None:
        """One look at the traffic: every check that is not measured by the probes."""
        for i, test in enumerate(self.tests):
            if test.measured is None:
                n_c, x_c = test.event.count(canary)
                n_s, x_s = test.event.count(stable)
                self._update(i, Tally(n_c, x_c, n_s, x_s))

    def observe_tally(self, test: Check, tally: Tally) -> None:
        """One look for one check (a probe round for a measured check)."""
        self._update(self.tests.index(test), tally)

    def _update(self, i: int, tally: Tally) -> None:
        test, totals = self.tests[i], self._totals[i]
        n_c, x_c, n_s, x_s = tally.canary, tally.canary_bad, tally.stable, tally.stable_bad
        totals[0] += n_c
        totals[1] += x_c
        totals[2] += n_s
        totals[3] += x_s
        process = self._processes[i]
        if test.kind == "compare":
            # Each pod's series is scraped on its own clock, so one look may see only the
            # canary's new requests and the next only stable's: alone, such a look says
            # nothing (the share is 0 or 1), and a canary failing every request would never
            # be compared. Its counts are held and judged with the next look where both
            # versions served requests. Whether a look is held depends on request counts
            # only, never on bad events, so the merged looks keep the e-process valid.
            # Held counts older than HOLD looks are dropped (never judged): the versions are
            # compared over nearly the same seconds, and dropping data only costs power.
            held = self._held[i] if self._held_looks[i] < HOLD else Tally(0.0, 0.0)
            n_c, x_c = n_c + held.canary, x_c + held.canary_bad
            n_s, x_s = n_s + held.stable, x_s + held.stable_bad
            if n_c > 0 and n_s > 0:
                process.update(x_c, x_c + x_s, n_c / (n_c + n_s))
                self._held[i], self._held_looks[i] = Tally(0.0, 0.0), 0
            else:
                looks = self._held_looks[i] + 1 if held.canary or held.stable else 1
                self._held[i], self._held_looks[i] = Tally(n_c, x_c, n_s, x_s), looks
        else:
            assert test.limit is not None
            process.update(x_c, n_c, test.limit)
        if process.log_value >= math.log(self.threshold):
            self._rejected[i] = True

    def results(self) -> list[CheckResult]:
        out = []
        for i, test in enumerate(self.tests):
            n_c, x_c, n_s, x_s = self._totals[i]
            out.append(CheckResult(
                test, self._processes[i].value, self.threshold, self._rejected[i],
                x_c / n_c if n_c > 0 else None,
                x_s / n_s if n_s > 0 and test.kind == "compare" else None))
        return out

    def rejected(self) -> list[CheckResult]:
        return [r for r in self.results() if r.rejected]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 1e300


def _example() -> None:
    judge = Judge([Check("error_rate vs stable", "compare", Event())], alpha=0.01)
    judge.observe(Counts(1000, 25), Counts(9000, 45))
    bad = judge.results()[0]
    same = Judge([Check("error_rate vs stable", "compare", Event())], alpha=0.01)
    same.observe(Counts(1000, 7), Counts(9000, 45))
    print(f"5x worse canary: M = {bad.statistic:.3g} (bar {bad.threshold:g}), "
          f"rejected={bad.rejected}")
    print(f"identical:       M = {same.results()[0].statistic:.3g}, "
          f"rejected={same.results()[0].rejected}")


if __name__ == "__main__":
    _example()
