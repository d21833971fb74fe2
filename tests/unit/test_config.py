"""Config loading: defaults, typed access, and errors naming file, key, line and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import config
from modelship.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    return path


def test_absent_default_file_gives_defaults(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load()
    assert not cfg.exists
    assert cfg.get_str("gate.task", "classification") == "classification"


def test_unknown_key_names_line_and_suggests(tmp_path):
    path = write(tmp_path, "model:\n  name: m\ngate:\n  treshold: {}\n")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    text = str(exc.value)
    assert f"{path}:4: gate.treshold" in text
    assert "did you mean 'thresholds'" in text


def test_wrong_type_names_key_and_expectation(tmp_path):
    # refused when the file loads (the schema), and by the typed getter for a Config built
    # in code
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "serve:\n  port: eighty\n"))
    assert "serve.port" in str(exc.value)
    assert "expected an integer" in str(exc.value)
    assert ":2:" in str(exc.value)
    cfg = config.Config({"serve": {"port": "eighty"}}, lines={"serve.port": 2})
    with pytest.raises(ConfigError) as exc:
        cfg.get_int("serve.port", 8080)
    assert "serve.port" in str(exc.value)
    assert "expected an integer" in str(exc.value)
    assert ":2:" in str(exc.value)


def test_choice_error_lists_choices_and_suggests(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "gate:\n  task: clasification\n"))
    assert "expected one of classification, generation" in str(exc.value)
    assert "did you mean 'classification'" in str(exc.value)
    cfg = config.Config({"gate": {"task": "clasification"}})
    with pytest.raises(ConfigError) as exc:
        cfg.get_str("gate.task", choices=("classification", "generation"))
    assert "expected one of classification, generation" in str(exc.value)
    assert "did you mean 'classification'" in str(exc.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("60s", 60.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("250ms", 0.25, id="millis"),
        pytest.param(30, 30.0, id="bare-number"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(-1, None, id="negative"),
    ],
)
def test_parse_duration(value: object, seconds: float | None):
    assert config.parse_duration(value) == seconds


def test_paths_resolve_against_the_config_directory(tmp_path):
    sub = tmp_path / "project"
    sub.mkdir()
    cfg = config.load(write(sub, "gate:\n  results: eval/results.jsonl\n"))
    assert cfg.get_path("gate.results") == sub / "eval" / "results.jsonl"


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        config.load(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("gate:\n  baseline: b.json\n", "gate.baseline", id="scalar-for-section"),
        pytest.param("image: ghcr.io/org/model\n", "image", id="scalar-for-top-level"),
        pytest.param("gate: []\n", "gate", id="list-for-section"),
        pytest.param("gate:\n  thresholds: [accuracy]\n", "gate.thresholds", id="free-section"),
    ],
)
def test_a_section_must_be_a_mapping(tmp_path, text: str, key: str):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text))
    assert f"{key}: expected a mapping" in str(exc.value)


def test_unquoted_versions_keep_their_text(tmp_path):
    cfg = config.load(write(tmp_path, "image:\n  python: 3.10\n  cuda: 12.10\n"
                                      "model:\n  version: 1.10\n  name: 7\n"))
    assert cfg.get_str("image.python") == "3.10"
    assert cfg.get_str("image.cuda") == "12.10"
    assert cfg.get_str("model.version") == "1.10"
    assert cfg.get_str("model.name") == "7"
