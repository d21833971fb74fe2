"""The GitHub Actions runtime: inputs, outputs, job summary, annotations, groups, masking, event.

This is the only module that knows about GitHub. Every function degrades to plain terminal
output (or does nothing) when the GitHub variables are unset, so the CLI runs anywhere.
Workflow commands go to stderr (the runner reads both streams), so that stdout carries only
the result and `--json` stays one JSON object inside Actions too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelship import console
from modelship.errors import InfraError


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def get_input(name: str, default: str = "") -> str:
    """An action input: GitHub passes `registry-username` as INPUT_REGISTRY-USERNAME;
    some runners (and people) use the underscore spelling, so accept both."""
    upper = name.upper()
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}"):
        value = os.environ.get(key)
        if value is not None and value != "":
            return value.strip()
    return default


def _workflow_command(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, message: str, **properties: object) -> None:
    props = ",".join(f"{k}={_escape_property(str(v))}" for k, v in properties.items()
                     if v is not None)
    head = f"::{name} {props}" if props else f"::{name}"
    line = f"{head}::{_escape_data(console.redact(message))}"
    _workflow_command(line)


def mask(value: str | None) -> None:
    """Hide a secret from every log line from now on, ours and GitHub's."""
    if not value:
        return
    console.register_secret(value)
    if in_actions():
        for line in value.splitlines():
            if line.strip():
                _workflow_command(f"::add-mask::{_escape_data(line)}")


def annotate(level: str, message: str, *, file: str | None = None, line: int | None = None,
             title: str | None = None) -> None:
    """An `::error` / `::warning` / `::notice` annotation; a plain stderr line outside Actions."""
    if in_actions():
        _command(level, message, file=file, line=line, title=title)
        return
    where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
    console.info(f"{level}: {where}{message}")


def error(message: str, **where: Any) -> None:
    annotate("error", message, **where)


def warning(message: str, **where: Any) -> None:
    annotate("warning", message, **where)


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible log group in Actions; a header line in a terminal."""
    if in_actions():
        _workflow_command(f"::group::{_escape_data(title)}")
        try:
            yield
        finally:
            _workflow_command("::endgroup::")
    else:
        console.info(f"== {title}")
        yield


def set_output(name: str, value: object) -> None:
    """Write a step output; values that are not strings are written as JSON. Multi-line safe:
    a random heredoc delimiter that cannot occur in the value."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = console.redact(text)
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    _append(path, f"{name}<<{delimiter}\n{text}\n{delimiter}\n", "GITHUB_OUTPUT")


def _append(path: str, text: str, variable: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        msg = f"cannot write {variable} ({path}): {e.strerror or e}"
        raise InfraError(msg) from e


def append_summary(markdown: str) -> None:
    """Append to the job summary; nothing happens outside Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    _append(path, console.redact(markdown).rstrip("\n") + "\n\n", "GITHUB_STEP_SUMMARY")


def event() -> dict[str, Any]:
    """The triggering event's payload, or {} outside Actions."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ref() -> str:
    """refs/heads/main, refs/tags/v1.2.3, ... from the runtime or the event payload."""
    return os.environ.get("GITHUB_REF") or str(event().get("ref") or "")


def sha() -> str | None:
    """The commit the workflow runs for, or None outside Actions."""
    return os.environ.get("GITHUB_SHA") or None


def repository_url() -> str | None:
    """https://github.com/OWNER/REPO for the running workflow, or None outside Actions."""
    name = os.environ.get("GITHUB_REPOSITORY")
    if not name:
        return None
    return f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{name}"


def run_url() -> str | None:
    """The running workflow run's page (with the attempt when retried), or None outside
    Actions."""
    repository, run_id = repository_url(), os.environ.get("GITHUB_RUN_ID")
    if not repository or not run_id:
        return None
    url = f"{repository}/actions/runs/{run_id}"
    attempt = os.environ.get("GITHUB_RUN_ATTEMPT")
    return f"{url}/attempts/{attempt}" if attempt and attempt != "1" else url


def step_id() -> str | None:
    """The running step's id (GITHUB_ACTION: unique within the job), or None outside Actions."""
    return os.environ.get("GITHUB_ACTION") or None


def temp_dir() -> str | None:
    """The runner's per-job temp directory (RUNNER_TEMP), or None outside Actions."""
    return os.environ.get("RUNNER_TEMP") or None


def tag_from_ref(value: str | None = None) -> str | None:
    value = ref() if value is None else value
    prefix = "refs/tags/"
    return value[len(prefix):] if value.startswith(prefix) else None

