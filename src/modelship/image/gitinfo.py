"""Where the build comes from: the commit, branch or tag, default branch and repository URL.
Inside GitHub Actions from the runtime (through ghactions); in a terminal from `git`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelship import ghactions
from modelship.image.tags import SEMVER, GitInfo, clean_url


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _default_branch(root: Path) -> str:
    origin_head = _git(root, "symbolic-ref", "-q", "refs/remotes/origin/HEAD") or ""
    if origin_head:
        return origin_head.rsplit("/", 1)[-1]
    return _git(root, "config", "init.defaultBranch") or "main"


def detect(root: Path) -> GitInfo:
    """GITHUB_REF (or the event's ref) and GITHUB_SHA when set, as in Actions; else `git`."""
    ref = ghactions.ref()
    if ref:
        event = ghactions.event()
        repo = event.get("repository") if isinstance(event.get("repository"), dict) else {}
        sha = ghactions.sha() or _git(root, "rev-parse", "HEAD")
        remote = _git(root, "remote", "get-url", "origin")
        source = ghactions.repository_url() or (clean_url(remote) if remote else None)
        return GitInfo.from_ref(ref, sha=sha, source=source,
                                default_branch=repo.get("default_branch")
                                or _default_branch(root))
    sha = _git(root, "rev-parse", "HEAD")
    head = _git(root, "symbolic-ref", "-q", "HEAD") or ""
    branch = head[len("refs/heads/"):] if head.startswith("refs/heads/") else None
    tags = (_git(root, "tag", "--points-at", "HEAD") or "").split()
    semver = sorted(t for t in tags if SEMVER.match(t))
    tag = semver[-1] if semver else (tags[0] if tags else None)
    remote = _git(root, "remote", "get-url", "origin")
    return GitInfo(sha=sha, branch=branch, tag=tag, default_branch=_default_branch(root),
                   source=clean_url(remote) if remote else None)
