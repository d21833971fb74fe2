"""The GitHub runtime helpers against the real file formats the runner reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelship import console, ghactions


def parse_outputs(text: str) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = re.fullmatch(r"([\w-]+)<<(\S+)", lines[i])
        if match:
            name, delim = match.groups()
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:end])
            i = end
        i += 1
    return out


def test_outputs_are_multiline_safe(github: dict[str, Path]):
    tricky = "line one\nEOF\nname<<EOF\nlast"
    ghactions.set_output("text", tricky)
    ghactions.set_output("obj", {"a": [1, 2]})
    parsed = parse_outputs(github["output"].read_text())
    assert parsed == {"text": tricky, "obj": '{"a":[1,2]}'}


def test_summary_appends(github: dict[str, Path]):
    ghactions.append_summary("# one")
    ghactions.append_summary("| a |\n|---|\n| 1 |")
    text = github["summary"].read_text()
    assert text.index("# one") < text.index("| a |")


def test_annotations_escape_data_and_properties(github, capsys: pytest.CaptureFixture[str]):
    ghactions.error("50% bad\nsecond line", file="eval/a,b.jsonl", line=7, title="gate: f1")
    captured = capsys.readouterr()
    assert captured.out == ""  # workflow commands go to stderr: stdout is the result's
    out = captured.err.strip()
    assert out == ("::error file=eval/a%2Cb.jsonl,line=7,title=gate%3A f1::"
                   "50%25 bad%0Asecond line")


def test_mask_announces_and_redacts(github, capsys: pytest.CaptureFixture[str]):
    ghactions.mask("s3cr3t-value")
    ghactions.set_output("leak", "token=s3cr3t-value")
    ghactions.append_summary("password s3cr3t-value")
    console.info("using s3cr3t-value")
    captured = capsys.readouterr()
    lines_with_secret = [line for line in captured.err.splitlines() if "s3cr3t-value" in line]
    assert lines_with_secret == ["::add-mask::s3cr3t-value"]
    assert "using ***" in captured.err
    assert "s3cr3t-value" not in github["output"].read_text()
    assert "s3cr3t-value" not in github["summary"].read_text()


def test_everything_degrades_outside_actions(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]):
    for var in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH",
                "GITHUB_REF"):
        monkeypatch.delenv(var, raising=False)
    ghactions.set_output("x", "y")
    ghactions.append_summary("nothing")
    ghactions.error("plain", file="f.yaml", line=3)
    with ghactions.group("a group"):
        pass
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: f.yaml:3: plain" in captured.err
    assert "== a group" in captured.err
    assert ghactions.event() == {}
    assert ghactions.tag_from_ref() is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"INPUT_REGISTRY-USERNAME": "bob"}, "bob", id="hyphen"),
        pytest.param({"INPUT_REGISTRY_USERNAME": "bob"}, "bob", id="underscore"),
        pytest.param({}, "default", id="absent"),
        pytest.param({"INPUT_REGISTRY-USERNAME": ""}, "default", id="empty"),
    ],
)
def test_get_input(env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("INPUT_REGISTRY-USERNAME", raising=False)
    monkeypatch.delenv("INPUT_REGISTRY_USERNAME", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert ghactions.get_input("registry-username", "default") == expected


def test_tag_from_event_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    event = tmp_path / "event.json"
    event.write_text('{"ref": "refs/tags/v1.2.3"}')
    monkeypatch.delenv("GITHUB_REF", raising=False)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert ghactions.tag_from_ref() == "v1.2.3"


def test_unwritable_output_file_is_an_infra_error(tmp_path: Path, monkeypatch):
    from modelship.errors import InfraError

    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing-dir" / "output"))
    with pytest.raises(InfraError, match="cannot write GITHUB_OUTPUT"):
        ghactions.set_output("x", "y")
