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

if TYPE_CHECKING:
    from modelship.image.gitinfo import GitInfo

SEMVER = re.compile(r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
                    r"(?P<pre>-[0-9A-Za-z.-]+)?(?P<build>\+[0-9A-Za-z.-]+)?$")
_TAG_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
SHORT = 7


def sanitize(value: str) -> str:
    """A git ref name as a docker tag: invalid characters become '-', at most 128 characters,
    no leading '.' or '-'."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).lstrip(".-")
    return tag[:128]


def valid_tag(value: str) -> bool:
    return bool(_TAG_OK.match(value))


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


def registry_host(repository: str) -> str | None:
    """The registry part of an image repository, like docker's reference parsing:
    the first component is a registry when it has a dot, a port, or is localhost."""
    first, sep, _ = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


# -- image repositories (docker's reference grammar, as docker-py checks it before a build) ----
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
REPOSITORY_MAX = 255


def valid_repository(value: str) -> bool:
    """`[registry[:port]/]path`: lowercase path components of letters and digits joined by
    `.`, `_`, `__` or dashes, no tag or digest, at most 255 characters."""
    return len(value) <= REPOSITORY_MAX and bool(_REPOSITORY.match(value))


def repository_component(value: str) -> str:
    """A name (a model, a directory) as one repository path component: lowercase, other
    characters and separator runs docker refuses become '-', no separator at either end.
    May be empty (nothing usable left)."""
    text = re.sub(r"[^a-z0-9._-]+", "-", value.lower())
    text = re.sub(r"[._-]{2,}",
                  lambda m: m.group(0) if re.fullmatch(r"-+|__", m.group(0)) else "-", text)
    return text.strip("._-")[:128].rstrip("._-")


def suggest_repository(value: str) -> str | None:
    """A valid repository close to `value` (lowercased, bad characters replaced), if any."""
    head, sep, rest = value.strip().partition("/")
    domain = None
    if sep and ("." in head or ":" in head or head.lower() == "localhost"):
        domain, value = head.lower(), rest
    parts = [repository_component(p) for p in value.split("/")]
    parts = [p for p in parts if p]
    if not parts:
        return None
    candidate = "/".join(([domain] if domain else []) + parts)
    return candidate if valid_repository(candidate) else None
