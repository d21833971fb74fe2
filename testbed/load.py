"""A bounded load generator: live traffic for canary analysis on the test bed.

`Load(url, rps=20).running()` POSTs prediction requests to one URL (a release's Service or the
gateway) from a few threads at a steady rate, in the background, until the block ends, `seconds`
pass or `limit` requests were sent. Every request opens its own connection: kube-proxy balances
connections, not requests, so a kept-alive connection would pin one pod and skew the split.
It counts what came back: HTTP statuses, and failures that got no answer.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

TEXTS = ("a wonderful day", "the service was awful", "it is a table", "great food",
         "terrible and slow", "fine I guess", "I love this place", "never again")


@dataclass
class Sent:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # no answer: exception type
    # the first few 5xx answers: (seconds since the load started, status, body), to tell
    # whose error a client saw (the app's JSON or the gateway's own text)
    examples: list[tuple[float, int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.failures.values())

    @property
    def errors(self) -> int:
        """Requests answered with 5xx or not answered at all."""
        return sum(n for code, n in self.statuses.items() if code >= 500) + sum(
            self.failures.values())

    def line(self) -> str:
        codes = ", ".join(f"{n} x {code}" for code, n in sorted(self.statuses.items()))
        lost = ", ".join(f"{n} x {kind}" for kind, n in self.failures.most_common())
        seen = "; ".join(f"{s:.1f}s {code} {body!r}" for s, code, body in self.examples[:3])
        return f"{self.total} requests: {codes or 'none answered'}" + (
            f"; no answer: {lost}" if lost else "") + (f"; 5xx e.g. {seen}" if seen else "")


@dataclass
class Load:
    url: str  # the full prediction URL, e.g. http://10.96.0.12:8080/predict
    rps: float = 20.0
    seconds: float = 600.0  # a hard bound, whatever the caller does
    limit: int = 50_000
    workers: int = 4
    timeout: float = 5.0
    texts: Sequence[str] = TEXTS
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. Host, for a gateway's route
    bodies: Sequence[Mapping[str, Any]] = ()  # JSON bodies in turn; none: {"text": TEXTS[i]}
    sent: Sent = field(default_factory=Sent)
    _started: float = field(default=0.0, init=False, repr=False)

    @contextmanager
    def running(self) -> Iterator[Sent]:
        stop = threading.Event()
        lock = threading.Lock()
        started = self._started = time.monotonic()
        ticket = itertools.count()  # request n goes out at started + n / rps

        def worker() -> None:
            with requests.Session() as session:
                session.trust_env = False  # cluster IPs: never through a proxy
                while not stop.is_set():
                    n = next(ticket)
                    due = started + n / self.rps
                    if n >= self.limit or due - started > self.seconds:
                        return
                    if stop.wait(max(0.0, due - time.monotonic())):
                        return
                    body = (self.bodies[n % len(self.bodies)] if self.bodies
                            else {"text": self.texts[n % len(self.texts)]})
                    self._send(session, body, lock)

        threads = [threading.Thread(target=worker, daemon=True, name=f"load-{i}")
                   for i in range(self.workers)]
        for thread in threads:
            thread.start()
        try:
            yield self.sent
        finally:
            stop.set()
            for thread in threads:
                thread.join(self.timeout + 5)

    def _send(self, session: requests.Session, body: Mapping[str, Any],
              lock: threading.Lock) -> None:
        try:
            response = session.post(self.url, json=body, timeout=self.timeout,
                                    headers={**self.headers, "Connection": "close"})
        except requests.RequestException as e:
            with lock:
                self.sent.failures[type(e).__name__] += 1
            return
        with lock:
            self.sent.statuses[response.status_code] += 1
            if response.status_code >= 500 and len(self.sent.examples) < 10:
                self.sent.examples.append((round(time.monotonic() - self._started, 1),
                                           response.status_code, response.text[:80]))


def service_url(env: Mapping[str, str], namespace: str, service: str,
                path: str = "/predict") -> str:
    """http://<ClusterIP>:<port><path> of a Service (kube-proxy makes it reachable from the
    host on the test bed); `env` has KUBECONFIG and kubectl on PATH."""
    spec = json.loads(subprocess.run(
        ["kubectl", "-n", namespace, "get", "service", service, "-o", "jsonpath={.spec}"],
        env=dict(env), capture_output=True, text=True, check=True, timeout=30).stdout)
    return f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}{path}"
