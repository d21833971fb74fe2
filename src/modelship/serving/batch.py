"""Many requests: an eval set sent `concurrency` at a time with results in row order, and the
failures grouped by cause (count and one example each)."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from modelship import console
from modelship.errors import InfraError, UsageError
from modelship.serving.client import Answer, Client, Failure, FailureKind
from modelship.serving.rows import Row, request_body
from modelship.serving.spec import JSON, ServeSpec, predict_url, shown_url


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
        keep_results: bool = True, client: Client | None = None) -> Run:
    """Send rows to a server's base URL (serve.predict is appended unless the URL has a path)
    and collect the results. `on_result` sees each result as it arrives (progress, a file);
    `keep_results=False` keeps memory flat for a large eval set; `client` (kept open) sends
    them, e.g. one whose sessions authenticate to a proxy."""
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
    for result in stream(rows, url, spec, first_alone=first_alone, client=client):
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


