"""Check one image digest against a policy with the real cosign CLI: is it signed by the
configured key or identity, and does a gate attestation signed the same way say it passed?

Every finding is named for the user (what is missing, on which digest, signed by whom), and a
deploy by tag also checks that the tag is one the signer signed for this digest: a tag re-pushed
to another digest after signing is caught whether or not the new digest is signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelship import imageref
from modelship.errors import InfraError
from modelship.provenance import cosign, statements
from modelship.provenance.policy import Policy

# what cosign v2 prints when it found nothing to check (as opposed to finding it invalid)
_NOTHING = ("no signatures found", "no matching attestations",
            "none of the attestations matched the predicate type")
_INVALID = ("no matching signatures", "invalid signature", "verification error",
            "failed to verify signature", "expected identity not found")
_INFRA = ("connection refused", "no such host", "i/o timeout", "unauthorized",
          "denied", "tls:", "503", "502", "500 internal")


@dataclass
class Evidence:
    """What was checked for one digest, and what is missing."""

    image: str  # repo@sha256:...
    digest: str
    signer: str  # what it was checked against
    signature: str = "not checked"  # verified | unsigned | not trusted | not checked
    gate: str = "not checked"  # passed | failed | missing | not checked
    gate_report: str | None = None  # the gate report digest the image carries (its label)
    problems: list[str] = field(default_factory=list)  # each blocks a release
    notes: list[str] = field(default_factory=list)  # said, but not blocking
    allowed_unverified: bool = False  # --allow-unverified let the problems through

    @property
    def verified(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> bool:
        """Whether anything was verified (deploy.verify is set): only then do results and
        the history carry it, so releases without it keep their JSON as it was."""
        return self.signature != "not checked" or self.gate != "not checked" \
            or self.allowed_unverified

    def describe(self) -> str:
        """One line for the history and the summary."""
        parts = [f"signature {self.signature}", f"gate {self.gate}"]
        text = "; ".join(parts) + (f" ({self.signer})" if self.signature != "not checked"
                                   or self.gate != "not checked" else "")
        if self.allowed_unverified:
            text = "UNVERIFIED (--allow-unverified): " + "; ".join(self.problems)
        return text

    def as_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "signature": self.signature, "gate": self.gate,
                "signer": self.signer, "gate_report": self.gate_report,
                "verified": self.verified, "allowed_unverified": self.allowed_unverified,
                "problems": list(self.problems)}


def _registry_host(image: str) -> str:
    return imageref.parse(image).registry


def _key_args(policy: Policy) -> list[str]:
    if policy.identity is not None:
        # a subject starting with ^ is a regular expression (tags and branches sign with
        # different workflow refs: ...@refs/tags/v1.2.3, ...@refs/heads/main)
        flag = ("--certificate-identity-regexp" if policy.identity.subject.startswith("^")
                else "--certificate-identity")
        return [flag, policy.identity.subject,
                "--certificate-oidc-issuer", policy.identity.issuer]
    return ["--key", str(policy.key)]


def _tlog_args(policy: Policy) -> list[str]:
    # a key pair signed with --tlog-upload=false has no transparency-log entry to check
    return [] if policy.tlog else ["--insecure-ignore-tlog=true"]


def _classify(run: cosign.Run, what: str) -> str:
    """nothing | invalid for cosign's refusals; InfraError when it could not look."""
    # only cosign's error lines: its warnings (e.g. that the public TUF root is unreachable,
    # which a key pair does not need) must not read as a registry failure
    text = "\n".join(ln for ln in run.stderr.splitlines()
                     if ln.lower().startswith(("error", "main.go"))).lower() or run.stderr.lower()
    if any(p in text for p in _NOTHING):
        return "nothing"
    if any(p in text for p in _INVALID):
        return "invalid"
    if any(p in text for p in _INFRA):
        raise InfraError(f"cosign could not read the {what} from the registry: "
                         f"{run.last_error()}", hint="check that the registry is reachable and "
                                                     "MODELSHIP_REGISTRY_USER/_PASSWORD")
    return "invalid"


def signature_args(policy: Policy, image: str) -> list[str]:
    return ["verify", *_key_args(policy), *_tlog_args(policy), "--output", "json", image]


def attestation_args(policy: Policy, image: str) -> list[str]:
    return ["verify-attestation", *_key_args(policy), *_tlog_args(policy),
            "--type", statements.GATE_PREDICATE, "--output", "json", image]


def check_signature(policy: Policy, evidence: Evidence, tag: str | None) -> None:
    run = cosign.run(signature_args(policy, evidence.image),
                     registry_host=_registry_host(evidence.image))
    if not run.ok:
        kind = _classify(run, "signature")
        if kind == "nothing":
            evidence.signature = "unsigned"
            moved = (f"; {tag} points at this digest now: if it was signed before, the tag was "
                     "re-pushed since" if tag else "")
            message = f"no signature on {evidence.digest}{moved}"
            (evidence.problems if policy.signature == "required" else evidence.notes).append(
                message)
        else:
            evidence.signature = "not trusted"
            evidence.problems.append(f"{evidence.digest} is signed, but not by {policy.signer} "
                                     f"({run.last_error()})")
        return
    found = [s for s in statements.signatures(run.stdout) if s.digest == evidence.digest]
    if not found:
        evidence.signature = "not trusted"
        evidence.problems.append(f"cosign verified no signature for {evidence.digest} itself")
        return
    evidence.signature = "verified"
    tagged = [s for s in found if s.tags]
    if tag and tagged and not any(tag in s.tags for s in tagged):
        signed_for = ", ".join(sorted({t for s in tagged for t in s.tags}))
        evidence.signature = "verified (other tags)"
        evidence.problems.append(f"tag {tag} was re-pushed: it now points at {evidence.digest},"
                                 f" which was signed for tags {signed_for}, not {tag}")


def check_gate(policy: Policy, evidence: Evidence) -> None:
    run = cosign.run(attestation_args(policy, evidence.image),
                     registry_host=_registry_host(evidence.image))
    if not run.ok:
        kind = _classify(run, "gate attestation")
        evidence.gate = "missing"
        why = "none found" if kind == "nothing" else run.last_error()
        evidence.problems.append(f"no gate attestation ({statements.GATE_PREDICATE}) signed by "
                                 f"{policy.signer} on {evidence.digest}: {why}")
        return
    reports = statements.gate_reports(statements.statements(run.stdout), evidence.digest)
    if not reports:
        evidence.gate = "missing"
        evidence.problems.append(f"no gate attestation for {evidence.digest} itself")
        return
    failed = [r for r in reports if r.get("passed") is not True]
    if failed:
        evidence.gate = "failed"
        checks = [c.get("name") for c in failed[0].get("checks") or []
                  if isinstance(c, dict) and c.get("passed") is False]
        named = f" (failed checks: {', '.join(str(c) for c in checks)})" if checks else ""
        evidence.problems.append(f"the gate attestation on {evidence.digest} says the gate "
                                 f"failed{named}")
        return
    evidence.gate = "passed"


def verify(policy: Policy, image: str, digest: str, *, tag: str | None = None) -> Evidence:
    """Check `image` (repo@digest) as `policy` asks; `tag`: the tag it was asked for by."""
    evidence = Evidence(image=image, digest=digest, signer=policy.signer)
    if policy.signature != "off":
        check_signature(policy, evidence, tag)
    if policy.gate != "off":
        check_gate(policy, evidence)
    return evidence


__all__ = ["Evidence", "attestation_args", "check_gate", "check_signature", "signature_args",
           "verify"]
