"""Local base images: no registry is reachable, so we make Debian bookworm images with
debootstrap and `docker import` them under the tags our Dockerfiles use.

These are stand-ins carrying public names (e.g. python:3.11-slim-bookworm): same distribution
and Python as the real image, made here. The rootfs tarball is cached so only the first run
pays for debootstrap (about a minute); importing it again takes seconds.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import docker
import docker.errors

from testbed import state

VERSION = "v2"  # bump when the package list or fix-ups change
IMAGE = f"modelship-testbed/bookworm-python:{VERSION}"
PACKAGES = ["python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates",
            "bash", "git", "curl", "procps"]
# Public names this image stands in for: the action's Dockerfile and the generated model
# Dockerfiles build FROM these, and act uses the runner tag for ubuntu-latest.
STAND_IN_TAGS = ["python:3.11-slim-bookworm", "python:3.11-slim", "python:3.11",
                 "modelship-testbed/runner:bookworm"]
CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
]


def _rootfs_tarball() -> Path:
    tarball = state.cache_dir() / "images" / f"bookworm-python-{VERSION}.tar"
    if tarball.is_file():
        return tarball
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap not found: apt-get install -y debootstrap")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=tarball.parent) as tmp:
        root = Path(tmp) / "root"
        state.say("debootstrap bookworm (first run only, about a minute)")
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                        "bookworm", str(root)], check=True, stdout=subprocess.DEVNULL)
        # The real python images let `pip install` into the system interpreter; Debian marks
        # it externally managed (PEP 668). Drop the marker so real-world Dockerfiles build.
        for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)
    return tarball


def ensure() -> str:
    """Make sure the base image and its stand-in tags exist in the engine; return its id."""
    client = docker.from_env(timeout=300)
    try:
        try:
            image = client.images.get(IMAGE)
        except docker.errors.ImageNotFound:
            tarball = _rootfs_tarball()
            state.say(f"importing {IMAGE}")
            repo, tag = IMAGE.rsplit(":", 1)
            client.api.import_image_from_file(str(tarball), repository=repo, tag=tag,
                                              changes=CHANGES)
            image = client.images.get(IMAGE)
        for name in STAND_IN_TAGS:
            tag_stand_in(name, client)
        return str(image.id)
    finally:
        client.close()


def tag_stand_in(name: str, client: docker.DockerClient | None = None) -> None:
    """Give the base image another public name (e.g. a CUDA runtime tag in a GPU test)."""
    own = client or docker.from_env(timeout=60)
    try:
        repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
        own.images.get(IMAGE).tag(repo, tag)
    finally:
        if client is None:
            own.close()
