"""act runs our workflows against the real Docker engine; the action image is prebuilt offline
(testbed.action_image) under the name act gives a local `uses: ./` action."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACT_LOCAL_ACTION_IMAGE = "act-dockeraction:latest"  # act's tag for a Dockerfile action at ./
RUNNER_IMAGE = "modelship-testbed/runner:bookworm"


@dataclass
class ActRun:
    returncode: int
    log: str
    seconds: float


@pytest.fixture(scope="session")
def action_image(testbed_env: dict[str, str]) -> str:
    from testbed import action_image

    return action_image.build(ACT_LOCAL_ACTION_IMAGE)


@pytest.fixture(scope="session")
def act(action_image: str, tmp_path_factory: pytest.TempPathFactory):
    """Run a workflow file under act for an event; returns the whole log."""
    from testbed import act_binary

    binary = act_binary()
    home = tmp_path_factory.mktemp("act")

    def run(workflow: Path, event: str, payload: str, *, secrets: dict[str, str] | None = None,
            variables: dict[str, str] | None = None, timeout: float = 600,
            cwd: Path = REPO, extra: list[str] | None = None) -> ActRun:
        event_file = home / f"{event}-{time.monotonic_ns()}.json"
        event_file.write_text(payload)
        argv = [binary, event, "-W", str(workflow), "-e", str(event_file),
                "-P", f"ubuntu-latest={RUNNER_IMAGE}", "--pull=false", "--rebuild=false", "-b"]
        for key, value in (secrets or {}).items():
            argv += ["-s", f"{key}={value}"]
        for key, value in (variables or {}).items():
            argv += ["--var", f"{key}={value}"]
        argv += extra or []
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={"HOME": str(home),
                                                             "PATH": "/usr/bin:/bin"})
        return ActRun(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    return run
