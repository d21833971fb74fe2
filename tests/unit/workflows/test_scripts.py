"""The scripts inside the rendered workflows, run as the runner would run them (bash, real git):
the versioning step's next version and changelog. (The release's deploy-or-rollback choice is
`modelship version --environment`, tested in tests/unit/release/test_versions.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.unit.workflows.conventions import load

from modelship.workflows import options, pins, render

SHA = "0123456789abcdef0123456789abcdef01234567"


def rendered(name: str) -> dict:
    o = options.Options(registry="ghcr.io", image="acme/m", model_name="m", strategy="canary",
                        cluster_auth="kubeconfig", gpu_runner=(),
                        action=pins.parse_action(f"acme/modelship@{SHA}"), versioning=True)
    return load(render.render(o)[name])


def step_script(workflow: str, job: str, step_id: str) -> str:
    step = next(s for s in rendered(workflow)["jobs"][job]["steps"] if s.get("id") == step_id)
    return str(step["run"])


def run_step(script: str, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Run a `run:` script with bash like the runner does; return what it wrote to
    GITHUB_OUTPUT."""
    output = cwd.parent / f"output-{os.getpid()}"
    output.write_text("")
    full = {**os.environ, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(cwd.parent),
            "GITHUB_STEP_SUMMARY": str(cwd.parent / "summary.md"), **env}
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=full, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


@pytest.fixture
def git_repo(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)

    def commit(subject: str, body: str = "", tag: str | None = None) -> None:
        message = subject + (f"\n\n{body}" if body else "")
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                        "commit", "-q", "--allow-empty", "-m", message], check=True)
        if tag:
            subprocess.run(["git", "-C", str(root), "tag", tag], check=True)

    return root, commit


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param([("fix: first", None)], "v0.0.1", id="first-fix"),
        pytest.param([("feat: first", None)], "v0.1.0", id="first-feature"),
        pytest.param([("chore: init", "v1.2.3"), ("fix: typo", None)], "v1.2.4", id="patch"),
        pytest.param([("chore: init", "v1.2.3"), ("fix: a", None), ("feat(api): b", None)],
                     "v1.3.0", id="minor"),
        pytest.param([("chore: init", "v1.2.3"), ("feat!: new contract", None)], "v2.0.0",
                     id="major-bang"),
        pytest.param([("chore: init", "v1.9.0"), ("chore: x", "v1.10.0"), ("docs: y", None)],
                     "v1.10.1", id="numeric-order"),
    ],
)
def test_versioning_picks_the_next_semantic_version(git_repo, history, expected: str):
    root, commit = git_repo
    for subject, tag in history:
        commit(subject, tag=tag)
    out = run_step(step_script("modelship-versioning.yml", "tag", "next"), root, {})
    assert out["tag"] == expected
    notes = Path(out["notes"]).read_text()
    assert notes.startswith(f"## {expected}")
    assert history[-1][0] in notes


def test_breaking_change_footer_is_major_and_messages_are_never_run(git_repo):
    root, commit = git_repo
    commit("chore: init", tag="v0.4.2")
    commit("refactor: $(touch pwned) `touch pwned2`", body="BREAKING CHANGE: new config")
    out = run_step(step_script("modelship-versioning.yml", "tag", "next"), root, {})
    assert out["tag"] == "v1.0.0"
    assert "$(touch pwned)" in Path(out["notes"]).read_text()
    assert not list(root.glob("pwned*"))


def test_versioning_tags_nothing_without_new_commits(git_repo):
    root, commit = git_repo
    commit("feat: x", tag="v2.0.0")
    assert run_step(step_script("modelship-versioning.yml", "tag", "next"), root, {})["tag"] == ""
