"""Small test images made from in-memory files, built by the real engine and pushed with auth
to the test registry."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest


def build_and_push(docker_client: Any, repository: str, tag: str,
                   files: dict[str, str | bytes], auth: dict[str, str]) -> str:
    """Build `files` (a Dockerfile among them; text, or bytes such as model weights) as
    repository:tag, push it; the pushed digest."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in files.items():
            data = text if isinstance(text, bytes) else text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True,
                               tag=f"{repository}:{tag}", rm=True)
    digest = ""
    for line in docker_client.api.push(repository, tag, auth_config=auth, stream=True,
                                       decode=True):
        if "error" in line:
            pytest.fail(f"push {repository}:{tag}: {line['error']}")
        digest = (line.get("aux") or {}).get("Digest") or digest
    if not digest:
        pytest.fail(f"push {repository}:{tag}: the registry reported no digest")
    return digest
