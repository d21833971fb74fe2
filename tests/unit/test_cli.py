"""The CLI's contract: exit codes, usage errors that name what was wrong, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelship import cli


def test_unknown_command_exits_2_and_lists_valid_commands(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["deploi"]) == 2
    err = capsys.readouterr().err
    assert "'deploi'" in err
    for name in cli.COMMANDS:
        assert name in err


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_missing_config_file_exits_2_naming_the_path(command: str, tmp_path,
                                                     capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "nowhere" / "modelship.yaml"
    assert cli.main([command, "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "does not exist" in err


def test_json_error_is_one_object_on_stdout(tmp_path, capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "x.yaml"
    assert cli.main(["doctor", "--json", "--config", str(missing)]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["exit_code"] == 2
    assert str(missing) in payload["error"]


def test_invalid_yaml_names_file_and_line(tmp_path, capsys: pytest.CaptureFixture[str]):
    config = tmp_path / "modelship.yaml"
    config.write_text("model:\n  name: a\n  version: [unclosed\n")
    assert cli.main(["doctor", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:" in err
    assert "invalid YAML" in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["doctor", "--config", "/does/not/exist.yaml"], id="missing-config"),
        pytest.param(["doctor", "--no-such-flag"], id="unknown-flag"),
    ],
)
def test_user_mistakes_never_print_a_traceback(argv: list[str]):
    proc = subprocess.run([sys.executable, "-m", "modelship", *argv], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith("error:")


def test_version_flag(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "modelship" in capsys.readouterr().out


def test_json_stays_one_object_on_stdout_inside_actions(tmp_path, monkeypatch,
                                                       capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert cli.main(["doctor", "--json", "--config", str(tmp_path / "nope.yaml")]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 2
    assert captured.err.startswith("::error ")


def test_unwritable_step_outputs_exit_3_with_one_line(tmp_path, monkeypatch,
                                                      capsys: pytest.CaptureFixture[str]):
    results = tmp_path / "r.jsonl"
    results.write_text('{"prediction": "a", "reference": "a"}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "no-such-dir" / "out"))
    code = cli.main(["gate", "--results", str(results), "--json"])
    captured = capsys.readouterr()
    assert code == 3
    assert "cannot write GITHUB_OUTPUT" in json.loads(captured.out)["error"]
    assert "Traceback" not in captured.err
