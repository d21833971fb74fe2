"""`modelship init --sign key|keyless`: the gate job hands its report to the build job, the
build signs and attests, only the build job may mint an OIDC token (keyless), and the starter
modelship.yaml verifies what the pipeline signed. Without --sign nothing is signed."""

from __future__ import annotations

import re

import pytest
import yaml
from tests.unit.workflows.conventions import load

from modelship.provenance import policy
from modelship.workflows import options, pins, render

SHA = "0123456789abcdef0123456789abcdef01234567"


def make(sign: str, registry: str = "registry.example.com:5000") -> options.Options:
    return options.Options(registry=registry, image="acme/sentiment", model_name="sentiment",
                           strategy="canary", cluster_auth="kubeconfig", gpu_runner=(),
                           action=pins.parse_action(f"acme/modelship@{SHA}"), sign=sign,
                           github_repository="acme/sentiment-model")


def steps(job: dict) -> list[dict]:
    return list(job["steps"])


def _build_step(workflow: dict) -> dict:
    return next(s for s in steps(workflow["jobs"]["build"]) if s.get("id") == "build")


@pytest.mark.parametrize("sign", ["none", "key", "keyless"])
def test_the_gate_report_goes_from_the_gate_job_to_the_build(sign: str) -> None:
    cd = load(render.render(make(sign))["modelship-cd.yml"])
    assert cd["jobs"]["gate"]["outputs"]["report"] == "${{ steps.gate.outputs.result }}"
    handoff = steps(cd["jobs"]["build"])[1]
    assert handoff["env"]["GATE_REPORT"] == "${{ needs.gate.outputs.report }}"
    assert ".modelship/gate-report.json" in handoff["run"]
    args = _build_step(cd)["with"]["args"]
    assert "--gate-report .modelship/gate-report.json" in args
    assert ("--sign" in args.split()) == (sign != "none")


def test_key_signing_reads_the_key_from_secrets_and_verifies_by_key() -> None:
    rendered = render.render(make("key"))
    build = _build_step(load(rendered["modelship-cd.yml"]))
    assert build["env"] == {"COSIGN_PRIVATE_KEY": "${{ secrets.COSIGN_PRIVATE_KEY }}",
                            "COSIGN_PASSWORD": "${{ secrets.COSIGN_PASSWORD }}"}
    pipeline = load(rendered["modelship-pipeline.yml"])
    declared = pipeline["on"]["workflow_call"]["secrets"]
    assert {"COSIGN_PRIVATE_KEY", "COSIGN_PASSWORD"} <= set(declared)
    verify = yaml.safe_load(rendered["modelship.yaml"])["deploy"]["verify"]
    assert verify == {"signature": "required", "key": "cosign.pub", "gate": "passed"}


def test_keyless_asks_for_an_oidc_token_in_the_build_job_only() -> None:
    rendered = render.render(make("keyless"))
    for name in ("modelship-cd.yml", "modelship-release.yml"):
        workflow = load(rendered[name])
        for job_id, job in workflow["jobs"].items():
            wants = (job.get("permissions") or {}).get("id-token") == "write"
            assert wants == (job_id == "build"), (name, job_id)
    verify = yaml.safe_load(rendered["modelship.yaml"])["deploy"]["verify"]
    subject = verify["identity"]["subject"]
    assert verify["identity"]["issuer"] == "https://token.actions.githubusercontent.com"
    for ref in ("modelship-cd.yml@refs/heads/main", "modelship-release.yml@refs/tags/v1.2.3"):
        assert re.match(subject, "https://github.com/acme/sentiment-model/.github/workflows/"
                        + ref)
    assert not re.match(subject, "https://github.com/evil/sentiment-model/.github/workflows/"
                        "modelship-cd.yml@refs/heads/main")
    assert not re.match(subject, "https://github.com/acme/sentiment-model/.github/workflows/"
                        "modelship-cd.yml@refs/heads/feature")


def test_without_signing_the_starter_config_verifies_nothing() -> None:
    config = yaml.safe_load(render.render(make("none"))["modelship.yaml"])
    assert "verify" not in config["deploy"]
    assert not policy.Policy().enabled
