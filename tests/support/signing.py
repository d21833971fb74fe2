"""cosign for tests: the test bed's binary, key pairs made with it (ours and a stranger's),
and the real `cosign` CLI run directly against the authenticated test registry, so tests can
check what modelship signed with the tool users verify with."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed import signing as testbed_signing

PASSWORD = "test-bed-signing-password"  # a throwaway key pair's password
_keys: dict[str, testbed_signing.KeyPair] = {}
_root = Path(tempfile.mkdtemp(prefix="modelship-test-keys-"))


def key(name: str) -> testbed_signing.KeyPair:
    """A key pair made once per session with `cosign generate-key-pair` (`ours`, `stranger`)."""
    if name not in _keys:
        _keys[name] = testbed_signing.key_pair(_root, name, PASSWORD)
    return _keys[name]


def env(registry: Any) -> dict[str, str]:
    """What a modelship subprocess needs to sign and verify against the test registry."""
    return {"MODELSHIP_COSIGN": str(testbed_signing.cosign()),
            "MODELSHIP_REGISTRY_USER": registry.user,
            "MODELSHIP_REGISTRY_PASSWORD": registry.password,
            "COSIGN_PASSWORD": PASSWORD}


@dataclass(frozen=True)
class CosignRun:
    code: int
    out: str
    err: str


def cosign(registry: Any, *args: str) -> CosignRun:
    """The real cosign CLI with the test registry's login in a private docker config."""
    with tempfile.TemporaryDirectory() as home:
        token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
        (Path(home) / "config.json").write_text(
            json.dumps({"auths": {registry.host: {"auth": token}}}))
        done = subprocess.run([str(testbed_signing.cosign()), *args], capture_output=True,
                              text=True, timeout=120, check=False,
                              env={**os.environ, "DOCKER_CONFIG": home,
                                   "COSIGN_PASSWORD": PASSWORD})
    return CosignRun(done.returncode, done.stdout, done.stderr)


def statements(stdout: str) -> list[dict[str, Any]]:
    """The in-toto statements in `cosign verify-attestation` output (one envelope a line)."""
    out = []
    for line in stdout.splitlines():
        if line.strip().startswith("{"):
            envelope = json.loads(line)
            out.append(json.loads(base64.b64decode(envelope["payload"])))
    return out


def sign(registry: Any, image: str, key_pair: testbed_signing.KeyPair, *, tags: list[str],
         version: str, report: Path | None) -> dict[str, Any]:
    """Sign `image` (repo@digest) and attest `report` with modelship's own signing code and
    the real cosign, as `build --sign` does after its push."""
    from modelship.provenance import signing as product
    from modelship.provenance.statements import read_gate_report

    saved = dict(os.environ)
    os.environ.update(env(registry))
    try:
        return product.sign_and_attest(
            product.Signer(str(key_pair.private), tlog=False), image, tags=tags,
            version=version, gate=read_gate_report(report) if report else None)
    finally:
        os.environ.clear()
        os.environ.update(saved)
