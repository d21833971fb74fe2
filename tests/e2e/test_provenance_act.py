"""The CD workflow rendered with `modelship init --sign key`, under act against the real test
bed: the gate job's report goes to the build job, which labels the image with its digest,
attests it and signs the pushed digest with cosign (inside the action image, the key from a
secret); both deploy jobs verify that digest (deploy.verify: key cosign.pub, gate passed)
before they touch the cluster, and the release history carries the gate report digest and what
was verified. The real cosign CLI then checks the registry's copy. Pods are KWOK's (Ready
without running): this test is about the evidence, not the serving."""

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
import yaml
from tests.integration.release.conftest import KWOK_VALUES
from tests.support import signing

from modelship.provenance.statements import GATE_PREDICATE

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sentiment"
PUSH = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}


@pytest.fixture(scope="module")
def local_action(action_image: str) -> str:
    from testbed import workflow_project

    return workflow_project.tag_action_image(action_image)


def _status(root: Path, env: dict[str, str], environment: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "modelship", "status", "--json",
                           "--environment", environment], cwd=root, capture_output=True,
                          text=True, check=False, env={**env, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr[-3000:]
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def test_cd_signs_attests_and_deploys_verified(act, registry, kube, tools, local_action,
                                              cluster_env: dict[str, str], tmp_path: Path):
    from kubernetes import client
    from testbed import workflow_project
    from tests.support.kube import create_namespace

    ours = signing.key("ours")
    image = f"e2e/signed-{uuid.uuid4().hex[:8]}"
    root = workflow_project.make(tmp_path / "model", EXAMPLE,
                                 ["--registry", registry.host, "--image", image,
                                  "--strategy", "rolling", "--sign", "key"])
    (root / "cosign.pub").write_bytes(ours.public.read_bytes())
    namespaces = {env: create_namespace(kube, f"prov-{env[:4]}") for env in
                  ("staging", "production")}
    # the example keeps its own modelship.yaml (init never overwrites one): add what
    # `init --sign key` writes into a starter config (tests/unit/workflows checks that)
    config = yaml.safe_load((root / "modelship.yaml").read_text())
    config["deploy"] = {"release": "sentiment", "strategy": "rolling", "replicas": 1,
                        "timeout": "120s", "values": KWOK_VALUES,
                        "verify": {"signature": "required", "key": "cosign.pub",
                                   "gate": "passed"}}
    config["environments"] = {env: {"namespace": ns} for env, ns in namespaces.items()}
    (root / "modelship.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run(["git", "-C", str(root), "-c", "user.name=e2e", "-c",
                    "user.email=e2e@example.com", "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=e2e", "-c",
                    "user.email=e2e@example.com", "commit", "-qm", "sign and verify"],
                   check=True)
    secrets = {"REGISTRY_USERNAME": registry.user, "REGISTRY_PASSWORD": registry.password,
               "KUBECONFIG": Path(cluster_env["KUBECONFIG"]).read_text(),
               "COSIGN_PRIVATE_KEY": ours.private.read_text(),
               "COSIGN_PASSWORD": ours.password}
    try:
        run = act(root / ".github/workflows/modelship-cd.yml", "push", json.dumps(PUSH),
                  cwd=root, secrets=secrets, extra=workflow_project.act_args(root),
                  timeout=1500)
        assert run.returncode == 0, run.log[-8000:]
        for secret in ("REGISTRY_PASSWORD", "COSIGN_PASSWORD"):
            assert secrets[secret] not in run.log, f"{secret} is in act's log"
        assert "PRIVATE KEY" not in run.log

        kube_env = {**os.environ, **tools.env, "KUBECONFIG": cluster_env["KUBECONFIG"],
                    "MODELSHIP_REGISTRY_USER": registry.user,
                    "MODELSHIP_REGISTRY_PASSWORD": registry.password}
        report = json.loads((root / ".modelship" / "gate-report.json").read_text())
        assert report["passed"] is True
        gate_digest = "sha256:" + hashlib.sha256(
            (root / ".modelship" / "gate-report.json").read_bytes()).hexdigest()
        for environment in namespaces:  # gate_report: read by deploy from the image's label
            status = _status(root, kube_env, environment)
            latest = status["history"][-1]
            assert latest["gate_report"] == gate_digest, (environment, latest)
            assert latest["verified"].startswith("signature verified; gate passed"), latest
        digest = status["stable"]["digest"]
        pinned = f"{registry.host}/{image}@{digest}"
        verified = signing.cosign(registry, "verify", "--key", str(ours.public),
                                  "--insecure-ignore-tlog=true", pinned)
        assert verified.code == 0, verified.err
        attested = signing.cosign(registry, "verify-attestation", "--key", str(ours.public),
                                  "--insecure-ignore-tlog=true", "--type", GATE_PREDICATE,
                                  pinned)
        assert attested.code == 0, attested.err
        assert signing.statements(attested.out)[0]["predicate"] == report
    finally:
        for namespace in namespaces.values():
            tools.helm("uninstall", "sentiment", "--namespace", namespace, "--wait",
                       check=False)
            client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)
