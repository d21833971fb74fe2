"""The values each gate metric can take (DESIGN.md, "Gate contract"), and thresholds that
cannot work within them.

A threshold outside its metric's range (`accuracy: ">= 1.5"`, `latency_p95_ms: "<= -1"`) is a
mistake, refused with the range; one inside it that no value can fail or pass
(`accuracy: ">= 0"`, `accuracy: "> 1"`) is legal but judges nothing, so it gets a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from modelship.gate import metrics as m

if TYPE_CHECKING:
    from modelship.gate.judge import Threshold

# sacrebleu scores BLEU and chrF in 0-100; rouge-score's F-measure, exact match and the
# scikit-learn scores are fractions; latency and throughput have no upper bound
PERCENT = ("bleu", "chrf")
UNBOUNDED = (*m.LATENCY, "throughput_rps")


def metric_range(name: str) -> tuple[float, float]:
    if name in PERCENT:
        return 0.0, 100.0
    if name in UNBOUNDED:
        return 0.0, math.inf
    return 0.0, 1.0


def shown(name: str) -> str:
    lo, hi = metric_range(name)
    return f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"at least {lo:g}"


def check(threshold: Threshold, error: Callable[[str, str | None], Exception]) -> str | None:
    """Raise `error` for a threshold outside the metric's range; a warning text for one that
    can never fail or never pass; None for a threshold that can go either way."""
    name, op, value = threshold.metric, threshold.op, threshold.value
    lo, hi = metric_range(name)
    if not lo <= value <= hi:
        hint = None
        if hi == 1.0 and 1.0 < value <= 100.0:
            hint = f"{name} is a fraction: for {value:g}% write {value / 100:g}"
        raise error(f"{name} is {shown(name)}; a threshold of {value:g} is outside that "
                    f"range, so the check could never work as meant", hint)
    never_fails = (op == ">=" and value <= lo) or (op == "<=" and value >= hi)
    never_passes = (op == ">" and value >= hi) or (op == "<" and value <= lo)
    if never_fails:
        return (f"{name} {op} {value:g} can never fail ({name} is {shown(name)}): "
                "the check judges nothing")
    if never_passes:
        return (f"{name} {op} {value:g} can never pass ({name} is {shown(name)}): "
                "every model will be rejected")
    return None
