"""Decisions the verbs take before they plan, as pure functions of what was read: where a
rollback's target comes from (the history, a git tag, the registry) and whether blue-green
fits the GPUs (else a canary, or a usage error). The verbs do the reading; these decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelship.errors import UsageError
from modelship.release import history
from modelship.release.desired import Version


@dataclass(frozen=True)
class Target:
    """A rollback's target and the commit it was built from (its own record's git sha, not
    the checkout's), with a line saying how it was found."""

    version: Version
    git_sha: str | None = None
    found: str = ""


def is_revision(wanted: str) -> bool:
    """A Helm revision number (shorter than a digest prefix)."""
    text = wanted.strip()
    return text.isdigit() and len(text) < 12


def in_history(entries: Sequence[history.Entry], wanted: str) -> Target | None:
    entry = history.find(entries, wanted)
    if entry is None or entry.track is None:
        return None
    return Target(entry.track, entry.record.git_sha if entry.record else None)


def no_revision(entries: Sequence[history.Entry], wanted: str, release: str) -> UsageError:
    revisions = ", ".join(str(e.revision) for e in entries) or "none"
    return UsageError(f"--to {wanted}: no revision {wanted} of {release} (revisions: "
                      f"{revisions}; versions: {_listed(entries)})")


def tag_version(wanted: str) -> str | None:
    """The version whose git tag may name the target; None for a digest."""
    text = wanted.strip()
    return None if text.startswith("sha256:") else history.normalise_version(text)


def by_git_tag(entries: Sequence[history.Entry], wanted: str, release: str,
               tag: tuple[str, str] | None, where: str = ".") -> Target | None:
    """A version no revision recorded (deployed by digest, before the image had a version
    label): the project's git tag v<version> (or <version>), `tag` = (name, commit), names a
    commit; the newest deploy made from that commit is the target, under the version asked
    for. `where`: the checkout the tag was read in, for the message."""
    version = tag_version(wanted)
    if tag is None or version is None:
        return None
    name, sha = tag
    entry = history.find_by_commit(entries, sha)
    if entry is None or entry.track is None:
        return None
    return Target(Version(entry.track.image, version),
                  entry.record.git_sha if entry.record else sha,
                  f"{wanted}: no revision of {release} recorded version {version}; found it "
                  f"by git tag {name} in {where}: commit {sha[:12]}, which revision "
                  f"{entry.revision} "
                  f"deployed ({entry.track.digest}, recorded as version {entry.version})")


def registry_candidates(repository: str, wanted: str) -> list[str]:
    """Tags to look up in the registry for a version never deployed here, in order; [] for a
    digest (a digest alone cannot tell which version it is)."""
    version = tag_version(wanted)
    if version is None:
        return []
    return [f"{repository}:{version}", f"{repository}:v{version}"]


def not_found(entries: Sequence[history.Entry], wanted: str, release: str, namespace: str,
              repository: str) -> UsageError:
    return UsageError(f"--to {wanted}: no such version in the history of {release} "
                      f"(namespace {namespace}) or in {repository}; known versions: "
                      f"{_listed(entries)}")


def _listed(entries: Sequence[history.Entry]) -> str:
    known = history.known_versions(entries)
    return ", ".join(known) if known else "none"


# -- GPUs -----------------------------------------------------------------------------------
def gpu_strategy(strategy: str, fallback: str | None, *, enough: bool, capacity: str,
                 version: str) -> str:
    """Blue-green needs a second copy of the GPUs: `strategy` when it fits (`enough`), else
    a canary when blue_green.fallback is canary, else a usage error naming the capacity."""
    if enough:
        return strategy
    if fallback == "canary":
        return "canary"
    raise UsageError(f"blue-green of {version} does not fit: {capacity}",
                     hint="free GPUs, lower deploy.replicas, or set blue_green.fallback: canary "
                          "(or use --strategy canary)")
