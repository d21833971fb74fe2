"""`modelship gate --endpoint URL` against a real HTTP model server started by the test
(http.server on 127.0.0.1 in a thread): requests, retries, errors, results file, verdict."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from tests.support.http import JSONHandler

from modelship.cli import main


class _Model(JSONHandler):
    """A sentiment "model": positive when the text says good. /flaky answers 503 to the first
    attempt of each text; texts with "boom" always get a 500; /slow sleeps."""

    attempts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.body()
        with self.lock:
            self.bodies.append(body)
            text = body["inputs"]["text"]
            self.attempts[text] = self.attempts.get(text, 0) + 1
            attempt = self.attempts[text]
        if "boom" in text:
            return self.send_json(500, {"detail": "model crashed"})
        if self.path == "/flaky" and attempt == 1:
            return self.send_json(503, {"detail": "warming up"})
        if self.path == "/slow":
            time.sleep(0.05)
        label = "positive" if "good" in text else "negative"
        return self.send_json(200, {"outputs": [{"label": label, "score": 0.9}]})


@pytest.fixture
def server(http_server: Callable[[type[JSONHandler]], str]) -> str:
    _Model.attempts = {}
    _Model.bodies = []
    return http_server(_Model)


def _project(tmp_path: Path, texts: list[tuple[str, str]], thresholds: str) -> Path:
    (tmp_path / "eval").mkdir()
    with (tmp_path / "eval" / "eval.jsonl").open("w", encoding="utf-8") as fh:
        for i, (text, reference) in enumerate(texts):
            fh.write(json.dumps({"id": i, "text": text, "reference": reference}) + "\n")
    config = tmp_path / "modelship.yaml"
    config.write_text(f"""
gate:
  task: classification
  thresholds: {thresholds}
  online:
    eval_set: eval/eval.jsonl
    request: {{"inputs": {{"text": "{{text}}", "id": "{{id}}"}}}}
    response_field: outputs.0.label
    concurrency: 4
    timeout: 5s
    retries: 2
""", encoding="utf-8")
    return config


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["gate", *argv, "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


TEXTS = [("a good day", "positive"), ("bad service", "negative"), ("good food", "positive"),
         ("so so", "negative"), ("really good", "negative"), ("not good", "positive"),
         ("awful", "negative"), ("good stuff", "positive")] * 5


def test_online_eval_records_answers_and_passes(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    texts = [(f"{t} #{i}", r) for i, (t, r) in enumerate(TEXTS)]
    config = _project(tmp_path, texts, '{accuracy: ">= 0.7", error_rate: "<= 0", '
                                       'throughput_rps: ">= 1", latency_p95_ms: "<= 5000"}')
    results = tmp_path / "out" / "results.jsonl"
    code, report = _run(capsys, "--config", str(config), "--endpoint", f"{server}/slow",
                        "--results", str(results))
    assert code == 0, report
    assert report["n"] == len(texts)
    assert report["metrics"]["accuracy"] == pytest.approx(35 / 40)  # "really good" is wrong
    assert report["metrics"]["error_rate"] == 0
    assert report["metrics"]["throughput_rps"] > 1
    assert report["metrics"]["latency_p50_ms"] >= 50  # the server sleeps 50 ms
    assert [c["passed"] for c in report["checks"]] == [True, True, True, True]
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [r["reference"] for r in rows] == [r for _, r in texts]  # eval-set order
    assert all(r["error"] is None and r["latency_ms"] > 0 for r in rows)
    # the template filled "{text}" and, as the whole string, "{id}" with its JSON value
    assert {"text": "a good day #0", "id": 0} in [b["inputs"] for b in _Model.bodies]


def test_retries_then_errors_fail_the_gate(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    texts = [("good one", "positive"), ("boom", "negative"), ("meh", "negative"),
             ("good two", "positive")]
    config = _project(tmp_path, texts, '{error_rate: "<= 0.1"}')
    code, report = _run(capsys, "--config", str(config), "--endpoint", f"{server}/flaky",
                        "--results", str(tmp_path / "results.jsonl"))
    assert code == 1
    assert report["metrics"]["error_rate"] == 0.25
    assert report["metrics"]["accuracy"] == 1.0  # the three answered rows are right
    assert report["errors"] == 1
    [check] = report["checks"]
    assert check["name"] == "error_rate"
    assert check["passed"] is False
    assert _Model.attempts["good one"] == 2  # 503, retried, answered
    assert _Model.attempts["boom"] == 3  # 500 three times: 1 + 2 retries
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert rows[1]["error"].startswith("HTTP 500")
    assert rows[1]["prediction"] is None


def test_results_file_can_be_judged_again_offline(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    texts = [("good", "positive"), ("boom", "negative")]
    config = _project(tmp_path, texts, '{error_rate: "<= 0.5"}')
    results = tmp_path / "results.jsonl"
    code, online = _run(capsys, "--config", str(config), "--endpoint", server,
                        "--results", str(results))
    assert code == 0
    code, offline = _run(capsys, "--results", str(results), "--threshold", "error_rate<=0.5")
    assert code == 0
    assert offline["metrics"]["error_rate"] == online["metrics"]["error_rate"] == 0.5


def test_unreachable_endpoint_is_an_infrastructure_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _project(tmp_path, [("good", "positive")], '{accuracy: ">= 0.9"}')
    code, out = _run(capsys, "--config", str(config), "--endpoint", f"http://127.0.0.1:{port}/",
                     "--results", str(tmp_path / "r.jsonl"))
    assert code == 3
    assert "unreachable after 3 attempts" in out["error"]


def test_eval_set_without_reference_is_bad_input(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = _project(tmp_path, [("good", "positive")], "{}")
    (tmp_path / "eval" / "eval.jsonl").write_text('{"text": "good"}\n', encoding="utf-8")
    code, out = _run(capsys, "--config", str(config), "--endpoint", server,
                     "--results", str(tmp_path / "r.jsonl"))
    assert code == 2
    assert "eval.jsonl:1: line 1: missing field 'reference'" in out["error"]


@pytest.mark.parametrize("spelling", ["eval/eval.jsonl", "eval/../eval/eval.jsonl", "link.jsonl"])
def test_results_must_not_be_the_eval_set(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, spelling: str) -> None:
    config = _project(tmp_path, [("good", "positive"), ("bad", "negative")], "{}")
    eval_set = tmp_path / "eval" / "eval.jsonl"
    (tmp_path / "link.jsonl").symlink_to(eval_set)
    before = eval_set.read_bytes()
    monkeypatch.chdir(tmp_path)
    code, out = _run(capsys, "--config", str(config), "--endpoint", server,
                     "--eval-set", "eval/eval.jsonl", "--results", spelling)
    assert code == 2
    assert "--results must not be the eval set" in out["error"]
    assert eval_set.read_bytes() == before
    assert _Model.bodies == []  # refused before sending anything


def _leaks(secret: str, capsys: pytest.CaptureFixture[str], *files: Path) -> list[str]:
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if not line.startswith("::add-mask::")]
    assert f"::add-mask::{secret}" in captured.err  # the runner hides it from its own log too
    texts = {"stdout": captured.out, "stderr": "\n".join(err)}
    texts.update({str(f): f.read_text(encoding="utf-8") for f in files if f.exists()})
    return [name for name, text in texts.items() if secret in text]


def test_endpoint_credentials_are_never_shown(
        tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str],
        github: dict[str, Path]) -> None:
    config = _project(tmp_path, [("good", "positive"), ("boom", "negative")],
                      '{accuracy: ">= 0.9"}')
    endpoint = server.replace("http://", "http://user:s3cretpw@") + "/x"
    report_file = tmp_path / "report.json"
    code = main(["gate", "--config", str(config), "--endpoint", endpoint, "--json",
                 "--results", str(tmp_path / "r.jsonl"), "--report-json", str(report_file)])
    assert code == 0
    assert _leaks("s3cretpw", capsys, *github.values(), report_file) == []
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["online"]["endpoint"] == endpoint.replace("s3cretpw", "***")


def test_endpoint_credentials_are_not_in_the_error_either(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], github: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))  # where the results file goes
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _project(tmp_path, [("good", "positive")], '{accuracy: ">= 0.9"}')
    code = main(["gate", "--config", str(config), "--json",
                 "--endpoint", f"http://user:s3cretpw@127.0.0.1:{port}/x"])
    assert code == 3
    assert _leaks("s3cretpw", capsys, *github.values()) == []


# -- the serve contract through `gate --endpoint`: base URL, serve.predict, failures explained --
class _Routed(JSONHandler):
    """A model server that answers POST /v1/predict only (404 elsewhere, with its route in the
    body). The text decides: "boom" 500, "html" a page, "empty" {}; else a label."""

    bodies: ClassVar[list[tuple[str, dict]]] = []

    def do_GET(self) -> None:  # the smoke test's health check
        self.send_json(200 if self.path == "/healthz" else 404, {"status": "ok"})

    def do_POST(self) -> None:
        body = self.body()
        self.bodies.append((self.path, body))
        text = body["text"]
        if self.path != "/v1/predict":
            return self.send_json(404, {"error": f"no route {self.path}"})
        if text.startswith("boom"):
            return self.send_json(500, {"error": "model crashed on " + text})
        if text.startswith("html"):
            return self.send_raw(200, b"<html>oops</html>", "text/html")
        if text.startswith("empty"):
            return self.send_json(200, {})
        return self.send_json(200, {"label": "positive" if "good" in text else "negative"})


@pytest.fixture
def routed(http_server: Callable[[type[JSONHandler]], str]) -> str:
    _Routed.bodies = []
    return http_server(_Routed)


def _serve_project(tmp_path: Path, texts: list[str], predict: str, thresholds: str = "{}",
                   extra: str = "") -> Path:
    (tmp_path / "eval").mkdir(exist_ok=True)
    (tmp_path / "eval" / "eval.jsonl").write_text("".join(
        json.dumps({"text": t, "reference": "positive" if "good" in t else "negative"}) + "\n"
        for t in texts), encoding="utf-8")
    config = tmp_path / "modelship.yaml"
    config.write_text(f"""
gate:
  thresholds: {thresholds}
  online:
    eval_set: eval/eval.jsonl
    request: {{"text": "{{text}}"}}
    response_field: label
    retries: 0
serve:
  predict: {predict}
{extra}""", encoding="utf-8")
    return config


@pytest.mark.parametrize("suffix", ["", "/"])
def test_the_endpoint_is_a_base_url_and_serve_predict_is_answered(
        tmp_path: Path, routed: str, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    config = _serve_project(tmp_path, ["a good day", "bad", "good food"], "/v1/predict",
                            '{accuracy: ">= 0.9"}')
    code, report = _run(capsys, "--config", str(config), "--endpoint", routed + suffix,
                        "--results", str(tmp_path / "r.jsonl"))
    assert code == 0, report
    assert {path for path, _ in _Routed.bodies} == {"/v1/predict"}
    assert report["metrics"]["accuracy"] == 1.0
    assert report["online"]["url"] == f"{routed}/v1/predict"
    assert report["online"]["errors_by_cause"] == []


def test_every_request_404_exits_1_naming_the_404_and_the_path(
        tmp_path: Path, routed: str, capsys: pytest.CaptureFixture[str],
        github: dict[str, Path]) -> None:
    texts = [f"good {i}" for i in range(20)]
    config = _serve_project(tmp_path, texts, "/predict")  # the server has /v1/predict
    report_file = tmp_path / "report.json"
    code = main(["gate", "--config", str(config), "--endpoint", routed, "--json",
                 "--results", str(tmp_path / "r.jsonl"), "--report-json", str(report_file)])
    captured = capsys.readouterr()
    assert code == 1
    line = (f"20/20 requests failed: HTTP 404 from {routed}/predict — serve.predict is "
            "/predict")
    assert f"::error title=modelship gate%3A online evaluation::{line}" in captured.err
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert json.loads(captured.out) == report
    assert report["passed"] is False  # nothing was judged, which is never a pass
    assert report["online"]["failure"] == line
    assert report["online"]["errors_by_cause"] == [{
        "cause": f"HTTP 404 from {routed}/predict", "kind": "http", "status": 404, "count": 20,
        "example": {"line": 1, "status": 404, "body": '{"error": "no route /predict"}',
                    "detail": "", "attempts": 1}}]
    summary = github["summary"].read_text(encoding="utf-8")
    assert f"**{line}**" in summary
    assert f"| HTTP 404 from {routed}/predict | 20 | 1 | 404 |" in summary


def test_every_request_404_in_a_terminal_says_so_in_one_line(
        tmp_path: Path, routed: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = _serve_project(tmp_path, ["good", "bad"], "/predict",
                            '{accuracy: ">= 0.9", error_rate: "<= 0.1"}')
    code = main(["gate", "--config", str(config), "--endpoint", f"{routed}/v2/x",
                 "--results", str(tmp_path / "r.jsonl")])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: 2/2 requests failed: HTTP 404 from {routed}/v2/x — --endpoint "
                      "has a path, used as given (serve.predict /predict is appended only to "
                      "a base URL)"]
    assert captured.out.splitlines()[1] == errors[0][len("error: "):]


def test_mixed_failures_are_grouped_by_cause_in_the_report_and_summary(
        tmp_path: Path, routed: str, capsys: pytest.CaptureFixture[str],
        github: dict[str, Path]) -> None:
    texts = ["good 1", "boom 1", "html 1", "good 2", "boom 2", "empty 1", "boom 3", "bad 1"]
    config = _serve_project(tmp_path, texts, "/v1/predict", '{error_rate: "<= 0.1"}')
    code, report = _run(capsys, "--config", str(config), "--endpoint", routed,
                        "--results", str(tmp_path / "r.jsonl"))
    assert code == 1  # error_rate 5/8 > 0.1; some rows answered, so no all-failed line
    assert report["metrics"]["error_rate"] == 5 / 8
    assert "failure" not in report["online"]
    url = f"{routed}/v1/predict"
    assert [(g["cause"], g["count"], g["example"]["line"], g["example"]["status"])
            for g in report["online"]["errors_by_cause"]] == [
        (f"HTTP 500 from {url}", 3, 2, 500),
        (f"answer is not JSON: {url}", 1, 3, 200),
        (f"answer has no field 'label': {url}", 1, 6, 200)]
    examples = [g["example"]["body"] for g in report["online"]["errors_by_cause"]]
    assert examples == ['{"error": "model crashed on boom 1"}', "<html>oops</html>", "{}"]
    summary = github["summary"].read_text(encoding="utf-8")
    assert f"5 of 8 requests to `{url}` failed:" in summary
    assert f"| HTTP 500 from {url} | 3 | 2 | 500 | {{\"error\": \"model crashed on boom 1\"}} |" \
        in summary
    assert f"| answer has no field 'label': {url} | 1 | 6 | 200 | {{}} |" in summary
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["cause"] is None for r in rows] == [True, False, False, True, False, False,
                                                  False, True]


def test_smoke_test_and_online_gate_send_the_same_bodies(
        tmp_path: Path, routed: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One template, one function (serving.request_body): the build's smoke test sends the
    first eval rows exactly as `gate --endpoint` sends them. The smoke test runs against the
    same real server through a stand-in container (tests/support/standin_docker.py)."""
    from tests.support.standin_docker import StandInContainer, StandInDocker

    from modelship import config as config_mod
    from modelship.image import accelerators, smoke
    from modelship.image import command as build_command

    (tmp_path / "eval").mkdir()
    rows = [{"text": "good one", "id": 1, "tags": ["a"], "reference": "positive"},
            {"text": "bad two", "id": 2, "tags": [], "reference": "negative"}]
    (tmp_path / "eval" / "eval.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = tmp_path / "modelship.yaml"
    config.write_text("""
gate:
  online:
    eval_set: eval/eval.jsonl
    request: {"text": "Review: {text}", "meta": {"id": "{id}", "tags": "{tags}"}}
    response_field: label
serve:
  predict: v1/predict
""", encoding="utf-8")
    code, _ = _run(capsys, "--config", str(config), "--endpoint", routed,
                   "--results", str(tmp_path / "r.jsonl"))
    assert code == 0
    gate_bodies = [body for _, body in _Routed.bodies]
    _Routed.bodies = []

    cfg = config_mod.load(config)
    parser = argparse.ArgumentParser()
    build_command.add_arguments(parser)
    spec = build_command.smoke_spec(parser.parse_args([]), cfg,
                                    accelerators.resolve({"accelerator": "cpu"}, ""))
    container = StandInContainer(routed)
    result = smoke.run(StandInDocker(container), "stand-in", replace(spec, metrics=None))
    assert result.passed
    assert result.requests == 2
    smoke_bodies = [body for path, body in _Routed.bodies if path == "/v1/predict"]
    assert gate_bodies == smoke_bodies == [
        {"text": "Review: good one", "meta": {"id": 1, "tags": ["a"]}},
        {"text": "Review: bad two", "meta": {"id": 2, "tags": []}}]
