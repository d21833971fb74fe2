"""`modelship init` and release notifications: the webhook URL secrets reach the deploy and
rollback steps' `env:` (and only those), the reusable pipeline declares them, permissions stay
least-privilege, and the names come from --notify-secret or from an existing modelship.yaml's
`notify:`. Without notifications nothing changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from tests.unit.workflows.conventions import load, steps, violations

from modelship import cli, config
from modelship.notify import settings as notify_settings
from modelship.workflows import options, pins, render

SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION = f"acme/modelship@{SHA}"
SECRETS = ("SLACK_WEBHOOK_URL", "DEPLOY_HOOK")
# (workflow, job, step id) of every step that changes a release
RELEASE_STEPS = {("modelship-cd.yml", "staging", "deploy"),
                 ("modelship-cd.yml", "production", "deploy"),
                 ("modelship-pipeline.yml", "staging", "deploy"),
                 ("modelship-pipeline.yml", "production", "deploy"),
                 ("modelship-release.yml", "production", "deploy"),
                 ("modelship-release.yml", "production", "rollback"),
                 ("modelship-rollback.yml", "rollback", "rollback")}


def make(notify: tuple[str, ...] = SECRETS, **overrides: object) -> options.Options:
    values: dict[str, object] = dict(
        registry="ghcr.io", image="acme/iris", model_name="iris", strategy="canary",
        cluster_auth="kubeconfig", gpu_runner=(), action=pins.parse_action(ACTION),
        notify_secrets=notify)
    values.update(overrides)
    return options.Options(**values)  # type: ignore[arg-type]


def secret_envs(rendered: dict[str, str]) -> dict[tuple[str, str, str], dict[str, str]]:
    """(workflow, job, step id or name) -> the step's env, for every step that has one."""
    found = {}
    for name, text in rendered.items():
        if not name.endswith(".yml"):
            continue
        for job_id, step in steps(load(text)):
            if step.get("env"):
                found[(name, job_id, str(step.get("id") or step.get("name")))] = step["env"]
    return found


@pytest.mark.parametrize("overrides", [
    pytest.param({}, id="ghcr-kubeconfig"),
    pytest.param({"registry": "registry.example.com:5000", "cluster_auth": "eks",
                  "strategy": "blue-green", "sign": "key"}, id="private-eks-bluegreen-key"),
])
def test_the_secrets_reach_every_release_step_and_no_other(overrides: dict[str, object]):
    with_notify = render.render(make(**overrides))
    envs = secret_envs(with_notify)
    wanted = {f"{n}": f"${{{{ secrets.{n} }}}}" for n in SECRETS}
    holding = {k for k, env in envs.items() if any(n in env for n in SECRETS)}
    assert holding == RELEASE_STEPS
    for key in RELEASE_STEPS:
        assert envs[key] == wanted, key
    problems = [p for name, text in with_notify.items() if name.endswith(".yml")
                for p in violations(name, text)]
    assert problems == []
    # least privilege: notifications ask for no permission of their own
    without = render.render(make(notify=(), **overrides))
    for name, text in with_notify.items():
        if name.endswith(".yml"):
            assert {j: job.get("permissions") for j, job in load(text)["jobs"].items()} == {
                j: job.get("permissions") for j, job in load(without[name])["jobs"].items()}


def test_without_notifications_no_step_gets_a_webhook_secret() -> None:
    rendered = render.render(make(notify=()))
    assert not [k for k, env in secret_envs(rendered).items()
                if any("WEBHOOK" in n or "HOOK" in n for n in env)]
    assert "notify" not in yaml.safe_load(rendered["modelship.yaml"])


def test_the_reusable_pipeline_declares_them_as_optional_secrets() -> None:
    pipeline = load(render.render(make())["modelship-pipeline.yml"])
    declared = pipeline["on"]["workflow_call"]["secrets"]
    for name in SECRETS:
        assert declared[name]["required"] is False


def test_the_starter_config_names_the_secrets_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "modelship.yaml"
    path.write_text(render.render(make(("SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "HOOK")))[
        "modelship.yaml"])
    targets = notify_settings.load(config.load(path))
    assert [(t.kind, t.url_env) for t in targets] == [
        ("slack", "SLACK_WEBHOOK_URL"), ("teams", "TEAMS_WEBHOOK_URL"), ("webhook", "HOOK")]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "iris"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def rollback_env(repo: Path) -> dict[str, str]:
    text = (repo / ".github" / "workflows" / "modelship-rollback.yml").read_text()
    step = next(s for _, s in steps(load(text)) if s.get("id") == "rollback")
    return dict(step.get("env") or {})


def test_init_reads_the_names_from_an_existing_config(repo: Path) -> None:
    (repo / "modelship.yaml").write_text(
        "model: {name: iris}\nnotify:\n  - {kind: slack, url_env: SLACK_WEBHOOK_URL}\n"
        "  - {kind: teams}\n")
    assert cli.main(["init", "--yes", "--dir", str(repo), "--action", ACTION]) == 0
    assert rollback_env(repo) == {"SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}",
                                  "TEAMS_WEBHOOK_URL": "${{ secrets.TEAMS_WEBHOOK_URL }}"}


def test_init_takes_notify_secret_flags(repo: Path) -> None:
    assert cli.main(["init", "--yes", "--dir", str(repo), "--action", ACTION,
                     "--notify-secret", "OPS_HOOK"]) == 0
    assert rollback_env(repo) == {"OPS_HOOK": "${{ secrets.OPS_HOOK }}"}


@pytest.mark.parametrize("value", [
    "https://hooks.slack.com/services/T0/B0/xoxbSeCrEt", "GITHUB_TOKEN", "1ST", "A-B",
    "${{ github.token }}"])
def test_a_bad_secret_name_exits_2_without_echoing_a_url(repo: Path, value: str,
                                                         capsys: pytest.CaptureFixture[str]):
    assert cli.main(["init", "--yes", "--dir", str(repo), "--action", ACTION,
                     "--notify-secret", value]) == 2
    err = capsys.readouterr().err
    assert "--notify-secret" in err
    assert "xoxbSeCrEt" not in err
    assert not (repo / ".github").exists()
