"""The serve contract: everything that talks to a model server (DESIGN.md, "Serve contract").

    eval-set rows -> request bodies (one template, `fill`) -> POST base URL + serve.predict
    -> prediction (at `response_field`) or a classified Failure -> failures grouped by cause

The online gate (`gate/online.py`), the build's smoke test (`image/smoke.py`) and the release
analysis probes all go through this module, so a request that works in one works in all.

The API, smallest first:
- `ServeSpec.from_config(cfg)`: `serve.*` and `gate.online.*` as one frozen value.
- `iter_rows(path)` / `load_rows(path, limit)`: eval-set rows (JSONL or CSV) with line numbers.
- `request_body(spec, row)`: the body for a row: `fill(spec.request, row)`, or without a
  template the row minus `reference`.
- `predict_url(base_url, spec.predict)`: a base URL (`http://host:8080`, also with a trailing
  `/`) gets serve.predict appended; a URL with a path is used as given.
- `Client(spec).predict(url, body) -> Answer`: prediction and latency, or a Failure (kind
  connection | timeout | http | not-json | missing-field), after retries with backoff.
- `stream(rows, url, spec) -> Iterator[Result]`: `spec.concurrency` requests in flight, results
  in row order. The first row goes alone: a server that cannot be reached at all is an
  InfraError (exit 3), not one failure per row.
- `run(rows, base_url, spec) -> Run`: every Result plus `Failures` grouped by cause.

Library code: bad input raises UsageError, an unreachable server InfraError; a request that
fails is data (a Failure), judged by the caller.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelship import console, ghactions, records
from modelship.errors import InfraError, UsageError, first_line

if TYPE_CHECKING:
    import requests

    from modelship.config import Config

# A JSON value as the request template, a row's fields and an answer hold it. `Any` on purpose:
# bodies and answers are whatever the model server defines.
JSON = Any

BODY_CHARS = 200  # of a failed response's body, kept as the example of its cause
MAX_BACKOFF = 5.0
REFERENCE = "reference"

FailureKind = Literal["connection", "timeout", "http", "not-json", "missing-field"]


# -- settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServeSpec:
    """How to talk to the model server: `serve.*` (where) and `gate.online.*` (what to send,
    where the answer is, how hard to try)."""

    predict: str = "/predict"
    health: str = "/healthz"
    metrics: str | None = "/metrics"  # None: the server has no metrics endpoint
    port: int = 8080
    request: JSON = None  # body template; None: the row minus `reference`
    response_field: str = "prediction"  # dotted path in the answer; "": the whole answer
    timeout: float = 30.0  # seconds per attempt
    retries: int = 2  # extra attempts after a connection error, timeout, 429 or 5xx
    backoff: float = 0.2  # seconds before the first retry, doubling each time (at most 5 s)
    concurrency: int = 8

    @classmethod
    def from_config(cls, cfg: Config) -> ServeSpec:
        """Read and check every key now, so a mistake names its key before any request."""
        request = cfg.raw("gate.online.request", None)
        if isinstance(request, str):
            with contextlib.suppress(ValueError):  # else a plain string template is the body
                request = json.loads(request)
        timeout = cfg.get_duration("gate.online.timeout", 30.0)
        if timeout <= 0:
            raise cfg.error("gate.online.timeout", "expected a duration greater than 0 such as "
                            f"30s, got '{cfg.raw('gate.online.timeout')}'")
        metrics = cfg.get_str("serve.metrics", "/metrics")
        return cls(
            predict=config_path(cfg, "serve.predict", "/predict"),
            health=config_path(cfg, "serve.health", "/healthz"),
            metrics=config_path(cfg, "serve.metrics", "/metrics") if metrics.strip() else None,
            port=cfg.get_int("serve.port", 8080, minimum=1, maximum=65535),
            request=request,
            response_field=cfg.get_str("gate.online.response_field", "prediction"),
            timeout=timeout,
            retries=cfg.get_int("gate.online.retries", 2, minimum=0, maximum=10),
            concurrency=cfg.get_int("gate.online.concurrency", 8, minimum=1))


def serve_path(value: str) -> str:
    """An HTTP path as serve.health / serve.predict / serve.metrics give it, with the leading
    `/` added when it is left out (`healthz` -> `/healthz`). ValueError for something that is
    not a path: empty, a full URL, or characters that cannot go in a URL unescaped."""
    path = value.strip()
    if not path:
        raise ValueError("is empty; expected a path such as /healthz")
    if "://" in path:
        raise ValueError(f"'{path}' is a URL; expected only its path, such as /healthz")
    if any(c.isspace() or c in "'\"\\<>`{}|^" or ord(c) < 32 for c in path):
        raise ValueError(f"'{path}' is not a URL path (spaces, quotes and the like must be "
                         "percent-encoded)")
    return path if path.startswith("/") else "/" + path


def config_path(cfg: Config, key: str, default: str) -> str:
    """serve.health / serve.predict / serve.metrics from the config, checked (error names the
    key)."""
    try:
        return serve_path(cfg.get_str(key, default))
    except ValueError as e:
        raise cfg.error(key, str(e)) from None


# -- URLs ----------------------------------------------------------------------------------
def predict_url(base_url: str, predict: str) -> str:
    """Where predictions are POSTed: `http://host:8080` (or `http://host:8080/`) + serve.predict;
    a URL with a path of its own (`http://host:8080/v2/classify`) is used as given.
    ValueError when `base_url` is not an http(s) URL."""
    url = base_url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise ValueError(f"not a usable URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL such as http://host:8080")
    if parts.path not in ("", "/"):
        return url
    return urllib.parse.urlunsplit(parts._replace(path=serve_path(predict)))


def uses_predict_path(base_url: str) -> bool:
    """Whether serve.predict is appended to this URL (it has no path of its own)."""
    return urllib.parse.urlsplit(base_url.strip()).path in ("", "/")


def _userinfo(url: str) -> tuple[str | None, str | None]:
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.username, parts.password
    except ValueError:  # a malformed URL: its use says what is wrong with it
        return None, None


def mask_url(url: str) -> None:
    """Hide the password in a URL's userinfo from every line printed from now on, as written
    and as sent (percent-decoded)."""
    _, password = _userinfo(url)
    if password:
        ghactions.mask(password)
        decoded = urllib.parse.unquote(password)
        if decoded != password:
            ghactions.mask(decoded)


def shown_url(url: str) -> str:
    """A URL as printed and stored: http://user:***@host/x, never the password."""
    user, password = _userinfo(url)
    if user is None and password is None:
        return url
    parts = urllib.parse.urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    # user:password keeps the user; a lone userinfo is often a token, so it goes entirely
    shown = f"{userinfo.split(':', 1)[0]}:***" if password is not None else "***"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


# -- rows and bodies -----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One eval-set row: its fields (input fields, optionally `reference`) and where it is."""

    line: int
    fields: Mapping[str, JSON]
    source: Path

    @property
    def where(self) -> str:
        return records.where(self.source, self.line)

    @property
    def has_reference(self) -> bool:
        return REFERENCE in self.fields

    @property
    def reference(self) -> JSON:
        return self.fields.get(REFERENCE)


def iter_rows(path: Path) -> Generator[Row, None, None]:
    """The rows of an eval set (JSONL, or CSV with a header), UTF-8 with or without a BOM, read
    lazily. CSV cells are strings; a short row's missing cells are None."""
    if not path.is_file():
        raise UsageError(f"{path}: eval set does not exist" if not path.exists()
                         else f"{path}: is not a file; expected an eval set")
    csv = path.suffix.lower() == ".csv"
    try:
        with path.open(encoding="utf-8-sig", newline="" if csv else None) as fh:
            if csv:
                header: list[str] | None = None
                for line, record in records.csv_records(fh, path):
                    if not any(cell.strip() for cell in record):  # blank line
                        continue
                    if header is None:
                        header = [cell.strip() for cell in record]
                        continue
                    # like csv.DictReader: missing cells are None, surplus cells are dropped
                    padded: list[str | None] = [*record, *[None] * (len(header) - len(record))]
                    yield Row(line, dict(zip(header, padded, strict=False)), path)
            else:
                for line, text in enumerate(fh, start=1):
                    if text.strip():
                        yield Row(line, records.json_object(text, path, line, "input fields"),
                                  path)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read eval set: {e.strerror or e}") from None


def load_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The first `limit` rows (all without one); the file is read no further than needed."""
    rows = iter_rows(path)
    try:
        out: list[Row] = []
        for row in rows:
            if limit is not None and len(out) >= limit:
                break
            out.append(row)
        return out
    finally:
        rows.close()


def fill(template: JSON, row: Mapping[str, JSON], where: str = "") -> JSON:
    """The request body from a template and a row's fields: a string that is exactly "{field}"
    becomes that field's value (any JSON type); other strings are formatted with the fields
    ("Classify: {text}"); dicts and lists are filled item by item; other values stay. A field
    the template names but the row lacks is bad input (UsageError naming `where`)."""
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
        prefix = f"{where}: " if where else ""
        raise UsageError(f"{prefix}the request template (gate.online.request) needs field {e}, "
                         f"which the row does not have (fields: {', '.join(row)})") from None
    except (ValueError, IndexError) as e:
        raise UsageError(f"gate.online.request: bad template '{template}': {e}",
                         hint="a literal { or } in a template is written {{ or }}") from None


def request_body(spec: ServeSpec, row: Row) -> JSON:
    """What is POSTed for a row: the template filled, or the row minus `reference`."""
    if spec.request is None:
        return {k: v for k, v in row.fields.items() if k != REFERENCE}
    return fill(spec.request, row.fields, row.where)


MISSING = object()  # extract(): the answer has no such field


def extract(answer: JSON, path: str) -> JSON:
    """The prediction inside an answer: `path` is dotted, list indexes allowed (`outputs.0.label`,
    `-1` for the last); an empty path, or an answer that is a bare JSON value, is the prediction
    itself. MISSING when the path leads nowhere."""
    if not isinstance(answer, dict | list):
        return answer
    node = answer
    for part in path.split(".") if path else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (isinstance(node, list) and part.lstrip("-").isdigit()
              and -len(node) <= int(part) < len(node)):
            node = node[int(part)]
        else:
            return MISSING
    return node


# -- one request ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """Why a request got no prediction. `url` is as shown (no password); `body` is the first
    200 characters of the answer's body, whitespace folded."""

    kind: FailureKind
    url: str
    status: int | None = None
    body: str = ""
    detail: str = ""
    attempts: int = 1

    @property
    def cause(self) -> str:
        """What failures are grouped by: one line naming the kind, the status and the URL."""
        if self.kind == "http":
            return f"HTTP {self.status} from {self.url}"
        if self.kind == "timeout":
            return f"timed out: {self.url}"
        if self.kind == "connection":
            return f"connection failed: {self.url}"
        if self.kind == "not-json":
            return f"answer is not JSON: {self.url}"
        return f"answer has no {self.detail}: {self.url}"

    def __str__(self) -> str:
        more = self.body if self.kind in ("http", "not-json", "missing-field") else self.detail
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        if self.kind == "http":  # kept first, results files are read by their "HTTP 500" prefix
            return f"HTTP {self.status}{tries}: {more}" if more else f"HTTP {self.status}{tries}"
        return f"{self.cause}{tries}" + (f": {more}" if more else "")

    @property
    def answered(self) -> bool:
        """Whether the server answered at all (HTTP), as opposed to never being reached."""
        return self.kind not in ("connection", "timeout")


@dataclass(frozen=True)
class Answer:
    """What one request came to: a prediction, or a Failure. `latency_ms` is the answered
    attempt's (None when nothing answered)."""

    prediction: JSON = None
    latency_ms: float | None = None
    status: int | None = None
    failure: Failure | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.failure is None


def _body_text(text: str) -> str:
    return " ".join(text.split())[:BODY_CHARS]


class Client:
    """POSTs request bodies with retries; thread-safe (one HTTP session per thread)."""

    def __init__(self, spec: ServeSpec, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec
        self._sleep = sleep
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def predict(self, url: str, body: JSON) -> Answer:
        """POST `body` to `url`. Connection errors, timeouts, 429 and 5xx are tried again
        `spec.retries` times with backoff; any other answer is final. UsageError when `url`
        itself is unusable."""
        import requests

        s = self.spec
        shown = shown_url(url)
        failure = Failure("connection", shown)
        for attempt in range(1, s.retries + 2):
            if attempt > 1:
                self._sleep(min(s.backoff * 2 ** (attempt - 2), MAX_BACKOFF))
            started = time.perf_counter()
            try:
                response = self._session().post(url, json=body, timeout=s.timeout)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as e:
                detail = str(e).replace(url, shown)
                raise UsageError(f"{shown}: not a usable URL: {detail}") from None
            except requests.exceptions.Timeout:
                failure = Failure("timeout", shown, detail=f"no answer within {s.timeout:g}s",
                                  attempts=attempt)
                continue
            except requests.exceptions.RequestException as e:  # refused, reset, DNS, ...
                failure = Failure("connection", shown,
                                  detail=first_line(e).replace(url, shown), attempts=attempt)
                continue
            latency = (time.perf_counter() - started) * 1000
            status = response.status_code
            if status >= 400:
                failure = Failure("http", shown, status, _body_text(response.text),
                                  attempts=attempt)
                if status == 429 or status >= 500:
                    continue
                return Answer(status=status, failure=failure, attempts=attempt)
            try:
                answer = response.json()
            except ValueError:
                return Answer(status=status, attempts=attempt, failure=Failure(
                    "not-json", shown, status, _body_text(response.text), attempts=attempt))
            prediction = extract(answer, s.response_field)
            if prediction is MISSING or prediction is None:
                return Answer(status=status, attempts=attempt, failure=Failure(
                    "missing-field", shown, status, _body_text(response.text),
                    detail=f"field '{s.response_field}'", attempts=attempt))
            return Answer(prediction, latency, status, attempts=attempt)
        return Answer(status=failure.status, failure=failure, attempts=failure.attempts)


def get_status(url: str, timeout: float) -> tuple[int | None, str]:
    """GET `url` once (health and metrics endpoints): (HTTP status, "HTTP 200"), or (None, why
    there was no answer)."""
    import requests

    try:
        with requests.get(url, timeout=timeout) as response:
            return response.status_code, f"HTTP {response.status_code}"
    except requests.RequestException as e:
        return None, f"{type(e).__name__}: {first_line(e, 120)}"


# -- many requests -------------------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    """One row and what its request came to."""

    row: Row
    answer: Answer

    @property
    def ok(self) -> bool:
        return self.answer.ok

    @property
    def prediction(self) -> JSON:
        return self.answer.prediction

    @property
    def failure(self) -> Failure | None:
        return self.answer.failure


@dataclass
class FailureGroup:
    """Failures with one cause: how many, and the first as the example."""

    cause: str
    kind: FailureKind
    status: int | None
    count: int
    line: int  # the example's row (eval-set line)
    example: Failure

    def as_dict(self) -> dict[str, JSON]:
        return {"cause": self.cause, "kind": self.kind, "status": self.status,
                "count": self.count,
                "example": {"line": self.line, "status": self.example.status,
                            "body": self.example.body, "detail": self.example.detail,
                            "attempts": self.example.attempts}}


@dataclass
class Failures:
    """Failures grouped by cause (kind, status and URL), commonest first."""

    total: int = 0
    _groups: dict[str, FailureGroup] = field(default_factory=dict)

    def add(self, line: int, failure: Failure) -> None:
        self.total += 1
        group = self._groups.get(failure.cause)
        if group is None:
            self._groups[failure.cause] = FailureGroup(failure.cause, failure.kind,
                                                       failure.status, 1, line, failure)
        else:
            group.count += 1

    def groups(self) -> list[FailureGroup]:
        return sorted(self._groups.values(), key=lambda g: -g.count)  # stable: first seen first

    def commonest(self) -> FailureGroup | None:
        groups = self.groups()
        return groups[0] if groups else None

    def as_list(self) -> list[dict[str, JSON]]:
        return [g.as_dict() for g in self.groups()]


def stream(rows: Iterable[Row], url: str, spec: ServeSpec, *, client: Client | None = None,
           first_alone: bool = True) -> Iterator[Result]:
    """POST every row's body to `url` (already joined: see predict_url), `spec.concurrency` at a
    time, yielding results in row order with a bounded window (memory does not grow with the
    eval set). With `first_alone`, the first row is sent by itself and a server that cannot be
    reached at all raises InfraError instead of failing every row."""
    own = client is None
    http = client or Client(spec)
    window: collections.deque[tuple[Row, Future[Answer]]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=spec.concurrency)
    try:
        first = first_alone
        for row in rows:
            window.append((row, pool.submit(http.predict, url, request_body(spec, row))))
            if first:
                first = False
                row0, future = window.popleft()
                answer = future.result()
                if answer.failure is not None and not answer.failure.answered:
                    raise InfraError(
                        f"model server at {shown_url(url)} unreachable after "
                        f"{answer.attempts} attempts: {answer.failure.detail}",
                        hint="start the server, or check --endpoint and gate.online.timeout")
                yield Result(row0, answer)
                continue
            while len(window) >= spec.concurrency * 4:
                row0, future = window.popleft()
                yield Result(row0, future.result())
        while window:
            row0, future = window.popleft()
            yield Result(row0, future.result())
    finally:
        for _, future in window:  # stopped early: do not send what is still queued
            future.cancel()
        pool.shutdown(wait=True)
        if own:
            http.close()


@dataclass
class Run:
    """What a run came to: every row's result in row order (unless not kept), the failures
    grouped by cause, and how long it took."""

    url: str  # where the requests went, as shown (no password)
    rows: int
    results: list[Result]  # empty with keep_results=False
    failures: Failures
    seconds: float

    @property
    def throughput_rps(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def run(rows: Iterable[Row], base_url: str, spec: ServeSpec, *,
        on_result: Callable[[Result], None] | None = None, first_alone: bool = True,
        keep_results: bool = True) -> Run:
    """Send rows to a server's base URL (serve.predict is appended unless the URL has a path)
    and collect the results. `on_result` sees each result as it arrives (progress, a file);
    `keep_results=False` keeps memory flat for a large eval set."""
    try:
        url = predict_url(base_url, spec.predict)
    except ValueError as e:
        raise UsageError(f"{shown_url(base_url)}: {e}") from None
    shown = shown_url(url)
    results: list[Result] = []
    failures = Failures()
    count = 0
    started = time.perf_counter()
    progress = console.Progress(f"sending requests to {shown}")
    for result in stream(rows, url, spec, first_alone=first_alone):
        count += 1
        if keep_results:
            results.append(result)
        if result.failure is not None:
            failures.add(result.row.line, result.failure)
        if on_result is not None:
            on_result(result)
        progress.tick(f"{count:,} sent, {failures.total:,} failed")
    seconds = time.perf_counter() - started
    rate = f", {count / seconds:.1f} requests/s" if seconds > 0 else ""
    progress.done(f"{count:,} requests, {failures.total:,} failed{rate}")
    return Run(shown, count, results, failures, seconds)


__all__ = [
    "JSON", "Answer", "Client", "Failure", "FailureGroup", "FailureKind", "Failures", "Result",
    "Row", "Run", "ServeSpec", "config_path", "extract", "fill", "get_status", "iter_rows",
    "load_rows", "mask_url",
    "predict_url", "request_body", "run", "serve_path", "shown_url", "stream",
    "uses_predict_path",
]
