"""What a provider hands the judge: request, error and latency-bucket counts of one track.

Counts are cumulative from the start of a step; the judge works on what happened between two
looks (`since`). Latency comes as a Prometheus histogram: cumulative bucket counts keyed by the
upper bound `le` in seconds (`inf` is every timed request). A request is "slow" above a bound
when it fell outside the smallest bucket that covers the bound: with buckets at 0.25 and 0.5,
"slower than 0.3 s" counts the requests above 0.5 s, never more than really were slower, so a
bound between buckets can only make the judge more lenient, not abort on rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Counts:
    """One track's counts. `requests` None means the provider had no data (not zero)."""

    requests: float | None
    errors: float = 0.0
    buckets: Mapping[float, float] = field(default_factory=dict)  # le seconds -> cumulative

    @property
    def has_data(self) -> bool:
        return self.requests is not None and math.isfinite(self.requests)

    @property
    def timed(self) -> float:
        """Requests in the latency histogram (its +Inf bucket)."""
        return self.buckets.get(math.inf, 0.0)

    def since(self, earlier: Counts | None) -> Counts:
        """What happened after `earlier` (a counter never goes down; noise is clamped at 0)."""
        if earlier is None or not earlier.has_data:
            return self
        if not self.has_data:
            return Counts(None)
        return Counts(
            max(_n(self.requests) - _n(earlier.requests), 0.0),
            max(self.errors - earlier.errors, 0.0),
            {le: max(n - earlier.buckets.get(le, 0.0), 0.0) for le, n in self.buckets.items()})

    def at_least(self, earlier: Counts | None) -> Counts:
        """These counts, never below `earlier` (field by field). A step's counts are sums over
        the pods' series: when a pod stops, its series leaves the sum and the total drops.
        Following the highest total seen, the requests after such a drop are counted once
        they pass it, never twice."""
        if earlier is None or not earlier.has_data or not self.has_data:
            return self if self.has_data else (earlier or self)
        les = set(self.buckets) | set(earlier.buckets)
        return Counts(max(_n(self.requests), _n(earlier.requests)),
                      max(self.errors, earlier.errors),
                      {le: max(self.buckets.get(le, 0.0), earlier.buckets.get(le, 0.0))
                       for le in les})

    def plus(self, other: Counts) -> Counts:
        if not other.has_data:
            return self
        if not self.has_data:
            return other
        les = set(self.buckets) | set(other.buckets)
        return Counts(_n(self.requests) + _n(other.requests), self.errors + other.errors,
                      {le: self.buckets.get(le, 0.0) + other.buckets.get(le, 0.0)
                       for le in les})


def _n(value: float | None) -> float:
    return 0.0 if value is None else value


def bucket_for(bound_seconds: float, buckets: Mapping[float, float]) -> float | None:
    """The smallest bucket bound >= `bound_seconds`, None when no finite bucket covers it."""
    covering = [le for le in buckets if le >= bound_seconds and math.isfinite(le)]
    return min(covering) if covering else None


def slow(counts: Counts, bound_seconds: float) -> tuple[float, float]:
    """(timed requests, requests slower than the bound) for a latency test."""
    le = bucket_for(bound_seconds, counts.buckets)
    total = counts.timed
    if le is None:
        return total, 0.0
    return total, max(total - counts.buckets.get(le, 0.0), 0.0)


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile in seconds from cumulative buckets, interpolated linearly inside the
    bucket as Prometheus' histogram_quantile does; None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets.get(math.inf, 0.0) <= 0:
        return None
    rank = q * buckets[math.inf]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower  # beyond the last finite bucket: its bound, as Prometheus does
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = le, count
    return lower
