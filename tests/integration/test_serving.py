"""The serve contract (modelship.serving) against a real HTTP server on 127.0.0.1: URL joining,
every failure kind produced for real (refused connection, dropped connection, timeout, HTTP
status, not JSON, missing field), retries, row order under concurrency, grouping by cause."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from tests.support.http import JSONHandler

from modelship import serving
from modelship.errors import InfraError

Serve = Callable[[type[JSONHandler]], str]


class _Model(JSONHandler):
    """Answers POST /v1/predict only. The text decides the answer: "boom" 500, "busy" 503 on
    the first attempt, "html" a page, "empty" {}, "slow" after 1 s, "drop" closes the
    connection without an answer; anything else {"label": text.upper()}, in reverse order of
    arrival time for "late" rows (they sleep a little), so order is the client's doing."""

    seen: ClassVar[list[tuple[str, object]]] = []
    finished: ClassVar[list[str]] = []
    attempts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.body()
        text = body["text"]
        with self.lock:
            self.seen.append((self.path, body))
            self.attempts[text] = self.attempts.get(text, 0) + 1
            attempt = self.attempts[text]
        if self.path != "/v1/predict":
            return self.send_json(404, {"error": f"no route {self.path}"})
        if text.startswith("boom"):
            return self.send_json(500, {"error": "model crashed"})
        if text.startswith("busy") and attempt == 1:
            return self.send_json(503, {"error": "warming up"})
        if text.startswith("html"):
            return self.send_raw(200, b"<html>" + b"x" * 500 + b"</html>", "text/html")
        if text.startswith("empty"):
            return self.send_json(200, {})
        if text.startswith("slow"):
            time.sleep(1.0)
        if text.startswith("drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if text.startswith("late"):
            time.sleep(0.2 - 0.01 * int(text.split()[-1]))
            with self.lock:
                self.finished.append(text)
        return self.send_json(200, {"label": text.upper()})


@pytest.fixture
def base(http_server: Serve) -> str:
    _Model.seen = []
    _Model.finished = []
    _Model.attempts = {}
    return http_server(_Model)


def _rows(tmp_path: Path, texts: list[str]) -> list[serving.Row]:
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps({"text": t, "reference": t.upper()}) + "\n"
                            for t in texts), encoding="utf-8")
    return serving.load_rows(path)


SPEC = serving.ServeSpec(predict="/v1/predict", request={"text": "{text}"},
                         response_field="label", timeout=0.5, retries=2, backoff=0.01,
                         concurrency=4)


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_base_url_gets_serve_predict(tmp_path: Path, base: str, suffix: str) -> None:
    done = serving.run(_rows(tmp_path, ["good", "fine"]), base + suffix, SPEC)
    assert [r.prediction for r in done.results] == ["GOOD", "FINE"]
    assert [path for path, _ in _Model.seen] == ["/v1/predict", "/v1/predict"]
    assert done.url == f"{base}/v1/predict"
    assert done.failures.total == 0


def test_a_url_with_a_path_is_used_as_given(tmp_path: Path, base: str) -> None:
    done = serving.run(_rows(tmp_path, ["good"]), f"{base}/predict", SPEC)
    assert [path for path, _ in _Model.seen] == ["/predict"]
    [group] = done.failures.groups()
    assert group.cause == f"HTTP 404 from {base}/predict"
    assert group.example.body == '{"error": "no route /predict"}'


def test_every_failure_kind_is_classified_and_grouped(tmp_path: Path, base: str) -> None:
    texts = ["good", "boom 1", "html", "empty", "slow", "drop", "busy", "boom 2", "ok"]
    done = serving.run(_rows(tmp_path, texts), base, SPEC)
    by_text = {r.row.fields["text"]: r for r in done.results}
    assert [r.row.fields["text"] for r in done.results] == texts  # row order kept
    assert by_text["good"].prediction == "GOOD"
    assert by_text["busy"].prediction == "BUSY"  # 503, retried, answered
    assert by_text["busy"].answer.attempts == 2
    kinds = {text: r.failure.kind for text, r in by_text.items() if r.failure}
    assert kinds == {"boom 1": "http", "boom 2": "http", "html": "not-json",
                     "empty": "missing-field", "slow": "timeout", "drop": "connection"}
    assert _Model.attempts["boom 1"] == 3  # 500: 1 + 2 retries
    assert _Model.attempts["empty"] == 1  # a wrong answer is final
    groups = {g.cause: g for g in done.failures.groups()}
    url = f"{base}/v1/predict"
    assert done.failures.groups()[0].cause == f"HTTP 500 from {url}"  # the commonest first
    assert groups[f"HTTP 500 from {url}"].count == 2
    assert groups[f"HTTP 500 from {url}"].line == 2  # the first one is the example
    html = groups[f"answer is not JSON: {url}"].example
    assert html.status == 200
    assert html.body.startswith("<html>xxx")
    assert len(html.body) == 200
    assert groups[f"answer has no field 'label': {url}"].example.body == "{}"
    assert groups[f"timed out: {url}"].example.attempts == 3
    assert done.failures.total == 6


def test_results_come_back_in_row_order_under_concurrency(tmp_path: Path, base: str) -> None:
    texts = ["first"] + [f"late {i}" for i in range(12)]
    done = serving.run(_rows(tmp_path, texts), base, SPEC)
    assert [r.prediction for r in done.results] == [t.upper() for t in texts]
    # the server finished them in another order: four at a time, the later ones sooner
    assert sorted(_Model.finished) == sorted(texts[1:])
    assert _Model.finished != texts[1:]


def test_unreachable_server_is_an_infrastructure_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InfraError, match=r"unreachable after 3 attempts"):
        serving.run(_rows(tmp_path, ["good"]), f"http://127.0.0.1:{port}", SPEC)
    # without the first-row check the failure is data, like any other
    done = serving.run(_rows(tmp_path, ["good"]), f"http://127.0.0.1:{port}", SPEC,
                       first_alone=False)
    [group] = done.failures.groups()
    assert group.kind == "connection"
    assert group.cause == f"connection failed: http://127.0.0.1:{port}/v1/predict"


def test_the_client_sends_the_filled_template(tmp_path: Path, base: str) -> None:
    spec = serving.ServeSpec(predict="/v1/predict", response_field="label",
                             request={"text": "{text}", "meta": {"id": "{id}"}})
    path = tmp_path / "eval.jsonl"
    path.write_text('{"text": "good", "id": 7, "reference": "GOOD"}\n', encoding="utf-8")
    done = serving.run(serving.iter_rows(path), base, spec)
    assert done.results[0].prediction == "GOOD"
    assert _Model.seen == [("/v1/predict", {"text": "good", "meta": {"id": 7}})]
