"""`modelship version --environment production`, the release workflow's deploy / rollback /
unchanged choice, against a real release (the test bed's API server, KWOK pods, helm) and a
real git history. With `model.version: auto` a deploy by digest records no semantic version
(here the digest's first 12 hex digits, on GitHub the commit's short sha), so the choice is made
by the commit each deploy recorded: the tag of the running commit changes nothing, the tag of
an older commit takes the rollback fast path (which then finds the version by its git tag).
Where git cannot tell (the action's image has no git), the order of the release's deploys
does."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.integration.release.conftest import Images, Project

pytestmark = pytest.mark.integration


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c",
                           "user.email=t@example.com", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(root: Path, message: str) -> str:
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD")


def decide(project: Project, tag: str, sha: str, **env: str) -> dict[str, Any]:
    """What the release workflow's `decide` step gets for a push of `tag` at commit `sha`."""
    result = project.run("version", "--json", "--environment", "production", "--require",
                         "release",
                         env={"GITHUB_REF": f"refs/tags/{tag}", "GITHUB_SHA": sha, **env})
    data: dict[str, Any] = result.json
    assert data["version"] == tag.removeprefix("v")
    return data


def test_auto_versions_are_decided_by_the_commit_production_was_deployed_from(
        project: Project, release_images: Images, deployments: Any) -> None:
    images, root = release_images, project.root
    project.config["model"]["version"] = "auto"
    project.config["environments"] = {"production": {}}
    project.write(strategy="rolling")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "modelship.yaml")
    first = commit(root, "first")

    nothing = decide(project, "v1.0.0", first)
    assert (nothing["decision"], nothing["running"]) == ("deploy", None)

    # CD deploys the first commit by digest: no semantic version is recorded
    project.run("deploy", "--environment", "production", "--image", images.pinned("1.0.0"))
    git(root, "tag", "v1.0.0")
    same = decide(project, "v1.0.0", first)
    prefix = images.digests["1.0.0"].removeprefix("sha256:")[:12]
    assert same["running"] == {"version": prefix, "digest": images.digests["1.0.0"],
                               "git_sha": first}
    assert same["decision"] == "unchanged", same["reason"]

    second = commit(root, "second")
    project.run("deploy", "--environment", "production", "--image", images.pinned("2.0.0"))
    older = decide(project, "v1.0.0", first)
    assert older["running"]["git_sha"] == second
    assert older["decision"] == "rollback", older["reason"]
    assert f"commit {first[:7]} is an ancestor of {second[:7]}" in older["reason"]
    # where git cannot tell (the action's image has no git), the release history does
    blind = decide(project, "v1.0.0", first, GIT_DIR=str(root / "no-repository-here"))
    assert blind["decision"] == "rollback", blind["reason"]
    assert f"commit {first[:7]} was first deployed before {second[:7]}" in blind["reason"]

    # the fast path the workflow then takes finds 1.0.0 by its git tag
    rolled = project.run("rollback", "--json", "--environment", "production", "--to", "1.0.0")
    assert rolled.json["to"]["digest"] == images.digests["1.0.0"]
    assert deployments(project)["stable"][2] == images.pinned("1.0.0")

    third = commit(root, "third")
    newer = decide(project, "v3.0.0", third)
    assert newer["running"]["version"] == "1.0.0"  # what the rollback recorded
    assert newer["decision"] == "deploy", newer["reason"]
    again = decide(project, "v1.0.0", first)
    assert again["decision"] == "unchanged", again["reason"]
