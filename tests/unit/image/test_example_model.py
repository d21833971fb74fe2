"""The example model project (examples/sentiment) and its variants: the committed weights are
what train.py makes from the shipped data, the quality gap between the good and bad versions,
and the server's routes and metrics, the flaky variant's defect included."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SENTIMENT = EXAMPLES / "sentiment"

# the example server needs prometheus-client (a test dependency): a missing one fails here
import prometheus_client  # noqa: E402, F401


@pytest.fixture(scope="module")
def example_modules() -> Iterator[dict]:
    sys.path.insert(0, str(SENTIMENT))
    try:
        yield {name: importlib.import_module(name) for name in ("model", "train", "server")}
    finally:
        sys.path.remove(str(SENTIMENT))
        for name in ("model", "train", "server", "server_flaky"):  # generic names: forget them
            sys.modules.pop(name, None)


def _accuracy(model, eval_rows) -> float:
    return sum(model.predict(r["text"])[0] == r["reference"] for r in eval_rows) / len(eval_rows)


@pytest.fixture(scope="module")
def eval_rows() -> list[dict]:
    lines = (SENTIMENT / "eval" / "eval.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_shipped_data_and_eval_set(eval_rows):
    train = (SENTIMENT / "data" / "train.csv").read_text().splitlines()
    assert len(train) > 200
    assert {r["reference"] for r in eval_rows} == {"positive", "negative", "neutral"}
    train_texts = set(train)
    assert not any(r["text"] in train_texts for r in eval_rows)  # no leakage


@pytest.mark.parametrize(
    ("variant", "argv"),
    [
        pytest.param("sentiment", [], id="good"),
        pytest.param("sentiment-bad", ["--shuffle-labels", "--seed", "3"], id="bad"),
    ],
)
def test_committed_weights_are_what_train_py_makes(example_modules, tmp_path, variant, argv,
                                                   capsys):
    out = tmp_path / "weights.json"
    example_modules["train"].main([*argv, "--out", str(out)])
    committed = EXAMPLES / variant / "model" / "weights.json"
    assert json.loads(out.read_text()) == json.loads(committed.read_text())


def test_good_model_passes_and_bad_model_is_clearly_worse(example_modules, eval_rows):
    model_cls = example_modules["model"].Model
    good = model_cls.load(SENTIMENT / "model" / "weights.json")
    bad = model_cls.load(EXAMPLES / "sentiment-bad" / "model" / "weights.json")
    assert _accuracy(good, eval_rows) >= 0.9
    assert _accuracy(bad, eval_rows) <= 0.5


@pytest.fixture
def serve(example_modules, http_server):
    def start(hook=None) -> str:
        model = example_modules["model"].Model.load(SENTIMENT / "model" / "weights.json")
        return http_server(example_modules["server"].make_handler(model, hook))

    return start


def test_server_routes_and_metrics(serve):
    base = serve()
    with requests.Session() as http:
        assert http.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        answer = http.post(f"{base}/predict", json={"text": "I love it, wonderful"}, timeout=5)
        assert answer.status_code == 200
        assert answer.json()["label"] == "positive"
        assert 0 < answer.json()["score"] <= 1
        assert http.post(f"{base}/predict", json={"txt": 1}, timeout=5).status_code == 400
        assert http.post(f"{base}/predict", data=b"{", timeout=5).status_code == 400
        metrics = http.get(f"{base}/metrics", timeout=5).text
    assert 'http_requests_total{status="200"}' in metrics
    assert 'http_requests_total{status="400"}' in metrics
    assert "model_latency_seconds_bucket" in metrics
    assert "model_latency_seconds_count" in metrics


def test_flaky_variant_fails_one_request_in_five(example_modules, serve, monkeypatch):
    monkeypatch.setenv("FLAKY_DELAY_MS", "0")
    sys.path.insert(0, str(EXAMPLES / "sentiment-flaky"))
    try:
        flaky = importlib.import_module("server_flaky")
    finally:
        sys.path.remove(str(EXAMPLES / "sentiment-flaky"))
    monkeypatch.setattr(flaky, "DELAY", 0.0)
    base = serve(flaky.misbehave)
    with requests.Session() as http:
        codes = [http.post(f"{base}/predict", json={"text": "ok"}, timeout=5).status_code
                 for _ in range(20)]
    assert codes.count(500) == 4
    assert codes.count(200) == 16


@pytest.mark.parametrize(("variant", "script"), [
    ("sentiment", "server.py"), ("sentiment-bad", "server.py"),
    ("sentiment-flaky", "server_flaky.py")])
def test_server_stops_on_sigterm(variant, script):
    """SIGTERM ends the server as Ctrl-C does (exit 0 after "stopping"), not by the signal's
    default action (exit -15), which a container's PID 1 would not even get: there a signal
    without a handler is ignored until the grace period ends in SIGKILL."""
    process = subprocess.Popen([sys.executable, script], cwd=EXAMPLES / variant,
                               env={**os.environ, "PORT": "0"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("serving "), first
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "stopping" in rest
    assert "Traceback" not in rest
