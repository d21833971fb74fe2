"""smoke.run against a local HTTP server behind a stand-in container (no Docker engine):
the paths it calls are the configured ones, with a leading `/` when the config left it out."""

from __future__ import annotations

from typing import ClassVar

from tests.support.http import JSONHandler
from tests.support.standin_docker import StandInContainer, StandInDocker

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


def test_paths_without_a_leading_slash_are_called_with_one(http_server):
    _Handler.seen = []
    container = StandInContainer(http_server(_Handler))
    result = smoke.run(StandInDocker(container), "img", smoke.SmokeSpec(
        port=8080, health="healthz", predict="v1/predict", metrics="metrics",
        samples=[{"text": "good"}], response_field="label", timeout=5))
    assert result.passed
    assert result.metrics is True
    assert _Handler.seen == ["GET /healthz", "POST /v1/predict", "GET /metrics"]
    assert container.removed
