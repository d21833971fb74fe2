"""The only module that runs the cosign CLI (sigstore's, pinned in the action image).

cosign reads registry credentials from a docker config; modelship's come from
MODELSHIP_REGISTRY_USER / _PASSWORD, so each run gets a private, temporary DOCKER_CONFIG holding
just that registry's login (never the user's own ~/.docker). Signing keys follow cosign's
conventions: a key file, or `env://COSIGN_PRIVATE_KEY` with COSIGN_PASSWORD in the environment.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelship import console, credentials, ghactions
from modelship.errors import InfraError, UsageError

BINARY_VARIABLE = "MODELSHIP_COSIGN"  # path of the cosign binary, when not on PATH
TIMEOUT = 180.0


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def last_error(self) -> str:
        """cosign's own error line (`Error: ...`), else its last stderr line."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("Error:")]
        return (errors[-1] if errors else lines[-1] if lines else f"exit {self.code}")[:400]


def binary() -> str:
    """The cosign CLI: $MODELSHIP_COSIGN, else `cosign` on PATH."""
    configured = os.environ.get(BINARY_VARIABLE, "").strip()
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise UsageError(f"{BINARY_VARIABLE}={configured}: not an executable file",
                             hint="point it at the cosign binary, or unset it to use PATH")
        return configured
    found = shutil.which("cosign")
    if found is None:
        raise UsageError("signing and verification need the cosign CLI, and it is not on PATH",
                         hint="the modelship action image has it; elsewhere install cosign "
                              "v2 (https://docs.sigstore.dev/cosign/system_config/installation/)"
                              f" or set {BINARY_VARIABLE}")
    return found


def _docker_config(directory: Path, registry_host: str) -> None:
    """A docker config with modelship's registry login for `registry_host`, when one is set."""
    user, password = credentials.registry()
    auths = {}
    if user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        auths[registry_host] = {"auth": token}
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": auths}), encoding="utf-8")
    path.chmod(0o600)


def run(args: Sequence[str], *, registry_host: str, timeout: float = TIMEOUT,
        env: dict[str, str] | None = None) -> Run:
    """`cosign ARGS` with modelship's registry credentials; never raises for cosign's own
    refusals (the caller reads them), InfraError when cosign cannot run at all."""
    exe = binary()
    ghactions.mask(os.environ.get("COSIGN_PASSWORD"))
    ghactions.mask(os.environ.get("COSIGN_PRIVATE_KEY"))
    with tempfile.TemporaryDirectory(prefix="modelship-cosign-") as home:
        _docker_config(Path(home), registry_host)
        full_env = {**os.environ, "DOCKER_CONFIG": home, **(env or {})}
        try:
            done = subprocess.run([exe, *args], capture_output=True, text=True,
                                  timeout=timeout, env=full_env, check=False)
        except subprocess.TimeoutExpired:
            raise InfraError(f"cosign {args[0]} did not finish within {timeout:.0f}s",
                             hint="check that the registry is reachable") from None
        except OSError as e:
            raise InfraError(f"cannot run {exe}: {e}") from e
    result = Run(done.returncode, done.stdout, done.stderr)
    if not result.ok:
        console.info(f"cosign {args[0]}: {console.redact(result.last_error())}")
    return result


def version() -> str:
    """`cosign version`'s GitVersion line, for reports."""
    done = subprocess.run([binary(), "version", "--json"], capture_output=True, text=True,
                          timeout=30, check=False)
    try:
        return str(json.loads(done.stdout).get("gitVersion", "unknown"))
    except ValueError:
        return "unknown"


__all__ = ["BINARY_VARIABLE", "Run", "binary", "run", "version"]
