"""Where the smoke test reaches the model container from.

modelship runs in three kinds of places, and "127.0.0.1" means a different host in each:
  - a terminal or a CI host (not in a container): the model's port is published on the host's
    127.0.0.1 (a free port the engine picks) and the smoke test connects there;
  - a container on the host's network (act runs job and Docker-action containers so): the host's
    loopback is ours, so the same publishing works;
  - a container on a network of its own: GitHub runs a Docker action's container on a
    user-defined bridge network it creates (the Docker socket mounted), and a `container:` job
    likewise. A port published on the host's loopback is not on ours. Here the model container
    joins our network namespace (`network_mode="container:<our id>"`) and the model server is on
    our own 127.0.0.1:<serve.port>.

Why share our namespace rather than join our network and dial the model container's IP: it needs
no network name, DNS alias or address lookup, it works on the default bridge, on any
user-defined network and on networks with inter-container traffic turned off (enable_icc=false),
and whichever and however many networks we are attached to. Its one cost, that serve.port must
be free in our namespace, is checked before the model starts.

Which container we are is read from /proc/self/mountinfo (the engine bind-mounts /etc/hostname,
/etc/hosts and /etc/resolv.conf from its per-container directory, cgroup v1 and v2 alike), then
/proc/self/cgroup (cgroup v1, or v2 without a private cgroup namespace), then the hostname (the
engine's default is the id's first 12 characters); each candidate counts only when the engine we
talk to knows it as a running container.
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.errors import InfraError

_ID = r"[0-9a-f]{64}"
_ENGINE_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
_MOUNT_SOURCE = re.compile(rf"/containers/({_ID})/(?:hostname|hosts|resolv\.conf)$")
# cgroup v1 `/docker/<id>`, systemd's `docker-<id>.scope`, cgroup v2 without a private namespace
_CGROUP = re.compile(rf"(?:/|docker-)({_ID})(?:\.scope)?$")
_SHORT_ID = re.compile(r"^[0-9a-f]{12}$")
_CHAIN_LIMIT = 5  # `container:` network modes can chain; a loop must not hang us


@dataclass(frozen=True)
class Reach:
    """How the model container is run and reached. `share` is the container whose network
    namespace the model joins; None publishes the port on the host's 127.0.0.1."""

    share: str | None = None
    why: str = "not in a container: the port is published on the host's 127.0.0.1"

    def run_kwargs(self, port: int) -> dict[str, Any]:
        if self.share is None:
            return {"ports": {f"{port}/tcp": ("127.0.0.1", None)}}
        return {"network_mode": f"container:{self.share}"}

    def describe(self) -> str:
        if self.share is None:
            return "published on 127.0.0.1"
        return f"shares the network namespace of container {self.share[:12]}"


def candidate_ids(mountinfo: str, cgroup: str, hostname: str) -> list[str]:
    """Container ids this process might be in, most trustworthy first (pure: the contents of
    /proc/self/mountinfo, /proc/self/cgroup and the hostname)."""
    found: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        # field 4 is the mount's root inside its filesystem, field 5 where it is mounted here
        if len(fields) > 4 and fields[4] in _ENGINE_FILES:
            match = _MOUNT_SOURCE.search(fields[3])
            if match:
                found.append(match.group(1))
    for line in cgroup.splitlines():
        match = _CGROUP.search(line.strip())
        if match:
            found.append(match.group(1))
    if _SHORT_ID.match(hostname):
        found.append(hostname)
    return list(dict.fromkeys(found))


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def own_container(docker_client: Any) -> dict[str, Any] | None:
    """The engine's record (`docker inspect`) of the running container we are in, or None when
    we are not in one this engine runs."""
    import docker.errors

    hostname = socket.gethostname()
    for candidate in candidate_ids(_read("/proc/self/mountinfo"), _read("/proc/self/cgroup"),
                                   hostname):
        try:
            attrs: dict[str, Any] = docker_client.api.inspect_container(candidate)
        except (docker.errors.NotFound, docker.errors.InvalidVersion):
            continue
        except docker.errors.APIError:  # a short id matching several containers: not ours
            continue
        if len(candidate) == 12 and not str(attrs.get("Id", "")).startswith(candidate):
            continue  # the hostname named another container; only the default hostname counts
        if (attrs.get("State") or {}).get("Running"):
            return attrs
    return None


def _network_owner(docker_client: Any, attrs: dict[str, Any]) -> tuple[str, str]:
    """(network mode, id) of the container that owns this container's network namespace,
    following `container:<other>` modes (act runs a Docker action so, in its job container)."""
    for _ in range(_CHAIN_LIMIT):
        mode = str((attrs.get("HostConfig") or {}).get("NetworkMode") or "default")
        if not mode.startswith("container:"):
            return mode, str(attrs["Id"])
        attrs = docker_client.api.inspect_container(mode.split(":", 1)[1])
    msg = "smoke test: container network modes chain more than 5 containers deep"
    raise InfraError(msg)


def choose(docker_client: Any) -> Reach:
    """Publish on the host's loopback when that is ours; otherwise share our namespace."""
    own = own_container(docker_client)
    if own is None:
        return Reach()
    mode, owner = _network_owner(docker_client, own)
    if mode == "host":
        return Reach(why=f"in container {str(own['Id'])[:12]} on the host's network: the "
                         "port is published on the host's 127.0.0.1")
    return Reach(share=owner, why=f"in container {str(own['Id'])[:12]} on network '{mode}': "
                                  "the model container joins its network namespace")


def check_port_free(reach: Reach, port: int) -> None:
    """In a shared namespace the model binds serve.port next to us: say so plainly when
    something here already holds it, instead of a model that dies with 'address in use'."""
    if reach.share is None:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as servers do: a previous smoke test's connections in TIME_WAIT must not count,
        # only a socket that listens on the port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # every address, as a server in the model container would bind; nothing listens
            probe.bind(("0.0.0.0", port))  # noqa: S104 (a probe, closed at once)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            msg = (f"smoke test: port {port} (serve.port) is already in use in this container, "
                   "whose network namespace the model container must share")
            raise InfraError(msg, hint="free the port, or set serve.port to another") from None
