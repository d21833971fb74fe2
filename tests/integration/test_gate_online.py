"""`modelship gate --endpoint URL` against a real HTTP model server started by the test
(http.server on 127.0.0.1 in a thread): requests, retries, errors, results file, verdict."""

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
