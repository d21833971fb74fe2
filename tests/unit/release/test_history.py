"""Revision records in Helm descriptions, and rollback targets found in them."""

from __future__ import annotations

import pytest

from modelship.release import history
from modelship.release.desired import Version
from modelship.release.helm import Revision

D = {v: "sha256:" + c * 64 for v, c in (("1.0.0", "1"), ("2.0.0", "2"), ("3.0.0", "3"))}


def rev(number: int, version: str | None, status: str = "superseded",
        description: str | None = None) -> Revision:
    if description is None:
        assert version is not None
        description = history.Record("deploy", "install", "rolling", version,
                                     f"r/m@{D[version]}", D[version], git_sha="abc",
                                     by="me@host pid 1").describe()
    return Revision(number, status, description, "2026-11-30")


HISTORY = [
    rev(1, "1.0.0"),
    rev(2, "2.0.0"),
    rev(3, None, "failed", "Upgrade \"m\" failed: timed out"),
    rev(4, "3.0.0"),
    rev(5, None, "deployed", "Rollback to 1"),
]


def values_track(number: int) -> Version | None:
    return Version(f"r/m@{D['3.0.0']}", "3.0.0") if number == 3 else None


def entries() -> list[history.Entry]:
    return history.entries(HISTORY, values_track)


def test_records_round_trip_and_rollbacks_inherit() -> None:
    got = entries()
    assert [(e.revision, e.version, e.status) for e in got] == [
        (1, "1.0.0", "superseded"), (2, "2.0.0", "superseded"), (3, "3.0.0", "failed"),
        (4, "3.0.0", "superseded"), (5, "1.0.0", "deployed")]
    assert got[4].record is not None
    assert got[4].record.action == "rollback"
    assert got[0].as_json() == {"revision": 1, "version": "1.0.0", "digest": D["1.0.0"],
                                "git_sha": "abc", "status": "superseded"}


@pytest.mark.parametrize(
    ("wanted", "revision"),
    [
        pytest.param("2.0.0", 2, id="version"),
        pytest.param("v2.0.0", 2, id="v-version"),
        pytest.param("rollback-v2.0.0", 2, id="rollback-tag"),
        pytest.param("1.0.0", 5, id="newest-good-revision"),
        pytest.param("3.0.0", 4, id="not-the-failed-one"),
        pytest.param("2", 2, id="revision-number"),
        pytest.param(D["2.0.0"], 2, id="digest"),
        pytest.param("2" * 12, 2, id="short-digest"),
        pytest.param("9.9.9", None, id="unknown"),
        pytest.param("sha256:" + "9" * 64, None, id="unknown-digest"),
        pytest.param("77", None, id="unknown-revision"),
    ],
)
def test_find(wanted: str, revision: int | None) -> None:
    found = history.find(entries(), wanted)
    assert (found.revision if found else None) == revision


def test_known_versions_skip_failed_revisions() -> None:
    assert history.known_versions(entries()) == ["1.0.0", "2.0.0", "3.0.0"]


def test_foreign_descriptions_are_not_records() -> None:
    assert history.Record.parse("Install complete") is None
    assert history.Record.parse("modelship: {not json") is None
    assert history.Record.parse('modelship: {"x": 1}') is None


def test_who_is_the_workflow_run_in_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    assert history.who() == "https://github.com/org/repo/actions/runs/42/attempts/2"
    monkeypatch.delenv("GITHUB_RUN_ID")
    assert " pid " in history.who()


def deployed_from(number: int, version: str, sha: str, action: str = "deploy",
                  status: str = "superseded") -> Revision:
    record = history.Record(action, "install", "rolling", version, f"r/m@{D[version]}",
                            D[version], git_sha=sha, by="me@host pid 1")
    return Revision(number, status, record.describe(), "2026-11-30")


C1, C2 = "1" * 40, "2" * 40
BY_COMMIT = [
    deployed_from(1, "1.0.0", C1),
    deployed_from(2, "2.0.0", C2),
    # a rollback run from commit C2 back to 1.0.0 records C2: not what C2 built
    deployed_from(3, "1.0.0", C2, action="rollback"),
    deployed_from(4, "3.0.0", "3" * 7, status="failed"),
    deployed_from(5, "3.0.0", "abcdef1"),
]


@pytest.mark.parametrize(
    ("sha", "revision"),
    [
        pytest.param(C1, 1, id="full-sha"),
        pytest.param(C2, 2, id="deploys-only-not-the-rollback-run-from-it"),
        pytest.param("abcdef1" + "0" * 33, 5, id="recorded-short-sha"),
        pytest.param(C1[:9], 1, id="asked-by-prefix"),
        pytest.param("3" * 40, None, id="failed-revision-skipped"),
        pytest.param("111", None, id="too-short"),
        pytest.param("9" * 40, None, id="unknown"),
    ],
)
def test_find_by_commit(sha: str, revision: int | None) -> None:
    found = history.find_by_commit(history.entries(BY_COMMIT, lambda _: None), sha)
    assert (found.revision if found else None) == revision


def step(number: int, action: str, version: str, paused: bool, status: str = "superseded",
         name: str = "canary-25") -> Revision:
    record = history.Record(action, name, "canary", version, f"r/m@{D[version]}", D[version],
                            paused=paused)
    return Revision(number, status, record.describe(), "2026-11-30")


def test_pauses_count_the_segments_of_the_current_release_only() -> None:
    revisions = [
        step(1, "deploy", "1.0.0", False, name="install"),
        step(2, "deploy", "2.0.0", True),  # an earlier attempt at 2.0.0: paused, then aborted
        step(3, "abort", "1.0.0", False, name="abort"),
        step(4, "deploy", "2.0.0", False, name="canary-10"),
        step(5, "deploy", "2.0.0", True),  # deploy --pause-at 25
        step(6, "promote", "2.0.0", False, name="canary-50"),
        step(7, "promote", "2.0.0", True, name="canary-50"),  # held: inconclusive
    ]
    found = history.entries(revisions, lambda n: None)
    assert history.pauses(found, D["2.0.0"]) == 2  # revisions 5 and 7, not 2
    assert history.pauses(found[:5], D["2.0.0"]) == 1
    assert history.pauses(found[:4], D["2.0.0"]) == 0
    assert history.pauses(found, D["3.0.0"]) == 0
    assert history.pauses(found, None) == 0
