"""Real serving runtimes (MLServer, BentoML, ...) run from their own PyPI packages on the host;
each venv is built once under ~/.cache/modelship-runtimes (testbed/runtimes.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support import runtimes

REPO = Path(__file__).resolve().parents[3]


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
