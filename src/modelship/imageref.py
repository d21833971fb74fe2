"""Image references, parsed once for every command: `[host[:port]/]path[:tag][@sha256:...]`.
Pure. Build (repository names), deploy and rollback (what to pin), the registry client (where
to ask), doctor and init (the registry host) all read references through this module.

The grammar is docker's (distribution/reference): a registry is the first path component when
it has a dot or a port or is `localhost`; no registry means Docker Hub (`library/` for a
single-component name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelship.errors import UsageError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
REPOSITORY_MAX = 255
DOCKER_HUB = "docker.io"
EXAMPLE = "registry.example.com/team/model:1.2.3 or repo@sha256:<digest>"
# `deploy --image` (and the action's `image` input): a whole reference that names a version
_HOST = (r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*"
         r"[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_REFERENCE = re.compile(rf"^(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
                        r"(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?$")
FORMS = "repo:tag or repo@sha256:<64 hex digits> (e.g. registry.example.com/team/model:1.2.3)"


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port]; docker.io when the reference names none
    path: str  # repository path inside the registry
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}" if self.registry != DOCKER_HUB else self.path

    def pinned(self, digest: str) -> str:
        return f"{self.repository}@{digest}"


def split_registry(name: str) -> tuple[str | None, str]:
    """(registry host or None, the rest) of a repository name."""
    head, sep, rest = name.partition("/")
    if sep and ("." in head or ":" in head or head == "localhost"):
        return head, rest
    return None, name


def registry_host(repository: str) -> str | None:
    """The registry part of an image repository, like docker's reference parsing."""
    return split_registry(repository)[0]


def _split(ref: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of a reference, without checking them."""
    name, _, digest = ref.strip().partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name[: name.rfind(":")], last.split(":", 1)[1]
    return name, tag, digest or None


def check(ref: str, where: str = "--image") -> str:
    """A reference a deploy can take (it must name a version: a tag or a digest, no implicit
    `latest`), stripped; UsageError naming `where` when it is not one. Checked before helm,
    the registry or the cluster is needed."""
    text = ref.strip()
    match = _REFERENCE.match(text)
    if match is None or len(text.split("@")[0].rsplit(":", 1)[0]) > REPOSITORY_MAX:
        raise UsageError(f"{where} {ref!r}: not an image reference; expected {FORMS}")
    if not match.group("tag") and not match.group("digest"):
        raise UsageError(f"{where} {ref!r}: names no version; expected {FORMS}",
                         hint=f"add the tag to deploy, e.g. {text}:1.2.3")
    return text


def parse(ref: str, *, what: str = "--image") -> Reference:
    """A checked reference; UsageError naming `what` (the flag or key it came from) and what
    was expected when it is not one."""
    name, tag, digest = _split(ref)
    if digest is not None and not DIGEST.match(digest):
        raise UsageError(f"{what} {ref}: '{digest}' is not a sha256 digest "
                         "(sha256: and 64 hex digits)")
    if not name or not valid_repository(name):
        raise UsageError(f"{what} {ref}: expected an image reference such as {EXAMPLE}")
    if tag is not None and not valid_tag(tag):
        raise UsageError(f"{what} {ref}: '{tag}' is not a valid tag (letters, digits, _ . -, "
                         f"at most 128 characters); expected a reference such as {EXAMPLE}")
    host, rest = split_registry(name)
    if host is not None:
        return Reference(host, rest, tag, digest)
    return Reference(DOCKER_HUB, name if "/" in name else f"library/{name}", tag, digest)


def valid_tag(value: str) -> bool:
    return bool(_TAG.match(value))


def repository_of(image: str) -> str:
    """`host:5000/a/b:1.0@sha256:...` -> `host:5000/a/b`."""
    return _split(image)[0]


def digest_of(image: str) -> str | None:
    return image.rsplit("@", 1)[1] if "@" in image else None


def version_of(image: str) -> str:
    """As the chart labels an image: its tag, else the first 12 hex digits of its digest."""
    _, tag, digest = _split(image)
    if tag:
        return tag
    return digest.split(":", 1)[-1][:12] if digest else image


# -- repository names (docker's grammar, as docker-py checks it before a build) -------------
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
