"""Every workflow `modelship init` renders, for several option sets, passes actionlint (built
from the Go module proxy, with shellcheck checking the `run:` scripts) and zizmor (offline) with
no finding of medium severity or above."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from modelship import cli

pytestmark = pytest.mark.integration

ACTION = "acme/modelship@89abcdef0123456789abcdef0123456789abcdef"
OPTION_SETS = [
    pytest.param([], id="defaults"),
    pytest.param(["--registry", "registry.example.com:5000", "--strategy", "blue-green",
                  "--cluster-auth", "eks", "--gpu-runner", "self-hosted,linux,gpu",
                  "--sign", "key"], id="private-registry-bluegreen-eks-gpu-signkey"),
    pytest.param(["--strategy", "rolling", "--cluster-auth", "gke", "--versioning",
                  "--sign", "keyless"], id="ghcr-rolling-gke-versioning-keyless"),
    pytest.param(["--registry", "docker.io", "--image", "acme/churn", "--cluster-auth", "aks",
                  "--gpu-runner", "gpu-h100", "--versioning"], id="dockerhub-aks-gpu-versioning"),
    pytest.param(["--action", "./"], id="local-action"),
    pytest.param(["--registry", "registry.example.com:5000", "--notify-secret",
                  "SLACK_WEBHOOK_URL", "--notify-secret", "TEAMS_WEBHOOK_URL"],
                 id="private-registry-notify"),
]
SEVERITIES = ["Unknown", "Informational", "Low", "Medium", "High"]


@pytest.fixture(scope="session")
def actionlint() -> Path:
    from testbed import lint_tools

    assert lint_tools.shellcheck(), "shellcheck is missing: scripts/setup installs it (apt)"
    return lint_tools.actionlint()


@pytest.fixture(scope="session")
def zizmor() -> str:
    from testbed import lint_tools

    return lint_tools.zizmor()


def rendered(tmp_path: Path, argv: list[str]) -> Path:
    repo = tmp_path / "model"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    action = [] if "--action" in argv else ["--action", ACTION]
    assert cli.main(["init", "--yes", "--dir", str(repo), *action, *argv]) == 0
    return repo


@pytest.mark.parametrize("argv", OPTION_SETS)
def test_actionlint_finds_nothing(actionlint: Path, tmp_path: Path, argv: list[str]):
    repo = rendered(tmp_path, argv)
    files = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
    assert len(files) >= 5
    # run inside the repository so it reads the .github/actionlint.yaml init wrote (GPU labels)
    proc = subprocess.run([str(actionlint), "-no-color", *files], cwd=repo, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", OPTION_SETS)
def test_zizmor_finds_nothing_medium_or_worse(zizmor: str, tmp_path: Path, argv: list[str]):
    repo = rendered(tmp_path, argv)
    proc = subprocess.run([zizmor, "--offline", "--strict-collection", "--format", "json-v1",
                           "--no-progress", ".github/workflows"], cwd=repo, capture_output=True,
                          text=True, check=False)
    assert proc.stdout.strip(), proc.stderr
    findings = json.loads(proc.stdout)
    serious = [f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
               f"{f['locations'][0]['symbolic']['key']}" for f in findings
               if SEVERITIES.index(f["determinations"]["severity"]) >= SEVERITIES.index("Medium")]
    assert serious == []
    # zizmor exits non-zero for findings; anything else (a file it could not read) is a failure
    assert "failed to validate" not in proc.stderr


def test_the_linters_do_flag_an_injectable_workflow(actionlint: Path, zizmor: str,
                                                    tmp_path: Path):
    """The two checks above can fail: a script that pastes a pull request title is caught."""
    repo = rendered(tmp_path, [])
    bad = repo / ".github" / "workflows" / "bad.yml"
    bad.write_text("""\
name: bad
on: pull_request
permissions:
  contents: read
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
""")
    lint = subprocess.run([str(actionlint), "-no-color", str(bad)], cwd=repo,
                          capture_output=True, text=True, check=False)
    assert lint.returncode != 0
    assert "potentially untrusted" in lint.stdout
    proc = subprocess.run([zizmor, "--offline", "--format", "json-v1", "--no-progress",
                           str(bad)], cwd=repo, capture_output=True, text=True, check=False)
    assert "template-injection" in {f["ident"] for f in json.loads(proc.stdout)}
