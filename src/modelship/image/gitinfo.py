"""Where the build comes from (GitInfo): the commit, branch or tag, pull request, default branch
and repository URL. Inside GitHub Actions from the runtime (through ghactions); in a terminal
from `git`."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelship import ghactions
from modelship.image.tags import SEMVER, SHORT, clean_url


@dataclass(frozen=True)
class GitInfo:
    """The commit an image is built from, as the tags and labels need it."""

    sha: str | None = None  # full commit sha
    branch: str | None = None  # refs/heads/<branch>
    tag: str | None = None  # refs/tags/<tag>, or a tag on HEAD in a terminal
    pr: int | None = None  # refs/pull/<n>/merge
    default_branch: str | None = None
    source: str | None = None  # repository URL, no credentials

    @classmethod
    def from_ref(cls, ref: str, *, sha: str | None = None, default_branch: str | None = None,
                 source: str | None = None) -> GitInfo:
        """From a full ref: refs/heads/<branch>, refs/tags/<tag> or refs/pull/<n>/merge."""
        branch = tag = None
        pr = None
        if ref.startswith("refs/heads/"):
            branch = ref[len("refs/heads/"):]
        elif ref.startswith("refs/tags/"):
            tag = ref[len("refs/tags/"):]
        else:
            match = re.match(r"^refs/pull/(\d+)/", ref)
            pr = int(match.group(1)) if match else None
        return cls(sha=sha, branch=branch, tag=tag, pr=pr, default_branch=default_branch,
                   source=source)

    @property
    def short_sha(self) -> str | None:
        return self.sha[:SHORT] if self.sha else None


def git(root: Path, *args: str) -> str | None:
    """`git -C root args...`: its output, or None when git fails or is missing."""
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _default_branch(root: Path) -> str:
    origin_head = git(root, "symbolic-ref", "-q", "refs/remotes/origin/HEAD") or ""
    if origin_head:
        return origin_head.rsplit("/", 1)[-1]
    return git(root, "config", "init.defaultBranch") or "main"


def detect(root: Path) -> GitInfo:
    """GITHUB_REF (or the event's ref) and GITHUB_SHA when set, as in Actions; else `git`."""
    ref = ghactions.ref()
    if ref:
        event = ghactions.event()
        repository = event.get("repository")
        default_branch = (repository.get("default_branch")
                          if isinstance(repository, dict) else None)
        sha = ghactions.sha() or git(root, "rev-parse", "HEAD")
        remote = git(root, "remote", "get-url", "origin")
        source = ghactions.repository_url() or (clean_url(remote) if remote else None)
        return GitInfo.from_ref(ref, sha=sha, source=source,
                                default_branch=default_branch or _default_branch(root))
    sha = git(root, "rev-parse", "HEAD")
    head = git(root, "symbolic-ref", "-q", "HEAD") or ""
    branch = head[len("refs/heads/"):] if head.startswith("refs/heads/") else None
    tags = (git(root, "tag", "--points-at", "HEAD") or "").split()
    semver = sorted(t for t in tags if SEMVER.match(t))
    tag = semver[-1] if semver else (tags[0] if tags else None)
    remote = git(root, "remote", "get-url", "origin")
    return GitInfo(sha=sha, branch=branch, tag=tag, default_branch=_default_branch(root),
                   source=clean_url(remote) if remote else None)


def tag_commit(root: Path, version: str) -> tuple[str, str] | None:
    """(tag, full commit sha) of the git tag `v<version>`, else `<version>`, in the checkout
    at `root`; None when it is no git checkout or has neither tag (a shallow clone may lack
    tags)."""
    for tag in (f"v{version}", version):
        sha = git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}")
        if sha:
            return tag, sha
    return None
