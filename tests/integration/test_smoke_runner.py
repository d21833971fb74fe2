"""The build's smoke test where GitHub runs it, and its GPU half on an engine without GPUs.

GitHub runs a Docker action's container on a user-defined bridge network it creates, with the
Docker socket mounted; the model container the smoke test starts is a sibling on the same
engine. Here: a bridge network of our own, the action image built from this checkout
(testbed.action_image, as the e2e tests build it) running on it with the socket and the example
project mounted, and `modelship build` run inside it. The image it builds is then reused for the
GPU checks against the real engine, which has no GPU and refuses the request with its own error.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from modelship.errors import InfraError
from modelship.image import smoke, smoke_gpu

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sentiment"
CA = "/etc/ssl/certs/ca-certificates.crt"
ACTION_IMAGE = "modelship-it/action-runner-network:latest"
WORKSPACE = "/github/workspace"  # where GitHub mounts the checkout in an action's container
SMOKE_LABEL = {"label": "modelship.io/smoke"}


@pytest.fixture(scope="module")
def action_image(testbed_env: dict[str, str]) -> str:
    from testbed import action_image

    return action_image.build(ACTION_IMAGE)


@pytest.fixture(scope="module")
def runner(docker_client: Any, action_image: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The action's container as GitHub runs it: on a user-defined bridge network, the Docker
    socket and the checkout mounted (here it sleeps; the tests exec `modelship` in it)."""
    project = tmp_path_factory.mktemp("runner") / "sentiment"
    shutil.copytree(EXAMPLE, project)
    network = docker_client.networks.create(f"modelship-it-{uuid.uuid4().hex[:8]}",
                                            driver="bridge")
    volumes = {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
               str(project): {"bind": WORKSPACE, "mode": "ro"}}
    environment = {}
    if Path(CA).is_file():  # the build's pip step needs the host's CA bundle here
        volumes[CA] = {"bind": CA, "mode": "ro"}
        environment["PIP_CERT"] = CA
    container = docker_client.containers.run(
        action_image, entrypoint=["sleep", "1200"], detach=True, network=network.name,
        volumes=volumes, environment=environment, working_dir=WORKSPACE,
        labels={"modelship.io/test": "smoke-runner"})
    try:
        yield container
    finally:
        container.remove(force=True)
        network.remove()


@pytest.fixture(scope="module")
def runner_build(runner: Any) -> dict[str, Any]:
    """`modelship build` (with its smoke test) run inside the action's container."""
    code, out = runner.exec_run(
        ["python", "-m", "modelship", "build", "--config", f"{WORKSPACE}/modelship.yaml",
         "--json", "--repository", "modelship-it/smoke-runner"], demux=True)
    stdout, stderr = (part.decode("utf-8", "replace") if part else "" for part in out)
    assert code == 0, stderr[-4000:]
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["log"] = stderr
    return result


def test_the_runner_is_on_its_own_network_not_the_hosts(runner, docker_client):
    runner.reload()
    mode = runner.attrs["HostConfig"]["NetworkMode"]
    assert mode.startswith("modelship-it-")
    assert list(runner.attrs["NetworkSettings"]["Networks"]) == [mode]


def test_smoke_test_inside_the_runner_reads_predictions(runner_build, runner, docker_client):
    smoke_result = runner_build["smoke"]
    assert smoke_result["passed"] is True
    assert smoke_result["requests"] == 3  # three eval rows answered with a label
    assert smoke_result["metrics"] is True
    assert smoke_result["network"] == \
        f"shares the network namespace of container {runner.id[:12]}"
    assert f"in container {runner.id[:12]} on network 'modelship-it-" in runner_build["log"]
    assert not docker_client.containers.list(all=True, filters=SMOKE_LABEL)


def test_a_second_build_right_after_passes_its_smoke_test_too(runner_build, runner):
    """The first model server's closed connections linger in TIME_WAIT on serve.port in the
    runner's namespace: they must not make the next smoke test think the port is taken."""
    code, out = runner.exec_run(
        ["python", "-m", "modelship", "build", "--config", f"{WORKSPACE}/modelship.yaml",
         "--json", "--repository", "modelship-it/smoke-runner"], demux=True)
    stdout, stderr = (part.decode("utf-8", "replace") if part else "" for part in out)
    assert code == 0, stderr[-3000:]
    assert json.loads(stdout.strip().splitlines()[-1])["smoke"]["requests"] == 3


def _wait_serving(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 400:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.5)


def test_the_old_way_a_port_published_on_the_hosts_loopback_is_out_of_the_runners_reach(
        runner_build, runner, docker_client):
    """What the smoke test used to do: publish the model's port on the host's 127.0.0.1 and
    connect to 127.0.0.1 from where modelship runs. The host reaches it; the runner does not."""
    model = docker_client.containers.run(
        runner_build["image_id"], detach=True, ports={"8080/tcp": ("127.0.0.1", None)},
        labels={"modelship.io/test": "smoke-runner"})
    try:
        model.reload()
        port = int(model.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        _wait_serving(f"http://127.0.0.1:{port}/healthz")  # serving, seen from the host
        probe = ("import socket, sys\n"
                 "try:\n"
                 f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                 "except OSError as e:\n"
                 "    sys.exit(f'refused: {e}')\n")
        code, out = runner.exec_run(["python", "-c", probe])
        assert code == 1, out
        assert b"refused" in out
    finally:
        model.remove(force=True)


def test_a_port_held_inside_the_runner_is_named_before_the_model_starts(runner, runner_build):
    """In a shared namespace serve.port must be free: something in the action's container
    holding it gives a clear error instead of a model dying with 'address in use'."""
    holder = ("import socket, subprocess, sys\n"
              "s = socket.socket()\n"
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              "s.bind(('127.0.0.1', 8080)); s.listen()\n"
              "p = subprocess.run([sys.executable, '-m', 'modelship', 'build', '--config', "
              f"'{WORKSPACE}/modelship.yaml', '--repository', 'modelship-it/smoke-runner'],"
              " capture_output=True, text=True)\n"
              "print(p.stderr[-2000:]); sys.exit(p.returncode)\n")
    code, out = runner.exec_run(["python", "-c", holder])
    assert code == 3, out.decode()[-3000:]
    assert b"port 8080 (serve.port) is already in use in this container" in out


# -- the GPU half, against an engine with no GPU --------------------------------------------------
def _spec(**kwargs: Any) -> smoke.SmokeSpec:
    rows = [json.loads(line) for line in
            (EXAMPLE / "eval" / "eval.jsonl").read_text().splitlines()[:2]]
    return smoke.SmokeSpec(port=8080, health="/healthz", predict="/predict", metrics=None,
                           samples=[{"text": row["text"]} for row in rows],
                           response_field="label", timeout=60,
                           **{"nvidia": True, **kwargs})


def test_no_gpu_on_the_engine_is_said_plainly_and_the_model_still_answers(
        runner_build, docker_client):
    if "nvidia" in (docker_client.info().get("Runtimes") or {}):
        pytest.fail("this engine has an nvidia runtime: the no-GPU path cannot be shown here")
    result = smoke.run(docker_client, runner_build["image_id"], _spec())
    assert result.passed is True
    assert result.requests == 2
    assert result.gpu is False
    reason = result.gpu_reason or ""
    assert reason.startswith("no GPU on this runner: the Docker engine has no GPU device "
                             "driver"), reason
    assert 'could not select device driver "" with capabilities: [[gpu]]' in reason
    assert any(note.startswith("GPU path not exercised: no GPU on this runner")
               for note in result.notes)
    assert not docker_client.containers.list(all=True, filters=SMOKE_LABEL)


def test_a_required_gpu_fails_the_smoke_test_and_leaves_no_container(runner_build,
                                                                      docker_client):
    with pytest.raises(InfraError, match=r"a GPU is required \(image.smoke.gpu: required\), "
                                         r"but no GPU on this runner"):
        smoke.run(docker_client, runner_build["image_id"], _spec(gpu="required"))
    assert not docker_client.containers.list(all=True, filters=SMOKE_LABEL)


def test_the_in_container_check_reads_a_missing_tool_as_missing(runner_build, docker_client):
    """The model image has neither nvidia-smi nor torch: the real engine's exec answers (126
    for a missing program, the script's 3 for a missing torch) read as "not in the image"."""
    model = docker_client.containers.run(runner_build["image_id"], detach=True,
                                         labels={"modelship.io/test": "smoke-runner"})
    try:
        check = smoke_gpu.check_inside(model)
    finally:
        model.remove(force=True)
    assert not check.seen
    assert check.tool is None
    assert check.detail == "nvidia-smi: not in the image; torch: not in the image"


def test_the_host_path_still_publishes_on_loopback(runner_build, docker_client):
    """From the host (not in a container), the smoke test publishes on 127.0.0.1 as before."""
    result = smoke.run(docker_client, runner_build["image_id"], _spec(nvidia=False))
    assert result.passed is True
    assert result.network == "published on 127.0.0.1"
