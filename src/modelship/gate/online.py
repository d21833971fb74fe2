"""Online evaluation: send the eval set to a running model server through the serve contract
(`modelship.serving`) and write what it answered as a results file the gate judges like any other.

The endpoint is the server's base URL: serve.predict is appended (`http://host:8080` ->
`http://host:8080/predict`); a URL with a path of its own is used as given. Every eval row needs
a `reference`. The results file gets one row per eval row, in eval-set order: line, prediction,
reference, latency_ms (of the answered attempt), error (null or why it failed), status, cause.
When the first request cannot reach the server at all the gate stops with exit 3 (serving.stream);
failed requests after that are counted, grouped by cause, and judged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from modelship import serving
from modelship.errors import UsageError


@dataclass(frozen=True)
class OnlineSettings:
    """What `gate --endpoint` needs: the server's base URL as given, the eval set, and the
    serve contract's settings (serve.*, gate.online.*, --concurrency)."""

    endpoint: str
    eval_set: Path
    serve: serving.ServeSpec

    @property
    def url(self) -> str:
        """Where the requests go (ValueError for an endpoint that is not an http(s) URL)."""
        return serving.predict_url(self.endpoint, self.serve.predict)

    def with_concurrency(self, concurrency: int) -> OnlineSettings:
        return replace(self, serve=replace(self.serve, concurrency=concurrency))


@dataclass(frozen=True)
class OnlineRun:
    settings: OnlineSettings
    results: Path
    url: str  # where the requests went, as shown (no password)
    rows: int
    errors: int
    seconds: float
    failures: serving.Failures

    @property
    def throughput_rps(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def all_failed(self) -> bool:
        return self.rows > 0 and self.errors == self.rows


def failure_line(run: OnlineRun) -> str:
    """One line for a run where every request failed: the count, the commonest cause, and how
    the URL was made (`200/200 requests failed: HTTP 404 from http://host:8080/predict —
    serve.predict is /predict`)."""
    settings = run.settings
    commonest = run.failures.commonest()
    others = len(run.failures.groups()) - 1
    more = f" ({others} other cause{'s' if others > 1 else ''} in the report)" if others > 0 else ""
    if settings.serve.protocol != "custom" and commonest is not None:
        cause = _protocol_cause(settings, commonest)
        return f"{run.errors}/{run.rows} requests failed: {cause}{more}"
    cause = commonest.cause if commonest else "no prediction"
    how = (f"serve.predict is {settings.serve.predict}"
           if serving.uses_predict_path(settings.endpoint)
           else f"--endpoint has a path, used as given (serve.predict {settings.serve.predict} "
                "is appended only to a base URL)")
    if commonest is not None and commonest.kind == "missing-field":  # answered, nothing read
        how = f"gate.online.response_field is '{settings.serve.response_field}'"
    return f"{run.errors}/{run.rows} requests failed: {cause} — {how}{more}"


def _protocol_cause(settings: OnlineSettings, group: serving.FailureGroup) -> str:
    """A runtime named by serve.protocol that answered otherwise (e.g. a V2 server configured
    as openai-chat): the protocol, the path tried, the server's answer and what was expected."""
    spec, example = settings.serve, group.example
    if example.kind == "http":
        answer = f"answered HTTP {example.status}: {example.body or '(empty body)'}"
    elif example.kind == "not-json":
        answer = f"answered something that is not JSON: {example.body or '(empty body)'}"
    elif example.kind == "missing-field":
        answer = (f"answered without '{spec.response_field}': {example.body}")
    else:
        answer = f"did not answer ({example.detail})"
    hint = ""
    if example.status == 404 and spec.preset.needs_model:
        hint = (f" (is serve.model '{spec.model}' a model the server serves? `modelship doctor "
                "--endpoint URL` lists them)")
    return (f"serve.protocol {spec.protocol}: POST {example.url} {answer} — "
            f"{spec.preset.expects()}{hint}")


def _labelled(rows: Iterable[serving.Row]) -> Iterator[serving.Row]:
    for row in rows:
        if not row.has_reference:
            raise UsageError(f"{row.where}: missing field 'reference'")
        yield row


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def run(settings: OnlineSettings, results: Path) -> OnlineRun:
    if _same_file(results, settings.eval_set):  # opening it for writing would empty the eval set
        raise UsageError(f"--results must not be the eval set ({settings.eval_set}): writing "
                         "the answers there would erase it",
                         hint="pass another file, e.g. --results results.jsonl")
    try:
        results.parent.mkdir(parents=True, exist_ok=True)
        out = results.open("w", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{results}: cannot write the results file: {e.strerror or e}") from None

    def write(result: serving.Result) -> None:
        answer, failure = result.answer, result.failure
        out.write(json.dumps({
            "line": result.row.line, "prediction": answer.prediction,
            "reference": result.row.reference, "latency_ms": answer.latency_ms,
            "error": str(failure) if failure else None, "status": answer.status,
            "cause": failure.cause if failure else None}, ensure_ascii=False) + "\n")

    with out:
        done = serving.run(_labelled(serving.iter_rows(settings.eval_set)), settings.endpoint,
                           settings.serve, on_result=write, keep_results=False)
    if done.rows == 0:
        raise UsageError(f"{settings.eval_set}: eval set is empty")
    return OnlineRun(settings, results, done.url, done.rows, done.failures.total, done.seconds,
                     done.failures)
