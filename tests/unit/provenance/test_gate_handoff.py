"""The gate's report for the next job: inside Actions, a copy at .modelship/gate-report.json
in the workspace (the one directory a container action shares with later steps), named by the
`report-file` output; `build --gate-report` then labels the image with that file's digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship import cli
from modelship.image import command as build_command

DATA = Path(__file__).resolve().parents[2] / "data" / "gate"


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = {}, 0
    while i < len(lines):
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return out


def test_inside_actions_the_report_lands_in_the_workspace(
        tmp_path: Path, github: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path / "runner-temp"))
    code = cli.main(["gate", "--json", "--results", str(DATA / "classification.csv"),
                     "--threshold", "accuracy='>= 0.5'"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    outputs = _outputs(github["output"])
    assert outputs["report-file"] == ".modelship/gate-report.json"
    copy = workspace / ".modelship" / "gate-report.json"
    assert json.loads(copy.read_text(encoding="utf-8")) == printed
    # the build takes it from there by default (next to modelship.yaml in the workspace)
    assert ".modelship/gate-report.json" in build_command.GATE_REPORTS


def test_in_a_terminal_nothing_is_written_to_the_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    assert cli.main(["gate", "--results", str(DATA / "classification.csv")]) == 0
    capsys.readouterr()
    assert not (tmp_path / ".modelship").exists()
