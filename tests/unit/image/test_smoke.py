"""smoke.run against a local HTTP server behind a stand-in container (no Docker engine):
the paths it calls are the configured ones, with a leading `/` when the config left it out."""

from __future__ import annotations

from typing import ClassVar

import pytest
from tests.support.http import JSONHandler
from tests.support.standin_docker import StandInContainer, StandInDocker

from modelship.errors import Rejected
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


class _Answers(JSONHandler):
    """Healthy; POST answers by the body's "say": a list, {} or a 500."""

    def do_GET(self) -> None:
        self.send_json(200, {})

    def do_POST(self) -> None:
        say = self.body()["say"]
        if say == "list":
            return self.send_json(200, ["positive"])
        if say == "crash":
            return self.send_json(500, {"error": "model crashed"})
        return self.send_json(200, {})


@pytest.mark.parametrize(("say", "field", "message"), [
    pytest.param("list", None, r"answered list, expected a JSON object", id="not-an-object"),
    pytest.param("empty", "label", r"answer has no 'label' field \(gate\.online\.response_field\)",
                 id="missing-field"),
    pytest.param("crash", None, r'answered HTTP 500: \{"error": "model crashed"\}', id="http-500"),
])
def test_a_wrong_answer_rejects_the_image(http_server, say, field, message):
    container = StandInContainer(http_server(_Answers))
    spec = smoke.SmokeSpec(port=8080, health="/healthz", predict="/predict", metrics=None,
                           samples=[{"say": say}], response_field=field, timeout=5, retries=0)
    with pytest.raises(Rejected, match=message):
        smoke.run(StandInDocker(container), "img", spec)
    assert container.removed
