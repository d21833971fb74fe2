"""A Docker engine: reuse the one that answers, or start dockerd ourselves."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import docker

from testbed import state


def answers() -> bool:
    try:
        client = docker.from_env(timeout=3)
        ok = bool(client.ping())
        client.close()
        return ok
    except Exception:
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
