"""Faults that leave production on its last good version: the API server going away in the
middle of a canary, then a re-run that converges.

The test bed's kube-apiserver is shared by every test on this machine, so it is not stopped
for real: modelship talks to it through a TCP proxy this test owns, and stopping the proxy is
the (named) stand-in for the API server stopping. Everything behind it is real.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from tests.integration.release.conftest import Project

pytestmark = pytest.mark.integration


class TcpProxy:
    """127.0.0.1:port -> upstream, byte for byte (TLS passes through untouched)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        """The API server 'stops': the port refuses connections, open ones are cut."""
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            a.close()
            b.close()


def proxied_kubeconfig(kubeconfig: str, proxy: TcpProxy, path: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in data["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path.write_text(yaml.safe_dump(data))
    return path


def test_api_server_gone_mid_canary_exits_3_then_rerun_converges(
        project: Project, cluster_env: dict[str, str], deployments: Any,
        tmp_path: Path) -> None:
    images = project.images
    project.write(canary={"steps": [10, 25, 50, 100], "interval": "3s"}, timeout="20s")
    project.deploy("1.0.0")

    server = yaml.safe_load(Path(cluster_env["KUBECONFIG"]).read_text())["clusters"][0][
        "cluster"]["server"]
    parsed = urlparse(server)
    proxy = TcpProxy((parsed.hostname or "127.0.0.1", parsed.port or 443))
    proxy.start()
    try:
        env = {"KUBECONFIG": str(proxied_kubeconfig(cluster_env["KUBECONFIG"], proxy,
                                                    tmp_path / "kubeconfig"))}
        proc = project.start("deploy", "--json", "--image", images.ref("2.0.0"), env=env)
        # wait until the first canary step is applied, then take the API server away
        deadline = time.monotonic() + 60
        while "canary-10" not in deployments_versions(deployments, project) and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert time.monotonic() < deadline, "the canary never started"
        proxy.stop()
        begun = time.monotonic()
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 3, f"exit {proc.returncode}\n{out}\n{err[-4000:]}"
        assert time.monotonic() - begun < 200
        assert "unreachable" in err
        assert "Traceback" not in err
        # production kept its last good version: the stable track still serves 1.0.0
        live = deployments(project)
        assert live["stable"][2] == images.pinned("1.0.0")
        assert live["stable"][1] >= 1

        proxy.start()  # the API server is back (same address)
        again = project.run("deploy", "--json", "--image", images.ref("2.0.0"), env=env)
        assert again.json["outcome"] == "promoted"
        live = deployments(project)
        assert set(live) == {"stable"}
        assert live["stable"][2] == images.pinned("2.0.0")
    finally:
        proxy.stop()


def deployments_versions(deployments: Any, project: Project) -> str:
    """'canary-10' once the canary track runs (the step's name as the runner applies it)."""
    live = deployments(project)
    return "canary-10" if "canary" in live and live["canary"][0] > 0 else ""
