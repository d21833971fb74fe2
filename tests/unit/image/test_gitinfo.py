"""Where a build comes from: GITHUB_REF/GITHUB_SHA when set, else the git repository."""

from __future__ import annotations

import json
import subprocess

import pytest

from modelship.image import gitinfo

GH_VARS = ("GITHUB_ACTIONS", "GITHUB_REF", "GITHUB_SHA", "GITHUB_REPOSITORY",
           "GITHUB_EVENT_PATH", "GITHUB_SERVER_URL")


@pytest.fixture(autouse=True)
def _no_github(monkeypatch):
    for name in GH_VARS:
        monkeypatch.delenv(name, raising=False)


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "f").write_text("x")
    _git(tmp_path, "add", "f")
    _git(tmp_path, "commit", "-q", "-m", "c")
    _git(tmp_path, "remote", "add", "origin", "https://user:tok@example.com/org/model.git")
    return tmp_path


def test_from_the_github_runtime(tmp_path, monkeypatch):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF", "refs/heads/trunk")
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/model")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    info = gitinfo.detect(tmp_path)
    assert (info.branch, info.default_branch, info.sha) == ("trunk", "trunk", "a" * 40)
    assert info.source == "https://github.com/org/model"


def test_github_ref_without_actions_and_no_event(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_REF", "refs/tags/v2.0.1")
    monkeypatch.setenv("GITHUB_SHA", "b" * 40)
    info = gitinfo.detect(tmp_path)
    assert (info.tag, info.branch, info.sha) == ("v2.0.1", None, "b" * 40)


def test_from_git_in_a_terminal(repo):
    _git(repo, "tag", "v1.4.0")
    info = gitinfo.detect(repo)
    assert info.branch == "main"
    assert info.tag == "v1.4.0"
    assert info.sha
    assert len(info.sha) == 40
    assert info.source == "https://example.com/org/model"  # credentials dropped
    assert info.default_branch == "main"


def test_outside_git(tmp_path):
    info = gitinfo.detect(tmp_path)
    assert (info.sha, info.branch, info.tag) == (None, None, None)


def test_tag_commit_v_tag_first_then_bare(repo):
    first = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                           capture_output=True, text=True).stdout.strip()
    _git(repo, "tag", "-a", "v1.0.0", "-m", "annotated: peeled to its commit")
    (repo / "f").write_text("y")
    _git(repo, "commit", "-q", "-am", "second")
    _git(repo, "tag", "2.0.0")
    second = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    assert gitinfo.tag_commit(repo, "1.0.0") == ("v1.0.0", first)
    assert gitinfo.tag_commit(repo, "2.0.0") == ("2.0.0", second)
    assert gitinfo.tag_commit(repo, "3.0.0") is None


def test_tag_commit_outside_a_checkout(tmp_path):
    assert gitinfo.tag_commit(tmp_path, "1.0.0") is None
