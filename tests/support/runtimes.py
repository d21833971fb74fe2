"""Real serving runtimes for the tests, never written here: each installed from its own PyPI
package into a virtualenv under ~/.cache/modelship-runtimes/<name> (built once, kept while its
pinned requirements are unchanged), and run as a real process on the host on free ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests

CACHE = Path(os.environ.get("MODELSHIP_RUNTIMES_CACHE",
                            "~/.cache/modelship-runtimes")).expanduser()
MARKER = ".modelship-requirements"  # written last: a venv without it is incomplete
INSTALL_TIMEOUT = 40 * 60  # a cold install compiles nothing but downloads ~0.5 GB


def requirements(path: Path) -> list[str]:
    """The pinned lines of a requirements file (comments and blanks left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def venv(name: str, pins: Sequence[str]) -> Path:
    """A virtualenv with exactly `pins` installed, made once and reused."""
    root = CACHE / name
    wanted = "\n".join(pins) + "\n"
    marker = root / MARKER
    if marker.is_file() and marker.read_text() == wanted:
        return root
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    log = root.with_suffix(".install.log")
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run([str(root / "bin/pip"), "install", "--disable-pip-version-check",
                               *pins], stdout=out, stderr=subprocess.STDOUT,
                              timeout=INSTALL_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"pip install {' '.join(pins)} into {root} failed:\n{tail}")
    marker.write_text(wanted)
    # the cost a cold CI run pays once per machine, shown with -s or in the captured output
    print(f"runtimes: installed {' '.join(pins)} into {root} in "
          f"{time.monotonic() - started:.0f}s", file=sys.stderr)
    return root


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
