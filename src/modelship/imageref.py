"""Image references as `deploy --image` (and the action's `image` input) take them, checked
before helm, the registry or the cluster is needed.

The grammar is the distribution project's (what docker and every OCI registry accept):
`[host[:port]/]path[:tag][@sha256:<64 hex>]`, path components of lowercase letters and digits
joined by `.`, `_`, `__` or dashes; a tag of up to 128 word characters, `.` and `-`. A deploy
must name a version, so a reference needs a tag or a digest (no implicit `latest`).
"""

from __future__ import annotations

import re

from modelship.errors import UsageError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = (r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*"
         r"[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_REFERENCE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*"
                        r"(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?$")
FORMS = "repo:tag or repo@sha256:<64 hex digits> (e.g. registry.example.com/team/model:1.2.3)"


def check(ref: str, where: str = "--image") -> str:
    """The reference, stripped; UsageError naming `where` when it is not one."""
    text = ref.strip()
    match = _REFERENCE.match(text)
    if match is None or len(text.split("@")[0].rsplit(":", 1)[0]) > 255:
        raise UsageError(f"{where} {ref!r}: not an image reference; expected {FORMS}")
    if not match.group("tag") and not match.group("digest"):
        raise UsageError(f"{where} {ref!r}: names no version; expected {FORMS}",
                         hint=f"add the tag to deploy, e.g. {text}:1.2.3")
    return text
