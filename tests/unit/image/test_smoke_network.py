"""smoke_network: which container we are in (read from /proc text as the engine writes it) and
how the model container is run and reached from there. The engine-facing half (a container on
a user-defined network running `modelship build`) is tests/integration/test_build.py."""

from __future__ import annotations

import socket

import pytest

from modelship.errors import InfraError
from modelship.image import smoke_network

ID = "d7422c8fe07f381fa56ee67f730588bd2e0a57ccaca36d1dc562beb0b3267d16"
OTHER = "0123456789abcdef" * 4
# /proc/self/mountinfo lines as seen in a container on this engine (ext4 root, cgroup v1)
CONTAINER_MOUNTINFO = f"""\
75 60 0:52 / / rw,relatime master:28 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X
92 75 254:0 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda rw
93 75 254:0 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw
94 75 254:0 /var/lib/docker/containers/{ID}/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw
"""
# the host's own mountinfo lists other containers' shm mounts: they must not count as ours
HOST_MOUNTINFO = f"""\
25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
310 25 0:60 / /var/lib/docker/containers/{OTHER}/mounts/shm rw - tmpfs shm rw,size=65536k
"""


@pytest.mark.parametrize(("mountinfo", "cgroup", "hostname", "expected"), [
    pytest.param(CONTAINER_MOUNTINFO, "", "anything", [ID], id="mountinfo"),
    pytest.param("", f"9:name=systemd:/docker/{ID}\n8:pids:/docker/{ID}\n", "x", [ID],
                 id="cgroup-v1"),
    pytest.param("", f"0::/system.slice/docker-{ID}.scope\n", "x", [ID], id="systemd-scope"),
    pytest.param("", "0::/\n", ID[:12], [ID[:12]], id="cgroupns-v2-hostname-only"),
    pytest.param(CONTAINER_MOUNTINFO, f"1:cpu:/docker/{ID}\n", ID[:12], [ID, ID[:12]],
                 id="all-three-in-order"),
    pytest.param(HOST_MOUNTINFO, "0::/user.slice/user-0.slice\n", "runner-vm", [],
                 id="host-with-other-containers"),
    pytest.param(f"93 75 254:0 /containers/{ID}/hostname /etc/hostname rw - ext4 /dev/vdb rw\n",
                 "", "web", [ID], id="docker-root-on-its-own-filesystem"),
])
def test_candidate_ids(mountinfo, cgroup, hostname, expected):
    assert smoke_network.candidate_ids(mountinfo, cgroup, hostname) == expected


def test_published_reach_binds_the_hosts_loopback_only():
    reach = smoke_network.Reach()
    assert reach.run_kwargs(8080) == {"ports": {"8080/tcp": ("127.0.0.1", None)}}
    assert reach.describe() == "published on 127.0.0.1"


def test_shared_reach_joins_the_namespace_and_publishes_nothing():
    reach = smoke_network.Reach(share=ID, why="test")
    assert reach.run_kwargs(8080) == {"network_mode": f"container:{ID}"}
    assert reach.describe() == f"shares the network namespace of container {ID[:12]}"


def test_a_port_held_in_our_namespace_is_named_before_the_model_starts():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        smoke_network.check_port_free(smoke_network.Reach(), port)  # published: not our port
        with pytest.raises(InfraError, match=f"port {port} \\(serve.port\\) is already in use"):
            smoke_network.check_port_free(smoke_network.Reach(share=ID), port)
    smoke_network.check_port_free(smoke_network.Reach(share=ID), port)  # free again


def test_a_previous_smoke_tests_closed_connections_do_not_hold_the_port():
    """The model server closes its side first, leaving connections in TIME_WAIT on serve.port
    for a minute; a second smoke test in the same namespace must still find the port free.
    (The server sets SO_REUSEADDR, as Python's http.server, uvicorn and gunicorn do.)"""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server's active close: TIME_WAIT on 127.0.0.1:<port>
        client.close()
    smoke_network.check_port_free(smoke_network.Reach(share=ID), port)
