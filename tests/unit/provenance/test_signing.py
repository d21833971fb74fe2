"""`build --sign`: which signer, refused before anything is built when there is none, and
the cosign arguments for each (the keyless path is covered here, offline: it needs Fulcio and
Rekor, which this machine cannot reach)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from modelship.errors import EXIT_USAGE, UsageError
from modelship.provenance import cosign, sbom, signing, statements, verify
from modelship.provenance.policy import Identity, Policy

IMAGE = "localhost:5000/team/model@sha256:" + "ab" * 32


def args(**given: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--push", action="store_true")
    signing.add_arguments(parser)
    ns = parser.parse_args([])
    for key, value in given.items():
        setattr(ns, key, value)
    return ns


@pytest.fixture(autouse=True)
def _no_signer_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (signing.KEY_VARIABLE, signing.OIDC_VARIABLE, "COSIGN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    # signer() only checks that the tools exist (before the build); none is run here
    monkeypatch.setenv(cosign.BINARY_VARIABLE, sys.executable)
    monkeypatch.setenv(sbom.BINARY_VARIABLE, sys.executable)


def test_missing_tools_are_reported_before_the_build(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("key")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(sbom.BINARY_VARIABLE)
    with pytest.raises(UsageError) as exc:
        signing.signer(args(sign=True, push=True, key=str(key), sbom=True))
    assert "--sbom needs the syft CLI" in str(exc.value)
    monkeypatch.delenv(cosign.BINARY_VARIABLE)
    with pytest.raises(UsageError) as exc:
        signing.signer(args(sign=True, push=True, key=str(key)))
    assert "cosign CLI" in str(exc.value)


def test_no_sign_no_signer() -> None:
    assert signing.signer(args()) is None


def test_a_key_file(tmp_path: Path) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    got = signing.signer(args(sign=True, push=True, key=str(key)))
    assert got == signing.Signer(str(key), tlog=False)


def test_the_key_from_the_environment_uses_cosigns_env_scheme(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(signing.KEY_VARIABLE, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    got = signing.signer(args(sign=True, push=True, tlog=True))
    assert got == signing.Signer("env://COSIGN_PRIVATE_KEY", tlog=True)


def test_keyless_inside_actions_with_an_id_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(signing.OIDC_VARIABLE, "https://token.example/")
    got = signing.signer(args(sign=True, push=True))
    assert got == signing.Signer(None, tlog=True)
    assert "--key" not in signing.sign_args(got, IMAGE, ["1.0.0"], "1.0.0")


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param({"sign": True}, "add --push", id="sign-without-push"),
    pytest.param({"sign": True, "push": True}, "--sign needs a signer", id="no-signer"),
    pytest.param({"sign": True, "push": True, "key": "/nonexistent/cosign.key"},
                 "--key /nonexistent/cosign.key: file does not exist", id="missing-key"),
    pytest.param({"key": "cosign.key"}, "--key is for --sign", id="key-without-sign"),
    pytest.param({"sbom": True, "push": True}, "--sbom is for --sign", id="sbom-without-sign"),
])
def test_refused_before_the_build(given: dict[str, object], expected: str) -> None:
    with pytest.raises(UsageError) as exc:
        signing.signer(args(**given))
    assert exc.value.exit_code == EXIT_USAGE
    assert expected in str(exc.value)


def test_sign_and_attest_arguments_with_a_key() -> None:
    who = signing.Signer("/keys/cosign.key", tlog=False)
    sign = signing.sign_args(who, IMAGE, ["1.0.0", "sha-abc"], "1.0.0")
    assert sign[0] == "sign"
    assert sign[-1] == IMAGE
    assert sign[sign.index("--key"):sign.index("--key") + 2] == ["--key", "/keys/cosign.key"]
    assert "--tlog-upload=false" in sign
    assert "--yes" in sign
    assert f"{statements.TAGS_ANNOTATION}=1.0.0 sha-abc" in sign  # cosign splits at commas
    attest = signing.attest_args(who, IMAGE, Path("/r/gate-report.json"))
    assert attest[attest.index("--type") + 1] == statements.GATE_PREDICATE
    assert attest[attest.index("--predicate") + 1] == "/r/gate-report.json"


def test_verification_arguments_for_a_key_and_for_an_identity() -> None:
    keyed = Policy("required", "passed", key="/repo/cosign.pub")
    argv = verify.signature_args(keyed, IMAGE)
    assert argv[:3] == ["verify", "--key", "/repo/cosign.pub"]
    assert "--insecure-ignore-tlog=true" in argv  # signed with --tlog-upload=false
    keyless = Policy("required", "passed",
                     identity=Identity("https://token.actions.githubusercontent.com",
                                       "https://github.com/o/r/.github/workflows/cd.yml@"
                                       "refs/heads/main"), tlog=True)
    argv = verify.attestation_args(keyless, IMAGE)
    assert argv[argv.index("--certificate-identity") + 1].endswith("@refs/heads/main")
    assert argv[argv.index("--certificate-oidc-issuer") + 1] == (
        "https://token.actions.githubusercontent.com")
    assert "--insecure-ignore-tlog=true" not in argv
    assert "--key" not in argv
    assert argv[argv.index("--type") + 1] == statements.GATE_PREDICATE


def test_a_subject_starting_with_a_caret_is_a_regular_expression() -> None:
    subject = r"^https://github\.com/o/r/\.github/workflows/modelship-[a-z]+\.yml@refs/.*$"
    keyless = Policy("required", "off", identity=Identity(
        "https://token.actions.githubusercontent.com", subject), tlog=True)
    argv = verify.signature_args(keyless, IMAGE)
    assert argv[argv.index("--certificate-identity-regexp") + 1] == subject
    assert "--certificate-identity" not in argv
