"""`modelship build --push --sign --sbom --gate-report` of the example model against the test
bed's registry (with auth): the gate report comes from the real gate, the SBOM from syft, the
image is signed and both attested with the real cosign CLI, and what lands in the registry is
checked with cosign itself and with the registry's own API: one platform, signature and
attestations stored as tags beside the image (never inside an index)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support import signing
from tests.support.real_node import EXAMPLES, modelship_build_push
from tests.support.registry_api import RegistryAPI

from modelship.provenance.statements import GATE_LABEL, GATE_PREDICATE

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
CONFIG = EXAMPLES / "sentiment" / "modelship.yaml"


@pytest.fixture(scope="module")
def gate_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's gate report, written by `modelship gate` from its committed results."""
    path = tmp_path_factory.mktemp("gate") / "gate-report.json"
    done = subprocess.run([sys.executable, "-m", "modelship", "gate", "--config", str(CONFIG),
                           "--report-json", str(path), "--bootstrap", "0"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def signed_build(registry: Any, docker_client: Any, gate_report: Path) -> dict[str, Any]:
    repository = f"{registry.host}/it/provenance-{uuid.uuid4().hex[:6]}"
    ours = signing.key("ours")
    from testbed import signing as testbed_signing

    saved = dict(os.environ)
    os.environ.update(signing.env(registry))
    os.environ["MODELSHIP_SYFT"] = str(testbed_signing.syft())
    try:
        done = modelship_build_push(registry, CONFIG, repository, "--gate-report",
                                    str(gate_report), "--sign", "--sbom", "--key",
                                    str(ours.private), timeout=1500)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_result_says_signed_and_attested(signed_build: dict[str, Any],
                                             gate_report: Path) -> None:
    provenance = signed_build["provenance"]
    assert provenance["signed"] is True
    assert provenance["attestations"] == [GATE_PREDICATE, "spdxjson"]
    assert provenance["sbom_packages"] > 0
    assert provenance["gate_passed"] is True
    digest = "sha256:" + hashlib.sha256(gate_report.read_bytes()).hexdigest()
    assert provenance["gate_report"] == digest
    assert signed_build["labels"][GATE_LABEL] == digest


def test_the_real_cosign_verifies_signature_and_gate_attestation(
        registry: Any, signed_build: dict[str, Any], gate_report: Path) -> None:
    image, digest = signed_build["image"], signed_build["digest"]
    ours = signing.key("ours")
    verified = signing.cosign(registry, "verify", "--key", str(ours.public),
                              "--insecure-ignore-tlog=true", "--output", "json", image)
    assert verified.code == 0, verified.err
    payloads = json.loads(verified.out)
    assert [p["critical"]["image"]["docker-manifest-digest"] for p in payloads] == [digest]
    signed_tags = set(payloads[0]["optional"]["modelship.io/tags"].split())
    assert signed_tags == {ref.rsplit(":", 1)[1] for ref in signed_build["tags"]}
    attested = signing.cosign(registry, "verify-attestation", "--key", str(ours.public),
                              "--insecure-ignore-tlog=true", "--type", GATE_PREDICATE, image)
    assert attested.code == 0, attested.err
    statements = signing.statements(attested.out)
    assert len(statements) == 1
    assert statements[0]["predicateType"] == GATE_PREDICATE
    assert statements[0]["subject"][0]["digest"]["sha256"] == digest.split(":", 1)[1]
    assert statements[0]["predicate"] == json.loads(gate_report.read_text())


def test_another_key_does_not_verify(registry: Any, signed_build: dict[str, Any]) -> None:
    stranger = signing.key("stranger")
    refused = signing.cosign(registry, "verify", "--key", str(stranger.public),
                             "--insecure-ignore-tlog=true", signed_build["image"])
    assert refused.code != 0
    assert "no matching signatures" in refused.err


def test_one_platform_and_the_evidence_beside_the_image(
        registry: Any, signed_build: dict[str, Any]) -> None:
    api = RegistryAPI(registry.host, registry.user, registry.password)
    repository = signed_build["image"].split("/", 1)[1].split("@", 1)[0]
    digest = signed_build["digest"]
    body, media_type = api.manifest(repository, digest)
    manifest = json.loads(body)
    if "manifests" in manifest:  # an index: every entry a real platform, and only one
        platforms = [(m.get("platform") or {}) for m in manifest["manifests"]]
        assert [(p.get("os"), p.get("architecture")) for p in platforms] == [("linux", "amd64")]
    else:
        assert media_type.endswith(("manifest.v2+json", "manifest.v1+json"))
        config = requests.get(f"http://{registry.host}/v2/{repository}/blobs/"
                              f"{manifest['config']['digest']}",
                              auth=(registry.user, registry.password), timeout=30).json()
        assert (config["os"], config["architecture"]) == ("linux", "amd64")
    tags = requests.get(f"http://{registry.host}/v2/{repository}/tags/list",
                        auth=(registry.user, registry.password), timeout=30).json()["tags"]
    hex_digest = digest.split(":", 1)[1]
    assert f"sha256-{hex_digest}.sig" in tags
    assert f"sha256-{hex_digest}.att" in tags


def test_the_sbom_is_attested_and_lists_the_models_dependencies(
        registry: Any, signed_build: dict[str, Any]) -> None:
    attested = signing.cosign(registry, "verify-attestation", "--key",
                              str(signing.key("ours").public), "--insecure-ignore-tlog=true",
                              "--type", "spdxjson", signed_build["image"])
    assert attested.code == 0, attested.err
    statements = signing.statements(attested.out)
    assert [s["predicateType"] for s in statements] == ["https://spdx.dev/Document"]
    names = {str(p.get("name")).lower().replace("_", "-")
             for p in statements[0]["predicate"]["packages"]}
    assert {"numpy", "prometheus-client"} <= names  # examples/sentiment/requirements.txt
