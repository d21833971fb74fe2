"""Pure: the documents provenance is made of. A gate report read for attesting, and what
`cosign verify` / `cosign verify-attestation` print back, read into plain data.

The gate attestation is an in-toto statement (https://in-toto.io/Statement/v1) whose subject is
the image digest, whose predicateType is GATE_PREDICATE and whose predicate is the gate report
exactly as `modelship gate` wrote it ({"passed", "n", "metrics", "checks"}).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.errors import UsageError

GATE_PREDICATE = "https://modelship.dev/gate-report/v1"
GATE_LABEL = "modelship.io/gate-report-digest"  # set by `build --gate-report`
TAGS_ANNOTATION = "modelship.io/tags"  # signed with the digest: its tags, space-separated
VERSION_ANNOTATION = "modelship.io/version"


@dataclass(frozen=True)
class GateReport:
    path: Path
    digest: str  # sha256 of the file's bytes: the image label
    passed: bool
    data: Mapping[str, Any]


def read_gate_report(path: Path, flag: str = "--gate-report", *,
                     strict: bool = True) -> GateReport:
    """A report `modelship gate` wrote: a JSON object with a boolean `passed`. Not `strict`
    (only its digest is wanted, for the image label): any file, `passed` False unless the
    file says it passed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: file does not exist",
                         hint="pass the report `modelship gate` wrote (its `report` output, "
                              "or --report-json FILE)") from None
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot read it ({e.strerror})") from None
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw)
    except ValueError as e:
        if not strict:
            return GateReport(path, digest, False, {})
        raise UsageError(f"{flag} {path}: not JSON ({e})",
                         hint="pass the report `modelship gate` wrote") from None
    if not isinstance(data, dict) or not isinstance(data.get("passed"), bool):
        if not strict:
            return GateReport(path, digest, False, data if isinstance(data, dict) else {})
        raise UsageError(f"{flag} {path}: not a gate report; expected a JSON object with a "
                         "boolean `passed` (and n, metrics, checks)",
                         hint="pass the report `modelship gate` wrote") from None
    return GateReport(path, digest, data["passed"], data)


# -- what cosign prints ---------------------------------------------------------------------
@dataclass(frozen=True)
class Signature:
    """One verified simple-signing payload (`cosign verify -o json`)."""

    digest: str  # critical.image.docker-manifest-digest
    reference: str  # critical.identity.docker-reference
    annotations: Mapping[str, str]
    subject: str | None = None  # keyless: the certificate's identity, when cosign shows it
    issuer: str | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.annotations.get(TAGS_ANNOTATION, "").split())


def signatures(stdout: str) -> list[Signature]:
    """`cosign verify --output json` prints one JSON array of the payloads that verified."""
    text = stdout.strip()
    start = text.find("[")
    try:
        items = json.loads(text[start:]) if start >= 0 else []
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        critical = item.get("critical") if isinstance(item, dict) else None
        if not isinstance(critical, dict):
            continue
        image = critical.get("image") or {}
        identity = critical.get("identity") or {}
        optional = item.get("optional") or {}
        out.append(Signature(
            digest=str(image.get("docker-manifest-digest", "")),
            reference=str(identity.get("docker-reference", "")),
            annotations={str(k): str(v) for k, v in optional.items()
                         if isinstance(v, str | int | float)} if isinstance(optional, dict)
            else {},
            subject=_str(optional.get("Subject")) if isinstance(optional, dict) else None,
            issuer=_str(optional.get("Issuer")) if isinstance(optional, dict) else None))
    return out


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def statements(stdout: str) -> list[dict[str, Any]]:
    """`cosign verify-attestation` prints one DSSE envelope per line for each attestation that
    verified; their payloads are the in-toto statements."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            envelope = json.loads(line)
            payload = base64.b64decode(envelope.get("payload", ""), validate=True)
            statement = json.loads(payload)
        except (ValueError, binascii.Error, AttributeError):
            continue
        if isinstance(statement, dict):
            out.append(statement)
    return out


def gate_reports(found: Iterable[Mapping[str, Any]], digest: str) -> list[Mapping[str, Any]]:
    """The gate reports attested for `digest` (sha256:...): predicateType GATE_PREDICATE and a
    subject with that digest."""
    hex_digest = digest.split(":", 1)[-1]
    out: list[Mapping[str, Any]] = []
    for statement in found:
        if statement.get("predicateType") != GATE_PREDICATE:
            continue
        subjects = statement.get("subject") or []
        if not any(isinstance(s, dict) and (s.get("digest") or {}).get("sha256") == hex_digest
                   for s in subjects):
            continue
        predicate = statement.get("predicate")
        if isinstance(predicate, dict):
            out.append(predicate)
    return out


__all__ = ["GATE_LABEL", "GATE_PREDICATE", "TAGS_ANNOTATION", "VERSION_ANNOTATION",
           "GateReport", "Signature", "gate_reports", "read_gate_report", "signatures",
           "statements"]
