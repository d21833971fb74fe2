"""Images for projects served by a runtime not written here: `modelship build --push` generates
a Dockerfile whose CMD is the runtime's own command, with the weights in a layer of their own
and the eval data left out by the project's .dockerignore; the smoke test talks to the runtime
through its serve.protocol preset. Each runtime image is built once per test session (heavy:
the runtime's wheels are installed inside the build). llama-cpp-python's wheel is compiled
outside the image build (its base has no compiler) and handed to it through image.build_args
(the llama_image fixture)."""

from __future__ import annotations

import contextlib
import io
import shutil
import uuid

import pytest

from modelship import cli

from .conftest import REPO, modelship_build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def mlserver_image(registry, docker_client, tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("mlserver-image") / "iris"
    shutil.copytree(REPO / "examples/iris-mlserver", project)
    repository = f"{registry.host}/it/iris-mlserver-{uuid.uuid4().hex[:6]}"
    code, result, err = modelship_build(project, repository, registry)
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
    code, result, err = modelship_build(project, repository, registry)
    assert code == 0, err[-3000:]
    return result


def test_bentoml_image_serves_bentoml_serve_and_passes_the_smoke_test(bentoml_image,
                                                                      docker_client) -> None:
    assert bentoml_image["smoke"]["passed"] is True
    assert bentoml_image["smoke"]["requests"] == 3  # three eval rows, answered as text
    image = docker_client.images.get(bentoml_image["image"])
    assert image.attrs["Config"]["Cmd"] == ["bentoml", "serve", "service:Iris", "--port",
                                            "8080"]


def test_llama_image_installs_the_wheel_handed_to_the_build_and_passes_the_smoke_test(
        llama_image, docker_client) -> None:
    assert llama_image["image"].startswith(f"{llama_image['repository']}@sha256:")
    assert llama_image["smoke"]["passed"] is True
    assert llama_image["smoke"]["requests"] == 3  # three prompts, answered with text
    image = docker_client.images.get(llama_image["image"])
    assert image.attrs["Config"]["Cmd"][:3] == ["python", "-m", "llama_cpp.server"]
    # pip took the repaired wheel from the served directory (no compiler in the image); the
    # build args were the install step's only: nothing of them in the image's environment
    wheel = docker_client.containers.run(
        llama_image["image"], ["python", "-c", "import importlib.metadata as m; print(m."
                               "distribution('llama-cpp-python').read_text('WHEEL'))"],
        remove=True, entrypoint=[]).decode()
    assert "Tag: py3-none-manylinux_" in wheel
    assert not [e for e in image.attrs["Config"]["Env"] if e.startswith("PIP_FIND_LINKS")]
    listing = docker_client.containers.run(llama_image["image"], ["ls", "-a", "/app"],
                                           remove=True, entrypoint=[]).decode().split()
    assert "model.gguf" in listing
    assert "eval" not in listing  # the example's .dockerignore
