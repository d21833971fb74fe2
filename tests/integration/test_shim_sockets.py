"""containerd names a shim's socket in /run/containerd/s as testbed.node.shims computes it:
`down` relies on that to leave Docker's sockets there and count none of them as the node's."""

from __future__ import annotations

import pytest
from testbed.node import shims

pytestmark = pytest.mark.integration


def test_a_docker_container_shim_socket_is_found_and_is_not_the_nodes(docker_client) -> None:
    container = docker_client.containers.run("python:3.11-slim-bookworm", ["sleep", "60"],
                                             detach=True, remove=True)
    try:
        found = [s for s in shims.running() if s.id == container.id]
        assert len(found) == 1, shims.running()
        assert found[0].namespace == "moby"
        assert found[0].socket.is_socket()
        assert found[0].socket in shims.foreign_sockets(["/tmp/modelship-testbed/node"])
    finally:
        container.kill()
