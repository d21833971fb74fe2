"""`build --sign --sbom`: an SPDX SBOM of the pushed digest, made by syft (anchore's scanner)
reading the image from the registry, then attested to the digest like the gate report
(`cosign attest --type spdxjson`). The only module that runs syft."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from modelship import console, credentials, imageref
from modelship.errors import InfraError, UsageError

BINARY_VARIABLE = "MODELSHIP_SYFT"  # path of the syft binary, when not on PATH
TIMEOUT = 900.0


def binary() -> str:
    configured = os.environ.get(BINARY_VARIABLE, "").strip()
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise UsageError(f"{BINARY_VARIABLE}={configured}: not an executable file")
        return configured
    found = shutil.which("syft")
    if found is None:
        raise UsageError("--sbom needs the syft CLI, and it is not on PATH",
                         hint="install syft (https://github.com/anchore/syft) or set "
                              f"{BINARY_VARIABLE}; or drop --sbom")
    return found


def _env(image: str) -> dict[str, str]:
    """syft's registry settings: modelship's credentials for the image's registry, plain
    HTTP for a localhost one (as the docker engine does), no update check."""
    parsed = imageref.parse(image)
    user, password = credentials.registry()
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    if user and password:
        env.update({"SYFT_REGISTRY_AUTH_AUTHORITY": parsed.registry,
                    "SYFT_REGISTRY_AUTH_USERNAME": user,
                    "SYFT_REGISTRY_AUTH_PASSWORD": password})
    host = parsed.registry.split(":", 1)[0]
    if host in ("localhost", "127.0.0.1") or host.endswith(".localhost"):
        env["SYFT_REGISTRY_INSECURE_USE_HTTP"] = "true"
    return env


def scan(image: str, out: Path) -> int:
    """Write the SPDX JSON SBOM of `image` (repo@sha256:...) to `out`; its package count."""
    argv = [binary(), "scan", f"registry:{image}", "--quiet", "-o", f"spdx-json={out}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              env=_env(image), check=False)
    except subprocess.TimeoutExpired:
        raise InfraError(f"syft did not finish scanning {image} within {TIMEOUT:.0f}s") from None
    if done.returncode != 0 or not out.is_file():
        tail = console.redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                              else f"exit {done.returncode}")
        raise InfraError(f"syft could not scan {image}: {tail}",
                         hint="check that the registry is reachable with the build's "
                              "credentials")
    try:
        packages = json.loads(out.read_text(encoding="utf-8")).get("packages") or []
    except ValueError as e:
        raise InfraError(f"syft wrote no SPDX JSON for {image}: {e}") from None
    return len(packages)


__all__ = ["BINARY_VARIABLE", "binary", "scan"]
