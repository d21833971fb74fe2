"""Online evaluation: send an eval set to a running model server and record what it answers.

Each eval-set row (JSONL or CSV: input fields plus `reference`) fills the request template:
a string that is exactly "{field}" becomes that field's value (any JSON type), other strings are
formatted with the row's fields. Without a template the row minus `reference` is the body. The
prediction is read from the response JSON at `response_field` (dotted, list indexes allowed; a
bare JSON value is the prediction itself). Requests run `concurrency` at a time; connection
errors, timeouts, 429 and 5xx are retried with backoff, `retries` times.

The results file gets one row per eval row, in eval-set order: prediction, reference,
latency_ms (of the answered attempt), error (null or why it failed), status. The first row goes
alone: when the server cannot be reached at all the gate stops with exit 3 instead of recording
a failure per row.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from modelship import console
from modelship.errors import InfraError, UsageError
from modelship.gate.readers import iter_records

MISSING = object()


@dataclass
class Settings:
    url: str
    eval_set: Path
    shown: str = ""  # the URL as printed, credentials hidden (default: url)
    request: Any = None  # template; None: the row minus reference
    response_field: str = "prediction"
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.2

    def __post_init__(self) -> None:
        self.shown = self.shown or self.url


@dataclass
class Run:
    results: Path
    rows: int
    errors: int
    seconds: float

    @property
    def throughput_rps(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class _Unreachable(Exception):
    pass


def fill(template: Any, row: dict[str, Any], where: str) -> Any:
    """The request body for one row."""
    if isinstance(template, dict):
        return {k: fill(v, row, where) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, row, where) for v in template]
    if not isinstance(template, str):
        return template
    if template.startswith("{") and template.endswith("}") and template[1:-1] in row:
        return row[template[1:-1]]
    try:
        return template.format_map(row)
    except KeyError as e:
        raise UsageError(f"{where}: the request template needs field {e}, which the row does "
                         f"not have (fields: {', '.join(row)})") from None
    except (ValueError, IndexError) as e:
        raise UsageError(f"gate.online.request: bad template '{template}': {e}") from None


def extract(answer: Any, path: str) -> Any:
    if not isinstance(answer, dict | list):
        return answer
    node = answer
    for part in path.split(".") if path else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) \
                < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


class _Client:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, body: Any) -> tuple[Any, float | None, str | None, int | None]:
        """(prediction, latency ms, error, status) after retries; _Unreachable when the server
        never answered at all."""
        s = self.settings
        problem = ""
        answered = False
        for attempt in range(s.retries + 1):
            if attempt:
                time.sleep(min(s.backoff * 2 ** (attempt - 1), 5.0))
            started = time.perf_counter()
            try:
                response = self.session().post(s.url, json=body, timeout=s.timeout)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as e:
                detail = str(e).replace(s.url, s.shown)
                raise UsageError(f"--endpoint {s.shown}: not a usable URL: {detail}") from None
            except requests.exceptions.Timeout:
                problem = f"timed out after {s.timeout:g}s"
                continue
            except requests.exceptions.ConnectionError as e:
                problem = f"connection failed: {_short(e)}"
                continue
            elapsed = (time.perf_counter() - started) * 1000
            answered = True
            status = response.status_code
            if status == 429 or status >= 500:
                problem = f"HTTP {status}: {_short_text(response.text)}"
                continue
            if status >= 400:
                return None, None, f"HTTP {status}: {_short_text(response.text)}", status
            try:
                answer = response.json()
            except ValueError:
                return None, None, "response is not JSON", status
            prediction = extract(answer, s.response_field)
            if prediction is MISSING or prediction is None:
                return None, None, f"response has no field '{s.response_field}'", status
            return prediction, elapsed, None, status
        if not answered:
            raise _Unreachable(problem)
        return None, None, f"{problem} (after {s.retries + 1} attempts)", None


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _short_text(text: str) -> str:
    return " ".join(text.split())[:200]


def _requests(settings: Settings) -> Iterator[tuple[int, Any, Any]]:
    for line, row in iter_records(settings.eval_set):
        where = f"{settings.eval_set}:{line}: line {line}"
        if "reference" not in row:
            raise UsageError(f"{where}: missing field 'reference'")
        if settings.request is None:
            body = {k: v for k, v in row.items() if k != "reference"}
        else:
            body = fill(settings.request, row, where)
        yield line, body, row["reference"]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def run(settings: Settings, results: Path) -> Run:
    if _same_file(results, settings.eval_set):  # opening it for writing would empty the eval set
        raise UsageError(f"--results must not be the eval set ({settings.eval_set}): writing "
                         "the answers there would erase it",
                         hint="pass another file, e.g. --results results.jsonl")
    client = _Client(settings)
    rows = errors = 0
    progress = console.Progress(f"sending the eval set to {settings.shown}")
    try:
        results.parent.mkdir(parents=True, exist_ok=True)
        out = results.open("w", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{results}: cannot write the results file: {e.strerror or e}") from None
    started = time.perf_counter()
    with out, ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        window: collections.deque[tuple[int, Any, Future[Any]]] = collections.deque()

        def record(line: int, reference: Any, future: Future[Any]) -> None:
            nonlocal rows, errors
            try:
                prediction, latency, error, status = future.result()
            except _Unreachable as e:
                if rows == 0:
                    raise InfraError(f"model server at {settings.shown} unreachable after "
                                     f"{settings.retries + 1} attempts: {e}",
                                     hint="start the server, or check --endpoint and "
                                          "gate.online.timeout") from None
                prediction, latency, error, status = None, None, f"unreachable: {e}", None
            rows += 1
            errors += error is not None
            out.write(json.dumps({"line": line, "prediction": prediction,
                                  "reference": reference, "latency_ms": latency,
                                  "error": error, "status": status}, ensure_ascii=False) + "\n")
            progress.tick(f"{rows:,} answered, {errors:,} errors")

        requests_ = _requests(settings)
        for line, body, reference in requests_:
            window.append((line, reference, pool.submit(client.call, body)))
            if rows == 0 and len(window) == 1:  # the first row alone: is anyone there?
                record(*window.popleft())
                continue
            while len(window) >= settings.concurrency * 4:
                record(*window.popleft())
        while window:
            record(*window.popleft())
    seconds = time.perf_counter() - started
    progress.done(f"{rows:,} rows, {errors:,} errors, {rows / seconds if seconds else 0:.1f} "
                  "rows/s")
    if rows == 0:
        raise UsageError(f"{settings.eval_set}: eval set is empty")
    return Run(results, rows, errors, seconds)
