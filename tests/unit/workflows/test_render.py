"""The rendered workflows: conventions (pinning, permissions, timeouts, concurrency, no
expressions in scripts) for every template and several option sets, and what each template
must do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.workflows.conventions import load, steps, violations

from modelship.workflows import options, pins, render

SHA = "0123456789abcdef0123456789abcdef01234567"
KNOWN_CATEGORIES = {"Continuous integration", "Deployment", "Automation", "Helm", "Kubernetes",
                    "Python", "Dockerfile"}

OPTION_SETS = [
    pytest.param(dict(registry="ghcr.io", strategy="canary", cluster_auth="kubeconfig",
                      gpu_runner=()), id="ghcr-canary-kubeconfig"),
    pytest.param(dict(registry="registry.example.com:5000", strategy="blue-green",
                      cluster_auth="eks", gpu_runner=("self-hosted", "linux", "gpu")),
                 id="private-bluegreen-eks-gpu"),
    pytest.param(dict(registry="ghcr.io", strategy="rolling", cluster_auth="gke",
                      gpu_runner=("gpu-a10",)), id="ghcr-rolling-gke-gpu"),
    pytest.param(dict(registry="docker.io", strategy="canary", cluster_auth="aks",
                      gpu_runner=(), versioning=True), id="dockerhub-canary-aks-versioning"),
]


def make(**overrides: object) -> options.Options:
    values: dict[str, object] = dict(
        registry="ghcr.io", image="acme/sentiment", model_name="sentiment", strategy="canary",
        cluster_auth="kubeconfig", gpu_runner=(),
        action=pins.parse_action(f"acme/modelship@{SHA}"), versioning=True)
    values.update(overrides)
    return options.Options(**values)  # type: ignore[arg-type]


def workflows(o: options.Options) -> dict[str, str]:
    return {k: v for k, v in render.render(o).items() if k.endswith(".yml")}


@pytest.mark.parametrize("overrides", OPTION_SETS)
def test_every_workflow_keeps_the_conventions(overrides: dict[str, object]):
    rendered = workflows(make(**overrides))
    assert len(rendered) >= 5
    problems = [p for name, text in rendered.items() for p in violations(name, text)]
    assert problems == []


def test_the_convention_checks_catch_violations():
    bad = """\
name: x
on: push
permissions: write-all
jobs:
  a:
    runs-on: ubuntu-latest
    environment: production
    permissions: {id-token: write}
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""
    found = "\n".join(violations("bad.yml", bad))
    for expected in ("open with a comment", "contents: read", "no timeout-minutes",
                     "cancel-in-progress", "id-token", "not pinned", "persist-credentials",
                     "expression inside run"):
        assert expected in found


def test_pins_are_full_shas_and_one_version_per_action():
    for pin in pins.THIRD_PARTY.values():
        assert len(pin.sha) == 40
        assert int(pin.sha, 16) >= 0
        assert pin.version.startswith("v")
    text = "\n".join(workflows(make(cluster_auth="eks")).values())
    import re
    refs: dict[str, set[str]] = {}
    for repo, sha in re.findall(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})", text):
        refs.setdefault(repo, set()).add(sha)
    assert refs["actions/checkout"] == {pins.CHECKOUT.sha}
    assert all(len(shas) == 1 for shas in refs.values())


def test_ci_gives_pull_requests_no_secrets_and_no_push():
    wf = load(workflows(make(registry="registry.example.com"))["modelship-ci.yml"])
    assert "pull_request" in wf["on"]
    assert "pull_request_target" not in wf["on"]
    pr_steps = [s for _, s in steps(wf) if s.get("if") == "github.event_name == 'pull_request'"]
    assert pr_steps
    for step in pr_steps:
        text = json.dumps(step)
        assert "secrets." not in text
        assert "--push" not in text
    push = [s for _, s in steps(wf) if "--push" in json.dumps(s)]
    assert push
    assert all(s["if"] == "github.event_name == 'push'" for s in push)


def test_cd_goes_gate_build_staging_then_approved_production():
    wf = load(workflows(make(strategy="blue-green"))["modelship-cd.yml"])
    jobs = wf["jobs"]
    assert wf["on"]["push"]["branches"] == ["main"]
    assert jobs["build"]["needs"] == "gate"
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert "staging" in jobs["production"]["needs"]
    for env in ("staging", "production"):
        deploy = next(s for s in jobs[env]["steps"] if s.get("id") == "deploy")
        assert deploy["with"]["command"] == "deploy"
        assert deploy["with"]["environment"] == env
        assert deploy["with"]["strategy"] == "blue-green"
        assert deploy["with"]["image"] == "${{ needs.build.outputs.image }}"
    assert jobs["version"]["uses"] == "./.github/workflows/modelship-versioning.yml"
    assert "version" not in load(workflows(make(versioning=False))["modelship-cd.yml"])["jobs"]


@pytest.mark.parametrize("auth", options.CLUSTER_AUTH)
def test_id_token_write_only_on_jobs_that_log_in_to_a_cloud(auth: str):
    rendered = workflows(make(cluster_auth=auth))
    for name, text in rendered.items():
        for job_id, job in load(text)["jobs"].items():
            grants = job.get("permissions") or {}
            cluster = any(s.get("with", {}).get("command") in ("deploy", "rollback", "status")
                          for s in job.get("steps", []))
            assert (grants.get("id-token") == "write") == (auth != "kubeconfig" and cluster), \
                f"{name}:{job_id}"


def test_gpu_labels_go_to_the_build_job_only():
    wf = load(workflows(make(gpu_runner=("self-hosted", "gpu")))["modelship-cd.yml"])
    assert wf["jobs"]["build"]["runs-on"] == ["self-hosted", "gpu"]
    assert wf["jobs"]["gate"]["runs-on"] == "ubuntu-latest"
    assert wf["jobs"]["staging"]["runs-on"] == "ubuntu-latest"


def test_rollback_takes_the_tag_or_the_dispatch_input_as_one_action_input():
    wf = load(workflows(make())["modelship-rollback.yml"])
    assert wf["on"]["push"]["tags"] == ["rollback-v*"]
    assert wf["on"]["workflow_dispatch"]["inputs"]["version"]["required"] is True
    step = next(s for _, s in steps(wf) if s.get("id") == "rollback")
    assert step["with"]["to"] == "${{ inputs.version || github.ref_name }}"
    assert not any("run" in s for _, s in steps(wf))


def test_release_builds_only_a_missing_image_and_rolls_back_older_versions():
    wf = load(workflows(make())["modelship-release.yml"])
    assert wf["on"]["push"]["tags"] == ["v*"]
    jobs = wf["jobs"]
    assert jobs["gate"]["if"] == "needs.version.outputs.image-exists != 'true'"
    assert jobs["build"]["needs"] == ["version", "gate"]
    release = {s.get("id"): s for s in jobs["production"]["steps"]}
    assert release["rollback"]["if"] == "steps.decide.outputs.decision == 'rollback'"
    assert release["deploy"]["if"] == "steps.decide.outputs.decision == 'deploy'"
    # by digest: the one the version job resolved, or the one the build job just pushed
    assert release["deploy"]["with"]["image"] == (
        "${{ needs.version.outputs.image-exists == 'true' && needs.version.outputs.image"
        " || needs.build.outputs.image }}")
    assert jobs["version"]["outputs"]["image"] == "${{ steps.image.outputs.image }}"
    resolve = next(s for s in jobs["version"]["steps"] if s.get("id") == "image")
    assert resolve["env"]["IMAGE"] == "ghcr.io/acme/sentiment:${{ steps.version.outputs.version }}"
    assert "imagetools inspect" in resolve["run"]
    assert 'image=${REPOSITORY}@${digest}' in resolve["run"]


def test_reusable_pipeline_is_workflow_call_with_environment_inputs():
    wf = load(workflows(make(registry="registry.example.com"))["modelship-pipeline.yml"])
    call = wf["on"]["workflow_call"]
    assert {"strategy", "staging-environment", "production-environment"} <= set(call["inputs"])
    assert {"REGISTRY_USERNAME", "REGISTRY_PASSWORD", "KUBECONFIG"} <= set(call["secrets"])
    assert wf["jobs"]["production"]["environment"] == "${{ inputs.production-environment }}"


def test_starter_config_is_valid_modelship_config(tmp_path: Path):
    from modelship import config

    text = render.render(make(registry="registry.example.com:5000", strategy="rolling"))[
        "modelship.yaml"]
    (tmp_path / "modelship.yaml").write_text(text)
    cfg = config.load(tmp_path / "modelship.yaml")
    assert cfg.raw("image.repository") == "registry.example.com:5000/acme/sentiment"
    assert cfg.raw("deploy.strategy") == "rolling"
    assert cfg.raw("model.name") == "sentiment"


def test_every_template_has_github_properties():
    directory = render.templates_dir()
    for template in [*render.WORKFLOWS, render.VERSIONING]:
        stem = template.template.removesuffix(".yml.j2")
        props = json.loads((directory / f"{stem}.properties.json").read_text())
        assert {"name", "description", "iconName", "categories"} <= set(props), stem
        # names GitHub's template chooser knows (actions/starter-workflows' categories)
        assert set(props["categories"]) <= KNOWN_CATEGORIES, stem
        assert props["iconName"].startswith("octicon ")


@pytest.mark.parametrize(
    ("flag", "call"),
    [
        pytest.param("--registry", lambda: options.registry("ghcr.io\non: push"), id="newline"),
        pytest.param("--registry", lambda: options.registry("${{ github.token }}"), id="expr"),
        pytest.param("--image", lambda: options.image("a/b: ${{ x }}", "ghcr.io"), id="image"),
        pytest.param("--image", lambda: options.image("team/m:latest", "ghcr.io"), id="tag"),
        pytest.param("--gpu-runner", lambda: options.runner_labels("gpu, ${{ x }}"), id="label"),
        pytest.param("--action", lambda: pins.parse_action("acme/modelship@v1"), id="tag-ref"),
        pytest.param("--action", lambda: pins.parse_action(f"a/b@{SHA}\n  run: x"), id="nl"),
    ],
)
def test_values_that_could_inject_yaml_or_expressions_are_refused(flag: str, call):
    from modelship.errors import UsageError

    with pytest.raises(UsageError, match=flag):
        call()


def test_missing_template_values_fail_loudly(tmp_path: Path):
    import jinja2

    (tmp_path / "x.j2").write_text("{= nothing_here =}")
    with pytest.raises(jinja2.UndefinedError):
        render.environment(tmp_path).get_template("x.j2").render({})


@pytest.mark.parametrize("registry", ["ghcr.io", "registry.example.com"])
def test_release_steps_can_read_the_registry(registry: str):
    """deploy by tag and rollback by version look the image up in the registry (found when the
    rollback workflow ran against the release engine under act: HTTP 401 without them)."""
    rendered = workflows(make(registry=registry))
    for name, text in rendered.items():
        wf = load(text)
        for job_id, job in wf["jobs"].items():
            for step in job.get("steps", []):
                command = (step.get("with") or {}).get("command")
                if command in ("deploy", "rollback"):
                    assert step["with"].get("registry-password"), f"{name}:{job_id}"
                    if registry == "ghcr.io":
                        assert job["permissions"]["packages"] == "read", f"{name}:{job_id}"


def test_ci_never_runs_fork_pull_requests_on_the_self_hosted_gpu_runner():
    wf = load(workflows(make(gpu_runner=("self-hosted", "gpu")))["modelship-ci.yml"])
    runs_on = wf["jobs"]["build"]["runs-on"]
    assert isinstance(runs_on, str)
    fork = ("github.event_name == 'pull_request' && "
            "github.event.pull_request.head.repo.full_name != github.repository")
    assert runs_on == (f"${{{{ {fork} && 'ubuntu-latest' || "
                       """fromJSON('["self-hosted", "gpu"]') }}""")
    hosted = load(workflows(make(gpu_runner=()))["modelship-ci.yml"])
    assert hosted["jobs"]["build"]["runs-on"] == "ubuntu-latest"


@pytest.mark.parametrize("strategy", ["blue-green", "canary"])
def test_rollback_is_not_queued_behind_a_deploy_keeping_the_old_colour_warm(strategy: str):
    """Deploy jobs share one group per environment; the rollback has its own (the release
    Lease serialises the cluster work, and is free while blue-green keeps the old colour warm)."""
    rendered = workflows(make(strategy=strategy))
    rollback = load(rendered["modelship-rollback.yml"])["jobs"]["rollback"]["concurrency"]
    deploy_groups = {job["concurrency"]["group"]
                     for name in ("modelship-cd.yml", "modelship-release.yml")
                     for job in load(rendered[name])["jobs"].values() if "concurrency" in job}
    assert "modelship-deploy-production" in deploy_groups
    assert rollback["group"] not in deploy_groups
    assert "production" in rollback["group"]
    assert rollback["cancel-in-progress"] is False


def test_versioning_tags_only_the_default_branch_one_run_at_a_time():
    tag = load(workflows(make(versioning=True))["modelship-versioning.yml"])["jobs"]["tag"]
    assert tag["if"] == (
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)")
    assert tag["concurrency"]["group"] == "modelship-versioning"
    assert tag["concurrency"]["cancel-in-progress"] is False


def test_cd_runs_one_at_a_time_so_an_older_run_never_deploys_last():
    wf = load(workflows(make())["modelship-cd.yml"])
    assert wf["concurrency"] == {"group": "modelship-cd-${{ github.ref }}",
                                 "cancel-in-progress": False}
    job_groups = {job["concurrency"]["group"] for job in wf["jobs"].values()
                  if "concurrency" in job}
    assert wf["concurrency"]["group"] not in job_groups


def test_ci_branch_images_go_to_a_separate_repository_so_they_never_look_like_a_release():
    """A branch named 1.2.3 or a literal model.version would otherwise plant a release tag in
    the repository the release workflow deploys from."""
    wf = load(workflows(make(registry="registry.example.com"))["modelship-ci.yml"])
    push = [s for _, s in steps(wf) if "--push" in json.dumps(s)]
    assert [s["with"]["args"] for s in push] == [
        "--push --repository registry.example.com/acme/sentiment-ci"]


def test_an_image_name_too_long_for_its_ci_twin_is_refused():
    longest = "a" * (255 - len("ghcr.io/"))
    with pytest.raises(options.UsageError, match="--image"):
        options.image(longest, "ghcr.io")
    assert options.image(longest[:-3], "ghcr.io") == longest[:-3]


def test_release_asks_modelship_for_the_version_and_the_decision_and_runs_one_at_a_time():
    """No semver parsing or deploy/rollback choice in a script: `modelship version` (tested in
    tests/unit/release/test_versions.py) reads the tag and compares it with production; a
    commit's short sha recorded by `model.version: auto` is ordered by git ancestry, which
    needs the whole history."""
    wf = load(workflows(make())["modelship-release.yml"])
    assert wf["concurrency"] == {"group": "modelship-release", "cancel-in-progress": False}
    jobs = wf["jobs"]
    version = next(s for s in jobs["version"]["steps"] if s.get("id") == "version")
    assert version["uses"] == f"acme/modelship@{SHA}"
    assert version["with"] == {"command": "version", "args": "--require release"}
    assert jobs["version"]["outputs"]["version"] == "${{ steps.version.outputs.version }}"
    production = jobs["production"]["steps"]
    decide = next(s for s in production if s.get("id") == "decide")
    assert decide["with"]["command"] == "version"
    assert decide["with"]["environment"] == "production"
    assert decide["with"]["args"] == "--require release"
    assert not decide.get("continue-on-error")  # an unreadable production stops the release
    checkout = next(s for s in production if "actions/checkout" in str(s.get("uses")))
    assert checkout["with"]["fetch-depth"] == 0
    # the scripts left look the image up in the registry and hand the gate report to the build
    assert [s.get("id") or s.get("name") for _, s in steps(wf) if "run" in s] == [
        "image", "Take the gate report from the gate job"]


@pytest.mark.parametrize("cluster_auth", ["kubeconfig", "eks"])
def test_blue_green_sweeps_a_due_warm_colour_on_a_schedule(cluster_auth: str):
    """Blue-green keeps the old colour warm with no job waiting: a scheduled `status` per
    environment scales it down once due (the rollback job never runs on the schedule)."""
    wf = load(workflows(make(strategy="blue-green", cluster_auth=cluster_auth))[
        "modelship-rollback.yml"])
    assert wf["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    sweep = wf["jobs"]["scale-down"]
    assert sweep["if"] == "github.event_name == 'schedule'"
    assert "environment" not in sweep  # no approval for a read and a due scale-down
    assert sweep["strategy"]["matrix"]["environment"] == ["staging", "production"]
    step = next(s for s in sweep["steps"] if s.get("with", {}).get("command") == "status")
    assert step["with"]["environment"] == "${{ matrix.environment }}"
    assert wf["jobs"]["rollback"]["if"] == "github.event_name != 'schedule'"
    canary = load(workflows(make(strategy="canary"))["modelship-rollback.yml"])
    assert "schedule" not in canary["on"]
    assert "scale-down" not in canary["jobs"]
