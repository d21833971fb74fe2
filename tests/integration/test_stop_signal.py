"""How fast containers of modelship-built images stop, on the real Docker engine.

`docker stop` sends the image's stop signal, waits (10 s by default; Kubernetes waits
terminationGracePeriodSeconds, 30 s by default) and then sends SIGKILL. The model server is the
container's PID 1, which ignores any signal it installed no handler for. Two images built with
the generated Dockerfile: a server that handles no signal at all (tests/data/build/
ignores-sigterm), and the example. Each must stop by itself well inside the grace period.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelship import cli

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
IGNORES_SIGTERM = REPO_ROOT / "tests" / "data" / "build" / "ignores-sigterm"
EXAMPLE = REPO_ROOT / "examples" / "sentiment"
CA = "/etc/ssl/certs/ca-certificates.crt"
LABEL = "modelship.io/stop-signal-test"
PROMPT = 5.0  # seconds; docker stop's default grace is 10 s, a pod's 30 s
KILLED = 137  # 128 + SIGKILL: the grace period ran out


def build(project: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`modelship build` of a project without a Dockerfile (so the generated one); its tag."""
    if Path(CA).is_file():
        monkeypatch.setenv("PIP_CERT", CA)
    out, err = io.StringIO(), io.StringIO()
    repository = f"modelship-it/stop-{project.name}-{uuid.uuid4().hex[:6]}"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["build", "--config", str(project / "modelship.yaml"), "--no-smoke",
                         "--json", "--repository", repository])
    assert code == 0, err.getvalue()[-3000:]
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["dockerfile"] == "generated"
    return str(result["image"])


@pytest.fixture(scope="module")
def images(docker_client: Any) -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        built = {"ignores-sigterm": build(IGNORES_SIGTERM, mp), "example": build(EXAMPLE, mp)}
    yield built
    for container in docker_client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True)
    for image in built.values():
        docker_client.images.remove(image)  # the tag only: layers stay for other builds


def serving(docker_client: Any, image: str, **options: Any) -> Any:
    """A container of `image` whose server has started (its "serving" log line)."""
    container = docker_client.containers.run(image, detach=True, labels={LABEL: "1"}, **options)
    deadline = time.monotonic() + 60
    while b"serving" not in container.logs():
        container.reload()
        assert container.status in ("created", "running"), container.logs().decode()[-2000:]
        assert time.monotonic() < deadline, "no 'serving' line within 60 s"
        time.sleep(0.1)
    return container


def stop(container: Any, timeout: int | None = None) -> tuple[float, int]:
    """docker stop (the engine's default grace when timeout is None): seconds, exit code."""
    started = time.monotonic()
    container.stop(**({} if timeout is None else {"timeout": timeout}))
    seconds = time.monotonic() - started
    container.reload()
    code = int(container.attrs["State"]["ExitCode"])
    container.remove(force=True)
    return seconds, code


def test_generated_image_declares_sigint(images: dict[str, str], docker_client: Any) -> None:
    for image in images.values():
        assert docker_client.images.get(image).attrs["Config"]["StopSignal"] == "SIGINT"


def test_a_server_that_ignores_sigterm_stops_promptly(images: dict[str, str],
                                                      docker_client: Any) -> None:
    image = images["ignores-sigterm"]
    # the control: with SIGTERM this server really does wait out the grace period
    seconds, code = stop(serving(docker_client, image, stop_signal="SIGTERM"), timeout=3)
    assert code == KILLED
    assert seconds >= 2.5
    # the image's own stop signal: the interpreter stops at once
    seconds, code = stop(serving(docker_client, image))
    print(f"ignores-sigterm: docker stop took {seconds:.2f} s (exit {code})")
    assert code != KILLED
    assert seconds < PROMPT


@pytest.mark.parametrize("signal", [None, "SIGTERM"], ids=["image-stop-signal", "sigterm"])
def test_the_example_stops_promptly(images: dict[str, str], docker_client: Any,
                                    signal: str | None) -> None:
    """The example handles SIGTERM itself too (a pod spec can set its own stop signal)."""
    options = {"stop_signal": signal} if signal else {}
    seconds, code = stop(serving(docker_client, images["example"], **options))
    print(f"example ({signal or 'SIGINT'}): docker stop took {seconds:.2f} s (exit {code})")
    assert code == 0
    assert seconds < PROMPT
