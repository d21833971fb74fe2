"""A command's `after` (blue-green's scale-down after scale_down_delay) runs once the result
is out: the JSON is on stdout before it starts, and its errors still set the exit code (with
no second JSON object). The command here is a tiny test module registered in COMMANDS."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelship import cli
from modelship.errors import EXIT_INFRA, EXIT_OK

COMMAND = '''
from modelship.errors import InfraError
from modelship.outcome import Outcome

HELP = "test command with work after its result"
observe = [lambda: None]  # the test puts its check here


def add_arguments(parser):
    parser.add_argument("--fail", action="store_true")


def run(args, cfg):
    def after():
        observe[0]()
        if args.fail:
            raise InfraError("scaling the old colour down failed")
    return Outcome({"outcome": "promoted"}, after=after)
'''


@pytest.fixture
def command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "after_probe_command.py").write_text(COMMAND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "after-probe", "after_probe_command")
    (tmp_path / "modelship.yaml").write_text("model: {name: m}\n")
    monkeypatch.chdir(tmp_path)
    yield "after-probe"
    sys.modules.pop("after_probe_command", None)


def test_result_printed_before_after_runs(command: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    printed_before: list[str] = []
    module = __import__("after_probe_command")
    module.observe[0] = lambda: printed_before.append(capsys.readouterr().out)
    assert cli.main([command, "--json"]) == EXIT_OK
    assert len(printed_before) == 1
    assert json.loads(printed_before[0]) == {"outcome": "promoted"}


def test_after_error_sets_exit_code_without_second_json(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--json", "--fail"]) == EXIT_INFRA
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == [
        {"outcome": "promoted"}]
    assert "scaling the old colour down failed" in captured.err
