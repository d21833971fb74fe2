"""The sentiment server with a defect: every fifth /predict request fails with 500 and every
request is 300 ms slower. Same model, same offline quality (the gate's results pass); it is
the release analysis and the online gate that must catch it.

FLAKY_EVERY (default 5) and FLAKY_DELAY_MS (default 300) tune the defect.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import server

EVERY = int(os.environ.get("FLAKY_EVERY", "5"))
DELAY = float(os.environ.get("FLAKY_DELAY_MS", "300")) / 1000
_requests = itertools.count(1)


def misbehave(payload: dict[str, Any]) -> None:
    time.sleep(DELAY)
    if EVERY > 0 and next(_requests) % EVERY == 0:
        raise server.Fault("internal error (injected by sentiment-flaky)")


if __name__ == "__main__":
    server.main(hook=misbehave)
