"""`modelship version`: what kind of ref a tag is, semver precedence, and the release decision
(deploy, rollback, unchanged) against what an environment runs, including the `model.version:
auto` case where production's recorded version is a commit's short sha."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from modelship.cli import main
from modelship.release import versions

A = "a" * 40  # the older commit
B = "b" * 40  # its descendant


@pytest.mark.parametrize(("ref", "kind", "version"), [
    pytest.param("refs/tags/v1.2.3", "release", "1.2.3", id="release"),
    pytest.param("refs/tags/v1.2.3-rc.1+build.5", "release", "1.2.3-rc.1+build.5", id="pre"),
    pytest.param("refs/tags/rollback-v1.2.3", "rollback", "1.2.3", id="rollback"),
    pytest.param("refs/tags/1.2.3", "tag", None, id="no-v"),
    pytest.param("refs/tags/v1.2", "tag", None, id="not-semver"),
    pytest.param("refs/tags/v1.0.0$(touch${IFS}x)", "tag", None, id="payload"),
    pytest.param("refs/tags/rollback-1.2.3", "tag", None, id="rollback-no-v"),
    pytest.param("refs/tags/v01.2.3", "tag", None, id="leading-zero"),
    pytest.param("refs/heads/v1.2.3", "branch", None, id="branch-named-like-a-tag"),
    pytest.param("refs/pull/7/merge", "pull-request", None, id="pull-request"),
    pytest.param("", "commit", None, id="detached"),
])
def test_kind_of_a_ref(ref: str, kind: str, version: str | None) -> None:
    assert versions.kind_of(ref) == (kind, version)


def test_semver_precedence_follows_semver_org() -> None:
    # semver.org section 11's example, in order, plus build metadata (ignored) and numbers
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
               "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.9.0", "1.10.0",
               "2.0.0"]
    keys = [versions.semver_key(v) for v in ordered]
    assert all(k is not None for k in keys)
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert len(set(keys)) == len(keys)
    assert versions.semver_key("v1.0.0+build.7") == versions.semver_key("1.0.0")
    for text in ("3f2a9c1", "1.2", "", None, "1.2.3.4"):
        assert versions.semver_key(text) is None


def _ancestry(pairs: set[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """git's answer for a small history: (ancestor, descendant) pairs; unknown commits: None."""
    known = {sha for pair in pairs for sha in pair}

    def is_ancestor(a: str, b: str) -> bool | None:
        if a not in known or b not in known:
            return None
        return (a, b) in pairs
    return is_ancestor


LINEAR = _ancestry({(A, B)})
C = "c" * 40  # a third commit


def _no_git(a: str, b: str) -> bool | None:
    """What the action's container sees: it has no git, so git never tells."""
    return None


@pytest.mark.parametrize(("version", "sha", "running", "decision"), [
    pytest.param("1.0.0", A, None, "deploy", id="nothing-runs"),
    pytest.param("1.3.0", A, versions.Running("1.2.0", "sha256:1", None), "deploy",
                 id="newer"),
    pytest.param("1.1.9", A, versions.Running("1.2.0", "sha256:1", None), "rollback",
                 id="older"),
    pytest.param("1.9.0", A, versions.Running("1.10.0", "sha256:1", None), "rollback",
                 id="numeric-not-text"),
    pytest.param("1.2.0", A, versions.Running("v1.2.0", "sha256:1", None), "unchanged",
                 id="same-version"),
    pytest.param("1.2.0", A, versions.Running("1.2.0-rc.1", "sha256:1", None), "deploy",
                 id="release-after-its-rc"),
    pytest.param("1.2.0-rc.1", A, versions.Running("1.2.0", "sha256:1", None), "rollback",
                 id="rc-after-its-release"),
    # model.version: auto -- production was deployed from a branch, recorded by short sha
    pytest.param("1.0.0", A, versions.Running(A[:7], "sha256:1", A), "unchanged",
                 id="auto-same-commit"),
    pytest.param("1.0.0", A, versions.Running(B[:7], "sha256:1", B), "rollback",
                 id="auto-older-commit"),
    pytest.param("2.0.0", B, versions.Running(A[:7], "sha256:1", A), "deploy",
                 id="auto-newer-commit"),
    pytest.param("1.0.0", A, versions.Running(A[:7], "sha256:1", A[:7]), "unchanged",
                 id="auto-short-recorded-sha"),
    pytest.param("1.0.0", "c" * 40, versions.Running(A[:7], "sha256:1", A), "deploy",
                 id="auto-unrelated-commit"),
    pytest.param("1.0.0", A, versions.Running(B[:12], "sha256:1", None), "deploy",
                 id="digest-prefix-no-commit"),
    # semantic versions are what the user said: they win over git's order
    pytest.param("1.0.0", B, versions.Running("2.0.0", "sha256:1", A), "rollback",
                 id="semver-wins-over-ancestry"),
])
def test_release_decision(version: str, sha: str, running: versions.Running | None,
                          decision: str) -> None:
    target = versions.Target(f"refs/tags/v{version}", "release", version, sha)
    got = versions.decide(target, running, LINEAR)
    assert got.decision == decision, got.reason
    assert got.reason


@pytest.mark.parametrize(("sha", "running", "decision"), [
    pytest.param(A, versions.Running(B[:7], "sha256:2", B, (A, B)), "rollback",
                 id="first-deployed-before"),
    pytest.param(B, versions.Running(A[:7], "sha256:1", A, (A, B, C)), "deploy",
                 id="first-deployed-after-though-rolled-back-to-since"),
    pytest.param(C, versions.Running(A[:7], "sha256:1", A, (A, B)), "deploy",
                 id="never-deployed"),
    pytest.param(A, versions.Running(A[:7], "sha256:1", A, (A,)), "unchanged",
                 id="same-commit"),
])
def test_without_git_the_release_history_orders_the_commits(
        sha: str, running: versions.Running, decision: str) -> None:
    target = versions.Target("refs/tags/v1.0.0", "release", "1.0.0", sha)
    got = versions.decide(target, running, _no_git)
    assert got.decision == decision, got.reason


# -- the command, on a real git repository --------------------------------------------------
def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_REF", "GITHUB_SHA", "GITHUB_ACTIONS", "GITHUB_OUTPUT",
                 "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "model"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "modelship.yaml").write_text("model: {name: m, version: auto}\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "first")
    monkeypatch.chdir(root)
    return root


def _version(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["version", "--json", *args])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_version_of_a_tagged_commit_and_of_a_branch(repo: Path, capsys) -> None:
    sha = _git(repo, "rev-parse", "HEAD")
    code, data = _version(capsys)
    assert code == 0
    assert data == {"ref": "refs/heads/main", "kind": "branch", "version": sha[:7], "sha": sha}
    _git(repo, "tag", "v1.4.0")
    code, data = _version(capsys, "--require", "release")
    assert code == 0
    assert (data["kind"], data["version"], data["ref"]) == ("release", "1.4.0",
                                                            "refs/tags/v1.4.0")


def test_actions_ref_is_read_from_the_runtime(repo: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_REF", "refs/tags/rollback-v1.2.3")
    monkeypatch.setenv("GITHUB_SHA", A)
    code, data = _version(capsys, "--require", "rollback")
    assert code == 0
    assert data == {"ref": "refs/tags/rollback-v1.2.3", "kind": "rollback", "version": "1.2.3",
                    "sha": A}


@pytest.mark.parametrize("ref", ["refs/tags/v1.0.0$(touch${IFS}pwned)", "refs/heads/main",
                                 "refs/tags/rollback-v1.0.0"])
def test_require_release_refuses_anything_but_a_release_tag(repo: Path, capsys, monkeypatch,
                                                             ref: str) -> None:
    monkeypatch.setenv("GITHUB_REF", ref)
    code, data = _version(capsys, "--require", "release")
    assert code == 2
    assert "the tag is not v<semantic version> (e.g. v1.2.3)" in data["error"]
    assert not list(repo.glob("pwned*"))


def test_environment_that_is_not_configured_is_a_usage_error(repo: Path, capsys) -> None:
    code, data = _version(capsys, "--environment", "production")
    assert code == 2
    assert "--environment production: no such environment" in data["error"]
