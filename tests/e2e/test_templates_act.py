"""Rendered workflow templates under act against the real Docker engine and registry:

- an attacker-controlled pull request title, branch name, tag name or dispatch input never
  reaches a shell (each payload would create a marker file in the bind-mounted workspace);
- the CI workflow gates, builds and smoke-tests a pull request with no secrets, and on a branch
  push pushes the image to the test registry without the password ever appearing in act's log;
- the kubeconfig handed to the action (rollback by dispatch) never appears in the log either.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sentiment"
BAD_EXAMPLE = REPO / "examples" / "sentiment-bad"
MARKER = "pwned"


@pytest.fixture(scope="module")
def local_action(action_image: str) -> str:
    """The action image built from this checkout, under the name act looks for."""
    from testbed import workflow_project

    return workflow_project.tag_action_image(action_image)


@pytest.fixture
def project(tmp_path: Path, registry, local_action: str):
    """A git repository holding the example model, the action, and `modelship init`'s output."""
    from testbed import workflow_project

    def make(*init_args: str, example: Path = EXAMPLE, image: str = "e2e/sentiment") -> Path:
        return workflow_project.make(tmp_path / "project", example,
                                     ["--registry", registry.host, "--image", image,
                                      *init_args])

    return make


def act_args(root: Path) -> list[str]:
    from testbed import workflow_project

    return workflow_project.act_args(root)


def markers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{MARKER}*"))


def payload_command(name: str) -> str:
    """A shell payload that leaves `pwned-<name>` in the working directory if it ever runs."""
    return f"$(touch${{IFS}}{MARKER}-{name})"


def test_pull_request_title_and_branch_never_reach_a_shell(act, project):
    root = project()
    title = f'fix"; touch {MARKER}-title; echo "{payload_command("title2")}`touch {MARKER}-bt`'
    event = {
        "action": "opened",
        "number": 7,
        "pull_request": {
            "number": 7, "title": title, "body": payload_command("body"),
            "head": {"ref": f"feature/{payload_command('head')}", "sha": "0" * 40,
                     "repo": {"full_name": "attacker/fork", "fork": True}},
            "base": {"ref": "main", "sha": "1" * 40,
                     "repo": {"full_name": "acme/model", "fork": False}},
        },
        "repository": {"full_name": "acme/model", "default_branch": "main"},
    }
    run = act(root / ".github/workflows/modelship-ci.yml", "pull_request", json.dumps(event),
              cwd=root, extra=act_args(root), timeout=900)
    print(f"act pull_request (CI): {run.seconds:.1f}s")
    assert run.returncode == 0, run.log[-6000:]
    assert "Summary - ### modelship gate" in run.log
    assert "Success - Main Build and smoke-test [" in run.log
    assert "smoke: passed" in run.log
    assert markers(root) == []
    # a pull request builds and smoke-tests, and pushes nothing
    assert "Main Build, smoke-test and push the branch image" not in run.log
    assert "(not pushed)" in run.log


def test_branch_push_pushes_the_image_and_never_logs_the_password(act, project, registry):
    root = project()
    branch = f"feature/{payload_command('branch')}"
    event = {"ref": f"refs/heads/{branch}", "before": "0" * 40, "after": "1" * 40,
             "head_commit": {"message": payload_command("message"), "id": "1" * 40},
             "repository": {"full_name": "acme/model", "default_branch": "main"}}
    run = act(root / ".github/workflows/modelship-ci.yml", "push", json.dumps(event), cwd=root,
              secrets={"REGISTRY_USERNAME": registry.user,
                       "REGISTRY_PASSWORD": registry.password},
              extra=act_args(root), timeout=900)
    print(f"act push (CI with push): {run.seconds:.1f}s")
    assert run.returncode == 0, run.log[-6000:]
    assert registry.password not in run.log
    assert markers(root) == []
    # branch images go to the -ci twin; the release repository's version tags stay untouched
    tags = requests.get(f"http://{registry.host}/v2/e2e/sentiment-ci/tags/list",
                        auth=(registry.user, registry.password), timeout=10).json()["tags"]
    assert any(tag.startswith("sha-") for tag in tags), tags


def test_tag_name_is_validated_before_use(act, project):
    root = project()
    tag = f"v1.0.0{payload_command('tag')}"
    run = act(root / ".github/workflows/modelship-release.yml", "push",
              json.dumps({"ref": f"refs/tags/{tag}"}), cwd=root, extra=act_args(root),
              timeout=600)
    assert run.returncode != 0
    assert "the tag is not v<semantic version>" in run.log
    assert markers(root) == []


def kubeconfig() -> tuple[str, list[str]]:
    """A kubeconfig with a token and a client key, as a cluster admin would hand out."""
    token, key = secrets.token_urlsafe(32), base64.b64encode(secrets.token_bytes(48)).decode()
    text = f"""\
apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster: {{server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}
users:
  - name: deployer
    user: {{token: "{token}", client-key-data: "{key}"}}
contexts:
  - name: prod
    context: {{cluster: prod, user: deployer}}
current-context: prod
"""
    return text, [token, key]


def test_dispatch_input_and_kubeconfig_never_reach_a_shell_or_the_log(act, project):
    root = project()
    version = f'1.0.0"; touch {MARKER}-input; echo "{payload_command("input")}'
    config, secrets_in_it = kubeconfig()
    run = act(root / ".github/workflows/modelship-rollback.yml", "workflow_dispatch",
              json.dumps({"inputs": {"version": version}}), cwd=root,
              secrets={"KUBECONFIG": config},
              extra=[*act_args(root), "--input", f"version={version}"], timeout=600)
    # the action ran (`modelship rollback --to=<the whole input as one argument>`), masked the
    # kubeconfig's credentials and reported a result, whatever the rollback itself said
    assert "Run Main Roll back" in run.log
    assert "::set-output:: result=" in run.log
    assert markers(root) == []
    for secret in secrets_in_it:
        assert secret not in run.log


def test_init_runs_inside_the_action_image(action_image: str, tmp_path: Path):
    """The action image carries the templates: `command: init` works from the container."""
    proc = subprocess.run(["docker", "run", "--rm", "-v", f"{tmp_path}:/w", "-w", "/w",
                           "--entrypoint", "/opt/modelship/bin/python", action_image, "-m",
                           "modelship", "init", "--yes", "--action", "acme/modelship@" + "d" * 40],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".github" / "workflows" / "modelship-release.yml").is_file()


def test_cd_rejected_model_is_gated_out_and_nothing_is_pushed(act, project, registry):
    """The CD workflow on a push to main with a model the gate rejects: the gate job fails,
    build and both deployments never start, and the registry holds no image."""
    image = f"e2e/rejected-{uuid.uuid4().hex[:8]}"
    root = project(example=BAD_EXAMPLE, image=image)
    event = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}
    run = act(root / ".github/workflows/modelship-cd.yml", "push", json.dumps(event), cwd=root,
              secrets={"REGISTRY_USERNAME": registry.user,
                       "REGISTRY_PASSWORD": registry.password, "KUBECONFIG": kubeconfig()[0]},
              extra=act_args(root), timeout=900)
    assert run.returncode != 0
    assert "Summary - ### modelship gate: ❌" in run.log
    assert "Failure - Main Gate (thresholds and the production baseline)" in run.log
    for job in ("Build, smoke-test and push the image", "Deploy to staging",
                "Deploy to production (approval)"):
        assert f"[modelship CD/{job}] ⭐ Run Set up job" not in run.log
    answer = requests.get(f"http://{registry.host}/v2/{image}/tags/list",
                          auth=(registry.user, registry.password), timeout=10)
    assert answer.status_code == 404 or not answer.json().get("tags"), answer.text
    assert registry.password not in run.log
