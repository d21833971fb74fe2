"""A malformed kubeconfig and a bad `--image` are the user's to fix: exit 2 naming the file or
the flag and what was expected, before helm or the cluster is touched (a `helm` on PATH that
records any call proves it was not run)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelship import action, cli
from modelship.errors import EXIT_USAGE, UsageError

GOOD = """apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
current-context: down
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config, and a `helm` that leaves a mark if anything runs it."""
    (tmp_path / "modelship.yaml").write_text("model: {name: m, version: 2.0.0}\n"
                                             "deploy: {namespace: models}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(f"#!/bin/sh\ntouch {tmp_path / 'helm-ran'}\nexit 1\n")
    helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def run(project: Path, kubeconfig: str, *argv: str,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = project / "kubeconfig"
    path.write_text(kubeconfig)
    os.environ["KUBECONFIG"] = str(path)
    code = cli.main([*argv, "--config", str(project / "modelship.yaml")])
    err = capsys.readouterr().err
    assert path.read_text() == kubeconfig  # never rewritten
    assert not (project / "helm-ran").exists()
    assert "Traceback" not in err
    assert "report it" not in err
    return code, err


@pytest.mark.parametrize(("kubeconfig", "expected"), [
    pytest.param("clusters: [unclosed\n", ["kubeconfig:2", "not valid YAML"], id="not-yaml"),
    pytest.param("- a\n- b\n", ["kubeconfig: ", "holds a list; expected a mapping"],
                 id="a-list"),
    pytest.param("apiVersion: v1\nkind: Config\n", ["no clusters and contexts"],
                 id="empty-config"),
    pytest.param(GOOD.replace("clusters: [{name: down, cluster: {server: \"https://127.0.0.1:9\"}}]",
                              "clusters: []"), ["no clusters"], id="no-clusters"),
    pytest.param(GOOD.replace("context: {cluster: down", "context: {cluster: gone"),
                 ["contexts[down].context.cluster", "'gone'", "its clusters: down"],
                 id="context-names-no-cluster"),
    pytest.param(GOOD.replace("current-context: down", "current-context: up"),
                 ["current-context", "'up' names no context", "its contexts: down"],
                 id="current-context-missing"),
    pytest.param(GOOD.replace('{server: "https://127.0.0.1:9"}', "{}"),
                 ["clusters[down].cluster.server", "no server"], id="no-server"),
    pytest.param(GOOD.replace("contexts: [{name: down,", "contexts: [{nam: down,"),
                 ["contexts[0]", "expected an entry with a name"], id="unnamed-entry"),
])
@pytest.mark.parametrize("command", ["deploy", "status"])
def test_malformed_kubeconfig_exits_2_naming_the_file(project: Path, capsys, command: str,
                                                      kubeconfig: str, expected: list[str],
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KUBECONFIG", "")  # run() sets it; monkeypatch restores it
    argv = [command, "--image", "127.0.0.1:9/m:2.0.0"] if command == "deploy" else [command]
    code, err = run(project, kubeconfig, *argv, capsys=capsys)
    assert code == EXIT_USAGE, err
    assert str(project / "kubeconfig") in err
    for part in expected:
        assert part in err


@pytest.mark.parametrize("image", [
    pytest.param("Not A Ref!!", id="spaces"),
    pytest.param("Registry.Example.com/Team/Model:1", id="uppercase-path"),
    pytest.param("repo@sha256:abc", id="short-digest"),
    pytest.param("repo:tag with space", id="bad-tag"),
    pytest.param("repo:", id="empty-tag"),
    pytest.param("//x:1", id="empty-component"),
])
def test_bad_image_exits_2_naming_the_flag_before_helm_or_cluster(project: Path, capsys,
                                                                  image: str,
                                                                  monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "")
    code, err = run(project, GOOD, "deploy", "--image", image, capsys=capsys)
    assert code == EXIT_USAGE, err
    assert f"--image {image!r}" in err
    assert "repo:tag or repo@sha256:<64 hex digits>" in err
    assert "helm is not on PATH" not in err


def test_an_image_without_tag_or_digest_names_no_version(project: Path, capsys, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "")
    code, err = run(project, GOOD, "deploy", "--image", "registry.example.com/m", capsys=capsys)
    assert code == EXIT_USAGE
    assert "names no version" in err


@pytest.mark.parametrize("image", [
    "m:1", "library/m:1.2.3", "registry.example.com/team/model:1.2.3", "localhost:5000/m:v1",
    "127.0.0.1:5000/a/b/c:sha-abc1234", "ghcr.io/o/m@sha256:" + "a" * 64,
    "ghcr.io/o/m:1.0@sha256:" + "0" * 64, "my-registry.local:443/a__b/c-d.e:TAG_1",
    "[::1]:5000/m:1",
])
def test_valid_references_pass(image: str):
    from modelship import imageref

    assert imageref.check(f" {image} ") == image


def test_the_action_input_is_checked_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INPUT_COMMAND", "deploy")
    monkeypatch.setenv("INPUT_IMAGE", "Not A Ref!!")
    with pytest.raises(UsageError, match=r"^input image 'Not A Ref!!': not an image reference"):
        action.arguments()
