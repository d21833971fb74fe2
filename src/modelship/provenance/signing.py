"""`build --sign`: sign the pushed digest with cosign and attest its gate report to it.

Both are stored the cosign way, beside the image and never inside its index (tags
`sha256-<hex>.sig` / `.att` in the same repository), so `docker pull` and the image's platform
list stay exactly what the build pushed.

Signers, in cosign's conventions: `--key FILE`, else COSIGN_PRIVATE_KEY (the key's PEM, e.g. a
secret) with COSIGN_PASSWORD; else, inside GitHub Actions with `id-token: write`, keyless with
the workflow's OIDC identity (Fulcio certificate, Rekor entry). A key pair signs without a
transparency-log upload unless `--tlog` is given (a private key is verified by its public key;
public Rekor is not reachable from every network).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship import console, imageref
from modelship.errors import InfraError, UsageError
from modelship.provenance import cosign, sbom, statements

SBOM_PREDICATE = "spdxjson"  # cosign's name for https://spdx.dev/Document
KEY_VARIABLE = "COSIGN_PRIVATE_KEY"
OIDC_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"  # set when the job has id-token: write
_KEY_TROUBLE = ("decrypt", "password", "reading key", "pem", "private key", "no such file")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sign", action="store_true",
                        help="sign the pushed digest with cosign and attest the gate report "
                             "(--key FILE, else COSIGN_PRIVATE_KEY + COSIGN_PASSWORD, else "
                             "keyless in GitHub Actions with id-token: write); needs --push")
    parser.add_argument("--key", metavar="FILE",
                        help="cosign private key for --sign (password in COSIGN_PASSWORD)")
    parser.add_argument("--sbom", action="store_true",
                        help="with --sign, also attest an SPDX SBOM of the pushed digest, made "
                             "by syft")
    parser.add_argument("--tlog", action="store_true",
                        help="with a key pair, also upload to the transparency log (keyless "
                             "always does)")


@dataclass(frozen=True)
class Signer:
    key: str | None  # as cosign takes it: a path or env://COSIGN_PRIVATE_KEY; None: keyless
    tlog: bool
    sbom: bool = False  # also attest an SBOM made by syft

    @property
    def describe(self) -> str:
        if self.key is None:
            return "keyless (the workflow's OIDC identity)"
        return f"key {self.key}"


def signer(args: argparse.Namespace) -> Signer | None:
    """The signer --sign asks for, checked before anything is built; None without --sign."""
    if not getattr(args, "sign", False):
        for flag in ("key", "sbom"):
            if getattr(args, flag, None):
                raise UsageError(f"--{flag} is for --sign; add --sign (or drop --{flag})")
        return None
    if not args.push:
        raise UsageError("--sign signs the pushed digest: add --push",
                         hint="a local image has no registry digest to sign")
    cosign.binary()  # missing tools are reported before the build, not after the push
    with_sbom = bool(getattr(args, "sbom", False))
    if with_sbom:
        sbom.binary()
    if args.key:
        path = Path(args.key)
        if not path.is_file():
            raise UsageError(f"--key {path}: file does not exist",
                             hint="create a pair with `cosign generate-key-pair`")
        return Signer(str(path.resolve()), bool(args.tlog), with_sbom)
    if os.environ.get(KEY_VARIABLE, "").strip():
        return Signer(f"env://{KEY_VARIABLE}", bool(args.tlog), with_sbom)
    if os.environ.get(OIDC_VARIABLE):
        return Signer(None, True, with_sbom)
    raise UsageError("--sign needs a signer: --key FILE, or COSIGN_PRIVATE_KEY (and "
                     "COSIGN_PASSWORD) in the environment, or GitHub Actions with "
                     "`permissions: id-token: write` for keyless signing",
                     hint="create a key pair with `cosign generate-key-pair` and store "
                          "cosign.key as a secret; commit cosign.pub for deploy.verify.key")


def _common(who: Signer) -> list[str]:
    args = ["--yes"]
    if who.key is not None:
        args += ["--key", who.key]
    args.append(f"--tlog-upload={'true' if who.tlog else 'false'}")
    return args


def _env() -> dict[str, str]:
    # cosign asks a terminal for the password when the variable is unset; CI has none
    return {"COSIGN_PASSWORD": os.environ.get("COSIGN_PASSWORD", "")}


def _fail(run: cosign.Run, what: str, who: Signer) -> None:
    message = run.last_error()
    if who.key is not None and any(p in message.lower() for p in _KEY_TROUBLE):
        raise UsageError(f"cosign could not {what} with {who.describe}: {message}",
                         hint="check the key and COSIGN_PASSWORD")
    raise InfraError(f"cosign could not {what} ({who.describe}): {message}",
                     hint="check that the registry is reachable and accepts pushes")


def sign_args(who: Signer, image: str, tags: list[str], version: str) -> list[str]:
    # space-separated: cosign splits each -a value at commas
    annotations = {statements.TAGS_ANNOTATION: " ".join(tags),
                   statements.VERSION_ANNOTATION: version}
    notes = [a for k, v in annotations.items() for a in ("-a", f"{k}={v}")]
    return ["sign", *_common(who), *notes, image]


def attest_args(who: Signer, image: str, report: Path,
                predicate_type: str = statements.GATE_PREDICATE) -> list[str]:
    return ["attest", *_common(who), "--type", predicate_type, "--predicate", str(report),
            image]


def _attest_sbom(who: Signer, image: str, host: str) -> int:
    """Scan the pushed digest with syft and attest the SPDX document; its package count."""
    with tempfile.TemporaryDirectory(prefix="modelship-sbom-") as tmp:
        document = Path(tmp) / "sbom.spdx.json"
        packages = sbom.scan(image, document)
        run = cosign.run(attest_args(who, image, document, SBOM_PREDICATE),
                         registry_host=host, env=_env())
        if not run.ok:
            _fail(run, "attest the SBOM", who)
    console.info(f"attested an SPDX SBOM ({packages} packages, syft) to {image}")
    return packages


def sign_and_attest(who: Signer, image: str, *, tags: list[str], version: str,
                    gate: statements.GateReport | None) -> dict[str, Any]:
    """Attest the gate report (when given) and sign `image` (repo@sha256:...)."""
    host = imageref.parse(image).registry
    started = time.monotonic()
    attestations = []
    if gate is not None:
        run = cosign.run(attest_args(who, image, gate.path), registry_host=host, env=_env())
        if not run.ok:
            _fail(run, "attest the gate report", who)
        attestations.append(statements.GATE_PREDICATE)
        console.info(f"attested the gate report ({'passed' if gate.passed else 'FAILED'}, "
                     f"{gate.digest}) to {image}")
    packages = None
    if who.sbom:
        packages = _attest_sbom(who, image, host)
        attestations.append(SBOM_PREDICATE)
    run = cosign.run(sign_args(who, image, tags, version), registry_host=host, env=_env())
    if not run.ok:
        _fail(run, "sign the image", who)
    console.info(f"signed {image} ({who.describe})")
    return {"signed": True, "signer": who.describe, "tlog": who.tlog, "tags": tags,
            "attestations": attestations,
            "gate_report": gate.digest if gate else None,
            "gate_passed": gate.passed if gate else None, "sbom_packages": packages,
            "seconds": round(time.monotonic() - started, 2)}


__all__ = ["Signer", "add_arguments", "attest_args", "sign_and_attest", "sign_args", "signer"]
