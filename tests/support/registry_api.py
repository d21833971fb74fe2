"""The test registry's HTTP API (distribution, basic auth) for what the docker engine cannot do:
put an image into a repository by digest only, so no tag is ever pushed there, and put an
image index over images already there."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
))
LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"


@dataclass(frozen=True)
class RegistryAPI:
    host: str  # localhost:PORT, plain HTTP
    user: str
    password: str

    def _url(self, path: str) -> str:
        return f"http://{self.host}/v2/{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self._url(path), auth=(self.user, self.password),
                                timeout=30, **kwargs)

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and media type."""
        response = self._call("GET", f"{repository}/manifests/{reference}",
                              headers={"Accept": MANIFEST_TYPES})
        response.raise_for_status()
        return response.content, response.headers["Content-Type"]

    def has(self, repository: str, reference: str) -> bool:
        response = self._call("HEAD", f"{repository}/manifests/{reference}",
                              headers={"Accept": MANIFEST_TYPES})
        if response.status_code not in (200, 404):
            response.raise_for_status()
        return response.status_code == 200

    def put_manifest(self, repository: str, body: bytes, media_type: str) -> str:
        """Put a manifest by its digest (no tag); the digest."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        response = self._call("PUT", f"{repository}/manifests/{digest}", data=body,
                              headers={"Content-Type": media_type})
        assert response.status_code == 201, (response.status_code, response.text)
        assert response.headers.get("Docker-Content-Digest") == digest
        return digest

    def _mount(self, source: str, target: str, blob: str) -> None:
        response = self._call("POST", f"{target}/blobs/uploads/",
                              params={"mount": blob, "from": source})
        if response.status_code == 201:
            return
        assert response.status_code == 202, (response.status_code, response.text)
        # not mounted: upload it (monolithic) to the session the registry opened
        data = self._call("GET", f"{source}/blobs/{blob}")
        data.raise_for_status()
        location = urljoin(self._url(""), response.headers["Location"])
        done = requests.put(location, params={"digest": blob}, data=data.content,
                            auth=(self.user, self.password), timeout=30,
                            headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, (done.status_code, done.text)

    def copy_by_digest(self, source: str, target: str, digest: str) -> None:
        """Image `source@digest` into repository `target` by digest only: its blobs mounted,
        its manifest put with the same bytes (so the same digest)."""
        body, media_type = self.manifest(source, digest)
        manifest = json.loads(body)
        for blob in [manifest["config"]["digest"], *(layer["digest"]
                                                      for layer in manifest["layers"])]:
            self._mount(source, target, blob)
        assert self.put_manifest(target, body, media_type) == digest

    def put_index(self, repository: str, platforms: list[tuple[str, str, str]]) -> str:
        """A manifest list over images already in `repository`, one (digest, os, architecture)
        each in this order; its digest."""
        entries = []
        for digest, os_name, arch in platforms:
            body, media_type = self.manifest(repository, digest)
            entries.append({"mediaType": media_type, "size": len(body), "digest": digest,
                            "platform": {"os": os_name, "architecture": arch}})
        index = json.dumps({"schemaVersion": 2, "mediaType": LIST_TYPE,
                            "manifests": entries}).encode()
        return self.put_manifest(repository, index, LIST_TYPE)
