"""The provenance check that `deploy` and `rollback` run on their target digest before the
lock, helm or the cluster are touched (one call each, see `check`), and the history stamp.

Exit 1 (Rejected) names what is missing; `--allow-unverified` lets it through, explicitly: a
warning, a job-summary line, and the history record says UNVERIFIED with the reasons.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from modelship import console, ghactions, imageref
from modelship.config import Config
from modelship.errors import ModelshipError, Rejected
from modelship.provenance import policy as policies
from modelship.provenance import statements
from modelship.provenance.verify import Evidence, verify
from modelship.release import image_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-unverified", action="store_true",
                        help="go ahead even when deploy.verify finds the image unsigned, "
                             "signed by someone else or without a passed gate attestation "
                             "(recorded in the release history and the job summary)")


def _gate_label(image: str, digest: str, required: bool) -> str | None:
    """The image's modelship.io/gate-report-digest label, read from the registry. Best effort
    when nothing is verified (a registry the label cannot be read from blocks nothing)."""
    try:
        labels = image_version.image_labels(image, digest) or {}
    except ModelshipError:
        if required:
            raise
        return None
    value = labels.get(statements.GATE_LABEL, "").strip()
    return value or None


def check(cfg: Config, environment: str | None, image: str, *, requested: str | None = None,
          allow_unverified: bool = False, action: str = "deploy") -> Evidence:
    """Verify `image` (repo@sha256:...) as deploy.verify asks. `requested`: the reference the
    user gave (a tag in it must be one the signature was made for)."""
    policy = policies.load(cfg, environment)
    digest = image.rsplit("@", 1)[-1]
    tag = imageref.parse(requested).tag if requested else None
    if not policy.enabled:
        evidence = Evidence(image=image, digest=digest, signer="deploy.verify not set")
    else:
        console.info(f"verifying {image} ({policy.signer}; signature {policy.signature}, "
                     f"gate {policy.gate}) before anything changes")
        evidence = verify(policy, image, digest, tag=tag)
    if policy.enabled or action == "deploy":  # a rollback verifying nothing stays offline
        evidence.gate_report = _gate_label(image, digest, required=policy.enabled)
    for note in evidence.notes:
        ghactions.warning(note, title=f"modelship {action}: provenance")
    if evidence.verified:
        if policy.enabled:
            console.info(f"verified {digest}: {evidence.describe()}")
        return evidence
    listed = "; ".join(evidence.problems)
    if not allow_unverified:
        raise Rejected(f"{action} refused before any change: {image} is not verified "
                       f"({policy.where}): {listed}",
                       hint="build it with `modelship build --push --sign --gate-report FILE`,"
                            " or pass --allow-unverified to go ahead anyway (recorded in the "
                            "release history)")
    evidence.allowed_unverified = True
    ghactions.warning(f"{action} of an UNVERIFIED image ({image}), allowed by "
                      f"--allow-unverified: {listed}", title=f"modelship {action}: provenance")
    ghactions.append_summary(f"### modelship {action}: unverified image\n\n`{image}` was "
                             f"released with `--allow-unverified`: {listed}\n")
    return evidence


def stamp(record: Any, evidence: Evidence | None) -> Any:
    """The history record with the gate report digest the image carries and what was
    verified (a release.history.Record; typed loosely so this package needs no release
    internals)."""
    if evidence is None:
        return record
    return replace(record, gate_report=evidence.gate_report,
                   verified=evidence.describe() if evidence.checked else None)


__all__ = ["add_arguments", "check", "stamp"]
