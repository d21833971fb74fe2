"""Build the action's own image (the repo's Dockerfile) offline.

The Dockerfile installs hashed locks from PyPI; here no index is reachable from a build
container, so we download the same locked files on the host once (cached), serve them on
127.0.0.1, and build with host networking and pip's standard PIP_FIND_LINKS / PIP_NO_INDEX
build args. Users online build the same Dockerfile without any of this.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import docker

from testbed import state

REPO = Path(__file__).resolve().parent.parent
LOCKS = [REPO / "requirements" / "action.lock", REPO / "requirements" / "tools.lock"]
PLATFORM_ARGS = ["--python-version", "3.11", "--implementation", "cp", "--only-binary=:all:",
                 "--no-binary", "rouge_score"]
for _platform in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64",
                  "manylinux_2_34_x86_64", "linux_x86_64"):
    PLATFORM_ARGS += ["--platform", _platform]


def wheelhouse() -> Path:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in LOCKS)).hexdigest()[:16]
    target = state.cache_dir() / "wheelhouse" / digest
    if (target / ".complete").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    state.say("downloading the action's locked dependencies (first run only)")
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(target)]
    for lock in LOCKS:
        subprocess.run([*pip, "--require-hashes", "-r", str(lock), *PLATFORM_ARGS], check=True)
    # sdists (rouge_score) are built in an isolated env that needs these
    subprocess.run([*pip, "setuptools", "wheel"], check=True)
    (target / ".complete").touch()
    return target


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _cosign_mirror() -> tuple[Path, str]:
    """A directory holding the test bed's cosign (built from its Go module) and its sha256:
    the Dockerfile's offline path (COSIGN_URL + COSIGN_SHA256) in place of the release
    download."""
    from testbed import signing

    binary = signing.cosign()
    return binary.parent, hashlib.sha256(binary.read_bytes()).hexdigest()


def base_image(dockerfile: Path = REPO / "Dockerfile") -> str:
    """The Dockerfile's base (its PYTHON_IMAGE default) without the digest pin: the upstream
    digest cannot be pulled here, the test bed's stand-in carries the same public tag
    (testbed/base_images.py)."""
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"{dockerfile}: no `ARG PYTHON_IMAGE=<image>` default")
    return match.group(1).split("@", 1)[0]


def build(tag: str) -> str:
    """Build the repo's Dockerfile as `tag`; return the image id."""
    wheels = wheelhouse()
    cosign_dir, cosign_sha = _cosign_mirror()
    client = docker.from_env(timeout=1800)
    try:
        with serve(wheels) as url, serve(cosign_dir) as cosign_url:
            state.say(f"building the action image {tag}")
            stream = client.api.build(path=str(REPO), tag=tag, rm=True, decode=True,
                                      network_mode="host",
                                      buildargs={"PIP_FIND_LINKS": url, "PIP_NO_INDEX": "1",
                                                 "COSIGN_URL": f"{cosign_url}cosign",
                                                 "COSIGN_SHA256": cosign_sha,
                                                 "PYTHON_IMAGE": base_image()})
            tail: list[str] = []
            for chunk in stream:
                if "error" in chunk:
                    raise RuntimeError(f"action image build failed: {chunk['error']}\n"
                                       + "".join(tail[-20:]))
                if "stream" in chunk:
                    tail.append(chunk["stream"])
        return str(client.images.get(tag).id)
    finally:
        client.close()
