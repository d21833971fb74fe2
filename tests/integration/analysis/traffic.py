"""Bounded request loops against the example servers (127.0.0.1 only)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .conftest import ModelServer

TEXTS = ["a wonderful day", "the service was awful", "it is a table", "great food",
         "terrible and slow", "fine I guess"]


@dataclass
class Sent:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def count(self, track: str) -> int:
        return sum(self.statuses.get(track, Counter()).values())

    def errors(self, track: str) -> int:
        return sum(n for code, n in self.statuses.get(track, Counter()).items() if code >= 500)


def send(servers: dict[str, ModelServer], plan: dict[str, int]) -> Sent:
    """Send plan[track] requests to each track's server, interleaved; bounded by the plan."""
    sent = Sent()
    left = dict(plan)
    i = 0
    while any(left.values()):
        for track in plan:
            if left[track]:
                left[track] -= 1
                code = servers[track].predict(TEXTS[i % len(TEXTS)])
                sent.statuses.setdefault(track, Counter())[code] += 1
                i += 1
    return sent


@contextmanager
def load(servers: dict[str, ModelServer], split: dict[str, int],
         seconds: float = 90.0, limit: int = 20000) -> Iterator[Sent]:
    """Background traffic: per round, split[track] requests to each track, until the block
    ends, `seconds` pass or `limit` requests were sent."""
    sent = Sent()
    stop = threading.Event()

    def loop() -> None:
        started, total, i = time.monotonic(), 0, 0
        while not stop.is_set() and time.monotonic() - started < seconds and total < limit:
            for track, n in split.items():
                for _ in range(n):
                    code = servers[track].predict(TEXTS[i % len(TEXTS)])
                    sent.statuses.setdefault(track, Counter())[code] += 1
                    i += 1
                    total += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(30)
