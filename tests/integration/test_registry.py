"""The test bed's registry is real and enforces auth: what `build --push` will meet."""

from __future__ import annotations

import io
import uuid

import docker
import pytest
import requests

pytestmark = pytest.mark.integration

DOCKERFILE = b"FROM python:3.11-slim-bookworm\nRUN echo built-by-the-sdk > /marker\n"


@pytest.fixture
def anonymous_client(tmp_path, monkeypatch: pytest.MonkeyPatch, testbed_env):
    """A client with no stored credentials at all: DOCKER_CONFIG holds an empty config.json.
    (An empty directory is not enough: the SDK then falls back to ~/.docker/config.json,
    where an earlier `docker login` on this machine, e.g. the demo's, left credentials.)"""
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client = docker.from_env(timeout=300)
    config = docker.auth.load_config()
    assert not config.auths, config
    assert not config.creds_store, config
    assert not config.cred_helpers, config
    yield client
    client.close()


@pytest.fixture
def built_image(docker_client, registry):
    repo = f"{registry.host}/testbed/registry-check-{uuid.uuid4().hex[:8]}"
    image, _ = docker_client.images.build(fileobj=io.BytesIO(DOCKERFILE), tag=f"{repo}:v1",
                                          rm=True)
    yield repo, image
    docker_client.images.remove(image.id, force=True)


def push_errors(client, repo: str, auth: dict | None) -> list[str]:
    lines = client.api.push(repo, tag="v1", stream=True, decode=True, auth_config=auth)
    return [line["error"] for line in lines if "error" in line]


def test_registry_refuses_anonymous_access(registry, anonymous_client, built_image):
    repo, _ = built_image
    assert requests.get(f"http://{registry.host}/v2/_catalog", timeout=5).status_code == 401
    errors = push_errors(anonymous_client, repo, None)
    assert errors, "an anonymous push was accepted"
    assert any("auth" in e.lower() for e in errors), errors


def test_authenticated_push_and_pull_by_digest(registry, docker_client, built_image):
    repo, image = built_image
    auth = {"username": registry.user, "password": registry.password}
    assert push_errors(docker_client, repo, auth) == []
    data = docker_client.images.get_registry_data(f"{repo}:v1", auth_config=auth)
    digest = data.id
    assert digest.startswith("sha256:")
    docker_client.images.remove(f"{repo}:v1", force=True)
    pulled = docker_client.images.pull(f"{repo}@{digest}", auth_config=auth)
    assert pulled.id == image.id
    out = docker_client.containers.run(pulled.id, ["cat", "/marker"], remove=True)
    assert out.strip() == b"built-by-the-sdk"


def test_wrong_password_is_refused(registry, docker_client):
    with pytest.raises(docker.errors.APIError) as exc:
        docker_client.login(username=registry.user, password="not-the-password",
                            registry=registry.host, reauth=True)
    assert "unauthorized" in str(exc.value).lower() or "401" in str(exc.value)
