"""The runc v2 shims running on the host (the node's and Docker's) and the socket each one
listens on. containerd 1.6 puts every shim's socket in the host-wide /run/containerd/s,
named sha256("<its containerd's address>/<namespace>/<id>") (runtime/v2/shim's
SocketAddress), whichever containerd started it: that is how `down` tells ours from
Docker's there."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BINARY = b"containerd-shim-runc-v2"
SOCKET_DIR = Path("/run/containerd/s")


@dataclass(frozen=True)
class Shim:
    pid: int
    namespace: str
    id: str
    address: str  # the containerd that started it (its -address)

    @property
    def socket(self) -> Path:
        key = os.path.join(self.address, self.namespace, self.id)
        return SOCKET_DIR / hashlib.sha256(key.encode()).hexdigest()


def _flags(argv: list[str]) -> dict[str, str]:
    """-name value pairs of a shim's command line (boolean flags such as -debug skipped)."""
    out = {}
    for flag, value in itertools.pairwise(argv):
        if flag.startswith("-") and not value.startswith("-"):
            out[flag.lstrip("-")] = value
    return out


def running() -> list[Shim]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not raw or not raw[0].endswith(BINARY):
            continue
        flags = _flags([a.decode(errors="replace") for a in raw[1:] if a])
        if {"namespace", "id", "address"} <= flags.keys():
            found.append(Shim(int(proc.name), flags["namespace"], flags["id"],
                              flags["address"]))
    return found


def _under(path: str, directories: Iterable[str]) -> bool:
    return any(Path(path).is_relative_to(d) for d in directories)


def foreign_sockets(own_dirs: Iterable[str]) -> set[Path]:
    """Sockets of running shims whose containerd is not under the node's own directories."""
    own = list(own_dirs)
    return {s.socket for s in running() if not _under(s.address, own)}


def kill_ours(containerd_socket: Path) -> None:
    """Kill the shims of our containerd that outlived it (they are meant to) and remove
    their sockets, which a killed shim leaves behind in the shared directory."""
    for shim in running():
        if shim.address == str(containerd_socket):
            with contextlib.suppress(ProcessLookupError):
                os.kill(shim.pid, signal.SIGKILL)
            shim.socket.unlink(missing_ok=True)


def only_sockets(directory: Path, sockets: set[Path]) -> bool:
    """`directory` holds nothing but these sockets and the directories leading to them; the
    socket directory itself may be there empty (any containerd's shim makes it, and an
    exited one leaves it)."""
    allowed: set[Path] = {SOCKET_DIR} if SOCKET_DIR.is_relative_to(directory) else set()
    for socket in sockets:
        allowed.add(socket)
        allowed.update(p for p in socket.parents if p.is_relative_to(directory))
    return all(entry in allowed for entry in directory.rglob("*"))
