"""One request to a model server: POST a body, retry what may pass on a second try, and say what
came of it: a prediction with its latency, or a Failure classified by kind."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from modelship.errors import UsageError, first_line
from modelship.serving import sse
from modelship.serving.rows import MISSING, extract
from modelship.serving.spec import JSON, ServeSpec, shown_url

if TYPE_CHECKING:
    import requests

BODY_CHARS = 200  # of a failed response's body, kept as the example of its cause
MAX_BACKOFF = 5.0

FailureKind = Literal["connection", "timeout", "http", "not-json", "missing-field"]
STREAMING = ("openai-chat", "openai-completions")  # presets whose servers stream on request


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
    attempt's (None when nothing answered); `timing` how a streamed answer's tokens came
    (None when the answer was not streamed)."""

    prediction: JSON = None
    latency_ms: float | None = None
    status: int | None = None
    failure: Failure | None = None
    attempts: int = 1
    timing: sse.Timing | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _body_text(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Traceback (most recent call last)"):
        # a Python server's error page (MLServer answers a model's exception so): its last line
        # is the exception, which says what was wrong with the request
        text = lines[-1]
    return " ".join(text.split())[:BODY_CHARS]


class Client:
    """POSTs request bodies with retries; thread-safe (one HTTP session per thread).
    `sessions` makes each thread's session (e.g. one that authenticates to the Kubernetes API
    server's service proxy); default: a plain requests.Session."""

    def __init__(self, spec: ServeSpec, *, sleep: Callable[[float], None] = time.sleep,
                 sessions: Callable[[], requests.Session] | None = None) -> None:
        self.spec = spec
        self._sleep = sleep
        self._new_session = sessions
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._new_session() if self._new_session else requests.Session()
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
        streamed = s.stream and s.preset.body in STREAMING and isinstance(body, dict)
        if streamed:
            body = {**body, "stream": True}
        for attempt in range(1, s.retries + 2):
            if attempt > 1:
                self._sleep(min(s.backoff * 2 ** (attempt - 2), MAX_BACKOFF))
            started = time.perf_counter()
            try:
                response = self._session().post(url, json=body, timeout=s.timeout,
                                                stream=streamed)
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
            with response:  # a streamed response holds its connection until closed
                status = response.status_code
                if status >= 400:
                    failure = Failure("http", shown, status, _body_text(response.text),
                                      attempts=attempt)
                    if status == 429 or status >= 500:
                        continue
                    return Answer(status=status, failure=failure, attempts=attempt)
                if streamed and sse.is_event_stream(response):
                    return self._read_stream(response, shown, started, attempt)
                return self._read(response, shown, (time.perf_counter() - started) * 1000,
                                  attempt)
        return Answer(status=failure.status, failure=failure, attempts=failure.attempts)

    def _read_stream(self, response: requests.Response, shown: str, started: float,
                     attempt: int) -> Answer:
        """A streamed answer: its text assembled (then read like any answer) and timed."""
        import requests

        status = response.status_code
        try:
            answer, timing = sse.read(response, started, self.spec.preset.body == "openai-chat")
        except sse.StreamError as e:
            kind: FailureKind = "not-json" if e.kind == "not-json" else "http"
            return Answer(status=status, attempts=attempt, failure=Failure(
                kind, shown, status, _body_text(e.body), attempts=attempt))
        except requests.exceptions.RequestException as e:  # answered, then cut off
            return Answer(status=status, attempts=attempt, failure=Failure(
                "http", shown, status, f"stream cut off: {first_line(e)}", attempts=attempt))
        latency = (time.perf_counter() - started) * 1000
        read = self._answer(answer, json.dumps(answer), shown, status, latency, attempt)
        return dataclasses.replace(read, timing=timing)

    def _read(self, response: requests.Response, shown: str, latency: float,
              attempt: int) -> Answer:
        """The prediction in a 2xx answer, or why there is none (naming what the protocol
        expected)."""
        s, status = self.spec, response.status_code
        try:
            answer = response.json()
        except ValueError:
            if s.preset.text_answer and not s.response_field:  # e.g. BentoML returning a str
                return Answer(response.text, latency, status, attempts=attempt)
            return Answer(status=status, attempts=attempt, failure=Failure(
                "not-json", shown, status, _body_text(response.text), attempts=attempt))
        return self._answer(answer, response.text, shown, status, latency, attempt)

    def _answer(self, answer: JSON, text: str, shown: str, status: int, latency: float,
                attempt: int) -> Answer:
        s = self.spec
        prediction = extract(answer, s.response_field)
        if prediction is MISSING or prediction is None:
            expected = "" if s.protocol == "custom" else f"; {s.preset.expects()}"
            return Answer(status=status, attempts=attempt, failure=Failure(
                "missing-field", shown, status, _body_text(text),
                detail=f"field '{s.response_field}'{expected}", attempts=attempt))
        return Answer(prediction, latency, status, attempts=attempt)


def get_status(url: str, timeout: float) -> tuple[int | None, str]:
    """GET `url` once (health and metrics endpoints): (HTTP status, "HTTP 200"), or (None, why
    there was no answer)."""
    import requests

    try:
        with requests.get(url, timeout=timeout) as response:
            return response.status_code, f"HTTP {response.status_code}"
    except requests.RequestException as e:
        return None, f"{type(e).__name__}: {first_line(e, 120)}"


