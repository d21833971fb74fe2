"""Every action the rendered workflows use, pinned to the full commit SHA of a release.

One table, so all templates use the same versions. The SHAs are the commits the release tags
point to in each action's own repository; update a pin with its version comment together.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelship import __version__
from modelship.errors import UsageError

_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Pin:
    repository: str  # owner/name[/path]
    sha: str  # full commit SHA of the release tag
    version: str  # the tag, written as the `# vX.Y.Z` comment

    @property
    def uses(self) -> str:
        return f"{self.repository}@{self.sha}"


CHECKOUT = Pin("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1")
AWS_CREDENTIALS = Pin("aws-actions/configure-aws-credentials",
                      "e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3")
GCP_AUTH = Pin("google-github-actions/auth", "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093",
               "v3.0.0")
GKE_CREDENTIALS = Pin("google-github-actions/get-gke-credentials",
                      "3da1e46a907576cefaa90c484278bb5b259dd395", "v3.0.0")
AZURE_LOGIN = Pin("azure/login", "f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "v3.0.1")
AKS_CONTEXT = Pin("azure/aks-set-context", "60623acbdcbbdcf799ad50a1adf8703874339f8b", "v5.0.0")

THIRD_PARTY: dict[str, Pin] = {
    "checkout": CHECKOUT,
    "aws_credentials": AWS_CREDENTIALS,
    "gcp_auth": GCP_AUTH,
    "gke_credentials": GKE_CREDENTIALS,
    "azure_login": AZURE_LOGIN,
    "aks_context": AKS_CONTEXT,
}

# Where the modelship action itself is published. A release stamps RELEASE_SHA with the commit
# its tag points to; a source checkout uses the commit it is at.
ACTION_REPOSITORY = "modelship/modelship"
RELEASE_SHA: str | None = None

_ACTION_REF = re.compile(
    r"^(?:\./[A-Za-z0-9._/-]*"  # a local action in the same repository
    r"|[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._/-]+)?@[0-9a-f]{40}"  # by SHA
    r"|docker://[a-z0-9._/:-]+@sha256:[0-9a-f]{64})$"  # a prebuilt image by digest
)


@dataclass(frozen=True)
class ActionRef:
    uses: str
    comment: str  # what the pinned SHA is, for the `# ...` comment ("" for a local action)


def parse_action(value: str, *, flag: str = "--action") -> ActionRef:
    """A user-given modelship action reference: a local `./path`, `owner/repo@<full sha>` or a
    `docker://image@sha256:...`; a tag or branch is refused (it can move under you)."""
    value = value.strip()
    if not _ACTION_REF.match(value):
        msg = (f"{flag}: '{value}' is not a pinned action reference; expected OWNER/REPO@<40-hex "
               "commit SHA>, ./PATH (a local action) or docker://IMAGE@sha256:<digest>")
        raise UsageError(msg, hint="tags and branches can move; pin the commit of a release")
    if value.startswith("./"):
        return ActionRef(value, "")
    return ActionRef(value, f"modelship {__version__}")


def default_action() -> ActionRef:
    """The published action at the commit this copy of modelship was released from (or, in a
    source checkout, the commit it is at)."""
    sha = RELEASE_SHA or _checkout_commit()
    if sha is None:
        msg = ("cannot tell which commit of the modelship action to pin: this copy was not "
               "stamped by a release and is not a git checkout")
        raise UsageError(msg, hint=f"pass --action {ACTION_REPOSITORY}@<40-hex commit SHA>")
    return ActionRef(f"{ACTION_REPOSITORY}@{sha}", f"modelship {__version__}")


def _checkout_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.match(sha) else None
