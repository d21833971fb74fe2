"""What `modelship init` renders with, validated: every value that reaches a template is
checked against a strict grammar here, so no flag can smuggle YAML or a `${{ }}` expression
into a workflow."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelship import imageref
from modelship.errors import UsageError
from modelship.workflows.pins import ActionRef

STRATEGIES = ("canary", "blue-green", "rolling")
CLUSTER_AUTH = ("kubeconfig", "eks", "gke", "aks")
SIGNING = ("none", "key", "keyless")  # build --sign: no, a cosign key pair secret, OIDC
DEFAULT_REGISTRY = "ghcr.io"

_REGISTRY = re.compile(r"^(?:localhost|[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)+"
                       r"|[a-z0-9]+(?:-+[a-z0-9]+)*)(?::[0-9]{1,5})?$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_SECRET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")  # GitHub's secret names, env var names
MAX_SECRETS = 10
MAX_LABELS = 10
CI_SUFFIX = "-ci"


@dataclass(frozen=True)
class Options:
    registry: str  # host[:port], e.g. ghcr.io
    image: str  # repository path in that registry, e.g. team/sentiment
    model_name: str
    strategy: str
    cluster_auth: str
    gpu_runner: tuple[str, ...]  # runner labels for the build + smoke-test job; () = hosted
    action: ActionRef
    default_branch: str = "main"
    versioning: bool = False
    sign: str = "none"  # SIGNING
    github_repository: str | None = None  # OWNER/REPO from the git remote (keyless identity)
    notify_secrets: tuple[str, ...] = ()  # secrets holding webhook URLs (notify: url_env)

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.image}"

    @property
    def ci_repository(self) -> str:
        """Where CI pushes branch images: never the release repository, whose version tags
        the release workflow trusts (a branch named 1.2.3 would otherwise plant one)."""
        return f"{self.repository}{CI_SUFFIX}"


def registry(value: str) -> str:
    value = value.strip().lower()
    if value.startswith(("http://", "https://")) or "/" in value:
        msg = (f"--registry: '{value}' is not a registry host; expected HOST[:PORT] such as "
               "ghcr.io or registry.example.com:5000 (the image path goes in --image)")
        raise UsageError(msg)
    if not _REGISTRY.match(value) or not ("." in value or ":" in value or value == "localhost"):
        msg = (f"--registry: '{value}' is not a registry host; expected HOST[:PORT] with a dot "
               "or a port (ghcr.io, docker.io, registry.example.com:5000, localhost:5000)")
        raise UsageError(msg)
    return value


def image(value: str, registry_host: str) -> str:
    value = value.strip().strip("/")
    # the CI twin (…-ci, for branch images) must be a valid repository too
    if not value or ":" in value or "@" in value or not imageref.valid_repository(
            f"{registry_host}/{value}{CI_SUFFIX}"):
        hint = imageref.suggest_repository(value) if value else None
        msg = (f"--image: '{value}' is not an image name; expected lowercase path components "
               "joined by '/' (e.g. team/sentiment), no tag or digest, at most "
               f"{imageref.REPOSITORY_MAX - len(CI_SUFFIX)} characters with the registry")
        raise UsageError(msg, hint=f"did you mean '{hint}'?" if hint and hint != value else None)
    return value


def choice(value: str, choices: tuple[str, ...], flag: str) -> str:
    value = value.strip().lower()
    if value not in choices:
        msg = f"{flag}: '{value}' is not one of {', '.join(choices)}"
        raise UsageError(msg)
    return value


def runner_labels(value: str | None) -> tuple[str, ...]:
    """`self-hosted,linux,gpu` -> ("self-hosted", "linux", "gpu"); "" or None -> ()."""
    if not value or not value.strip():
        return ()
    labels = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad or len(labels) > MAX_LABELS:
        msg = (f"--gpu-runner: '{value}' is not a list of runner labels; expected up to "
               f"{MAX_LABELS} comma-separated labels of letters, digits, '.', '_' and '-' "
               "(e.g. self-hosted,linux,gpu)")
        raise UsageError(msg)
    return labels


def branch(value: str) -> str:
    value = value.strip()
    if not _BRANCH.match(value) or ".." in value or value.endswith((".lock", "/")):
        msg = f"default branch '{value}' is not a plain branch name"
        raise UsageError(msg)
    return value


def model_name(value: str) -> str:
    name = imageref.repository_component(value)
    if not name:
        msg = f"model name '{value}' has no letters or digits to name a release with"
        raise UsageError(msg)
    return name[:53]  # a Helm release name is at most 53 characters


def secret_names(values: list[str]) -> tuple[str, ...]:
    """Webhook URL secrets for `notify:` (`SLACK_WEBHOOK_URL`): each both a GitHub secret name
    and an environment variable name, so it can be written into a workflow as
    `NAME: ${{ secrets.NAME }}` with nothing to quote."""
    names = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    bad = [n for n in names if not _SECRET.match(n) or n.upper().startswith("GITHUB_")]
    if bad or len(names) > MAX_SECRETS:
        # never echoed when it is not a plain word: a webhook URL there carries its token
        shown = f"'{bad[0]}'" if bad and re.fullmatch(r"\w{1,100}", bad[0]) else "a value"
        msg = (f"--notify-secret: {shown if bad else 'too many names'} is not a secret name; "
               f"expected up to {MAX_SECRETS} names of letters, digits and '_', not starting "
               "with a digit or GITHUB_ (e.g. SLACK_WEBHOOK_URL)")
        raise UsageError(msg)
    return names
