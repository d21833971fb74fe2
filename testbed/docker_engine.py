"""A Docker engine: reuse the one that answers, or start dockerd ourselves."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

from testbed import state


def answers() -> bool:
    """The engine answers /_ping. Probed with a plain socket: docker-py leaks its socket when a
    connection is refused, and we poll this while dockerd starts."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        family, address = socket.AF_UNIX, host[len("unix://"):]
    elif host.startswith("tcp://"):
        name, _, port = host[len("tcp://"):].rpartition(":")
        family, address = socket.AF_INET, (name, int(port))
    else:
        return False
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def up(run: Path, current: dict[str, Any]) -> dict[str, Any]:
    if answers():
        ours = current.get("started") and state.alive(current.get("pid"))
        return current if ours else {"started": False}
    dockerd = shutil.which("dockerd")
    if not dockerd:
        raise RuntimeError("dockerd not found: apt-get install -y docker.io")
    state.say("starting dockerd")
    pid = state.start_daemon([dockerd], run / "dockerd.log")
    try:
        state.wait_for(answers, "the Docker engine", timeout=60)
    except TimeoutError:
        state.stop(pid, timeout=30)  # not recorded anywhere yet: nobody else could stop it
        raise
    return {"started": True, "pid": pid}


def down(current: dict[str, Any]) -> None:
    if current.get("started"):
        state.stop(current.get("pid"), timeout=30)
