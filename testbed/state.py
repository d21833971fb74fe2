"""Where the test bed keeps its state: a run directory for live processes (pids, logs,
passwords, kubeconfig) and a cache directory for what is slow to make (images, binaries)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run_dir() -> Path:
    path = Path(os.environ.get("MODELSHIP_TESTBED_DIR",
                               Path(tempfile.gettempdir()) / "modelship-testbed"))
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # it holds the registry password
    return path


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "modelship-testbed"
    path.mkdir(parents=True, exist_ok=True)
    return path


def say(message: str) -> None:
    print(f"testbed: {message}", file=sys.stderr, flush=True)


def load(directory: Path | None = None) -> dict[str, Any]:
    path = (directory or run_dir()) / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save(state: dict[str, Any], directory: Path | None = None) -> None:
    path = (directory or run_dir()) / "state.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def runs(pid: int | None, binary: str) -> bool:
    """`pid` is alive and runs `binary` (its argv[0]), not a process that reused the pid."""
    if not alive(pid):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return False
    return argv0 == binary


def recorded_daemon_runs(current: dict[str, Any]) -> bool:
    """The daemon a state entry records still runs under its pid (not a recycled one)."""
    return bool(current) and runs(current.get("pid"), current.get("binary", ""))


def local_http_ok(port: int, path: str) -> bool:
    """GET http://127.0.0.1:PORT/PATH answers 200 (no proxy from the environment); raises
    requests.RequestException when nothing answers."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"http://127.0.0.1:{port}{path}", timeout=3).status_code == 200


# Daemons this interpreter started, kept so they are reaped when stopped (and so no Popen is
# garbage-collected while its process runs, which is a ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def start_daemon(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a long-running process detached from us (own session, it outlives us), output
    appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, **(env or {})})
    _CHILDREN[proc.pid] = proc
    return proc.pid


def reap(pid: int) -> None:
    """Collect the exit status of a daemon we started once it has ended."""
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _CHILDREN[pid] = proc


def stop(pid: int | None, timeout: float = 15.0) -> None:
    if pid and alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if pid:
        reap(pid)


def wait_for(check: Any, what: str, timeout: float, interval: float = 0.5) -> None:
    """Poll `check()` until it returns truthy, saying what we wait for every few seconds."""
    started = time.monotonic()
    last_said = started
    while True:
        with contextlib.suppress(Exception):  # not up yet: keep polling
            if check():
                return
        now = time.monotonic()
        if now - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        if now - last_said > 5:
            say(f"waiting for {what} ({now - started:.0f}s)")
            last_said = now
        time.sleep(interval)
