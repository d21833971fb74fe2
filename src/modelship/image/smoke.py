"""Smoke test: run the built image, wait for its health endpoint, send sample requests, check
the answers' shape, read /metrics, then stop and remove the container.

The model container is reached the way the place modelship runs in allows (smoke_network: the
host's loopback, or our own network namespace shared with the model container). For an nvidia
profile the model container is run with a GPU request and checked from inside (smoke_gpu); a
runner without a GPU gives `gpu: false` with the reason, and fails the build only when
image.smoke.gpu is `required`.

Every HTTP call goes through the serve contract (`modelship.serving`): the samples are the bodies
`gate --endpoint` would send, and an answer is read the way the gate reads it."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from modelship import console, serving
from modelship.errors import InfraError, ModelshipError, Rejected, UsageError
from modelship.image import smoke_gpu, smoke_network

LOG_LINES = 30
GPU_MODES = smoke_gpu.MODES  # image.smoke.gpu


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
    gpu_count: int = 1  # what the deployment asks for; the smoke test requests every GPU
    gpu: str = "auto"  # image.smoke.gpu: auto | required (no GPU on the runner fails the build)
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
    gpu_reason: str | None = None  # why `gpu` is false
    gpu_devices: list[str] = field(default_factory=list)  # as the model container sees them
    network: str | None = None  # how the model container was reached

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(docker_client: Any, image: str, spec: SmokeSpec,
        reach: smoke_network.Reach | None = None) -> SmokeResult:
    reach = reach or smoke_network.choose(docker_client)
    console.info(f"smoke: {reach.why}")
    smoke_network.check_port_free(reach, spec.port)
    result = SmokeResult(passed=False, gpu=False, network=reach.describe(),
                         gpu_reason=None if spec.nvidia else "the accelerator profile is cpu")
    container, name, gpu_granted = _start(docker_client, image, spec, reach, result)
    serve = spec.serve()
    try:
        base = _base_url(container, spec.port, reach)
        started = time.monotonic()
        _wait_healthy(container, base + serve.health, spec.timeout)
        result.seconds_to_healthy = round(time.monotonic() - started, 2)
        if gpu_granted:
            _check_gpu(container, spec, result)
        if not spec.samples:  # a smoke test that read no answer has not shown the model serves
            _raise(container, UsageError, "the smoke test has no request to send: the server "
                   "became healthy, but no prediction was read", hint="set image.smoke.request "
                   "(a request body) or gate.online.eval_set, or pass --no-smoke")
        with serving.Client(serve) as client:
            for body in spec.samples:
                _check_predict(container, client, serving.predict_url(base, serve.predict), body)
                result.requests += 1
        if serve.metrics:
            result.metrics = _check_metrics(base + serve.metrics, result)
        result.passed = True
        console.info(f"smoke: passed ({result.requests} requests, healthy after "
                     f"{result.seconds_to_healthy}s{', GPU' if result.gpu else ''})")
        return result
    finally:
        try:
            container.remove(force=True)
        except Exception as e:  # the test result stands; say what is left behind
            console.info(f"smoke: could not remove container {name}: {e}")


class _NoGpu(Exception):
    """The engine refused the GPU request because the runner has no usable GPU."""


def _start(docker_client: Any, image: str, spec: SmokeSpec, reach: smoke_network.Reach,
           result: SmokeResult) -> tuple[Any, str, bool]:
    """(container, name, whether it was granted GPUs). An nvidia profile asks for GPUs first;
    a runner without one runs the model without, and says so (or fails: image.smoke.gpu)."""
    if spec.nvidia:
        try:
            return (*_run_container(docker_client, image, spec, reach, gpu=True), True)
        except _NoGpu as e:
            result.gpu_reason = str(e)
            if spec.gpu == "required":
                msg = f"smoke test: a GPU is required (image.smoke.gpu: required), but {e}"
                raise InfraError(msg, hint="run the build on a runner with an NVIDIA GPU and "
                                           "the NVIDIA container toolkit") from None
            result.notes.append(f"GPU path not exercised: {e}; ran without GPUs")
            console.info(f"smoke: {result.notes[-1]}")
    return (*_run_container(docker_client, image, spec, reach, gpu=False), False)


def _run_container(docker_client: Any, image: str, spec: SmokeSpec, reach: smoke_network.Reach,
                   *, gpu: bool) -> tuple[Any, str]:
    import docker.errors

    name = f"modelship-smoke-{secrets.token_hex(4)}"
    kwargs = reach.run_kwargs(spec.port)
    if gpu:
        kwargs["device_requests"] = smoke_gpu.device_requests()
    console.info(f"smoke: starting {image} as {name}{' with GPUs' if gpu else ''} "
                 f"({reach.describe()})")
    try:
        container = docker_client.containers.run(
            image, detach=True, name=name, labels={"modelship.io/smoke": "true"}, **kwargs)
    except docker.errors.APIError as e:
        _cleanup(docker_client, name)  # a refused GPU request leaves a created container
        explanation = str(e.explanation or e)
        reason = smoke_gpu.no_gpu_reason(explanation) if gpu else None
        if reason:
            raise _NoGpu(reason) from None
        msg = f"smoke test: could not start {image}{' with GPUs' if gpu else ''}: {explanation}"
        raise InfraError(msg) from e
    return container, name


def _check_gpu(container: Any, spec: SmokeSpec, result: SmokeResult) -> None:
    """The engine granted GPUs: does the model container see one? (smoke_gpu.check_inside)"""
    check = smoke_gpu.check_inside(container)
    if check.seen:
        result.gpu, result.gpu_reason, result.gpu_devices = True, None, check.devices
        console.info(f"smoke: the model container sees {len(check.devices)} GPU(s) "
                     f"({check.tool}): {'; '.join(check.devices)}")
        if len(check.devices) < spec.gpu_count:
            result.notes.append(f"this runner has {len(check.devices)} GPU(s); the deployment "
                                f"asks for {spec.gpu_count} (image.gpu_count)")
        return
    why = (f"GPUs were granted but the model container does not see one ({check.detail})"
           if check.tool else
           f"GPUs were granted but the image has neither nvidia-smi nor torch to confirm "
           f"them ({check.detail})")
    result.gpu_reason = why
    if spec.gpu == "required":
        _raise(container, InfraError, f"smoke test: a GPU is required (image.smoke.gpu: "
                                      f"required), but {why}")
    result.notes.append(f"GPU path not confirmed: {why}")
    console.info(f"smoke: {result.notes[-1]}")


def _cleanup(docker_client: Any, name: str) -> None:
    try:
        docker_client.containers.get(name).remove(force=True)
    except Exception:  # nothing was created, or it is already gone
        return


def _base_url(container: Any, port: int, reach: smoke_network.Reach) -> str:
    if reach.share is not None:  # our own namespace: the server is on our loopback
        return f"http://127.0.0.1:{port}"
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


def _raise(container: Any, kind: type[ModelshipError], message: str, *,
           hint: str | None = None) -> NoReturn:
    msg = f"{message}\n  container's last log lines:\n{logs_tail(container)}"
    raise kind(msg, hint=hint or "run the image locally (docker run -p PORT:PORT IMAGE) and "
                                 "check serve.command, serve.port and serve.health")
