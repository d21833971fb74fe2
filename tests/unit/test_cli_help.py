"""`--help` of the CLI and of every sub-command: exit 0 and usage text, both through
`python -m modelship` and through the console script's entry point (pyproject's
[project.scripts]). The sub-commands are read from the parser, so a new one is covered."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from modelship import cli

REPO = Path(__file__).resolve().parents[2]


def _sub_commands() -> list[str]:
    parser = cli.build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return sorted(actions[0].choices)


COMMANDS = _sub_commands()
ARGVS = [pytest.param([], id="modelship")] + [pytest.param([c], id=c) for c in COMMANDS]


def _console_script() -> Callable[[], None]:
    """The function the installed `modelship` script calls, as pyproject.toml names it."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["modelship"].partition(":")
    function: Callable[[], None] = getattr(importlib.import_module(module), name)
    return function


def _check_usage(out: str, argv: list[str]) -> None:
    assert out.startswith(f"usage: {' '.join(['modelship', *argv])}")
    if not argv:
        for name in COMMANDS:  # each listed with its one-line help
            assert f"\n    {name} " in out
    assert "internal error" not in out


def test_the_parser_lists_every_registered_command():
    assert sorted(cli.COMMANDS) == COMMANDS
    assert {"gate", "build", "deploy", "promote", "abort", "rollback", "status", "init",
            "doctor"} <= set(COMMANDS)


@pytest.mark.parametrize("argv", ARGVS)
def test_help_through_python_m(argv: list[str]):
    # this checkout's package, whichever editable install is active
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "modelship", *argv, "--help"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    _check_usage(proc.stdout, argv)


@pytest.mark.parametrize("argv", ARGVS)
def test_help_through_the_console_script(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(sys, "argv", ["modelship", *argv, "--help"])
    with pytest.raises(SystemExit) as exc:
        _console_script()()
    assert exc.value.code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    _check_usage(captured.out, argv)


@pytest.mark.parametrize("argv", ARGVS)
def test_help_through_main(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    assert exc.value.code == 0
    _check_usage(capsys.readouterr().out, argv)
