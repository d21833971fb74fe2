"""Real serving runtimes (MLServer, BentoML, ...) run from their own PyPI packages on the host;
each venv is built once under ~/.cache/modelship-runtimes (testbed/runtimes.py)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from testbed import action_image, runtime_wheels
from testbed.runtimes import OWN_WHEELS
from tests.support import runtimes

from modelship import cli

REPO = Path(__file__).resolve().parents[3]
CA = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class Served:
    project: Path  # a copy of the example, its modelship.yaml unchanged
    url: str  # the server's base URL
    metrics_url: str


@pytest.fixture(scope="session")
def mlserver_iris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """examples/iris-mlserver served by `mlserver start .` on free ports (MLServer 1.7.1)."""
    example = REPO / "examples/iris-mlserver"
    env = runtimes.example_venv("mlserver-1.7.1")
    project = tmp_path_factory.mktemp("iris-mlserver") / "iris"
    shutil.copytree(example, project)
    http, grpc, metrics = runtimes.free_port(), runtimes.free_port(), runtimes.free_port()
    # the test's ports instead of the example's 8080/8081/8082 (other servers may hold them)
    settings = json.loads((project / "settings.json").read_text())
    settings.update(http_port=http, grpc_port=grpc, metrics_port=metrics, host="127.0.0.1")
    (project / "settings.json").write_text(json.dumps(settings))
    base = f"http://127.0.0.1:{http}"
    with runtimes.serving([str(env / "bin/mlserver"), "start", "."], cwd=project,
                          ready_url=f"{base}/v2/models/iris/ready"):
        yield Served(project, base, f"http://127.0.0.1:{metrics}/metrics")


@pytest.fixture(scope="session")
def bentoml_iris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """examples/iris-bentoml served by `bentoml serve service:Iris` (BentoML 1.4.40)."""
    example = REPO / "examples/iris-bentoml"
    env = runtimes.example_venv("bentoml-1.4.40")
    project = tmp_path_factory.mktemp("iris-bentoml") / "iris"
    shutil.copytree(example, project, symlinks=False)  # the shared model and eval set as files
    port = runtimes.free_port()
    base = f"http://127.0.0.1:{port}"
    with runtimes.serving([str(env / "bin/bentoml"), "serve", "service:Iris", "--host",
                           "127.0.0.1", "--port", str(port)], cwd=project,
                          ready_url=f"{base}/readyz",
                          env={"BENTOML_DO_NOT_TRACK": "true",
                               "BENTOML_HOME": str(project / ".bentoml")}):
        yield Served(project, base, f"{base}/metrics")


LLAMA_EXAMPLE = REPO / "examples/tiny-llm-llamacpp"


@pytest.fixture(scope="session")
def llama_venv() -> Path:
    """llama-cpp-python's OpenAI-compatible server, built from its sdist (compiles llama.cpp),
    and the gguf package that writes the tiny model."""
    return runtimes.example_venv("llama-cpp-python-0.3.36")


def llama_project(env: Path, dest: Path, seed: int = 1) -> Path:
    """The example with its model written (make_model.py) and its offline results computed
    in-process by the library the server wraps (evaluate.py)."""
    shutil.copytree(LLAMA_EXAMPLE, dest)
    python = str(env / "bin/python")
    for script in (["make_model.py", "--seed", str(seed)], ["evaluate.py"]):
        runtimes.run([python, *script], cwd=dest)
    return dest


@pytest.fixture(scope="session")
def llama_tiny(llama_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """examples/tiny-llm-llamacpp served by `python -m llama_cpp.server` on a free port."""
    project = llama_project(llama_venv, tmp_path_factory.mktemp("tiny-llm") / "llm")
    port = runtimes.free_port()
    base = f"http://127.0.0.1:{port}"
    with runtimes.serving([str(llama_venv / "bin/python"), "-m", "llama_cpp.server", "--model",
                           "model.gguf", "--model_alias", "tiny", "--n_ctx", "512", "--host",
                           "127.0.0.1", "--port", str(port)], cwd=project,
                          ready_url=f"{base}/v1/models"):
        yield Served(project, base, "")


def modelship_build(project: Path, repository: str, registry: Any) -> tuple[int, dict, str]:
    """`modelship build --push --json` of `project` in-process, as a terminal user runs it
    (no GitHub runtime files), smoke test included: (exit code, JSON result, stderr)."""
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


LLAMA_WHEEL = OWN_WHEELS["llama-cpp-python-0.3.36"]


@pytest.fixture(scope="session")
def llama_image(llama_venv: Path, registry: Any, docker_client: Any,
                tmp_path_factory: pytest.TempPathFactory) -> dict:
    """examples/tiny-llm-llamacpp (its model written) built by `modelship build --push`, smoke
    test included, once per session. The image base has no compiler, so llama-cpp-python comes
    from the wheel the test bed compiled for the venv (llama_venv made it), handed to the build
    as a team hands over a private wheel index: pip's own settings as image.build_args, the
    wheel directory served on 127.0.0.1 (the build runs on the host's network)."""
    project = llama_project(llama_venv, tmp_path_factory.mktemp("llama-image") / "llm")
    config_file = project / "modelship.yaml"
    config = yaml.safe_load(config_file.read_text())
    repository = f"{registry.host}/it/tiny-llm-{uuid.uuid4().hex[:6]}"
    with action_image.serve(runtime_wheels.directory(LLAMA_WHEEL)) as url:
        config["image"]["build_args"] = {"PIP_FIND_LINKS": url,
                                         "PIP_ONLY_BINARY": LLAMA_WHEEL.split("==")[0]}
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        code, result, err = modelship_build(project, repository, registry)
    assert code == 0, err[-3000:]
    return {**result, "project": project, "repository": repository, "log": err}
