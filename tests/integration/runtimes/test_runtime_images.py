"""Images for projects served by a runtime not written here: `modelship build --push` generates
a Dockerfile whose CMD is the runtime's own command, with the weights in a layer of their own
and the eval data left out by the project's .dockerignore; the smoke test talks to the runtime
through its serve.protocol preset. Each runtime image is built once per test session (heavy:
the runtime's wheels are installed inside the build)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid
from pathlib import Path

import pytest

from modelship import cli

from .conftest import REPO

pytestmark = pytest.mark.integration

CA = "/etc/ssl/certs/ca-certificates.crt"


def _build(project: Path, repository: str, registry) -> tuple[int, dict, str]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            mp.delenv(name, raising=False)
        if Path(CA).is_file():
            mp.setenv("PIP_CERT", CA)
        mp.setenv("MODELSHIP_REGISTRY_USER", registry.user)
        mp.setenv("MODELSHIP_REGISTRY_PASSWORD", registry.password)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["build", "--config", str(project / "modelship.yaml"), "--push",
                             "--json", "--repository", repository])
    return code, json.loads(out.getvalue() or "{}"), err.getvalue()


@pytest.fixture(scope="session")
def mlserver_image(registry, docker_client, tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("mlserver-image") / "iris"
    shutil.copytree(REPO / "examples/iris-mlserver", project)
    repository = f"{registry.host}/it/iris-mlserver-{uuid.uuid4().hex[:6]}"
    code, result, err = _build(project, repository, registry)
    assert code == 0, err[-3000:]
    return {**result, "project": project, "repository": repository}


def test_mlserver_image_is_pushed_and_passes_the_v2_smoke_test(mlserver_image) -> None:
    assert mlserver_image["image"].startswith(f"{mlserver_image['repository']}@sha256:")
    assert mlserver_image["smoke"]["passed"] is True


def test_mlserver_image_runs_the_runtimes_own_command_with_weights_apart(
        mlserver_image, docker_client) -> None:
    image = docker_client.images.get(mlserver_image["image"])
    assert image.attrs["Config"]["Cmd"] == ["mlserver", "start", "."]
    probe = image.attrs["Config"]["Healthcheck"]["Test"]
    assert "/v2/health/ready" in " ".join(probe)  # the preset's health path
    listing = docker_client.containers.run(mlserver_image["image"], ["ls", "-a", "/app"],
                                           remove=True, entrypoint=[]).decode().split()
    assert {"model.joblib", "model-settings.json", "settings.json"} <= set(listing)
    assert "eval" not in listing  # the example's .dockerignore
    # weights have a layer of their own, between the dependencies and the code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["build", "--config", str(mlserver_image["project"] / "modelship.yaml"),
                         "--print-dockerfile"]) == 0
    dockerfile = out.getvalue()
    weights = dockerfile.split(". model weights\n", 1)[1].split("\n\n", 1)[0]
    assert weights == 'COPY ["model.joblib", "/app/"]'
    assert dockerfile.index("pip install") < dockerfile.index(weights) < dockerfile.index(
        ". code\n")


@pytest.fixture(scope="session")
def bentoml_image(registry, docker_client, tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("bentoml-image") / "iris"
    shutil.copytree(REPO / "examples/iris-bentoml", project)  # the shared model as a file
    repository = f"{registry.host}/it/iris-bentoml-{uuid.uuid4().hex[:6]}"
    code, result, err = _build(project, repository, registry)
    assert code == 0, err[-3000:]
    return result


def test_bentoml_image_serves_bentoml_serve_and_passes_the_smoke_test(bentoml_image,
                                                                      docker_client) -> None:
    assert bentoml_image["smoke"]["passed"] is True
    assert bentoml_image["smoke"]["requests"] == 3  # three eval rows, answered as text
    image = docker_client.images.get(bentoml_image["image"])
    assert image.attrs["Config"]["Cmd"] == ["bentoml", "serve", "service:Iris", "--port",
                                            "8080"]
