"""`modelship init`: flags, prompts on stdin, defaults from the repository, refusal to
overwrite without --force, exit codes and next steps."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelship import cli
from modelship.workflows import pins

SHA = "89abcdef0123456789abcdef0123456789abcdef"
ACTION = f"acme/modelship@{SHA}"
WORKFLOWS = ["modelship-ci.yml", "modelship-cd.yml", "modelship-release.yml",
             "modelship-rollback.yml", "modelship-pipeline.yml"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "sentiment-model"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin",
                    "https://github.com/Acme/sentiment-model.git"], check=True)
    return root


def init(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None,
         ) -> int:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["init", *argv])


def workflow(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / ".github" / "workflows" / name).read_text())


def test_yes_writes_every_workflow_and_a_starter_config(repo: Path, capsys):
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    for name in WORKFLOWS:
        assert (repo / ".github" / "workflows" / name).is_file()
    assert not (repo / ".github" / "workflows" / "modelship-versioning.yml").exists()
    config = yaml.safe_load((repo / "modelship.yaml").read_text())
    # defaults from the repository: the GitHub owner and the directory name
    assert config["image"]["repository"] == "ghcr.io/acme/sentiment-model"
    assert out["options"]["strategy"] == "canary"
    assert out["options"]["cluster_auth"] == "kubeconfig"
    assert f"uses: {ACTION}" in (repo / ".github/workflows/modelship-cd.yml").read_text()
    steps = "\n".join(out["next_steps"])
    assert "KUBECONFIG secret" in steps
    assert "production" in steps
    assert "required reviewers" in steps


def test_flags_choose_registry_strategy_cluster_and_gpu_runner(repo: Path, capsys):
    code = init("--yes", "--dir", str(repo), "--action", ACTION,
                "--registry", "registry.example.com:5000", "--image", "team/sentiment",
                "--strategy", "blue-green", "--cluster-auth", "gke",
                "--gpu-runner", "self-hosted,linux,gpu-a10", "--versioning")
    assert code == 0
    cd = workflow(repo, "modelship-cd.yml")
    assert cd["jobs"]["build"]["runs-on"] == ["self-hosted", "linux", "gpu-a10"]
    assert cd["jobs"]["production"]["permissions"]["id-token"] == "write"
    text = (repo / ".github/workflows/modelship-cd.yml").read_text()
    assert "google-github-actions/get-gke-credentials@" in text
    assert "--repository registry.example.com:5000/team/sentiment" in text
    assert "strategy: blue-green" in text
    assert (repo / ".github/workflows/modelship-versioning.yml").is_file()
    lint = yaml.safe_load((repo / ".github" / "actionlint.yaml").read_text())
    assert lint["self-hosted-runner"]["labels"] == ["gpu-a10"]
    out = capsys.readouterr().out
    assert "REGISTRY_USERNAME" in out
    assert "GKE_CLUSTER" in out
    assert "gpu-a10" in out


def test_prompts_read_stdin_and_ask_again_after_a_bad_answer(repo: Path, monkeypatch, capsys):
    answers = "https://bad\nregistry.example.com\nTeam/Bad Name\nteam/model\nrolling\naks\nnone\n"
    assert init("--dir", str(repo), "--action", ACTION, stdin=answers,
                monkeypatch=monkeypatch) == 0
    err = capsys.readouterr().err
    assert "registry host [ghcr.io]:" in err
    assert "--registry: 'https://bad' is not a registry host" in err
    assert "--image: 'Team/Bad Name' is not an image name" in err
    config = yaml.safe_load((repo / "modelship.yaml").read_text())
    assert config["image"]["repository"] == "registry.example.com/team/model"
    assert config["deploy"]["strategy"] == "rolling"
    assert "azure/aks-set-context@" in (repo / ".github/workflows/modelship-cd.yml").read_text()


def test_flags_are_not_asked_again(repo: Path, monkeypatch, capsys):
    assert init("--dir", str(repo), "--action", ACTION, "--registry", "ghcr.io",
                "--image", "a/b", "--strategy", "canary", "--cluster-auth", "eks",
                "--gpu-runner", "", stdin="", monkeypatch=monkeypatch) == 0
    assert "[" not in capsys.readouterr().err.split("wrote")[0]


def test_end_of_input_takes_the_defaults(repo: Path, monkeypatch):
    assert init("--dir", str(repo), "--action", ACTION, stdin="", monkeypatch=monkeypatch) == 0
    assert yaml.safe_load((repo / "modelship.yaml").read_text())["deploy"]["strategy"] == "canary"


def test_refuses_to_overwrite_without_force(repo: Path, capsys):
    assert init("--yes", "--dir", str(repo), "--action", ACTION) == 0
    cd = repo / ".github/workflows/modelship-cd.yml"
    cd.write_text("# mine\n")
    capsys.readouterr()
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--strategy", "rolling") == 2
    err = capsys.readouterr().err
    assert str(cd) in err
    assert "--force" in err
    assert cd.read_text() == "# mine\n"
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--force") == 0
    assert cd.read_text().startswith("# modelship CD")


def test_an_existing_config_is_kept_and_gives_the_defaults(repo: Path, capsys):
    (repo / "modelship.yaml").write_text(
        "model: {name: churn}\nimage: {repository: registry.internal:5000/ml/churn}\n")
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kept"] == [str(repo / "modelship.yaml")]
    assert out["options"]["repository"] == "registry.internal:5000/ml/churn"
    assert "churn" in (repo / "modelship.yaml").read_text()


def test_a_gpu_project_gets_gpu_runner_labels_by_default(repo: Path, capsys):
    (repo / "requirements.txt").write_text("torch==2.3.0+cu121\n")
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["options"]["gpu_runner"] == ["self-hosted", "linux", "gpu"]
    assert workflow(repo, "modelship-cd.yml")["jobs"]["build"]["runs-on"] == [
        "self-hosted", "linux", "gpu"]
    # CI uses the same labels except for pull requests from forks (test_render checks that)
    assert """fromJSON('["self-hosted", "linux", "gpu"]')""" in workflow(
        repo, "modelship-ci.yml")["jobs"]["build"]["runs-on"]


def test_default_action_is_pinned_to_a_commit(repo: Path, monkeypatch, capsys):
    monkeypatch.setattr(pins, "RELEASE_SHA", SHA)
    assert init("--yes", "--dir", str(repo)) == 0
    text = (repo / ".github/workflows/modelship-ci.yml").read_text()
    assert f"uses: modelship/modelship@{SHA} # modelship" in text


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(["--registry", "https://ghcr.io"], "--registry", id="registry-url"),
        pytest.param(["--image", "team/m:1.0"], "--image", id="image-tag"),
        pytest.param(["--strategy", "big-bang"], "--strategy", id="strategy"),
        pytest.param(["--cluster-auth", "password"], "--cluster-auth", id="auth"),
        pytest.param(["--gpu-runner", "gpu;rm -rf /"], "--gpu-runner", id="labels"),
        pytest.param(["--action", "acme/modelship@main"], "--action", id="unpinned"),
        pytest.param(["--dir", "/no/such/dir"], "--dir", id="dir"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(repo: Path, argv: list[str], named: str, capsys):
    args = ["--yes", "--action", ACTION, "--dir", str(repo), *argv]
    assert init(*args) == 2
    assert named in capsys.readouterr().err
    assert not (repo / ".github").exists()


def test_the_console_script_runs_init(repo: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}
    proc = subprocess.run([sys.executable, "-m", "modelship", "init", "--yes", "--dir",
                           str(repo), "--action", ACTION], capture_output=True, text=True,
                          check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "next steps:" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_next_steps_restrict_production_to_the_default_branch_and_release_tags(repo: Path,
                                                                             capsys):
    assert init("--yes", "--dir", str(repo), "--action", ACTION, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    step = next(s for s in out["next_steps"] if "deployment branches and tags" in s)
    branch = out["options"]["default_branch"]
    for allowed in (f"`{branch}`", "`v*`", "`rollback-v*`"):
        assert allowed in step
    assert "tag protection" in step or "tag ruleset" in step
