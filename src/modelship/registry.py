"""Tag -> digest in an image registry (Docker Registry HTTP API v2 / OCI distribution), so
that every deploy is pinned by digest. Credentials: MODELSHIP_REGISTRY_USER / _PASSWORD
(modelship.credentials), sent as basic auth or exchanged for a bearer token as the registry's
challenge asks.
"""

from __future__ import annotations

import re
import time

import requests

from modelship import console, credentials
from modelship.errors import InfraError, UsageError
from modelship.imageref import DIGEST as _DIGEST
from modelship.imageref import Reference, parse

_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
RETRIES = 3


def _base_url(registry: str) -> str:
    host = registry.split(":", 1)[0]
    if registry == "docker.io":
        return "https://registry-1.docker.io"
    # like the docker engine: localhost registries speak plain HTTP
    if host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost"):
        return f"http://{registry}"
    return f"https://{registry}"


def _token(challenge: str, auth: tuple[str, str] | None, timeout: float) -> str | None:
    params = dict(_CHALLENGE.findall(challenge))
    realm = params.pop("realm", None)
    if not realm:
        return None
    response = requests.get(realm, params=params, auth=auth, timeout=timeout)
    if response.status_code != 200:
        return None
    data = response.json()
    token = data.get("token") or data.get("access_token")
    return token if isinstance(token, str) else None


def request(parsed: Reference, kind: str, reference: str, *, method: str = "GET",
            timeout: float = 15) -> requests.Response | None:
    """One read of the registry API (`kind`: manifests or blobs) with the registry's auth:
    basic credentials, or a bearer token when its challenge asks for one. The 200 answer, or
    None when the registry has no such manifest or blob. InfraError when the registry refuses
    or cannot answer (network errors and other answers are retried)."""
    user, password = credentials.registry()
    auth = (user, password) if user else None
    url = f"{_base_url(parsed.registry)}/v2/{parsed.path}/{kind}/{reference}"
    what = f"{parsed.path}@{reference}" if reference.startswith("sha256:") \
        else f"{parsed.path}:{reference}"
    problem = ""
    for attempt in range(RETRIES):
        try:
            headers = {"Accept": _ACCEPT}
            response = requests.request(method, url, headers=headers, auth=auth,
                                        timeout=timeout)
            if response.status_code == 401:
                challenge = response.headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    token = _token(challenge[len("bearer"):].strip(), auth, timeout)
                    if token:
                        headers["Authorization"] = f"Bearer {token}"
                        response = requests.request(method, url, headers=headers,
                                                    timeout=timeout)
            if response.status_code == 404:
                return None
            if response.status_code in (401, 403):
                raise InfraError(f"registry {parsed.registry} refused to show {what} "
                                 f"(HTTP {response.status_code})",
                                 hint="set MODELSHIP_REGISTRY_USER / MODELSHIP_REGISTRY_PASSWORD"
                                      " (action inputs registry-username / registry-password)")
            if response.status_code == 200:
                return response
            problem = f"HTTP {response.status_code}"
        except requests.RequestException as e:
            problem = str(e).split("\n")[0]
        if attempt + 1 < RETRIES:
            console.info(f"registry {parsed.registry}: {problem}; retrying")
            time.sleep(1 + attempt)
    raise InfraError(f"registry {parsed.registry} did not show {what}: {problem}",
                     hint="check that the registry is reachable")


def resolve(ref: str, *, timeout: float = 15) -> str | None:
    """The digest of `ref`'s tag, or None when the registry has no such tag. A reference that
    already carries a digest is returned as is. InfraError when the registry cannot answer."""
    parsed = parse(ref)
    if parsed.digest:
        return parsed.digest
    tag = parsed.tag or "latest"
    for attempt in range(RETRIES):
        response = request(parsed, "manifests", tag, method="HEAD", timeout=timeout)
        if response is None:
            return None
        digest = response.headers.get("Docker-Content-Digest", "")
        if _DIGEST.match(digest):
            return digest
        if attempt + 1 < RETRIES:
            console.info(f"registry {parsed.registry}: no Docker-Content-Digest in its answer "
                         f"for {parsed.path}:{tag}; retrying")
            time.sleep(1 + attempt)
    raise InfraError(f"cannot resolve {parsed.repository}:{tag} to a digest: no "
                     "Docker-Content-Digest in the answer",
                     hint="check that the registry is reachable")


def pin(ref: str) -> tuple[str, str]:
    """(repo@digest, digest) for an image reference; UsageError when the tag does not exist."""
    parsed = parse(ref)
    digest = resolve(ref)
    if digest is None:
        raise UsageError(f"image {parsed.repository}:{parsed.tag or 'latest'} does not exist "
                         "in its registry", hint="push it first (modelship build --push) or "
                                                 "pass --image with an existing tag")
    return parsed.pinned(digest), digest
