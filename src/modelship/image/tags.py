"""Image tags and labels, the way docker/metadata-action makes them. Pure.

- a `v1.2.3` tag -> `1.2.3`, `1.2`, `1` (a pre-release such as `v1.2.3-rc.1` only -> `1.2.3-rc.1`)
- another tag -> the tag name, sanitized
- a branch -> the branch name, sanitized (`feature/x` -> `feature-x`); `latest` only on the
  default branch
- a pull request -> `pr-N`
- always the model version, and the short sha both as `abc1234` and as metadata-action's
  `sha-abc1234`, so `deploy --image repo:VERSION` and rollback by version or sha find the image
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from modelship import imageref

if TYPE_CHECKING:
    from modelship.image.gitinfo import GitInfo

SEMVER = re.compile(r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
                    r"(?P<pre>-[0-9A-Za-z.-]+)?(?P<build>\+[0-9A-Za-z.-]+)?$")
SHORT = 7


def sanitize(value: str) -> str:
    """A git ref name as a docker tag: invalid characters become '-', at most 128 characters,
    no leading '.' or '-'."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).lstrip(".-")
    return tag[:128]


def valid_tag(value: str) -> bool:
    return imageref.valid_tag(value)


def version(configured: str | None, git: GitInfo) -> str:
    """model.version: a literal, or `auto` = the semver tag (v1.2.3 -> 1.2.3), else the tag,
    else the short sha, else `dev`."""
    if configured and configured != "auto":
        return configured
    if git.tag:
        match = SEMVER.match(git.tag)
        return git.tag[1:] if match and git.tag.startswith("v") else sanitize(git.tag)
    return git.short_sha or "dev"


def tags(git: GitInfo, model_version: str, extra: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    if git.tag:
        match = SEMVER.match(git.tag)
        if match:
            full = git.tag[1:] if git.tag.startswith("v") else git.tag
            out.append(sanitize(full))
            if not match.group("pre"):
                out += [f"{match['major']}.{match['minor']}", match["major"]]
        else:
            out.append(sanitize(git.tag))
    if git.branch:
        out.append(sanitize(git.branch))
        if git.default_branch and git.branch == git.default_branch:
            out.append("latest")
    if git.pr is not None:
        out.append(f"pr-{git.pr}")
    out.append(sanitize(model_version))
    if git.short_sha:
        out += [git.short_sha, f"sha-{git.short_sha}"]
    out += list(extra)
    seen: list[str] = []
    for tag in out:
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def labels(*, git: GitInfo, model_name: str, model_version: str,
           accelerator: Mapping[str, str], gate_report_digest: str | None = None,
           created: datetime | None = None) -> dict[str, str]:
    """OCI annotations plus modelship.io/* labels."""
    created = created or datetime.now(UTC)
    out = {
        "org.opencontainers.image.title": model_name,
        "org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.version": model_version,
        "modelship.io/model": model_name,
        "modelship.io/model-name": model_name,
        "modelship.io/version": model_version,
    }
    if git.source:
        out["org.opencontainers.image.source"] = git.source
    if git.sha:
        out["org.opencontainers.image.revision"] = git.sha
    out.update(accelerator)
    if gate_report_digest:
        out["modelship.io/gate-report-digest"] = gate_report_digest
    return out


def clean_url(url: str) -> str:
    """A remote URL fit for a label: credentials removed, scp-style git URLs as https.

    The userinfo is everything before the last `@` of the authority (a password may itself
    hold an `@`); it is dropped whole, user name included."""
    url = url.strip()
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)$", url, re.DOTALL)
    if match:
        scheme, authority, rest = match.groups()
        url = scheme + authority.rpartition("@")[2] + rest
    else:
        match = re.match(r"^[^/]*@([^@/:]+):(.+)$", url)  # scp-style user@host:path
        if match:
            url = f"https://{match.group(1)}/{match.group(2).lstrip('/')}"
    return url[:-4] if url.endswith(".git") else url
