"""`modelship build` against the real test bed: Docker engine, the authenticated registry and
local stand-in base images (debootstrap-made Debian images carrying public names).

Few images are built: the example (pushed, pulled back by digest, smoke-tested), a code-only
change of it (cache check), and a CUDA-profile project built FROM a stand-in of
nvidia/cuda:12.4.1-runtime-ubuntu22.04. The failure cases use tiny Dockerfiles.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests

from modelship import cli, console
from modelship.image import smoke

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "sentiment"
DATA = REPO_ROOT / "tests" / "data" / "build"
CA = "/etc/ssl/certs/ca-certificates.crt"
SHA = "5f0c2a9e1b7d4c3a8e6f0b1d2c3e4f5a6b7c8d9e"
CUDA_STAND_IN = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"  # the test bed's Debian image, renamed
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])


@dataclass
class Run:
    code: int
    out: str
    err: str
    outputs: str = ""
    summary: str = ""

    @property
    def result(self) -> dict:
        return json.loads(self.out.strip().splitlines()[-1])


def run_build(argv: list[str], tmp: Path, env: dict[str, str] | None = None, *,
              ref: str | None = None) -> Run:
    """modelship.cli.main in-process with a controlled environment; stdout/stderr captured.
    With `ref`, it runs as inside GitHub Actions on that ref (outputs and summary files)."""
    tmp.mkdir(parents=True, exist_ok=True)
    outputs, summary = tmp / "github_output", tmp / "step_summary"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("GITHUB_ACTIONS", "GITHUB_REF", "GITHUB_SHA", "GITHUB_REPOSITORY",
                     "GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY",
                     "MODELSHIP_REGISTRY_USER", "MODELSHIP_REGISTRY_PASSWORD"):
            mp.delenv(name, raising=False)
        if Path(CA).is_file():
            mp.setenv("PIP_CERT", CA)
        if ref:
            event = tmp / "event.json"
            event.write_text(json.dumps({"ref": ref, "repository": {"default_branch": "main"}}))
            mp.setenv("GITHUB_ACTIONS", "true")
            mp.setenv("GITHUB_REF", ref)
            mp.setenv("GITHUB_SHA", SHA)
            mp.setenv("GITHUB_REPOSITORY", "example-org/sentiment")
            mp.setenv("GITHUB_SERVER_URL", "https://github.com")
            mp.setenv("GITHUB_EVENT_PATH", str(event))
            mp.setenv("GITHUB_OUTPUT", str(outputs))
            mp.setenv("GITHUB_STEP_SUMMARY", str(summary))
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    read = (lambda p: p.read_text() if p.is_file() else "")  # noqa: E731
    return Run(code, out.getvalue(), err.getvalue(), read(outputs), read(summary))


def creds(registry) -> dict[str, str]:
    return {"MODELSHIP_REGISTRY_USER": registry.user,
            "MODELSHIP_REGISTRY_PASSWORD": registry.password}


def copy_project(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=False)
    return dest


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="module")
def example_repo(registry) -> str:
    return f"{registry.host}/it/sentiment-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def gate_report(workdir) -> Path:
    report = workdir / "gate-report.json"
    report.write_text(json.dumps({"passed": True, "n": 60, "metrics": {"accuracy": 1.0},
                                  "checks": []}))
    return report


@pytest.fixture(scope="module")
def example_build(registry, docker_client, workdir, example_repo, gate_report) -> Run:
    """The example, built and pushed as on a `v1.2.3` tag push in GitHub Actions."""
    run = run_build(["build", "--config", str(EXAMPLE / "modelship.yaml"), "--push", "--json",
                     "--repository", example_repo, "--gate-report", str(gate_report)],
                    workdir / "example", creds(registry), ref="refs/tags/v1.2.3")
    assert run.code == 0, run.err[-3000:]
    return run


def registry_manifest(registry, repo: str, reference: str, auth: bool = True):
    name = repo.split("/", 1)[1]
    return requests.get(f"http://{registry.host}/v2/{name}/manifests/{reference}",
                        headers={"Accept": MANIFEST_TYPES}, timeout=10,
                        auth=(registry.user, registry.password) if auth else None)


# -- the example ----------------------------------------------------------------------------
def test_example_result_follows_the_build_contract(example_build, example_repo):
    result = example_build.result
    digest = result["digest"]
    assert digest.startswith("sha256:")
    assert len(digest) == 71
    assert result["image"] == f"{example_repo}@{digest}"
    assert result["tags"] == [f"{example_repo}:{t}" for t in
                              ("1.2.3", "1.2", "1", SHA[:7], f"sha-{SHA[:7]}")]
    assert result["accelerator"]["kind"] == "cpu"
    assert result["smoke"]["passed"] is True
    assert result["smoke"]["gpu"] is False
    assert result["smoke"]["requests"] == 3
    assert result["dockerfile"] == "generated"
    outputs = example_build.outputs
    assert "digest<<" in outputs
    assert digest in outputs
    assert "image<<ghadelimiter" in outputs
    assert "\n".join(result["tags"]) in outputs
    assert "### modelship build" in example_build.summary
    assert digest in example_build.summary


def test_registry_holds_the_image_by_digest_and_refuses_anonymous(example_build, registry,
                                                                  example_repo):
    digest = example_build.result["digest"]
    assert registry_manifest(registry, example_repo, digest, auth=False).status_code == 401
    answer = registry_manifest(registry, example_repo, digest)
    assert answer.status_code == 200
    assert answer.headers["Docker-Content-Digest"] == digest
    for tag in ("1.2.3", "1.2", "1", SHA[:7], f"sha-{SHA[:7]}"):
        tagged = registry_manifest(registry, example_repo, tag)
        assert tagged.headers.get("Docker-Content-Digest") == digest, tag


def test_pulled_back_by_digest_passes_the_smoke_test(example_build, docker_client, registry):
    reference = example_build.result["image"]
    repo, _, digest = reference.partition("@")
    auth = {"username": registry.user, "password": registry.password}
    pulled = docker_client.images.pull(repo, tag=digest, auth_config=auth)
    assert reference in pulled.attrs["RepoDigests"]
    rows = [json.loads(line) for line in (EXAMPLE / "eval" / "eval.jsonl").read_text()
            .splitlines()[:5]]
    result = smoke.run(docker_client, reference, smoke.SmokeSpec(
        port=8080, health="/healthz", predict="/predict", metrics="/metrics",
        samples=[{"text": row["text"]} for row in rows], response_field="label", timeout=60))
    assert result.passed
    assert result.requests == 5
    assert result.metrics
    assert not docker_client.containers.list(all=True, filters={"label": "modelship.io/smoke"})


def test_labels_are_oci_and_modelship(example_build, docker_client, gate_report):
    image = docker_client.images.get(example_build.result["image"])
    labels = image.labels
    assert labels["org.opencontainers.image.source"] == "https://github.com/example-org/sentiment"
    assert labels["org.opencontainers.image.revision"] == SHA
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    created = datetime.strptime(labels["org.opencontainers.image.created"],
                                "%Y-%m-%dT%H:%M:%SZ")
    assert created.year >= 2024
    assert labels["modelship.io/model"] == "sentiment"
    assert labels["modelship.io/model-name"] == "sentiment"
    assert labels["modelship.io/accelerator"] == "cpu"
    digest = "sha256:" + hashlib.sha256(gate_report.read_bytes()).hexdigest()
    assert labels["modelship.io/gate-report-digest"] == digest
    config = image.attrs["Config"]
    assert config["User"] == "10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Cmd"] == ["python", "server.py"]


def test_password_never_appears_in_output(example_build, registry, docker_client):
    password = registry.password
    # workflow commands go to stderr, so --json stdout is one JSON object even in Actions
    assert not [line for line in example_build.out.splitlines() if line.startswith("::")]
    assert isinstance(json.loads(example_build.out), dict)
    assert password not in example_build.out
    mask_lines = [line for line in example_build.err.splitlines() if "::add-mask::" in line]
    assert mask_lines == [f"::add-mask::{password}"]  # GitHub's own masking, swallowed by it
    rest = [line for line in example_build.err.splitlines() if line not in mask_lines]
    assert password not in "\n".join(rest)
    assert password not in example_build.outputs
    assert password not in example_build.summary
    image = docker_client.images.get(example_build.result["image"])
    history = json.dumps(docker_client.api.history(image.id))
    assert password not in history
    assert password not in json.dumps(image.attrs)
    assert "modelship-ca.crt" not in json.dumps(image.attrs["Config"]["Env"])


def test_code_only_change_reuses_dependency_and_weight_layers(example_build, docker_client,
                                                             workdir, registry):
    project = copy_project(EXAMPLE, workdir / "code-change")
    server = project / "server.py"
    server.write_text(server.read_text() + "\n# a code-only change\n")
    run = run_build(["build", "--config", str(project / "modelship.yaml"), "--no-smoke",
                     "--json", "--repository", f"{registry.host}/it/code-change"],
                    workdir / "code-change-run")
    assert run.code == 0, run.err[-3000:]
    before = docker_client.images.get(example_build.result["image"]).attrs["RootFS"]["Layers"]
    after = docker_client.images.get(run.result["image_id"]).attrs["RootFS"]["Layers"]
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed == [len(after) - 1], "only the last (code) layer may change"
    assert run.result["build"]["cached_steps"] >= 6


@pytest.mark.parametrize("variant", ["sentiment-bad", "sentiment-flaky"])
def test_variants_build_and_serve(variant, example_build, docker_client, workdir, registry):
    """The release tests' variants are buildable projects (their shared files are symlinks,
    dereferenced into the context); the flaky one fails 1 request in 5 once served."""
    project = EXAMPLE.parent / variant
    run = run_build(["build", "--config", str(project / "modelship.yaml"), "--json",
                     "--repository", f"{registry.host}/it/{variant}"], workdir / variant)
    assert run.code == 0, run.err[-3000:]
    assert run.result["smoke"]["passed"] is True
    # dependencies came from the cache: ENV, WORKDIR, the requirements COPY and the install
    assert run.result["build"]["cached_steps"] >= 4
    if variant == "sentiment-flaky":
        rows = [{"text": f"sample {i}"} for i in range(10)]
        with pytest.raises(smoke.Rejected, match="answered HTTP 500"):
            smoke.run(docker_client, run.result["image_id"], smoke.SmokeSpec(
                port=8080, health="/healthz", predict="/predict", metrics=None,
                samples=rows, response_field="label", timeout=60))


# -- what a project may leave loose: names, command string, paths, eval set format ----------------
def test_capitalised_directory_without_a_repository_builds_under_a_lowercase_name(
        workdir, docker_client, monkeypatch):
    name = f"MyModel{uuid.uuid4().hex[:6].upper()}"
    project = workdir / name
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\nCOPY x /x\n")
    (project / "x").write_text("hi\n")
    monkeypatch.chdir(project)
    run = run_build(["build", "--no-smoke", "--json"], workdir / f"{name}-run")
    assert run.code == 0, run.err[-3000:]
    repo = f"modelship/{name.lower()}"
    assert run.result["tags"] == [f"{repo}:dev"]
    assert run.result["image"] == f"{repo}:dev"
    assert docker_client.images.get(f"{repo}:dev").id == run.result["image_id"]
    docker_client.images.remove(run.result["image_id"], force=True)


def test_command_string_paths_without_slash_and_a_bom_csv_eval_set_build_and_serve(
        example_build, workdir, docker_client):
    """serve.command as one string, serve.* paths without their leading `/`, a CSV eval set with
    a byte-order mark (as `gate --endpoint` reads it), no model.name and no image.repository."""
    name = f"Sentiment{uuid.uuid4().hex[:6].upper()}"
    project = copy_project(EXAMPLE, workdir / name)
    config = project / "modelship.yaml"
    text = config.read_text()
    for old, new in [("  name: sentiment\n", ""),
                     ("  repository: localhost:5000/models/sentiment\n", ""),
                     ('  command: ["python", "server.py"]\n', "  command: python server.py\n"),
                     ("  health: /healthz\n", "  health: healthz\n"),
                     ("  predict: /predict\n", "  predict: predict\n"),
                     ("  metrics: /metrics\n", "  metrics: metrics\n"),
                     ("eval_set: eval/eval.jsonl", "eval_set: eval/eval.csv")]:
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)
    rows = [json.loads(line) for line in
            (EXAMPLE / "eval" / "eval.jsonl").read_text().splitlines()[:5]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "reference"])
    writer.writerows([[row["text"], row["reference"]] for row in rows])
    (project / "eval" / "eval.csv").write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())

    run = run_build(["build", "--config", str(config), "--json"], workdir / f"{name}-run")
    assert run.code == 0, run.err[-3000:]
    result = run.result
    assert result["image"] == f"modelship/{name.lower()}:dev"
    assert result["smoke"]["passed"] is True
    assert result["smoke"]["requests"] == 3
    assert result["smoke"]["metrics"] is True
    image = docker_client.images.get(result["image_id"])
    assert image.attrs["Config"]["Cmd"] == ["python", "server.py"]
    assert "127.0.0.1:8080/healthz'" in image.attrs["Config"]["Healthcheck"]["Test"][-1]
    docker_client.images.remove(image.id, force=True)


# -- CUDA profile through the same path --------------------------------------------------------
def test_cuda_profile_builds_with_a_stand_in_base_and_carries_cuda_labels(
        registry, docker_client, workdir):
    from testbed.base_images import tag_stand_in

    tag_stand_in(CUDA_STAND_IN, docker_client)  # a locally made stand-in under the public tag
    project = copy_project(EXAMPLE, workdir / "cuda")
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "nvidia-cuda-runtime-cu12==12.4.127\n")
    config = project / "modelship.yaml"
    config.write_text(config.read_text().replace(
        "  accelerator: cpu\n", "  accelerator: auto\n  gpu_products: [H100, L4]\n"))
    repo = f"{registry.host}/it/sentiment-cuda-{uuid.uuid4().hex[:6]}"

    shown = run_build(["build", "--config", str(config), "--print-dockerfile"], workdir / "c0")
    assert shown.code == 0
    assert f"FROM {CUDA_STAND_IN}" in shown.out
    assert "ARG TORCH_CUDA_ARCH_LIST" in shown.out

    run = run_build(["build", "--config", str(config), "--push", "--json", "--repository", repo],
                    workdir / "c1", creds(registry), ref="refs/heads/main")
    assert run.code == 0, run.err[-3000:]
    result = run.result
    accel = result["accelerator"]
    assert accel["kind"] == "nvidia"
    assert accel["cuda"] == "12.4"
    assert accel["base_image"] == CUDA_STAND_IN
    assert accel["arch_list"] == ["8.9", "9.0"]
    assert accel["source"].startswith("detected (nvidia-cuda-runtime-cu12")
    assert accel["chart_values"] == {"gpu": {"count": 1, "product": "NVIDIA-H100-80GB-HBM3"}}
    assert f"{repo}:latest" in result["tags"]
    assert f"{repo}:main" in result["tags"]
    assert result["smoke"]["passed"] is True
    # the smoke test asked the engine for GPUs for the model container; this engine has none
    assert "nvidia" not in (docker_client.info().get("Runtimes") or {})
    assert result["smoke"]["gpu"] is False
    assert result["smoke"]["gpu_reason"].startswith("no GPU on this runner: ")
    assert any("GPU path not exercised" in n for n in result["smoke"]["notes"])
    assert "GPU path not exercised: no GPU on this runner" in run.err
    labels = docker_client.images.get(result["image"]).labels
    assert labels["modelship.io/accelerator"] == "nvidia"
    assert labels["modelship.io/cuda-version"] == "12.4"
    assert labels["modelship.io/gpu-products"] == "H100,L4"
    env = docker_client.images.get(result["image"]).attrs["Config"]["Env"]
    assert "NVIDIA_VISIBLE_DEVICES=all" in env
    assert registry_manifest(registry, repo, result["digest"]).status_code == 200
    assert result["build"]["cache_from"] == []  # a new repository: nothing to cache from

    again = run_build(["build", "--config", str(config), "--push", "--json", "--no-smoke",
                       "--repository", repo], workdir / "c2", creds(registry),
                      ref="refs/heads/main")
    assert again.code == 0, again.err[-3000:]
    assert again.result["build"]["cache_from"] == [f"{repo}:main"]
    assert again.result["build"]["cached_steps"] >= 10


# -- failures -----------------------------------------------------------------------------------
def test_registry_refusing_credentials_exits_3_without_showing_the_password(
        registry, workdir):
    wrong = f"wrong-{uuid.uuid4().hex}"
    run = run_build(["build", "--config", str(EXAMPLE / "modelship.yaml"), "--push",
                     "--repository", f"{registry.host}/it/refused"],
                    workdir / "refused", {"MODELSHIP_REGISTRY_USER": registry.user,
                                          "MODELSHIP_REGISTRY_PASSWORD": wrong})
    assert run.code == 3
    assert "refused the credentials" in run.err
    assert wrong not in run.err + run.out
    assert "Step 1/" not in run.err  # refused before any build work


def test_failing_dockerfile_step_shows_the_step_and_its_last_lines(workdir, registry):
    run = run_build(["build", "--config", str(DATA / "failing-step" / "modelship.yaml"),
                     "--json", "--repository", f"{registry.host}/it/failing"],
                    workdir / "failing")
    assert run.code == 2
    error = run.result["error"]
    assert "docker build failed at Step 2/" in error
    assert "RUN echo \"fetching widget sources\"" in error
    assert "fetching widget sources" in error.split("last output:")[1]
    assert "widget.c:42: expected ';'" in error
    assert "Traceback" not in run.err


def test_smoke_timeout_shows_the_container_log_and_removes_it(workdir, docker_client, registry):
    run = run_build(["build", "--config", str(DATA / "never-healthy" / "modelship.yaml"),
                     "--smoke-timeout", "4", "--repository", f"{registry.host}/it/never"],
                    workdir / "never")
    assert run.code == 3
    assert "smoke test timed out after 4s" in run.err
    assert "booting model: loading shards 1/3" in run.err
    assert not docker_client.containers.list(all=True, filters={"label": "modelship.io/smoke"})


def test_no_registry_credentials_needed_without_push(workdir, registry):
    """Sanity: a build without --push needs no credentials and reports no digest."""
    run = run_build(["build", "--config", str(DATA / "failing-step" / "modelship.yaml"),
                     "--print-dockerfile"], workdir / "nopush")
    assert run.code == 0
    assert run.out.startswith("# A project whose own Dockerfile fails")


@pytest.fixture(autouse=True, scope="module")
def _forget_secrets() -> Iterator[None]:
    yield
    console.forget_secrets()
