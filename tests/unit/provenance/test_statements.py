"""Reading gate reports for attesting, and what cosign prints back (pure)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from modelship.errors import EXIT_USAGE, UsageError
from modelship.provenance import statements

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def test_a_gate_report_is_read_with_its_file_digest(tmp_path: Path) -> None:
    path = tmp_path / "gate-report.json"
    raw = b'{"passed": false, "n": 3, "metrics": {}, "checks": []}\n'
    path.write_bytes(raw)
    got = statements.read_gate_report(path)
    assert got.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert got.passed is False
    assert got.data["n"] == 3


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(None, "file does not exist", id="missing"),
    pytest.param("{not json", "not JSON", id="not-json"),
    pytest.param('{"accuracy": 0.9}', "boolean `passed`", id="metrics-not-a-report"),
    pytest.param('[{"passed": true}]', "boolean `passed`", id="a-list"),
])
def test_what_is_not_a_gate_report_is_refused_naming_the_flag(
        tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError) as exc:
        statements.read_gate_report(path)
    assert exc.value.exit_code == EXIT_USAGE
    assert f"--gate-report {path}" in str(exc.value)
    assert expected in str(exc.value)


def _payload(digest: str, **optional: str) -> dict[str, object]:
    return {"critical": {"identity": {"docker-reference": "localhost:5000/m"},
                         "image": {"docker-manifest-digest": digest},
                         "type": "cosign container image signature"},
            "optional": optional or None}


def test_verified_signatures_are_read_with_their_annotations() -> None:
    stdout = json.dumps([_payload(DIGEST, **{statements.TAGS_ANNOTATION: "1.0.0 sha-abc"}),
                         _payload(OTHER)])
    got = statements.signatures("\n" + stdout + "\n")
    assert [s.digest for s in got] == [DIGEST, OTHER]
    assert got[0].tags == ("1.0.0", "sha-abc")
    assert got[1].tags == ()
    assert got[0].reference == "localhost:5000/m"


def test_keyless_signatures_carry_subject_and_issuer() -> None:
    stdout = json.dumps([_payload(DIGEST, Subject="https://github.com/o/r/.github/workflows/"
                                  "cd.yml@refs/heads/main",
                                  Issuer="https://token.actions.githubusercontent.com")])
    got = statements.signatures(stdout)[0]
    assert got.issuer == "https://token.actions.githubusercontent.com"
    assert got.subject is not None
    assert got.subject.endswith("@refs/heads/main")


def test_unreadable_verify_output_is_no_signature() -> None:
    assert statements.signatures("") == []
    assert statements.signatures("[not json") == []


def _envelope(statement: dict[str, object]) -> str:
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload,
                       "signatures": [{"keyid": "", "sig": "MEUC"}]})


def _statement(digest: str, predicate_type: str, passed: bool) -> dict[str, object]:
    return {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate_type,
            "subject": [{"name": "localhost:5000/m", "digest": {"sha256": digest[7:]}}],
            "predicate": {"passed": passed, "n": 1, "metrics": {}, "checks": []}}


def test_gate_reports_are_the_predicates_for_this_digest_and_type() -> None:
    lines = [
        _envelope(_statement(DIGEST, statements.GATE_PREDICATE, True)),
        _envelope(_statement(OTHER, statements.GATE_PREDICATE, False)),  # another image
        _envelope(_statement(DIGEST, "https://spdx.dev/Document", False)),  # another type
        "some log line",
    ]
    found = statements.statements("\n".join(lines))
    assert len(found) == 3
    reports = statements.gate_reports(found, DIGEST)
    assert [r["passed"] for r in reports] == [True]
    assert statements.gate_reports(found, OTHER)[0]["passed"] is False


def test_an_envelope_with_a_broken_payload_is_skipped() -> None:
    broken = json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": "%%%"})
    assert statements.statements(broken) == []


def test_for_a_label_only_any_file_gives_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not json\n")
    got = statements.read_gate_report(path, strict=False)
    assert got.digest == "sha256:" + hashlib.sha256(b"not json\n").hexdigest()
    assert got.passed is False
    with pytest.raises(UsageError):
        statements.read_gate_report(tmp_path / "missing.json", strict=False)
