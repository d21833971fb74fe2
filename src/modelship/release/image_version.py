"""The model version an image carries in its config labels, read from the registry (manifest ->
config blob; no docker daemon), for an image deployed by digest alone.

`modelship build` labels every image with `org.opencontainers.image.version` and
`modelship.io/version` (modelship.image.tags.labels); other builds often set the OCI one. The
version from the labels is what `status` shows and `rollback --to` finds later, so a CD job that
deploys the build's digest records `1.2.3`, not a digest prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from modelship import imageref, registry
from modelship.errors import UsageError
from modelship.release.history import normalise_version

VERSION_LABELS = ("org.opencontainers.image.version", "modelship.io/version")
PLATFORM = {"os": "linux", "architecture": "amd64"}  # the platform picked from an image index
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class Labelled:
    version: str
    label: str  # which label it came from


# -- pure: reading the documents ------------------------------------------------------------
def version_from_labels(labels: Mapping[str, Any]) -> Labelled | None:
    """The first of VERSION_LABELS with a non-empty value (a leading `v` of a semantic version
    dropped, as for tags); None when neither is set."""
    for name in VERSION_LABELS:
        value = labels.get(name)
        if isinstance(value, str) and value.strip():
            return Labelled(normalise_version(value), name)
    return None


def is_index(manifest: Mapping[str, Any]) -> bool:
    media_type = manifest.get("mediaType")
    return media_type in _INDEX_TYPES or (media_type is None and "manifests" in manifest)


def platform_manifest(index: Mapping[str, Any]) -> str | None:
    """The digest of an image index's linux/amd64 manifest, else of its first one."""
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)
                 and isinstance(m.get("digest"), str)]
    for entry in manifests:
        platform = entry.get("platform")
        if isinstance(platform, dict) and all(platform.get(k) == v for k, v in PLATFORM.items()):
            return str(entry["digest"])
    return str(manifests[0]["digest"]) if manifests else None


def config_digest(manifest: Mapping[str, Any]) -> str | None:
    """The digest of an image manifest's config blob (OCI or Docker schema 2)."""
    config = manifest.get("config")
    digest = config.get("digest") if isinstance(config, dict) else None
    return digest if isinstance(digest, str) else None


def labels_of(config: Mapping[str, Any]) -> dict[str, str]:
    """The labels of an image config blob (`config.Labels`; null when the image has none)."""
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str)}


# -- the registry -----------------------------------------------------------------------------
def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UsageError(f"{what} is not a JSON document; not an image the registry can serve")
    return data


def image_labels(ref: str, digest: str) -> dict[str, str] | None:
    """The config labels of `ref`'s image `digest` (an index: its linux/amd64 image, else its
    first). None when the manifest has no config blob (an old schema 1 image, an artifact);
    UsageError when the registry has no manifest with that digest."""
    parsed = imageref.parse(ref)
    where = f"{parsed.repository}@{digest}"
    response = registry.request(parsed, "manifests", digest)
    if response is None:
        raise UsageError(f"image {where} does not exist in its registry",
                         hint="push it first (modelship build --push) or pass --image with an "
                              "existing digest")
    manifest: dict[str, Any] | None = _json(response, f"the manifest of {where}")
    if manifest is not None and is_index(manifest):
        chosen = platform_manifest(manifest)
        manifest = None if chosen is None else _read(parsed, "manifests", chosen,
                                                     f"the manifest {chosen} of {where}")
    blob = config_digest(manifest) if manifest is not None else None
    if blob is None:
        return None
    config = _read(parsed, "blobs", blob, f"the config {blob} of {where}")
    return None if config is None else labels_of(config)


def _read(parsed: imageref.Reference, kind: str, digest: str, what: str) -> dict[str, Any] | None:
    """A JSON document the registry holds (manifest or blob), None when it has none."""
    response = registry.request(parsed, kind, digest)
    return None if response is None else _json(response, what)


def from_registry(ref: str, digest: str) -> Labelled | None:
    """The version `ref`'s image `digest` carries in its labels, or None."""
    labels = image_labels(ref, digest)
    return version_from_labels(labels) if labels else None
