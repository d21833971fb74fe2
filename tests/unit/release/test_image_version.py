"""The version an image carries in its config labels: which label wins, which manifest of an
image index is read, and what the documents look like when a label or config is missing."""

from __future__ import annotations

from typing import Any

import pytest

from modelship.release import image_version
from modelship.release.image_version import Labelled

OCI = "org.opencontainers.image.version"
OWN = "modelship.io/version"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param({OCI: "1.2.3", OWN: "9.9.9"}, Labelled("1.2.3", OCI), id="oci-first"),
        pytest.param({OWN: "2.0.0"}, Labelled("2.0.0", OWN), id="modelship-label"),
        pytest.param({OCI: "  ", OWN: "2.0.0"}, Labelled("2.0.0", OWN), id="blank-oci-skipped"),
        pytest.param({OCI: "v1.2.3"}, Labelled("1.2.3", OCI), id="v-dropped"),
        pytest.param({OCI: "2026.11-nightly"}, Labelled("2026.11-nightly", OCI),
                     id="not-semver-kept"),
        pytest.param({"org.opencontainers.image.title": "m"}, None, id="no-version-label"),
        pytest.param({}, None, id="no-labels"),
    ],
)
def test_version_from_labels(labels: dict[str, str], expected: Labelled | None) -> None:
    assert image_version.version_from_labels(labels) == expected


def entry(digest: str, os: str | None = None, arch: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": digest, "size": 1}
    if os:
        out["platform"] = {"os": os, "architecture": arch}
    return out


@pytest.mark.parametrize(
    ("manifests", "expected"),
    [
        pytest.param([entry("sha256:arm", "linux", "arm64"), entry("sha256:amd", "linux", "amd64")],
                     "sha256:amd", id="linux-amd64-not-first"),
        pytest.param([entry("sha256:win", "windows", "amd64"), entry("sha256:arm", "linux",
                                                                     "arm64")],
                     "sha256:win", id="no-amd64-first"),
        pytest.param([entry("sha256:att"), entry("sha256:amd", "linux", "amd64")], "sha256:amd",
                     id="attestation-without-platform"),
        pytest.param([], None, id="empty"),
    ],
)
def test_platform_manifest(manifests: list[dict[str, Any]], expected: str | None) -> None:
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": manifests}
    assert image_version.is_index(index)
    assert image_version.platform_manifest(index) == expected


def test_index_or_image_manifest() -> None:
    docker_list = {"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                   "manifests": []}
    untyped_index = {"schemaVersion": 2, "manifests": []}
    image = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "config": {"digest": "sha256:cfg"}, "layers": []}
    assert image_version.is_index(docker_list)
    assert image_version.is_index(untyped_index)
    assert not image_version.is_index(image)
    assert image_version.config_digest(image) == "sha256:cfg"
    assert image_version.config_digest({"schemaVersion": 1, "history": []}) is None


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"config": {"Labels": {OCI: "1.0.0", "n": 3}}}, {OCI: "1.0.0"},
                     id="string-labels-only"),
        pytest.param({"config": {"Labels": None}}, {}, id="null-labels"),
        pytest.param({"config": {}}, {}, id="no-labels"),
        pytest.param({"architecture": "amd64"}, {}, id="no-config"),
    ],
)
def test_labels_of(config: dict[str, Any], expected: dict[str, str]) -> None:
    assert image_version.labels_of(config) == expected
