"""Real serving runtimes for the tests, never written here (their venvs: testbed/runtimes.py),
run as a real process on the host on free ports."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests
from testbed.runtimes import example_venv, requirements, venv  # noqa: F401 (re-exported)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(argv: Sequence[str], *, cwd: Path, ready_url: str, env: Mapping[str, str] = {},
            timeout: float = 180.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run a runtime's server until `ready_url` answers 2xx; stopped (and its log shown on a
    failure to start) when the block ends."""
    log = cwd / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited ({proc.returncode}):\n{_tail(log)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(ready_url, timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} not ready after {timeout:.0f}s:\n{_tail(log)}")
            time.sleep(0.5)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)  # the server and the workers it forked
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run(argv: Sequence[str], *, cwd: Path, timeout: float = 300) -> str:
    """Run a runtime's own script (train, evaluate) to the end; its output on failure."""
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout
