"""LLM latency checks measured by the probes: time to first token, mean inter-token time and
tokens per second of streamed answers (serving/sse.py), canary vs stable, in the release's one
sequential judge (judge.py explains the maths).

```yaml
deploy:
  analysis:
    compare: {ttft_ms: {above: 100}, inter_token_ms: stable, tokens_per_s: stable}
```
- `{above: MS}` (ttft_ms, inter_token_ms): the share of probe answers above MS on each
  version, judged as `latency_ms: {above: MS}` is on traffic;
- `stable`: a paired sign test on the rows both versions answered: is the canary worse (slower
  first token, slower tokens, fewer tokens per second, by more than 10%) on more rows than
  chance allows? Rows within 10% are ties.

Each probe round feeds every such check once. A check that got no timed values (the server
did not stream, every request failed, no version to compare with answered) is not measured:
the round is inconclusive, never passed, and the reason names the check and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelship.release.analysis.judge import Check, Event, Judge, Measured, Tally
from modelship.serving.sse import Timing

if TYPE_CHECKING:  # canary.py calls observe()
    from modelship.release.analysis.canary import ProbeOutcome

# name -> (higher is better, {above: X} allowed, unit shown in check names)
METRICS: Mapping[str, tuple[bool, bool, str]] = {
    "ttft_ms": (False, True, "ms"),
    "inter_token_ms": (False, True, "ms"),
    "tokens_per_s": (True, False, "tokens/s"),
}
PROTOCOLS = ("openai-chat", "openai-completions")  # the presets whose probes stream
TIE = 0.10  # paired rows within 10% of each other are ties, neither worse nor better

Timings = Sequence[Timing | None]  # per eval row, None: no timed answer


def parse(name: str, value: Any) -> Check:
    """The check for `compare.<name>`; ValueError with what was expected."""
    higher, above_allowed, unit = METRICS[name]
    if value == "stable":
        return Check(f"{name} vs stable", "compare", Event(),
                     measured=Measured(name, None, higher))
    above = value.get("above") if isinstance(value, Mapping) else None
    if not above_allowed or not isinstance(value, Mapping) or set(value) != {"above"} \
            or isinstance(above, bool) or not isinstance(above, int | float) or above <= 0:
        want = "'stable' (a paired test on the probes' rows) or {above: X} with X > 0" \
            if above_allowed else "'stable' (a paired test on the probes' rows)"
        raise ValueError(f"expected {want}, got {value!r}")
    return Check(f"{name} > {above:g} {unit} vs stable", "compare", Event(),
                 measured=Measured(name, float(above), higher))


def value(timing: Timing | None, metric: str) -> float | None:
    if timing is None:
        return None
    if metric == "ttft_ms":
        return timing.ttft_ms
    return timing.inter_token_ms if metric == "inter_token_ms" else timing.tokens_per_s


def tally(measured: Measured, canary: Timings, stable: Timings) -> Tally | str:
    """One round's tally for a check, or why it has none."""
    new = [value(t, measured.metric) for t in canary]
    old = [value(t, measured.metric) for t in stable]
    if not any(v is not None for v in new):
        return "no timed answer from the new version"
    if not any(v is not None for v in old):
        return "no timed answer from the current version"
    if measured.above is not None:
        bound = measured.above
        c = [v for v in new if v is not None]
        s = [v for v in old if v is not None]
        return Tally(len(c), sum(v > bound for v in c), len(s), sum(v > bound for v in s))
    pairs = [(a, b) for a, b in zip(new, old, strict=False) if a is not None and b is not None]
    if not pairs:
        return "no row timed on both versions"
    sign = -1.0 if measured.higher_is_better else 1.0  # worse: larger, or smaller tokens/s
    # a row counts only when one version is more than TIE worse than the other: the versions
    # are asked one after the other, and a small steady difference of order (warm caches, the
    # first connection) must not read as a regression; the test stays symmetric, so valid
    worse = sum(sign * (a - b) > TIE * abs(b) for a, b in pairs)
    better = sum(sign * (b - a) > TIE * abs(a) for a, b in pairs)
    return Tally(len(pairs), worse, len(pairs), better)


@dataclass(frozen=True)
class Streams:
    """Each version's timed answers per eval row, in row order (stable None: no current
    version to ask); `why` says why answers may lack a timing (e.g. not streamed)."""

    canary: tuple[Timing | None, ...]
    stable: tuple[Timing | None, ...] | None
    why: str = ""


def observe(judge: Judge, outcome: ProbeOutcome) -> ProbeOutcome:
    """Feed one probe round's timed answers (`outcome.streams`) to the judge's measured
    checks; the outcome with the LLM evidence, made inconclusive when a check got no values
    (a failed probe stays failed: a measured failure decides)."""
    checks = [t for t in judge.tests if t.measured is not None]
    if not checks:
        return outcome
    streams = outcome.streams
    fed: list[str] = []
    unmeasured: list[str] = []
    skipped: list[str] = []
    for check in checks:
        assert check.measured is not None
        if streams is None:
            unmeasured.append(f"{check.name} (no timed answers from the probes)")
            continue
        if streams.stable is None:
            skipped.append(f"{check.name} (no current version to compare with)")
            continue
        got = tally(check.measured, streams.canary, streams.stable)
        if isinstance(got, str):
            unmeasured.append(f"{check.name} ({got}{'; ' + streams.why if streams.why else ''})")
            continue
        judge.observe_tally(check, got)
        fed.append(check.name)
    evidence = {**outcome.evidence, "llm": {
        "canary": stats(streams.canary) if streams else None,
        "stable": stats(streams.stable) if streams and streams.stable is not None else None,
        "fed": fed, "unmeasured": unmeasured, "skipped": skipped}}
    if unmeasured and outcome.verdict == "passed":
        return dataclasses.replace(outcome, verdict="inconclusive", evidence=evidence,
                                   reason="probes: not measured: " + "; ".join(unmeasured))
    if unmeasured and outcome.verdict == "inconclusive":
        return dataclasses.replace(outcome, evidence=evidence, reason=(
            f"{outcome.reason}; not measured: {'; '.join(unmeasured)}"))
    return dataclasses.replace(outcome, evidence=evidence)


def progress_line(outcome: ProbeOutcome) -> str | None:
    """One line for the log after a probe round that timed answers."""
    timed = outcome.evidence.get("llm")
    if not timed or not timed.get("canary"):
        return None

    def shown(stats: Mapping[str, Any] | None) -> str:
        if not stats or not stats.get("streamed"):
            return "-"
        return (f"TTFT p50/p95 {_n(stats['ttft_p50_ms'])}/{_n(stats['ttft_p95_ms'])} ms, "
                f"{_n(stats['tokens_per_s_p50'])} tokens/s")

    return f"timed answers: canary {shown(timed['canary'])}; stable {shown(timed['stable'])}"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def stats(timings: Timings) -> dict[str, Any]:
    """Per version: how many answers were timed, TTFT p50/p95, median tokens/s and
    inter-token ms (None without values)."""
    ttft = [t.ttft_ms for t in timings if t is not None]
    rates = [v for t in timings if t is not None and (v := t.tokens_per_s) is not None]
    gaps = [v for t in timings if t is not None and (v := t.inter_token_ms) is not None]
    return {"streamed": len(ttft), "ttft_p50_ms": _pct(ttft, 50), "ttft_p95_ms": _pct(ttft, 95),
            "tokens_per_s_p50": _pct(rates, 50), "inter_token_p50_ms": _pct(gaps, 50)}


def _pct(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None
