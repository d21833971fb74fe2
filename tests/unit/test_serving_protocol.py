"""serve.protocol presets: what each fills in, what the user's keys override, the bodies built
from eval rows, and errors that name the key and what the protocol expected (pure; the real
runtimes run in tests/integration/runtimes/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelship import config, serving
from modelship.errors import ConfigError, UsageError
from modelship.serving import chart, protocol


def spec(tmp_path: Path, text: str) -> serving.ServeSpec:
    path = tmp_path / "modelship.yaml"
    path.write_text(text, encoding="utf-8")
    return serving.ServeSpec.from_config(config.load(path))


def body(s: serving.ServeSpec, fields: dict[str, Any], tmp_path: Path) -> Any:
    return serving.request_body(s, serving.Row(1, fields, tmp_path / "eval.jsonl"))


@pytest.mark.parametrize(("text", "health", "predict", "field"), [
    pytest.param("serve: {}\n", "/healthz", "/predict", "prediction", id="custom-default"),
    pytest.param("serve: {protocol: openai-chat}\n", "/v1/models", "/v1/chat/completions",
                 "choices.0.message.content", id="openai-chat"),
    pytest.param("serve: {protocol: openai-completions}\n", "/v1/models", "/v1/completions",
                 "choices.0.text", id="openai-completions"),
    pytest.param("serve: {protocol: v2, model: iris}\n", "/v2/health/ready",
                 "/v2/models/iris/infer", "outputs.0.data.0", id="v2"),
    pytest.param("serve: {protocol: kserve-v1, model: iris}\n", "/v1/models/iris",
                 "/v1/models/iris:predict", "predictions.0", id="kserve-v1"),
    pytest.param("serve: {protocol: torchserve, model: resnet}\n", "/ping",
                 "/predictions/resnet", "", id="torchserve"),
    pytest.param("serve: {protocol: bentoml}\n", "/readyz", "/predict", "", id="bentoml"),
    pytest.param("serve: {protocol: bentoml, model: classify}\n", "/readyz", "/classify", "",
                 id="bentoml-api-named"),
    pytest.param("serve: {protocol: v2, model: a/b}\n", "/v2/health/ready",
                 "/v2/models/a%2Fb/infer", "outputs.0.data.0", id="model-name-encoded"),
])
def test_a_preset_fills_paths_and_response_field(tmp_path: Path, text: str, health: str,
                                                 predict: str, field: str) -> None:
    s = spec(tmp_path, text)
    assert (s.health, s.predict, s.response_field) == (health, predict, field)


def test_keys_the_user_writes_win(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: v2, model: iris, health: /ok, predict: /v2/x}\n"
                       "gate: {online: {request: {\"x\": \"{x}\"}, response_field: out}}\n")
    assert (s.health, s.predict, s.response_field, s.request) == ("/ok", "/v2/x", "out",
                                                                   {"x": "{x}"})
    assert s.liveness is None  # the user's health path is also the liveness path
    assert body(s, {"x": 3, "reference": 1}, tmp_path) == {"x": 3}


def test_a_user_path_may_name_the_model(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve:\n  protocol: v2\n  model: iris\n"
                       "  predict: /v2/models/{model}/versions/1/infer\n")
    assert s.predict == "/v2/models/iris/versions/1/infer"


@pytest.mark.parametrize(("text", "words"), [
    pytest.param("serve: {protocol: v3}\n", ["serve.protocol", "expected one of", "v2"],
                 id="unknown-protocol"),
    pytest.param("serve: {protocol: v2}\n",
                 ["serve.model", "v2 needs the model's name for /v2/models/{model}/infer"],
                 id="v2-without-model"),
    pytest.param("serve: {protocol: torchserve}\n", ["serve.model", "torchserve"],
                 id="torchserve-without-model"),
    pytest.param("serve: {protocol: v2, model: ' '}\n", ["serve.model", "is empty"],
                 id="empty-model"),
    pytest.param("serve: {startup_timeout: soon}\n", ["serve.startup_timeout", "duration"],
                 id="bad-startup-timeout"),
    pytest.param("serve: {warmup: -1}\n", ["serve.warmup", ">= 0"], id="negative-warmup"),
    pytest.param("serve: {metrics_port: 70000}\n", ["serve.metrics_port", "<= 65535"],
                 id="bad-metrics-port"),
    pytest.param("serve: {max_tokens: 0}\n", ["serve.max_tokens", ">= 1"], id="bad-max-tokens"),
])
def test_config_mistakes_name_the_key(tmp_path: Path, text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        spec(tmp_path, text)
    message = str(e.value) + " " + (e.value.key or "")
    for word in words:
        assert word in message


def test_v2_needs_no_model_when_the_user_wrote_both_paths(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: v2, health: /v2/health/ready, predict: /infer}\n")
    assert s.predict == "/infer"


def test_v2_builds_one_tensor_per_input_field(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: v2, model: iris}\n")
    got = body(s, {"features": [5, 3.5, 1, 0.2], "text": "hi", "n": 3, "flag": True,
                   "words": ["a", "b"], "reference": "setosa"}, tmp_path)
    assert got == {"inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP64", "data": [5.0, 3.5, 1.0, 0.2]},
        {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]},
        {"name": "n", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "flag", "shape": [1], "datatype": "BOOL", "data": [True]},
        {"name": "words", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}


@pytest.mark.parametrize(("value", "words"), [
    pytest.param([[1, 2], [3, 4]], ["field 'x'", "flat list"], id="nested"),
    pytest.param({"a": 1}, ["field 'x'", "flat list"], id="mapping"),
    pytest.param([1, "a"], ["field 'x'", "mixes"], id="mixed"),
    pytest.param(None, ["field 'x'"], id="null"),
])
def test_v2_refuses_a_field_it_cannot_send(tmp_path: Path, value: Any, words: list[str]) -> None:
    s = spec(tmp_path, "serve: {protocol: v2, model: m}\n")
    with pytest.raises(UsageError) as e:
        body(s, {"x": value}, tmp_path)
    assert "eval.jsonl" in str(e.value)
    for word in words:
        assert word in str(e.value)


def test_openai_chat_sends_the_prompt_greedy_and_short(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: openai-chat, model: tiny, max_tokens: 8}\n")
    assert body(s, {"prompt": "Say hi", "reference": "hi"}, tmp_path) == {
        "model": "tiny", "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 8, "temperature": 0}
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x"}]
    assert body(s, {"messages": messages}, tmp_path)["messages"] == messages


def test_openai_completions_sends_the_prompt(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: openai-completions}\n")
    assert body(s, {"prompt": "Once", "reference": "upon"}, tmp_path) == {
        "prompt": "Once", "max_tokens": protocol.DEFAULT_MAX_TOKENS, "temperature": 0}


@pytest.mark.parametrize(("name", "fields", "words"), [
    pytest.param("openai-chat", {"text": "x"}, ["openai-chat needs a 'prompt'", "text"],
                 id="chat-without-prompt"),
    pytest.param("openai-completions", {"messages": [{"role": "user", "content": "x"}]},
                 ["openai-completions needs a 'prompt'"], id="completions-with-messages"),
])
def test_openai_rows_without_a_prompt_are_named(tmp_path: Path, name: str,
                                                fields: dict[str, Any], words: list[str]) -> None:
    s = spec(tmp_path, f"serve: {{protocol: {name}}}\n")
    with pytest.raises(UsageError) as e:
        body(s, fields, tmp_path)
    for word in words:
        assert word in str(e.value)


def test_kserve_v1_sends_instances(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: kserve-v1, model: m}\n")
    assert body(s, {"features": [1, 2], "reference": 0}, tmp_path) == {"instances": [[1, 2]]}
    assert body(s, {"a": 1, "b": 2}, tmp_path) == {"instances": [{"a": 1, "b": 2}]}


def test_chart_values_come_from_the_resolved_spec(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {protocol: v2, model: iris, metrics_port: 8082, "
                       "startup_timeout: 5m}\n")
    assert chart.chart_values(s) == {
        "serve": {"port": 8080, "health": "/v2/health/ready", "predict": "/v2/models/iris/infer",
                  "metrics": "/metrics", "metricsPort": 8082},
        "probes": {"startup": {"periodSeconds": 10, "failureThreshold": 30},
                   "liveness": {"path": "/v2/health/live"}}}


def test_the_default_startup_budget_fits_a_large_model(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {}\n")
    assert s.startup_timeout == 20 * 60
    assert chart.chart_values(s)["probes"]["startup"]["failureThreshold"] == 120


def test_a_startup_period_the_user_writes_keeps_the_startup_budget(tmp_path: Path) -> None:
    s = spec(tmp_path, "serve: {startup_timeout: 5m}\n")
    user = {"probes": {"startup": {"periodSeconds": 1}}}
    assert chart.chart_values(s, user)["probes"]["startup"] == {"periodSeconds": 1,
                                                                "failureThreshold": 300}
