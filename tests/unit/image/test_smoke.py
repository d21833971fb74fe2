"""smoke.run against a local HTTP server standing in for the container (no Docker engine):
the paths it calls are the configured ones, with a leading `/` when the config left it out."""

from __future__ import annotations

from typing import Any, ClassVar

from tests.support.http import JSONHandler

from modelship.image import smoke


class _Handler(JSONHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(f"GET {self.path}")
        self.send_json(200 if self.path in ("/healthz", "/metrics") else 404, {})

    def do_POST(self) -> None:
        self.body()
        self.seen.append(f"POST {self.path}")
        self.send_json(200 if self.path == "/v1/predict" else 404, {"label": "positive"})


class _Container:
    def __init__(self, port: int) -> None:
        self.status = "running"
        self.attrs = {"NetworkSettings": {"Ports": {"8080/tcp": [{"HostPort": str(port)}]}},
                      "State": {}}
        self.removed = False

    def reload(self) -> None:
        return

    def logs(self, tail: int) -> bytes:
        return b"(fake)"

    def remove(self, force: bool) -> None:
        self.removed = True


class _Containers:
    def __init__(self, container: _Container) -> None:
        self.container = container

    def run(self, image: str, **kwargs: Any) -> _Container:
        return self.container


class _Client:
    def __init__(self, container: _Container) -> None:
        self.containers = _Containers(container)


def test_paths_without_a_leading_slash_are_called_with_one(http_server):
    _Handler.seen = []
    container = _Container(int(http_server(_Handler).rsplit(":", 1)[1]))
    result = smoke.run(_Client(container), "img", smoke.SmokeSpec(
        port=8080, health="healthz", predict="v1/predict", metrics="metrics",
        samples=[{"text": "good"}], response_field="label", timeout=5))
    assert result.passed
    assert result.metrics is True
    assert _Handler.seen == ["GET /healthz", "POST /v1/predict", "GET /metrics"]
    assert container.removed
