"""The node's sandbox ("pause") image, made here: no registry with registry.k8s.io/pause is
reachable. One layer holding the static `pause` binary (go/pause), written as a
`docker save` archive that `ctr images import` reads."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def _layer(binary: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("pause")
        data = binary.read_bytes()
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_archive(binary: Path, name: str, target: Path) -> Path:
    """A `docker save`-format tarball of image `name` with `binary` as its entrypoint."""
    layer = _layer(binary)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "modelship testbed: go/pause"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [name],
                            "Layers": ["layer.tar"]}]).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, mode="w") as tar:
        for member, data in ((config_name, config), ("layer.tar", layer),
                             ("manifest.json", manifest)):
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return target
