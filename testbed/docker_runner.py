"""A runner image with the Docker CLI and buildx, for workflows whose `run:` steps call docker
as they may on GitHub's ubuntu-latest (the Release workflow looks its image up with
`docker buildx imagetools inspect`).

The test bed's runner image (base_images: plain Debian bookworm) has no Docker CLI. This one
adds the host's (Debian's docker.io, built for the same bookworm libc) and buildx as a CLI
plugin, built from the Go module proxy (bookworm packages no buildx). act mounts the host's
Docker socket into job containers, so `docker login` and friends talk to the test bed's engine.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker
import docker.errors

from testbed import base_images, state
from testbed.lint_tools import go_tool

BUILDX = "v0.38.2"
BUILDX_MODULE = "github.com/docker/buildx/cmd/buildx"
IMAGE = f"modelship-testbed/runner-docker:bookworm-{base_images.VERSION}-buildx-{BUILDX}"
DOCKERFILE = """\
FROM modelship-testbed/runner:bookworm
COPY docker /usr/bin/docker
COPY docker-buildx /usr/libexec/docker/cli-plugins/docker-buildx
"""


def buildx() -> Path:
    """The docker-buildx CLI plugin, built once from the Go module proxy (cached by version)."""
    return go_tool("docker-buildx", BUILDX_MODULE, BUILDX, "several minutes")


def image() -> str:
    """The image's tag, built on first use (buildx's first build takes minutes)."""
    client = docker.from_env(timeout=300)
    try:
        try:
            client.images.get(IMAGE)
            return IMAGE
        except docker.errors.ImageNotFound:
            pass
        cli = shutil.which("docker")
        if cli is None:
            raise RuntimeError("no docker CLI on this host to copy into the runner image "
                               "(scripts/setup installs docker.io)")
        plugin = buildx()
        base_images.ensure()
        with tempfile.TemporaryDirectory(prefix="runner-docker-") as tmp:
            context = Path(tmp)
            shutil.copy(cli, context / "docker")
            shutil.copy(plugin, context / "docker-buildx")
            (context / "Dockerfile").write_text(DOCKERFILE)
            client.images.build(path=str(context), tag=IMAGE, pull=False, rm=True)
        state.say(f"runner image with the Docker CLI and buildx {BUILDX}: {IMAGE}")
        return IMAGE
    finally:
        client.close()
