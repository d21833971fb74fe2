"""The release side, offline: a bad deploy.verify exits 2 before any network call (registry and
cluster both unreachable), cosign missing is a usage error naming what to do, and the history
record is stamped with what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship import cli
from modelship.errors import EXIT_USAGE, UsageError
from modelship.provenance import cosign, release_check
from modelship.provenance.verify import Evidence
from modelship.release.history import Record

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
current-context: down
"""
DIGEST = "sha256:" + "ab" * 32


def test_a_bad_deploy_verify_exits_2_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    config = tmp_path / "modelship.yaml"
    config.write_text("model: {name: m}\ndeploy:\n  verify: {signature: always}\n")
    code = cli.main(["deploy", "--config", str(config), "--image", "127.0.0.1:9/m:2.0.0"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "deploy.verify.signature" in err


def test_allow_unverified_is_a_flag_of_deploy_and_rollback() -> None:
    parser = cli.build_parser()
    for argv in (["deploy", "--allow-unverified"], ["rollback", "--to", "1", "--allow-unverified"]):
        assert parser.parse_args(argv).allow_unverified is True


def test_cosign_missing_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(cosign.BINARY_VARIABLE, raising=False)
    with pytest.raises(UsageError) as exc:
        cosign.binary()
    assert "cosign CLI" in str(exc.value)
    monkeypatch.setenv(cosign.BINARY_VARIABLE, "/nonexistent/cosign")
    with pytest.raises(UsageError) as exc:
        cosign.binary()
    assert "MODELSHIP_COSIGN=/nonexistent/cosign" in str(exc.value)


def test_the_record_carries_the_gate_report_and_what_was_verified() -> None:
    record = Record(action="deploy", step="", strategy="canary")
    checked = Evidence(image=f"r/m@{DIGEST}", digest=DIGEST, signer="key cosign.pub",
                       signature="verified", gate="passed", gate_report="sha256:" + "cd" * 32)
    stamped = release_check.stamp(record, checked)
    assert stamped.gate_report == "sha256:" + "cd" * 32
    assert stamped.verified == "signature verified; gate passed (key cosign.pub)"

    allowed = Evidence(image=f"r/m@{DIGEST}", digest=DIGEST, signer="key cosign.pub",
                       signature="unsigned", problems=[f"no signature on {DIGEST}"],
                       allowed_unverified=True)
    assert release_check.stamp(record, allowed).verified == (
        f"UNVERIFIED (--allow-unverified): no signature on {DIGEST}")

    nothing = Evidence(image=f"r/m@{DIGEST}", digest=DIGEST, signer="deploy.verify not set",
                       gate_report="sha256:" + "ef" * 32)
    stamped = release_check.stamp(record, nothing)
    assert stamped.verified is None
    assert stamped.gate_report == "sha256:" + "ef" * 32
    assert Record.parse(stamped.describe()) == stamped  # survives the Helm description
