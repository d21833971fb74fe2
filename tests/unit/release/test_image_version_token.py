"""Version labels read from a registry that asks for a bearer token (GHCR, Docker Hub): the
challenge, the token fetched with the registry credentials, then index -> manifest -> config.

The test bed's registry speaks basic auth only (distribution with htpasswd); a token-auth
registry cannot be run here, so this one is a STAND-IN: a real HTTP server on 127.0.0.1
answering the distribution API's token flow. Basic auth against the real registry is
covered by tests/integration/release/test_release_by_digest.py."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from tests.support.http import JSONHandler

from modelship import console
from modelship.errors import InfraError, UsageError
from modelship.release import image_version
from modelship.release.image_version import Labelled

PATH = "team/model"
USER, PASSWORD = "robot", "s3cret-token-pw"
TOKEN = "tok-123"  # the stand-in's token


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps({"architecture": "amd64", "config": {"Labels": {
    "org.opencontainers.image.version": "v1.4.0", "modelship.io/version": "9.9.9"}}}).encode()
MANIFEST = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": _digest(CONFIG), "size": len(CONFIG)},
                       "layers": []}).encode()
INDEX = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "digest": _digest(MANIFEST), "size": len(MANIFEST),
                                   "platform": {"os": "linux",
                                                "architecture": "amd64"}}]}).encode()
DOCUMENTS = {f"/v2/{PATH}/manifests/{_digest(INDEX)}": INDEX,
             f"/v2/{PATH}/manifests/{_digest(MANIFEST)}": MANIFEST,
             f"/v2/{PATH}/blobs/{_digest(CONFIG)}": CONFIG}


class _TokenRegistry(JSONHandler):
    """Every /v2 read needs `Bearer TOKEN`; /token hands it out for the right basic auth and
    the pull scope its challenge named."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path.split("?")[0])
        if self.path.startswith("/token"):
            basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            scoped = f"scope=repository%3A{PATH.replace('/', '%2F')}%3Apull" in self.path
            if self.headers.get("Authorization") == basic and scoped:
                self.send_json(200, {"token": TOKEN})
            else:
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            host = self.headers["Host"]
            self.send_header("WWW-Authenticate",
                             f'Bearer realm="http://{host}/token",service="stand-in",'
                             f'scope="repository:{PATH}:pull"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = DOCUMENTS.get(self.path)
        if data is None:
            self.send_json(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        else:
            self.send_raw(200, data, json.loads(data).get("mediaType", "application/json"))


@pytest.fixture
def stand_in(http_server: Callable[[type[BaseHTTPRequestHandler]], str],
             monkeypatch: pytest.MonkeyPatch) -> str:
    _TokenRegistry.seen = []
    monkeypatch.setenv("MODELSHIP_REGISTRY_USER", USER)
    monkeypatch.setenv("MODELSHIP_REGISTRY_PASSWORD", PASSWORD)
    console.forget_secrets()
    return http_server(_TokenRegistry).removeprefix("http://") + "/" + PATH


def test_labels_through_the_token_flow(stand_in: str) -> None:
    found = image_version.from_registry(f"{stand_in}@{_digest(INDEX)}", _digest(INDEX))
    assert found == Labelled("1.4.0", "org.opencontainers.image.version")
    reads = [p for p in _TokenRegistry.seen if p.startswith("/v2/")]
    assert reads == [p for path in DOCUMENTS for p in (path, path)]  # each: 401, then bearer
    assert _TokenRegistry.seen.count("/token") == 3


def test_missing_digest_is_a_usage_error(stand_in: str) -> None:
    missing = "sha256:" + "0" * 64
    with pytest.raises(UsageError, match="does not exist in its registry"):
        image_version.from_registry(f"{stand_in}@{missing}", missing)


def test_refused_token_is_an_infra_error_without_the_password(
        stand_in: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHIP_REGISTRY_PASSWORD", "wrong-password-value")
    with pytest.raises(InfraError, match="refused to show") as caught:
        image_version.from_registry(f"{stand_in}@{_digest(INDEX)}", _digest(INDEX))
    assert "wrong-password-value" not in str(caught.value)
    # read through modelship.credentials: registered for masking before any request
    assert "wrong-password-value" not in console.redact("password wrong-password-value")
