"""Smoke test: run the built image, wait for its health endpoint, send sample requests, check
the answers' shape, read /metrics, then stop and remove the container. With `nvidia-smi` on the
machine an nvidia image runs with GPUs; otherwise the result says the GPU path was not run.

Every HTTP call goes through the serve contract (`modelship.serving`): the samples are the bodies
`gate --endpoint` would send, and an answer is read the way the gate reads it."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from modelship import console, serving
from modelship.errors import InfraError, ModelshipError, Rejected

LOG_LINES = 30


@dataclass
class SmokeSpec:
    port: int
    health: str
    predict: str
    metrics: str | None
    samples: list[Any]  # JSON request bodies
    response_field: str | None = None  # None: any JSON object will do
    timeout: float = 60.0  # for the health endpoint
    nvidia: bool = False
    gpu_count: int = 1
    request_timeout: float = 30.0
    # strict: a sample must be answered at the first attempt (a retried 5xx would let a flaky
    # image pass); the health wait already covers a server that is still starting
    retries: int = 0
    protocol: str = "custom"  # serve.protocol: how an answer is read (serving/protocol.py)

    def serve(self) -> serving.ServeSpec:
        return serving.ServeSpec(
            predict=serving.serve_path(self.predict), health=serving.serve_path(self.health),
            metrics=serving.serve_path(self.metrics) if self.metrics else None, port=self.port,
            response_field=self.response_field or "", timeout=self.request_timeout,
            retries=self.retries, protocol=self.protocol)


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
    serve = spec.serve()
    try:
        base = _base_url(container, spec.port)
        started = time.monotonic()
        _wait_healthy(container, base + serve.health, spec.timeout)
        result.seconds_to_healthy = round(time.monotonic() - started, 2)
        with serving.Client(serve) as client:
            for body in spec.samples:
                _check_predict(container, client, serving.predict_url(base, serve.predict), body)
                result.requests += 1
        if serve.metrics:
            result.metrics = _check_metrics(base + serve.metrics, result)
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
        status, last = serving.get_status(url, timeout=2)
        if status is not None and status < 400:
            progress.done(last)
            return
        progress.tick(last)
        time.sleep(0.5)
    _raise(container, InfraError, f"smoke test timed out after {timeout:.0f}s waiting for "
                                  f"{url} ({last})")


def _check_predict(container: Any, client: serving.Client, url: str, body: Any) -> None:
    """One sample through the serve contract: an answer the gate could read, or the test
    fails (Rejected: the image answers wrongly; InfraError: it does not answer)."""
    answer = client.predict(url, body)
    failure = answer.failure
    shown = json.dumps(body)[:200]
    if failure is None:
        if (not client.spec.response_field and client.spec.protocol == "custom"
                and not isinstance(answer.prediction, dict)):
            _raise(container, Rejected, f"POST {url} answered "
                                        f"{type(answer.prediction).__name__}, expected a JSON "
                                        "object")
        return
    if not failure.answered:
        _raise(container, InfraError, f"POST {url} failed: {failure}")
    if failure.kind == "http":
        _raise(container, Rejected, f"POST {url} {shown} answered HTTP {failure.status}: "
                                    f"{failure.body}")
    if failure.kind == "not-json":
        _raise(container, Rejected, f"POST {url} {shown} did not answer JSON: {failure.body}")
    _raise(container, Rejected, f"POST {url} answer has no '{client.spec.response_field}' "
                                f"field (gate.online.response_field): {failure.body}")


def _check_metrics(url: str, result: SmokeResult) -> bool:
    status, detail = serving.get_status(url, timeout=5)
    if status is None or status >= 400:
        result.notes.append(f"metrics: GET {url} {'answered ' if status else 'failed: '}"
                            f"{detail}")
        return False
    return True


def logs_tail(container: Any, lines: int = LOG_LINES) -> str:
    try:
        raw = container.logs(tail=lines)
    except Exception as e:
        return f"(logs unavailable: {e})"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines()) or "    (no output)"


def _raise(container: Any, kind: type[ModelshipError], message: str) -> NoReturn:
    msg = f"{message}\n  container's last log lines:\n{logs_tail(container)}"
    raise kind(msg, hint="run the image locally (docker run -p PORT:PORT IMAGE) and check "
                         "serve.command, serve.port and serve.health")
