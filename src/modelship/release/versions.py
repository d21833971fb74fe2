"""Which version a git ref names, and what releasing it would do to what an environment runs.
Pure: the command (release/cli/version.py) gathers the facts, git ancestry comes in as a
function.

- kind: `release` (a tag v<semver>), `rollback` (a tag rollback-v<semver>), `tag` (another
  tag), `branch`, `pull-request` or `commit`;
- decision: `deploy` (newer, or nothing runs yet), `rollback` (older: the fast path, straight to
  100%), `unchanged` (it runs already). With `model.version: auto` a commit deployed from a
  branch is recorded under its short sha, so versions alone cannot say: the same commit is
  unchanged, and a commit that is an ancestor of the running one is older. Where git cannot
  tell (the action's image has no git; a shallow clone), the release history can: a commit
  first deployed before the running one is older.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from modelship.image.tags import SEMVER

KINDS = ("release", "rollback", "tag", "branch", "pull-request", "commit")
DECISIONS = ("deploy", "rollback", "unchanged")
MIN_SHA = 7  # the shortest commit prefix compared (git's short sha)


@dataclass(frozen=True)
class Target:
    """The version a ref names and the commit it points at."""

    ref: str
    kind: str
    version: str
    sha: str | None = None


@dataclass(frozen=True)
class Running:
    """What an environment serves: its recorded version, digest and (when a deploy recorded
    it) the commit it was deployed from."""

    version: str | None
    digest: str | None
    git_sha: str | None
    deploys: tuple[str, ...] = ()  # the commits the release's deploys recorded, oldest first


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str


def kind_of(ref: str) -> tuple[str, str | None]:
    """(kind, the semantic version a release or rollback tag names, without its `v`)."""
    if ref.startswith("refs/tags/"):
        tag = ref[len("refs/tags/"):]
        if tag.startswith("v") and SEMVER.match(tag):
            return "release", tag[1:]
        rest = tag[len("rollback-"):] if tag.startswith("rollback-") else ""
        if rest.startswith("v") and SEMVER.match(rest):
            return "rollback", rest[1:]
        return "tag", None
    if ref.startswith("refs/heads/"):
        return "branch", None
    if re.match(r"^refs/pull/\d+/", ref):
        return "pull-request", None
    return "commit", None


def semver_key(text: str | None) -> tuple[object, ...] | None:
    """A sort key with semver.org's precedence (build metadata ignored, a pre-release before
    its release, numeric identifiers numerically and before alphanumeric ones); None when
    `text` is no semantic version."""
    match = SEMVER.match((text or "").strip())
    if not match:
        return None
    core = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    pre = match["pre"]
    if not pre:
        return (*core, 1, ())
    identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                        for p in pre[1:].split("."))
    return (*core, 0, identifiers)


def same_commit(a: str | None, b: str | None) -> bool:
    """Two commit shas, either may be a prefix of at least MIN_SHA hex digits."""
    if not a or not b:
        return False
    a, b = a.strip().lower(), b.strip().lower()
    return min(len(a), len(b)) >= MIN_SHA and (a.startswith(b) or b.startswith(a))


def _strip_v(version: str) -> str:
    return version[1:] if version.startswith("v") and SEMVER.match(version) else version


def decide(target: Target, running: Running | None,
           is_ancestor: Callable[[str, str], bool | None]) -> Decision:
    """Deploy, roll back or leave alone. `is_ancestor(a, b)`: whether commit a is an ancestor
    of commit b; None when git cannot tell (a shallow clone, an unknown commit)."""
    if running is None or not (running.version or running.digest):
        return Decision("deploy", "nothing runs there yet")
    shown = running.version or running.digest
    if same_commit(target.sha, running.git_sha):
        return Decision("unchanged", f"it runs {shown}, deployed from this commit "
                                     f"({(target.sha or '')[:MIN_SHA]})")
    if running.version and _strip_v(running.version) == target.version:
        return Decision("unchanged", f"it runs {target.version} already")
    new, now = semver_key(target.version), semver_key(running.version)
    if new is not None and now is not None:
        if new < now:
            return Decision("rollback", f"{target.version} is older than {shown}")
        return Decision("deploy", f"{target.version} is newer than {shown}"
                        if new > now else f"{target.version} differs from {shown}")
    order = _commit_order(target, running, is_ancestor)
    if order is not None:
        older, why = order
        return Decision("rollback" if older else "deploy", f"{why} {shown}")
    return Decision("deploy", f"{target.version} cannot be ordered against {shown} (not both "
                              "semantic versions, and neither git nor the release history "
                              "relates the commits)")


def _commit_order(target: Target, running: Running,
                  is_ancestor: Callable[[str, str], bool | None]) -> tuple[bool, str] | None:
    """(whether the target's commit is older, why) by git ancestry, else by when the release
    first deployed each commit; None when neither tells."""
    new, now = target.sha, running.git_sha
    if not new or not now:
        return None
    if is_ancestor(new, now):
        return True, f"commit {new[:MIN_SHA]} is an ancestor of {now[:MIN_SHA]}, which runs"
    if is_ancestor(now, new):
        return False, f"commit {new[:MIN_SHA]} descends from {now[:MIN_SHA]}, which runs"
    first_new = next((i for i, sha in enumerate(running.deploys) if same_commit(sha, new)), None)
    first_now = next((i for i, sha in enumerate(running.deploys) if same_commit(sha, now)), None)
    if first_new is None or first_now is None:
        return None
    when = "before" if first_new < first_now else "after"
    return first_new < first_now, (f"commit {new[:MIN_SHA]} was first deployed {when} "
                                   f"{now[:MIN_SHA]}, which runs")
