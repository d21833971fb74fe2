"""deploy and rollback verify the target digest (deploy.verify) with the real cosign CLI
before the lock, helm or the cluster are touched: an unsigned image, one signed by another
key, a tag re-pushed after signing (to an unsigned digest, or to another signed one) and a
gate attestation that says failed are refused with exit 1 naming what is missing, and the
release is exactly as before. `--allow-unverified` goes ahead and is recorded in the history
and the job summary. Images: tiny ones in their own repository of the authenticated test
registry, signed with modelship's signing code; the cluster's pods are KWOK's."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.release.conftest import Project
from tests.support import signing
from tests.support.images import build_and_push

from modelship.provenance.statements import GATE_LABEL

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Signed:
    repository: str
    digests: dict[str, str]  # name -> sha256:...
    gate_digest: str  # the passed report's digest, the images' label

    def ref(self, name: str) -> str:
        return f"{self.repository}:{name}"


def _report(directory: Path, name: str, passed: bool) -> Path:
    path = directory / f"{name}.json"
    checks = [{"name": "accuracy", "value": 0.95 if passed else 0.5, "op": ">=",
               "threshold": 0.9, "passed": passed, "kind": "threshold"}]
    path.write_text(json.dumps({"passed": passed, "n": 60,
                                "metrics": {"accuracy": checks[0]["value"]}, "checks": checks}))
    return path


@pytest.fixture(scope="module")
def signed(registry: Any, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Signed:
    tmp = tmp_path_factory.mktemp("provenance")
    passed, failed = _report(tmp, "passed", True), _report(tmp, "failed", False)
    gate_digest = "sha256:" + hashlib.sha256(passed.read_bytes()).hexdigest()
    repository = f"{registry.host}/modelship-release-it/provenance-{uuid.uuid4().hex[:6]}"
    auth = {"username": registry.user, "password": registry.password}
    ours, stranger = signing.key("ours"), signing.key("stranger")

    def push(name: str, content: str) -> str:
        return build_and_push(docker_client, repository, name, {
            "Dockerfile": f"FROM scratch\nLABEL {GATE_LABEL}={gate_digest} "
                          f"org.opencontainers.image.version={name}\nCOPY c /c\n",
            "c": content}, auth)

    digests = {name: push(name, name) for name in
               ("good", "good2", "unsigned", "stranger", "failed-gate", "repushed")}
    for name, key, report in (("good", ours, passed), ("good2", ours, passed),
                              ("stranger", stranger, passed), ("failed-gate", ours, failed),
                              ("repushed", ours, passed)):
        signing.sign(registry, f"{repository}@{digests[name]}", key, tags=[name],
                     version=name, report=report)
    # after signing: `repushed` now names other (unsigned) content, and `swapped` names the
    # digest signed for `good`
    digests["repushed"] = push("repushed", "pushed again after signing")
    image = docker_client.images.get(f"{repository}:good")
    image.tag(repository, "swapped")
    for line in docker_client.api.push(repository, "swapped", auth_config=auth, stream=True,
                                       decode=True):
        assert "error" not in line, line
    digests["swapped"] = digests["good"]
    return Signed(repository, digests, gate_digest)


@pytest.fixture
def verified_project(project: Project, registry: Any, signed: Signed) -> Project:
    project.env.update(signing.env(registry))
    project.config["image"] = {"repository": signed.repository}
    project.write(strategy="rolling", verify={"key": str(signing.key("ours").public)})
    return project


def _revisions(tools: Any, proj: Project) -> list[dict[str, Any]]:
    done = tools.helm("history", proj.release, "--namespace", proj.namespace, "-o", "json")
    return list(json.loads(done.stdout))


# image (tag) -> what the refusal must say
REFUSALS = {
    "unsigned": "no signature on",
    "stranger": "is signed, but not by key",
    "repushed": "re-pushed since",  # the tag now names an unsigned digest
    "swapped": "tag swapped was re-pushed",  # the tag now names a digest signed for `good`
    "failed-gate": "says the gate failed (failed checks: accuracy)",
}


def test_deploy_refuses_before_any_change(
        verified_project: Project, signed: Signed, tools: Any,
        deployments: Callable[[Project], dict[str, tuple[int, int, str]]]) -> None:
    proj = verified_project
    first = proj.run("deploy", "--json", "--image", signed.ref("good"))
    assert first.json["verification"]["verified"] is True
    before = (_revisions(tools, proj), deployments(proj))

    for name, says in REFUSALS.items():  # one release for all: each refusal changes nothing
        refused = proj.run("deploy", "--json", "--image", signed.ref(name), check=1)
        error = json.loads(refused.out.strip().splitlines()[-1])
        assert error["exit_code"] == 1, name
        assert "deploy refused before any change" in error["error"], name
        assert says in error["error"], (name, error["error"])
        assert "--allow-unverified" in error["hint"], name
        # not one revision, not one Deployment changed
        assert (_revisions(tools, proj), deployments(proj)) == before, name
    assert proj.status()["stable"]["digest"] == signed.digests["good"]


def test_allow_unverified_goes_ahead_and_is_recorded(
        verified_project: Project, signed: Signed, tmp_path: Path) -> None:
    proj = verified_project
    good = proj.run("deploy", "--json", "--image", signed.ref("good")).json
    assert good["verification"]["signature"] == "verified"
    assert good["verification"]["gate"] == "passed"

    summary = tmp_path / "summary.md"
    summary.write_text("")
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
               "GITHUB_OUTPUT": str(tmp_path / "output")}
    allowed = proj.run("deploy", "--json", "--image", signed.ref("unsigned"),
                       "--allow-unverified", env=actions).json
    assert allowed["outcome"] == "promoted"
    assert allowed["verification"]["allowed_unverified"] is True
    assert "--allow-unverified" in summary.read_text()

    history = proj.status()["history"]
    by_digest = {h["digest"]: h for h in history}
    assert by_digest[signed.digests["good"]]["gate_report"] == signed.gate_digest
    assert by_digest[signed.digests["good"]]["verified"].startswith("signature verified")
    assert by_digest[signed.digests["unsigned"]]["verified"].startswith(
        "UNVERIFIED (--allow-unverified): no signature on")

    # rollback checks its target the same way: the signed version goes back, the unsigned
    # one only with the flag
    back = proj.run("rollback", "--json", "--to", "good").json
    assert back["verification"]["verified"] is True
    revisions = len(proj.status()["history"])
    refused = proj.run("rollback", "--json", "--to", "unsigned", check=1)
    assert "rollback refused before any change" in refused.out
    assert len(proj.status()["history"]) == revisions
    proj.run("rollback", "--json", "--to", "unsigned", "--allow-unverified")
    assert proj.status()["stable"]["digest"] == signed.digests["unsigned"]
