"""Smoke test: run the built image, wait for its health endpoint, send sample requests, check
the answers' shape, read /metrics, then stop and remove the container. With `nvidia-smi` on the
machine an nvidia image runs with GPUs; otherwise the result says the GPU path was not run."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

import requests

from modelship import console
from modelship.errors import InfraError, Rejected
from modelship.image.dockerfile import endpoint_path

LOG_LINES = 30


@dataclass
class SmokeSpec:
    port: int
    health: str
    predict: str
    metrics: str | None
    samples: list[Any]  # JSON request bodies
    response_field: str | None = None
    timeout: float = 60.0
    nvidia: bool = False
    gpu_count: int = 1


@dataclass
class SmokeResult:
    passed: bool
    gpu: bool
    skipped: bool = False
    requests: int = 0
    seconds_to_healthy: float | None = None
    metrics: bool | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gpu_available() -> bool:
    return shutil.which("nvidia-smi") is not None


def fill(template: Any, row: dict[str, Any]) -> Any:
    """A request body from a template and an eval-set row: "{text}" takes the field's value
    (any JSON type); "... {text} ..." formats it into the string."""
    if isinstance(template, dict):
        return {k: fill(v, row) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, row) for v in template]
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in row:
            return row[template[1:-1]]
        try:
            return template.format_map(row)
        except (KeyError, IndexError, ValueError):
            return template
    return template


def run(docker_client: Any, image: str, spec: SmokeSpec) -> SmokeResult:
    use_gpu = spec.nvidia and gpu_available()
    result = SmokeResult(passed=False, gpu=use_gpu)
    if spec.nvidia and not use_gpu:
        result.notes.append("GPU path not exercised: nvidia-smi not found, ran without GPUs")
        console.info(f"smoke: {result.notes[-1]}")
    kwargs: dict[str, Any] = {}
    if use_gpu:
        import docker.types

        kwargs["device_requests"] = [docker.types.DeviceRequest(
            count=spec.gpu_count, capabilities=[["gpu"]])]
    name = f"modelship-smoke-{secrets.token_hex(4)}"
    console.info(f"smoke: starting {image} as {name}")
    import docker.errors

    try:
        container = docker_client.containers.run(
            image, detach=True, name=name, ports={f"{spec.port}/tcp": ("127.0.0.1", None)},
            labels={"modelship.io/smoke": "true"}, **kwargs)
    except docker.errors.APIError as e:
        _cleanup(docker_client, name)
        gpu = " with GPUs (is the NVIDIA container toolkit installed?)" if use_gpu else ""
        msg = f"smoke test: could not start {image}{gpu}: {e.explanation or e}"
        raise InfraError(msg) from e
    try:
        base = _base_url(container, spec.port)
        started = time.monotonic()
        _wait_healthy(container, base + endpoint_path(spec.health), spec.timeout)
        result.seconds_to_healthy = round(time.monotonic() - started, 2)
        for body in spec.samples:
            _check_predict(container, base + endpoint_path(spec.predict), body,
                           spec.response_field)
            result.requests += 1
        if spec.metrics:
            result.metrics = _check_metrics(base + endpoint_path(spec.metrics), result)
        result.passed = True
        console.info(f"smoke: passed ({result.requests} requests, healthy after "
                     f"{result.seconds_to_healthy}s)")
        return result
    finally:
        try:
            container.remove(force=True)
        except Exception as e:  # the test result stands; say what is left behind
            console.info(f"smoke: could not remove container {name}: {e}")


def _cleanup(docker_client: Any, name: str) -> None:
    try:
        docker_client.containers.get(name).remove(force=True)
    except Exception:  # nothing was created, or it is already gone
        return


def _base_url(container: Any, port: int) -> str:
    deadline = time.monotonic() + 10
    while True:
        container.reload()
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        bound = ports.get(f"{port}/tcp")
        if bound:
            return f"http://127.0.0.1:{bound[0]['HostPort']}"
        if container.status == "exited" or time.monotonic() > deadline:
            _raise(container, InfraError, f"the container exited before serving on port {port}"
                   if container.status == "exited" else f"port {port} was never published")
        time.sleep(0.2)


def _wait_healthy(container: Any, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    progress = console.Progress(f"waiting for {url}", every=10.0)
    last = "no answer yet"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            _raise(container, InfraError, f"the container exited (code {code}) before it "
                                          f"became healthy")
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code < 400:
                progress.done(f"{answer.status_code}")
                return
            last = f"HTTP {answer.status_code}"
        except requests.RequestException as e:
            last = type(e).__name__
        progress.tick(last)
        time.sleep(0.5)
    _raise(container, InfraError, f"smoke test timed out after {timeout:.0f}s waiting for "
                                  f"{url} ({last})")


def _check_predict(container: Any, url: str, body: Any, field_name: str | None) -> None:
    try:
        answer = requests.post(url, json=body, timeout=30)
    except requests.RequestException as e:
        _raise(container, InfraError, f"POST {url} failed: {e}")
    shown = json.dumps(body)[:200]
    if answer.status_code >= 400:
        _raise(container, Rejected, f"POST {url} {shown} answered HTTP {answer.status_code}: "
                                    f"{answer.text[:300]}")
    try:
        payload = answer.json()
    except ValueError:
        _raise(container, Rejected, f"POST {url} {shown} did not answer JSON: "
                                    f"{answer.text[:300]}")
    if not isinstance(payload, dict):
        _raise(container, Rejected, f"POST {url} answered {type(payload).__name__}, expected "
                                    "a JSON object")
    if field_name and field_name not in payload:
        _raise(container, Rejected, f"POST {url} answer has no '{field_name}' field "
                                    f"(gate.online.response_field): {json.dumps(payload)[:300]}")


def _check_metrics(url: str, result: SmokeResult) -> bool:
    try:
        answer = requests.get(url, timeout=5)
    except requests.RequestException as e:
        result.notes.append(f"metrics: GET {url} failed: {type(e).__name__}")
        return False
    if answer.status_code >= 400:
        result.notes.append(f"metrics: GET {url} answered HTTP {answer.status_code}")
        return False
    return True


def logs_tail(container: Any, lines: int = LOG_LINES) -> str:
    try:
        raw = container.logs(tail=lines)
    except Exception as e:
        return f"(logs unavailable: {e})"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines()) or "    (no output)"


def _raise(container: Any, kind: type[Exception], message: str) -> NoReturn:
    msg = f"{message}\n  container's last log lines:\n{logs_tail(container)}"
    raise kind(msg, hint="run the image locally (docker run -p PORT:PORT IMAGE) and check "
                         "serve.command, serve.port and serve.health")  # type: ignore[call-arg]
