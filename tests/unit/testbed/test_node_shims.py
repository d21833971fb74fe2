"""How `down` tells the node's shim sockets from Docker's in /run/containerd/s
(testbed.node.shims); that containerd really names them so is checked in
tests/integration/test_shim_sockets.py."""

from __future__ import annotations

from pathlib import Path

from testbed.node import shims


def test_flags_of_a_shim_command_line() -> None:
    argv = ["-namespace", "moby", "-id", "abc", "-debug", "-address", "/run/d.sock"]
    assert shims._flags(argv) == {"namespace": "moby", "id": "abc",
                                  "address": "/run/d.sock"}


def test_sockets_of_two_containerds_differ() -> None:
    docker = shims.Shim(1, "moby", "abc", "/var/run/docker/containerd/containerd.sock")
    ours = shims.Shim(2, "k8s.io", "abc", "/tmp/modelship-testbed/node/containerd/containerd.sock")
    assert docker.socket.parent == ours.socket.parent == shims.SOCKET_DIR
    assert docker.socket != ours.socket


def test_only_sockets(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    theirs = tmp_path / "s" / "aa"
    theirs.write_text("")
    assert shims.only_sockets(tmp_path, {theirs})
    assert shims.only_sockets(tmp_path / "s", {theirs})
    (tmp_path / "runc" / "k8s.io").mkdir(parents=True)  # what the node used to leave
    assert not shims.only_sockets(tmp_path, {theirs})
    assert shims.only_sockets(tmp_path / "s", {theirs})
    (tmp_path / "s" / "bb").write_text("")  # a socket of nobody running
    assert not shims.only_sockets(tmp_path / "s", {theirs})


def test_an_empty_socket_directory_is_nobodys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(shims, "SOCKET_DIR", tmp_path / "s")
    (tmp_path / "s").mkdir()
    assert shims.only_sockets(tmp_path, set())  # e.g. Docker's container has exited
    (tmp_path / "runc" / "k8s.io").mkdir(parents=True)  # empty, but the node's leftover
    assert not shims.only_sockets(tmp_path, set())
