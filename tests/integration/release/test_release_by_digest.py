"""Images deployed by digest only, as the CD workflow passes the build's digest: the version
comes from the image's labels in the real registry (with auth), and `rollback --to vX` finds
it later with no `:X` tag in the registry; an image with no version label is found by the
project's git tag and the commit its deploy recorded. The cluster is the test bed's API
server with KWOK pods, the registry repository one where no tag was ever pushed."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from tests.integration.release.conftest import Project
from tests.support.images import build_and_push
from tests.support.registry_api import RegistryAPI

pytestmark = pytest.mark.integration

OCI = "org.opencontainers.image.version"
OWN = "modelship.io/version"
# name -> the Dockerfile's LABEL line (none for `plain`)
IMAGES = {
    "oci-1.0.0": f"LABEL {OCI}=1.0.0 org.opencontainers.image.title=sentiment\n",
    "own-2.0.0": f"LABEL {OWN}=v2.0.0\n",
    "amd64-3.0.0": f"LABEL {OCI}=3.0.0\n",
    "arm64-9.9.9": f"LABEL {OCI}=9.9.9\n",
    "plain": "",
}


@dataclass(frozen=True)
class DigestImages:
    repository: str  # registry/path where no tag was ever pushed
    digests: dict[str, str]  # IMAGES name (and "index") -> sha256:...
    api: RegistryAPI

    def pinned(self, name: str) -> str:
        return f"{self.repository}@{self.digests[name]}"


@pytest.fixture(scope="module")
def digest_images(testbed_env: dict[str, str], docker_client: Any) -> DigestImages:
    """IMAGES built by the engine and pushed with a tag to a staging repository, then put by
    digest alone into a fresh repository, plus a manifest list (arm64 first, amd64 second)."""
    host = testbed_env["MODELSHIP_TEST_REGISTRY"]
    user = testbed_env["MODELSHIP_TEST_REGISTRY_USER"]
    password = testbed_env["MODELSHIP_TEST_REGISTRY_PASSWORD"]
    api = RegistryAPI(host, user, password)
    staging = "modelship-release-it/digest-staging"
    target = f"modelship-release-it/by-digest-{uuid.uuid4().hex[:8]}"
    digests: dict[str, str] = {}
    for name, label in IMAGES.items():
        digest = build_and_push(
            docker_client, f"{host}/{staging}", name,
            {"Dockerfile": f"FROM scratch\n{label}COPY content /content\n",
             "content": f"{name}\n"}, {"username": user, "password": password})
        api.copy_by_digest(staging, target, digest)
        digests[name] = digest
    digests["index"] = api.put_index(target, [(digests["arm64-9.9.9"], "linux", "arm64"),
                                              (digests["amd64-3.0.0"], "linux", "amd64")])
    assert len(set(digests.values())) == len(digests)
    return DigestImages(f"{host}/{target}", digests, api)


def deploy(project: Project, image: str, check: int | None = 0) -> tuple[dict[str, Any], str]:
    result = project.run("deploy", "--json", "--image", image, check=check)
    return result.json, result.err


def test_label_versions_recorded_and_rolled_back_to_without_registry_tags(
        project: Project, digest_images: DigestImages, deployments: Any) -> None:
    images = digest_images
    path = images.repository.split("/", 1)[1]
    for tag in ("1.0.0", "v1.0.0", "2.0.0", "latest"):  # a repository with no tags at all
        assert not images.api.has(path, tag)
    project.write(strategy="rolling")

    first, err = deploy(project, images.pinned("oci-1.0.0"))
    assert first["outcome"] == "promoted"
    assert first["digest"] == images.digests["oci-1.0.0"]
    assert f"version 1.0.0 from its {OCI} label" in err
    _, err = deploy(project, images.pinned("own-2.0.0"))
    assert f"version 2.0.0 from its {OWN} label" in err  # `v` dropped as for a v-tag
    # an image index: the linux/amd64 image's label, though arm64 comes first
    third, err = deploy(project, images.pinned("index"))
    assert third["image"] == images.pinned("index")
    assert f"version 3.0.0 from its {OCI} label" in err

    status = project.status()
    assert status["stable"] == {"image": images.pinned("index"),
                                "digest": images.digests["index"], "version": "3.0.0"}
    assert [h["version"] for h in status["history"]] == ["3.0.0", "2.0.0", "1.0.0"]

    rolled = project.run("rollback", "--to", "v1.0.0", "--json")
    data = rolled.json
    assert data["outcome"] == "rolled-back"
    assert data["to"]["version"] == "1.0.0"
    assert data["to"]["digest"] == images.digests["oci-1.0.0"]
    assert deployments(project)["stable"][2] == images.pinned("oci-1.0.0")
    assert "in the registry" not in rolled.err  # found in the history, not looked up there
    assert project.run("rollback", "--to", "rollback-v2.0.0", "--json").json["to"] == {
        "version": "2.0.0", "digest": images.digests["own-2.0.0"],
        "revision": project.status()["revision"]}
    assert deployments(project)["stable"][2] == images.pinned("own-2.0.0")

    # no version label: the digest's first 12 hex digits, and the progress line says why
    plain, err = deploy(project, images.pinned("plain"))
    prefix = images.digests["plain"].removeprefix("sha256:")[:12]
    assert f"no tag and no {OCI} or {OWN} label; recording its version as {prefix}" in err
    assert project.status()["stable"]["version"] == prefix
    assert plain["digest"] == images.digests["plain"]

    # a digest the repository does not have: a usage error before anything changes
    missing = "sha256:" + "0" * 64
    _, err = deploy(project, f"{images.repository}@{missing}", check=2)
    assert f"{images.repository}@{missing} does not exist in its registry" in err
    assert project.status()["stable"]["digest"] == images.digests["plain"]
    # the real registry refusing the credentials: exit 3, the password never printed
    wrong = project.run("deploy", "--json", "--image", images.pinned("oci-1.0.0"), check=3,
                        env={"MODELSHIP_REGISTRY_PASSWORD": "not-the-password-42"})
    assert f"registry {images.repository.split('/')[0]} refused to show" in wrong.err
    assert "not-the-password-42" not in wrong.err + wrong.out
    assert project.status()["stable"]["digest"] == images.digests["plain"]


def git(root: Any, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), "-c", "user.name=t",
                           "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(root: Any, message: str) -> str:
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD")


def test_rollback_by_git_tag_to_an_unlabelled_digest(
        project: Project, digest_images: DigestImages, deployments: Any) -> None:
    images = digest_images
    root = project.root
    project.write(strategy="rolling")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "modelship.yaml")
    first = commit(root, "first release")
    git(root, "tag", "-a", "v1.0.0", "-m", "1.0.0")

    _, err = deploy(project, images.pinned("plain"))  # recorded as a digest prefix
    prefix = images.digests["plain"].removeprefix("sha256:")[:12]
    assert f"recording its version as {prefix}" in err
    second = commit(root, "second release")
    deploy(project, images.pinned("own-2.0.0"))
    history = project.status()["history"]
    assert [(h["version"], h["git_sha"]) for h in history] == [("2.0.0", second),
                                                                (prefix, first)]

    rolled = project.run("rollback", "--to", "rollback-v1.0.0", "--json")
    data = rolled.json
    assert data["outcome"] == "rolled-back"
    assert data["to"]["digest"] == images.digests["plain"]
    assert data["to"]["version"] == "1.0.0"  # the version asked for, which the tag names
    assert (f"found it by git tag v1.0.0 in {root}: commit {first[:12]}, which revision "
            f"{history[-1]['revision']} deployed") in rolled.err
    assert deployments(project)["stable"][2] == images.pinned("plain")
    status = project.status()
    assert status["stable"]["version"] == "1.0.0"
    # the rollback's own record: version 1.0.0, so the next rollback finds it in the history
    assert status["history"][0]["version"] == "1.0.0"
    project.run("rollback", "--to", "v2.0.0")
    again = project.run("rollback", "--to", "v1.0.0", "--json")
    assert again.json["to"]["digest"] == images.digests["plain"]
    assert "git tag" not in again.err

    # a tag (without the v) at a commit no deploy recorded: not found, exit 2 as before
    commit(root, "never deployed")
    git(root, "tag", "5.0.0")
    unknown = project.run("rollback", "--to", "v5.0.0", "--json", check=2)
    assert "git tag 5.0.0" in unknown.err
    assert "no deploy of" in unknown.err
    assert "known versions: " in unknown.err
    assert deployments(project)["stable"][2] == images.pinned("plain")
