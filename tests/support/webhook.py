"""A real webhook receiver on 127.0.0.1 for the notification tests: http.server in a thread
that records every POST (path, headers, JSON body) and answers with a status the test picks
(200, or 500 to play a broken Slack), optionally after a delay (a slow one).

The URL it hands out carries a token in its path, as Slack's and Teams' do, so a test can
assert the token never reaches any output."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.http import JSONHandler, http_server

TOKEN = "T0SECRET/B0SECRET/xoxbSeCrEtT0kEn4242"  # looks like a Slack webhook path


@dataclass
class Receiver:
    url: str  # the full webhook URL, token included: a secret
    status: int = 200
    delay: float = 0.0
    posts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p["body"] for p in self.posts]

    def events(self) -> list[str]:
        """The `event` of each generic-webhook body received, in order."""
        return [str(b.get("event")) for b in self.bodies]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies


@contextmanager
def receiver(status: int = 200, delay: float = 0.0) -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(JSONHandler):
        def do_POST(self) -> None:
            got = box[0]
            body = self.body()
            with got.lock:
                got.posts.append({"path": self.path, "headers": dict(self.headers),
                                  "body": body})
            if got.delay:
                time.sleep(got.delay)
            self.send_raw(got.status, b"ok" if got.status < 300 else b"no_service")

    with http_server(Handler) as base:
        box.append(Receiver(f"{base}/services/{TOKEN}", status=status, delay=delay))
        yield box[0]


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just freed): connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/{TOKEN}"
