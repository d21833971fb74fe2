"""deploy.verify -> Policy: defaults, environment overrides, and every mistake exits 2
naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import config
from modelship.errors import EXIT_USAGE, UsageError
from modelship.provenance import policy
from modelship.release import settings

ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/org/repo/.github/workflows/cd.yml@refs/heads/main"


def load(tmp_path: Path, text: str, environment: str | None = None) -> policy.Policy:
    path = tmp_path / "modelship.yaml"
    path.write_text(text)
    (tmp_path / "cosign.pub").write_text("-----BEGIN PUBLIC KEY-----\n")
    return policy.load(config.load(path), environment)


def refused(tmp_path: Path, text: str, environment: str | None = None) -> str:
    with pytest.raises(UsageError) as exc:
        load(tmp_path, text, environment)
    assert exc.value.exit_code == EXIT_USAGE
    return str(exc.value)


def test_nothing_is_checked_without_deploy_verify(tmp_path: Path) -> None:
    got = load(tmp_path, "deploy: {strategy: canary}\n")
    assert not got.enabled
    assert (got.signature, got.gate) == ("off", "off")


def test_a_key_defaults_to_signature_required_and_gate_passed(tmp_path: Path) -> None:
    got = load(tmp_path, "deploy:\n  verify: {key: cosign.pub}\n")
    assert (got.signature, got.gate, got.tlog) == ("required", "passed", False)
    assert got.key == str(tmp_path / "cosign.pub")  # relative to modelship.yaml
    assert got.enabled
    assert got.identity is None


def test_keyless_identity_checks_the_transparency_log_by_default(tmp_path: Path) -> None:
    got = load(tmp_path, f"deploy:\n  verify:\n    identity: {{issuer: '{ISSUER}', "
                         f"subject: '{SUBJECT}'}}\n")
    assert got.identity == policy.Identity(ISSUER, SUBJECT)
    assert got.tlog is True
    assert got.key is None
    assert SUBJECT in got.signer


def test_yaml_off_is_accepted_for_the_modes(tmp_path: Path) -> None:
    got = load(tmp_path, "deploy:\n  verify: {key: cosign.pub, signature: optional, gate: off}\n")
    assert (got.signature, got.gate) == ("optional", "off")


def test_an_environment_overrides_deploy_verify(tmp_path: Path) -> None:
    text = ("deploy:\n  verify: {key: cosign.pub}\n"
            "environments:\n  staging:\n    verify: {signature: optional, gate: off}\n"
            "  production: {namespace: prod}\n")
    staging = load(tmp_path, text, "staging")
    assert (staging.signature, staging.gate, staging.key) == (
        "optional", "off", str(tmp_path / "cosign.pub"))
    assert staging.where == "environments.staging.verify"
    production = load(tmp_path, text, "production")
    assert (production.signature, production.gate) == ("required", "passed")


def test_release_settings_accept_the_verify_key(tmp_path: Path) -> None:
    path = tmp_path / "modelship.yaml"
    path.write_text("deploy:\n  verify: {signature: off, gate: off}\n"
                    "environments:\n  prod:\n    verify: {signature: off}\n")
    settings.load(config.load(path), "prod")  # no "unknown key" for verify


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("deploy:\n  verify: {key: cosign.pub, signatures: required}\n",
                 "deploy.verify.signatures: unknown key", id="typo-key"),
    pytest.param("deploy:\n  verify: {key: cosign.pub, signature: always}\n",
                 "deploy.verify.signature: expected one of required, optional, off",
                 id="bad-mode"),
    pytest.param("deploy:\n  verify: {key: cosign.pub, gate: failed}\n",
                 "deploy.verify.gate: expected one of passed, off", id="bad-gate"),
    pytest.param("deploy:\n  verify: {signature: required}\n",
                 "need a signer to check against", id="no-signer"),
    pytest.param("deploy:\n  verify: {key: missing.pub}\n",
                 "deploy.verify.key: ", id="missing-key-file"),
    pytest.param(f"deploy:\n  verify:\n    key: cosign.pub\n    identity: {{issuer: '{ISSUER}',"
                 f" subject: '{SUBJECT}'}}\n", "either key", id="key-and-identity"),
    pytest.param(f"deploy:\n  verify:\n    identity: {{issuer: '{ISSUER}'}}\n",
                 "deploy.verify.identity.subject: missing", id="identity-without-subject"),
    pytest.param(f"deploy:\n  verify:\n    identity: {{issuer: '{ISSUER}', subject: x, "
                 "email: y}\n", "deploy.verify.identity.email: unknown key",
                 id="identity-typo"),
    pytest.param("deploy:\n  verify: {key: cosign.pub, tlog: maybe}\n",
                 "deploy.verify.tlog: expected true or false", id="bad-tlog"),
    pytest.param("deploy:\n  verify: required\n", "deploy.verify: expected a mapping",
                 id="not-a-mapping"),
])
def test_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refused(tmp_path, text)


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    message = refused(tmp_path, "deploy:\n  verify: {key: keys/missing.pub}\n")
    assert str(tmp_path / "keys" / "missing.pub") in message


def test_a_kms_or_env_key_is_passed_to_cosign_as_written(tmp_path: Path) -> None:
    got = load(tmp_path, "deploy:\n  verify: {key: 'env://COSIGN_PUBLIC_KEY'}\n")
    assert got.key == "env://COSIGN_PUBLIC_KEY"
