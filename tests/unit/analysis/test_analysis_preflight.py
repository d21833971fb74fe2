"""The deploy's preflight against a real HTTP server: answers with no prediction in them are
exit 2 naming gate.online.response_field and showing one answer (secrets masked); readable
answers pass; server errors are left to the release's probes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from tests.support.http import JSONHandler

from modelship import console
from modelship.errors import EXIT_USAGE, ConfigError
from modelship.release.analysis.base import Endpoint
from modelship.release.analysis.preflight import check_answers
from modelship.serving import Row, ServeSpec

Serve = Callable[[type[BaseHTTPRequestHandler]], str]
ROWS = [Row(i, {"text": f"row {i}", "reference": "pos"}, Path("eval.jsonl")) for i in range(5)]
SECRET = "s3cr3t-t0ken-value"


class Counting(JSONHandler):
    seen = 0
    status = 200
    answer: object = {"label": "pos", "score": 0.93, "echo": SECRET}

    def do_POST(self) -> None:
        type(self).seen += 1
        self.body()
        self.send_json(self.status, self.answer)


@pytest.fixture
def masked() -> Iterator[None]:
    console.forget_secrets()
    console.register_secret(SECRET)
    yield
    console.forget_secrets()


def _handler(status: int = 200, answer: object = None) -> type[Counting]:
    return type("Handler", (Counting,), {"seen": 0, "status": status,
                                         "answer": answer or Counting.answer})


def _endpoint(url: str) -> Endpoint:
    return Endpoint(url, "1.0.0")


def test_answers_without_the_field_are_exit_2_naming_the_key(http_server: Serve,
                                                              masked: None) -> None:
    handler = _handler()
    url = http_server(handler)
    with pytest.raises(ConfigError) as raised:
        check_answers(ServeSpec(retries=0), _endpoint(url), ROWS, config_file="modelship.yaml")
    error = raised.value
    assert error.exit_code == EXIT_USAGE
    assert error.key == "gate.online.response_field"
    text = str(error)
    assert text.startswith("modelship.yaml: gate.online.response_field: no prediction can be "
                           "read: 3/3 answers of 1.0.0")
    assert "have no field 'prediction'" in text
    assert '"label": "pos"' in text  # one answer shown
    assert SECRET not in text
    assert "***" in text
    assert handler.seen == 3  # a few rows, not the eval set


def test_the_right_field_reads_predictions(http_server: Serve) -> None:
    handler = _handler()
    url = http_server(handler)
    assert check_answers(ServeSpec(response_field="label", retries=0), _endpoint(url),
                         ROWS) == 3


def test_a_refused_request_is_reported_not_exit_2(http_server: Serve,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A 4xx may come from the API server's proxy as well as the model: reported with the
    keys to check, and left to the probes."""
    url = http_server(_handler(422, {"detail": "field 'inputs' required"}))
    assert check_answers(ServeSpec(retries=0), _endpoint(url), ROWS) == 0
    err = capsys.readouterr().err
    assert "HTTP 422" in err
    assert "gate.online.request" in err


def test_server_errors_are_left_to_the_probes(http_server: Serve) -> None:
    """A 500 says nothing about the configuration: no exit 2, nothing read."""
    url = http_server(_handler(500, {"error": "boom"}))
    assert check_answers(ServeSpec(retries=0), _endpoint(url), ROWS) == 0
