"""The rollback target search and the GPU fallback as pure decisions, in tables."""

from __future__ import annotations

import pytest

from modelship.errors import UsageError
from modelship.release import decisions, history
from modelship.release.desired import Version
from modelship.release.helm import Revision

D = {v: "sha256:" + c * 64 for v, c in (("1.0.0", "1"), ("2.0.0", "2"), ("3.0.0", "3"))}
SHA = {"1.0.0": "a" * 40, "2.0.0": "b" * 40, "3.0.0": "c" * 40}


def rev(number: int, version: str, action: str = "deploy", status: str = "superseded",
        recorded: str | None = None) -> Revision:
    record = history.Record(action, "install", "rolling", recorded or version,
                            f"r/m@{D[version]}", D[version], git_sha=SHA[version], by="me")
    return Revision(number, status, record.describe(), "2026-12-07")


# 1.0.0 and 2.0.0 deployed; 3.0.0 deployed by digest before it had a version label, so its
# record says "cccccccccccc" (the digest's first 12 digits); then a rollback to 1.0.0
HISTORY = history.entries([rev(1, "1.0.0"), rev(2, "2.0.0"),
                           rev(3, "3.0.0", recorded="333333333333"),
                           rev(4, "1.0.0", action="rollback", status="deployed")],
                          lambda n: None)


@pytest.mark.parametrize(("wanted", "version", "git_sha"), [
    ("2.0.0", "2.0.0", SHA["2.0.0"]),  # the target's own commit, not the checkout's
    ("v2.0.0", "2.0.0", SHA["2.0.0"]),
    ("rollback-v1.0.0", "1.0.0", SHA["1.0.0"]),
    ("2", "2.0.0", SHA["2.0.0"]),  # a revision number
    (D["2.0.0"], "2.0.0", SHA["2.0.0"]),
    ("3333333", None, None),  # not a version, revision or digest of the history
    ("9.9.9", None, None),
])
def test_in_history(wanted: str, version: str | None, git_sha: str | None) -> None:
    found = decisions.in_history(HISTORY, wanted)
    if version is None:
        assert found is None
        return
    assert found is not None
    assert (found.version.version, found.version.digest, found.git_sha) == (
        version, D[version], git_sha)


@pytest.mark.parametrize(("wanted", "revision"), [
    ("7", True), ("12", True), ("123456789012", False), ("1.0.0", False), ("sha256:ab", False)])
def test_is_revision(wanted: str, revision: bool) -> None:
    assert decisions.is_revision(wanted) is revision


def test_no_revision_names_revisions_and_versions() -> None:
    error = decisions.no_revision(HISTORY, "9", "m")
    assert "revisions: 1, 2, 3, 4" in str(error)
    assert "versions: 1.0.0, 2.0.0, 333333333333" in str(error)


@pytest.mark.parametrize(("wanted", "tag", "image", "found"), [
    # git tag v3.0.0 names the commit revision 3 was deployed from: its image, the version asked
    ("3.0.0", ("v3.0.0", SHA["3.0.0"]), f"r/m@{D['3.0.0']}", "3.0.0"),
    ("v3.0.0", ("v3.0.0", SHA["3.0.0"][:12]), f"r/m@{D['3.0.0']}", "3.0.0"),
    ("3.0.0", ("v3.0.0", "d" * 40), None, None),  # no deploy from that commit
    ("3.0.0", None, None, None),  # no such tag
    (D["3.0.0"], ("v3.0.0", SHA["3.0.0"]), None, None),  # a digest names no tag
])
def test_by_git_tag(wanted: str, tag: tuple[str, str] | None, image: str | None,
                    found: str | None) -> None:
    target = decisions.by_git_tag(HISTORY, wanted, "m", tag, "/src/m")
    if found is None:
        assert target is None
        return
    assert target is not None
    assert target.version == Version(str(image), found)
    assert target.git_sha == SHA["3.0.0"]
    assert "found it by git tag v3.0.0 in /src/m: commit" in target.found


@pytest.mark.parametrize(("wanted", "candidates"), [
    ("4.0.0", ["reg/m:4.0.0", "reg/m:v4.0.0"]),
    ("v4.0.0", ["reg/m:4.0.0", "reg/m:v4.0.0"]),
    ("rollback-v4.0.0", ["reg/m:4.0.0", "reg/m:v4.0.0"]),
    ("sha256:" + "4" * 64, []),
])
def test_registry_candidates(wanted: str, candidates: list[str]) -> None:
    assert decisions.registry_candidates("reg/m", wanted) == candidates


def test_not_found_names_known_versions() -> None:
    error = decisions.not_found(HISTORY, "v7.0.0", "m", "ns", "reg/m")
    assert "--to v7.0.0: no such version in the history of m (namespace ns) or in reg/m" in \
        str(error)
    assert "1.0.0, 2.0.0" in str(error)


@pytest.mark.parametrize(("fallback", "enough", "picked"), [
    (None, True, "blue-green"),
    ("canary", True, "blue-green"),
    ("canary", False, "canary"),
    (None, False, None),
])
def test_gpu_strategy(fallback: str | None, enough: bool, picked: str | None) -> None:
    if picked is None:
        with pytest.raises(UsageError, match=r"blue_green\.fallback: canary"):
            decisions.gpu_strategy("blue-green", fallback, enough=enough,
                                   capacity="1 fit", version="2.0.0")
        return
    assert decisions.gpu_strategy("blue-green", fallback, enough=enough, capacity="1 fit",
                                  version="2.0.0") == picked
