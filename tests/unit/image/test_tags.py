"""Tags and labels, docker/metadata-action style."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelship.image.gitinfo import GitInfo
from modelship.image.tags import clean_url, labels, sanitize, tags, valid_tag, version
from modelship.imageref import repository_component, suggest_repository, valid_repository

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("ref", "default", "configured", "expected_version", "expected_tags"),
    [
        pytest.param("refs/tags/v1.2.3", "main", "auto", "1.2.3",
                     ["1.2.3", "1.2", "1", "0123456", "sha-0123456"], id="semver-tag"),
        pytest.param("refs/tags/1.2.3", "main", "auto", "1.2.3",
                     ["1.2.3", "1.2", "1", "0123456", "sha-0123456"], id="semver-without-v"),
        pytest.param("refs/tags/v2.0.0-rc.1", "main", "auto", "2.0.0-rc.1",
                     ["2.0.0-rc.1", "0123456", "sha-0123456"], id="prerelease-no-major-minor"),
        pytest.param("refs/tags/v0.3.1", "main", "auto", "0.3.1",
                     ["0.3.1", "0.3", "0", "0123456", "sha-0123456"], id="zero-major"),
        pytest.param("refs/tags/release-2024", "main", "auto", "release-2024",
                     ["release-2024", "0123456", "sha-0123456"], id="non-semver-tag"),
        pytest.param("refs/heads/main", "main", "auto", "0123456",
                     ["main", "latest", "0123456", "sha-0123456"], id="default-branch-latest"),
        pytest.param("refs/heads/main", "trunk", "auto", "0123456",
                     ["main", "0123456", "sha-0123456"], id="main-not-default-no-latest"),
        pytest.param("refs/heads/feature/new-tokenizer", "main", "auto", "0123456",
                     ["feature-new-tokenizer", "0123456", "sha-0123456"], id="branch-slash"),
        pytest.param("refs/heads/fix/Ünïcode@#1", "main", "auto", "0123456",
                     ["fix-n-code-1", "0123456", "sha-0123456"], id="branch-sanitized"),
        pytest.param("refs/pull/42/merge", "main", "auto", "0123456",
                     ["pr-42", "0123456", "sha-0123456"], id="pull-request"),
        pytest.param("refs/heads/main", "main", "2024.06", "2024.06",
                     ["main", "latest", "2024.06", "0123456", "sha-0123456"], id="literal-version"),
        pytest.param("refs/heads/main", None, "auto", "0123456",
                     ["main", "0123456", "sha-0123456"], id="unknown-default-no-latest"),
    ],
)
def test_tags_and_version(ref, default, configured, expected_version, expected_tags):
    git = GitInfo.from_ref(ref, sha=SHA, default_branch=default)
    assert version(configured, git) == expected_version
    assert tags(git, expected_version) == expected_tags
    assert all(valid_tag(t) for t in expected_tags)


def test_extra_tags_are_appended_once():
    git = GitInfo.from_ref("refs/heads/main", sha=SHA, default_branch="main")
    assert tags(git, "0123456", ["canary", "latest"]) == [
        "main", "latest", "0123456", "sha-0123456", "canary"]


def test_no_git_at_all_gives_dev():
    assert version("auto", GitInfo()) == "dev"
    assert tags(GitInfo(), "dev") == ["dev"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("feature/x", "feature-x", id="slash"),
        pytest.param("-leading", "leading", id="leading-dash"),
        pytest.param(".hidden", "hidden", id="leading-dot"),
        pytest.param("a" * 200, "a" * 128, id="too-long"),
        pytest.param("v1.2.3_ok-Yes", "v1.2.3_ok-Yes", id="kept"),
    ],
)
def test_sanitize(value, expected):
    assert sanitize(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://github.com/org/model.git", "https://github.com/org/model",
                     id="https"),
        pytest.param("https://x-access-token:secret@github.com/org/model",
                     "https://github.com/org/model", id="credentials-removed"),
        pytest.param("git@github.com:org/model.git", "https://github.com/org/model", id="scp"),
        pytest.param("https://user:p@ss@github.com/o/r", "https://github.com/o/r",
                     id="password-with-at"),
        pytest.param("https://user:p@ss@w@rd@github.com:8443/o/r.git",
                     "https://github.com:8443/o/r", id="password-with-several-ats-and-port"),
        pytest.param("https://token@github.com/o/r", "https://github.com/o/r", id="user-only"),
        pytest.param("ssh://git:s@cret@github.com/o/r.git", "ssh://github.com/o/r",
                     id="ssh-scheme"),
        pytest.param("https://github.com/o/r@v1", "https://github.com/o/r@v1",
                     id="at-in-the-path-kept"),
        pytest.param("deploy@git.example.com:team/model.git",
                     "https://git.example.com/team/model", id="scp-other-user"),
    ],
)
def test_clean_url(url, expected):
    assert clean_url(url) == expected


def test_clean_url_leaves_no_part_of_the_password():
    cleaned = clean_url("https://user:p@ss@github.com/o/r")
    assert "ss" not in cleaned.split("//", 1)[1].split("/", 1)[0]
    assert "user" not in cleaned


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("modelship/sentiment", True),
        ("localhost:5000/models/sentiment", True),
        ("ghcr.io/org/my-model", True),
        ("registry.example.com:443/a__b/c.d", True),
        ("modelship/MyModel", False),  # docker refuses upper case in the path
        ("Registry.io/org/model", False),  # and docker-py in the registry too
        ("a..b", False),
        ("a___b", False),
        ("a-_b", False),
        ("repo:tag", False),
        ("repo@sha256:" + "a" * 64, False),
        ("a//b", False),
        ("/a", False),
        ("a/" + "b" * 260, False),  # over 255 characters
    ],
)
def test_valid_repository_follows_docker_and_docker_py(value, valid):
    from docker.utils import match_tag

    assert valid_repository(value) is valid
    if valid:  # what docker-py checks before it sends a build
        assert match_tag(f"{value}:dev")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MyModel", "mymodel"),
        ("My Model v2", "my-model-v2"),
        ("sentiment", "sentiment"),
        ("a..b", "a-b"),
        ("a__b", "a__b"),
        ("a---b", "a---b"),
        ("A-_-B", "a-b"),
        ("__x__", "x"),
        ("org/model", "org-model"),
        ("日本語", ""),
        ("...", ""),
    ],
)
def test_repository_component(name, expected):
    from docker.utils import match_tag

    assert repository_component(name) == expected
    if expected:
        assert valid_repository(f"modelship/{expected}")
        assert match_tag(f"modelship/{expected}:dev")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ghcr.io/Org/Model", "ghcr.io/org/model"),
        ("localhost:5000/My_Model", "localhost:5000/my_model"),
        ("MyOrg/Model", "myorg/model"),
        ("///", None),
    ],
)
def test_suggest_repository(value, expected):
    assert suggest_repository(value) == expected


def test_labels_oci_and_modelship():
    git = GitInfo.from_ref("refs/tags/v1.2.3", sha=SHA, source="https://github.com/org/model")
    out = labels(git=git, model_name="sentiment", model_version="1.2.3",
                 accelerator={"modelship.io/accelerator": "nvidia",
                              "modelship.io/cuda-version": "12.4"},
                 gate_report_digest="sha256:" + "a" * 64,
                 created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert out == {
        "org.opencontainers.image.title": "sentiment",
        "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.source": "https://github.com/org/model",
        "org.opencontainers.image.revision": SHA,
        "modelship.io/model": "sentiment",
        "modelship.io/model-name": "sentiment",
        "modelship.io/version": "1.2.3",
        "modelship.io/accelerator": "nvidia",
        "modelship.io/cuda-version": "12.4",
        "modelship.io/gate-report-digest": "sha256:" + "a" * 64,
    }
