"""A stand-in for the docker SDK's client, named as such wherever it is used: smoke.run gets a
"container" whose published port is a local HTTP server (tests/support/http.py), so the smoke
test's requests can be seen without building an image. The real path (an image built and run
by the Docker engine) is tests/integration/test_build.py."""

from __future__ import annotations

from typing import Any


class StandInContainer:
    def __init__(self, base_url: str, port: int = 8080) -> None:
        host_port = base_url.rsplit(":", 1)[1].split("/")[0]
        self.status = "running"
        self.attrs = {"NetworkSettings": {"Ports": {f"{port}/tcp": [{"HostPort": host_port}]}},
                      "State": {}}
        self.removed = False

    def reload(self) -> None:
        return

    def logs(self, tail: int) -> bytes:
        return b"(stand-in container: no logs)"

    def remove(self, force: bool) -> None:
        self.removed = True


class StandInDocker:
    """`client.containers.run(...)` hands back the one stand-in container; the engine knows no
    container we might be running in (`api.inspect_container` finds none), so the smoke test
    takes the published-port path."""

    def __init__(self, container: StandInContainer) -> None:
        self.containers = self
        self.api = self
        self.container = container

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        import docker.errors

        raise docker.errors.NotFound(f"No such container: {container_id}")

    def run(self, image: str, **kwargs: Any) -> StandInContainer:
        return self.container
