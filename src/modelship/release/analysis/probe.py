"""Model-aware probes: the eval set (its first `probes.rows` rows) sent through the serve
contract (`modelship.serving`) to the new version and to the current one, once per step.

Per version: success (answered without error, first attempt: a retry would hide a flaky
server), latency p50/p95 of the answers, accuracy on labelled rows (a failed row counts as
wrong). Between versions: agreement, the share of rows the current version answered where the
new one gave the same prediction (compared as strings, as the gate compares labels).

Checks (any failing fails the step, and the reason names it):
- success: at least one prediction read from the new version;
- agreement >= `probes.agreement`, when the current version is reachable;
- the gate's baseline comparison (gate.judge: the same tolerance semantics, absolute or "10%")
  of the new version's accuracy, error_rate and latency_p95_ms against the current version
  measured on the same rows now; tolerances from `probes.tolerance`, else the gate's
  `gate.baseline.tolerance` entries for those metrics. Without a current version to ask,
  accuracy is compared with the gate's baseline report, when there is one.
A configured check that measured nothing (no prediction read from a version it needs) makes
the probes inconclusive, never passed; the reason names gate.online.response_field and shows
one answer when answers came back without a prediction in them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelship import console, serving
from modelship.config import Config
from modelship.errors import UsageError
from modelship.gate import judge as gate_judge
from modelship.release.analysis.base import Endpoint, Progress, StepContext
from modelship.release.analysis.canary import ProbeOutcome
from modelship.release.analysis.llm import Streams
from modelship.release.analysis.settings import PROBE_METRICS, ProbeSettings
from modelship.serving.sse import Timing


@dataclasses.dataclass(frozen=True)
class VersionProbe:
    rows: int
    answered: int
    labelled: int
    correct: int
    latency_ms: tuple[float, ...]
    predictions: tuple[str | None, ...]  # per row, None when it failed
    failure: str = ""  # the commonest failure: its cause and one answer, for the reason
    unreadable: bool = False  # every failure is an answer with no prediction in it
    timings: tuple[Timing | None, ...] = ()  # per row, streamed answers only (llm.py)
    unstreamed: int = 0  # answers read whole although streaming was asked for

    @property
    def measured(self) -> bool:
        """Whether the answers say something about the version: a prediction was read, or a
        request failed on the server's side (an error is a measurement). Answers that only
        lacked a prediction say as much about the reader (gate.online.response_field) as
        about the model: accuracy 0 and error rate 1 from those are not measured."""
        return self.rows > 0 and (self.answered > 0 or not self.unreadable)

    @property
    def metrics(self) -> dict[str, float]:
        out = {"error_rate": 1.0 - self.answered / self.rows if self.rows else 1.0}
        if self.labelled:
            out["accuracy"] = self.correct / self.labelled
        if self.latency_ms:
            out["latency_p50_ms"] = float(np.percentile(self.latency_ms, 50))
            out["latency_p95_ms"] = float(np.percentile(self.latency_ms, 95))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "success": self.answered / self.rows if self.rows else 0.0,
                "labelled": self.labelled, **self.metrics}


def agreement(new: VersionProbe, current: VersionProbe) -> float | None:
    pairs = [(a, b) for a, b in zip(new.predictions, current.predictions, strict=True)
             if b is not None]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None


class ServeProber:
    def __init__(self, settings: ProbeSettings, spec: serving.ServeSpec,
                 rows: Sequence[serving.Row], tolerances: Sequence[gate_judge.Tolerance],
                 gate_baseline: dict[str, float] | None = None, *,
                 stream: bool = False) -> None:
        self.settings = settings
        # stream: a check times the tokens (llm.py), so OpenAI presets are asked for SSE, one
        # request at a time: a time to first token is then the model's, not the wait behind
        # our own probes (and llama-cpp-python does not cut a stream for the next request)
        self.spec = dataclasses.replace(spec, retries=0, stream=stream,
                                        concurrency=1 if stream else spec.concurrency)
        self.rows = list(rows)
        self.tolerances = list(tolerances)
        self.gate_baseline = gate_baseline or {}

    @classmethod
    def from_config(cls, settings: ProbeSettings, cfg: Config, *,
                    stream: bool = False) -> ServeProber:
        """Reads the eval set and the tolerances now: a mistake is exit 2 before any step."""
        spec = serving.ServeSpec.from_config(cfg)
        rows = serving.load_rows(settings.eval_set, settings.rows)
        if not rows:
            raise UsageError(f"{settings.eval_set}: the probes' eval set has no rows")
        if settings.tolerance is not None:
            tolerances = list(settings.tolerance)
        else:
            tolerances = [t for t in gate_judge.tolerances_from_config(cfg) or []
                          if t.metric in PROBE_METRICS]
        baseline = None
        if cfg.has("gate.baseline.report"):
            path = cfg.get_path("gate.baseline.report")
            if path.is_file():
                baseline = gate_judge.load_baseline(path, None).metrics
        return cls(settings, spec, rows, tolerances, baseline, stream=stream)

    def probe(self, step: StepContext, progress: Progress) -> ProbeOutcome:
        if step.canary is None:  # configured but nothing to ask: never a pass
            return ProbeOutcome("inconclusive", "probes: no endpoint for the new version",
                                {"rows": 0})
        # a version that cannot be reached at all raises InfraError (the step's verdict is
        # then "error", exit 3): the cluster failed, not the model
        progress(f"{step.step}: probing {len(self.rows)} eval rows on the new version")
        new = self._ask(step.canary)
        current = None
        if step.stable is not None:
            progress(f"{step.step}: probing the same rows on the current version")
            current = self._ask(step.stable)
        return self.outcome(new, current)

    def outcome(self, new: VersionProbe, current: VersionProbe | None) -> ProbeOutcome:
        """judge(), with each version's timed answers when the probes stream (llm.py feeds
        them to the release's judge)."""
        outcome = self.judge(new, current)
        if not self.spec.stream:
            return outcome
        why = "; ".join(f"{who}: {p.unstreamed} of {p.rows} answers had no streamed text "
                        "(does the server support \"stream\": true?)"
                        for who, p in (("new version", new), ("current version", current))
                        if p is not None and p.unstreamed)
        streams = Streams(new.timings, None if current is None else current.timings, why)
        return dataclasses.replace(outcome, streams=streams)

    def _ask(self, endpoint: Endpoint) -> VersionProbe:
        with serving.Client(self.spec, sessions=endpoint.sessions) as client:
            run = serving.run(self.rows, endpoint.url(self.spec.predict), self.spec,
                              client=client)
        predictions: list[str | None] = []
        latencies: list[float] = []
        timings: list[Timing | None] = []
        labelled = correct = 0
        for result in run.results:
            answer = result.answer
            prediction = None if not answer.ok else str(answer.prediction)
            predictions.append(prediction)
            timings.append(answer.timing if answer.ok else None)
            if answer.ok and answer.latency_ms is not None:
                latencies.append(answer.latency_ms)
            if result.row.has_reference:
                labelled += 1
                correct += prediction is not None and prediction == str(result.row.reference)
        commonest = run.failures.commonest()
        failure = "" if commonest is None else _failure_text(commonest.example)
        unreadable = bool(run.failures.total) and all(
            group.kind in UNREADABLE for group in run.failures.groups())
        answered = sum(p is not None for p in predictions)
        return VersionProbe(len(run.results), answered, labelled, correct, tuple(latencies),
                            tuple(predictions), failure, unreadable, tuple(timings),
                            answered - sum(t is not None for t in timings))

    def judge(self, new: VersionProbe, current: VersionProbe | None) -> ProbeOutcome:
        """passed, failed, or inconclusive when a configured check measured nothing. The new
        version's answers count (failures as wrong answers) when a prediction was read from
        it, or from the current version given the same rows: then a missing prediction is
        the new version's fault. Checks with nothing to compare with (no current version, a
        metric the gate baseline lacks) are skipped and listed."""
        evidence: dict[str, Any] = {
            "rows": new.rows, "canary": new.as_dict(),
            "stable": None if current is None else current.as_dict(),
            "agreement": None, "checks": [], "unmeasured": [], "skipped": []}
        if not new.measured and (current is None or not current.answered):
            who = "the new version's" if current is None else "either version's"
            reason = f"probes measured nothing: no prediction read from {who} answers"
            evidence["unmeasured"] = ["success"]
            return ProbeOutcome("inconclusive", reason + self._why(new), evidence)
        checks: list[dict[str, Any]] = [
            {"name": "success", "value": new.answered / max(new.rows, 1), "op": ">",
             "threshold": 0.0, "passed": new.answered > 0, "kind": "success"}]
        unmeasured: list[str] = []
        skipped: list[str] = []
        agreed = agreement(new, current) if current is not None else None
        want = self.settings.agreement
        if want is not None:
            if current is None:
                skipped.append("agreement (no current version to compare with)")
            elif agreed is None:
                unmeasured.append("agreement (no prediction read from the current version"
                                  f"{self._why(current)})")
            else:
                op = ">" if self.settings.agreement_strict else ">="
                checks.append({"name": "agreement", "value": agreed, "op": op,
                               "threshold": want, "passed": gate_judge.compare(agreed, op, want),
                               "kind": "agreement"})
        compared = self._tolerances(current, unmeasured, skipped)
        reference = current.metrics if current is not None else self.gate_baseline
        if compared:
            baseline = gate_judge.Baseline(Path("current version"), reference, compared)
            checks += [c.as_dict() for c in gate_judge.judge(new.metrics, {}, baseline, {})]
        evidence.update(agreement=agreed, checks=checks, unmeasured=unmeasured, skipped=skipped)
        against = "current version" if current is not None else "gate baseline"
        failed = [c for c in checks if not c["passed"]]
        if failed:  # a measured failure decides, whatever else was not measured
            reason = "; ".join(_describe(c, against) for c in failed)
            if new.answered < new.rows:  # failures count as wrong answers: say so
                reason += f" ({new.rows - new.answered} of {new.rows} requests failed)"
            return ProbeOutcome("failed", reason, evidence)
        if unmeasured:
            return ProbeOutcome("inconclusive", "probes: not measured: " + "; ".join(unmeasured),
                                evidence)
        shown = [f"agreement {agreed:.1%}"] if agreed is not None else []
        if "accuracy" in new.metrics:
            shown.append(f"accuracy {new.metrics['accuracy']:.1%}")
        shown.append(f"{new.answered}/{new.rows} answered")
        return ProbeOutcome("passed", ", ".join(shown), evidence)

    def _tolerances(self, current: VersionProbe | None, unmeasured: list[str],
                    skipped: list[str]) -> list[gate_judge.Tolerance]:
        """The tolerances that can be compared now; the others go to `unmeasured` (the
        current version gave no value) or `skipped` (nothing to compare with)."""
        out = []
        for tolerance in self.tolerances:
            name = tolerance.metric
            if current is None:
                if name in self.gate_baseline:
                    out.append(tolerance)
                else:
                    skipped.append(f"{name} (no current version, no gate baseline value)")
            elif name in current.metrics and current.answered:
                out.append(tolerance)
            else:
                unmeasured.append(f"{name} (no value from the current version"
                                  f"{self._why(current)})")
        return out

    def _why(self, probe: VersionProbe) -> str:
        if not probe.failure:
            return ""
        text = f": {probe.failure}"
        if probe.unreadable:
            text += (f"; gate.online.response_field is '{self.spec.response_field}': is that "
                     "where the answers hold the prediction?")
        return text


UNREADABLE = ("missing-field", "not-json")  # answered, but no prediction could be read


def _failure_text(failure: serving.Failure) -> str:
    shown = console.redact(failure.body)  # at most 200 characters, secrets masked
    return f"{failure.cause}" + (f", answer {shown}" if shown else "")


def _describe(check: dict[str, Any], against: str) -> str:
    value = check["value"]
    shown = "not measured" if value is None else f"{value:.4g}"
    text = f"{check['name']} {shown}, expected {check['op']} {check['threshold']:.4g}"
    if check["kind"] == "baseline":
        text += f" ({against} {check['baseline']:.4g}, tolerance {check['tolerance']})"
    return text
