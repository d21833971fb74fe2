"""A real image registry (distribution 2.x from Debian) on 127.0.0.1 with htpasswd auth."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from testbed import state

USER = "shipper"  # not a word that appears in logs: act masks secrets by value

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
auth:
  htpasswd:
    realm: modelship-testbed
    path: {htpasswd}
"""


def _answers(host: str) -> bool:
    # 401 without credentials is the healthy answer of a registry with auth
    return requests.get(f"http://{host}/v2/", timeout=2).status_code == 401


def up(run: Path, current: dict[str, Any]) -> dict[str, Any]:
    if answers(current):
        return current
    binary = shutil.which("docker-registry")
    htpasswd = shutil.which("htpasswd")
    if not binary or not htpasswd:
        raise RuntimeError("docker-registry/htpasswd not found: "
                           "apt-get install -y docker-registry apache2-utils")
    home = run / "registry"
    home.mkdir(parents=True, exist_ok=True)
    password = current.get("password") or secrets.token_urlsafe(18)
    subprocess.run([htpasswd, "-B", "-b", "-c", str(home / "htpasswd"), USER, password],
                   check=True, capture_output=True)
    port = state.free_port()
    (home / "config.yml").write_text(CONFIG.format(
        data=home / "data", port=port, secret=secrets.token_hex(16),
        htpasswd=home / "htpasswd"))
    pid = state.start_daemon([binary, "serve", str(home / "config.yml")], run / "registry.log")
    host = f"localhost:{port}"
    try:
        state.wait_for(lambda: _answers(host), f"the registry on {host}", timeout=30)
    except TimeoutError:
        state.stop(pid)  # not recorded anywhere yet: nobody else could stop it
        raise
    state.say(f"registry on {host} (user {USER})")
    return {"pid": pid, "host": host, "user": USER, "password": password}


def answers(current: dict[str, Any]) -> bool:
    """The registry recorded in `current` runs (our process) and answers."""
    if not current or not state.alive(current.get("pid")):
        return False
    try:
        return _answers(current["host"])
    except requests.RequestException:
        return False


def down(current: dict[str, Any]) -> None:
    state.stop(current.get("pid"))
