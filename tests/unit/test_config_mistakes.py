"""Config mistakes that used to pass silently (a duplicated key, an unknown key, a wrong type or
choice) are refused when the file loads: exit 2 naming the file, line and key, and what was
expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import cli, config
from modelship.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `gate` on the config through the CLI: exit 2, one error line, no traceback."""
    path = write(tmp_path, text)
    assert cli.main(["gate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.replace(str(path), "modelship.yaml")


def test_a_duplicated_key_is_refused_naming_both_lines(tmp_path, capsys):
    err = refused(tmp_path, "gate:\n  thresholds:\n    accuracy: \">= 0.95\"\n"
                            "  task: classification\n  thresholds:\n    accuracy: \">= 0.5\"\n",
                  capsys)
    assert "modelship.yaml:5: gate.thresholds: duplicate key (first at line 2)" in err


@pytest.mark.parametrize(("text", "where"), [
    pytest.param("model: {name: a, name: b}\n", "modelship.yaml:1: model.name", id="flow"),
    pytest.param("notify:\n  - kind: slack\n    events: [a]\n    events: [b]\n",
                 "modelship.yaml:4: notify[0].events", id="in-a-list"),
    pytest.param("deploy:\n  replicas: 2\ndeploy:\n  replicas: 3\n", "modelship.yaml:3: deploy",
                 id="top-level"),
])
def test_duplicates_anywhere_are_refused(tmp_path, capsys, text: str, where: str):
    assert f"{where}: duplicate key" in refused(tmp_path, text, capsys)


def test_merge_keys_may_be_overridden(tmp_path):
    cfg = config.load(write(tmp_path, "deploy: &d\n  namespace: a\n  replicas: 3\n"
                                      "environments:\n  prod:\n    <<: *d\n    namespace: b\n"))
    assert cfg.get_str("environments.prod.namespace") == "b"
    assert cfg.get_int("environments.prod.replicas") == 3


@pytest.mark.parametrize(("text", "where", "expected"), [
    pytest.param("image:\n  smoke:\n    requst: {text: hi}\n",
                 "modelship.yaml:3: image.smoke.requst",
                 ["unknown key", "did you mean 'request'"], id="smoke-typo"),
    pytest.param("deploy:\n  canary:\n    stepz: [10]\n",
                 "modelship.yaml:3: deploy.canary.stepz",
                 ["did you mean 'steps'"], id="deploy-typo"),
    pytest.param("environments:\n  prod:\n    namespce: p\n",
                 "modelship.yaml:3: environments.prod.namespce", ["did you mean 'namespace'"],
                 id="environment-typo"),
    pytest.param("deploy:\n  verify:\n    signatur: required\n",
                 "modelship.yaml:3: deploy.verify.signatur", ["did you mean 'signature'"],
                 id="verify-typo"),
    pytest.param("serve:\n  protocol: openai\n", "modelship.yaml:2: serve.protocol",
                 ["expected one of custom, openai-chat"], id="protocol-choice"),
    pytest.param("deploy:\n  timeout: soon\n", "modelship.yaml:2: deploy.timeout",
                 ["expected a duration such as 30s"], id="duration"),
    pytest.param("deploy:\n  analysis:\n    prometheus: {uri: http://p}\n",
                 "modelship.yaml:3: deploy.analysis.prometheus.uri", ["did you mean 'url'"],
                 id="prometheus-typo"),
    pytest.param("notify:\n  - {kind: slack, url_env: not a name}\n",
                 "modelship.yaml:2: notify[0].url_env", ["environment variable"], id="notify"),
    pytest.param("gate:\n  thresholds: {acuracy: \">= 0.9\"}\n",
                 "modelship.yaml:2: gate.thresholds.acuracy", ["did you mean 'accuracy'"],
                 id="metric-typo"),
    pytest.param("serve:\n  port: 80.5\n", "modelship.yaml:2: serve.port",
                 ["expected an integer"], id="type"),
])
def test_schema_mistakes_exit_2_naming_line_and_key(tmp_path, capsys, text: str, where: str,
                                                    expected: list[str]):
    err = refused(tmp_path, text, capsys)
    assert f"{where}: " in err
    for part in expected:
        assert part in err


def test_the_first_mistake_in_the_file_is_reported(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "model:\n  nme: x\ngate:\n  tresholds: {}\n"))
    assert exc.value.key == "model.nme"
    assert exc.value.line == 2


def test_an_empty_key_means_its_default(tmp_path):
    cfg = config.load(write(tmp_path, "gate:\n  baseline:\n  thresholds:\nserve:\n  port:\n"))
    assert cfg.get_int("serve.port", 8080) == 8080
