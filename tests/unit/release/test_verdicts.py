"""One table: a step's verdict -> what the release does and the exit code."""

from __future__ import annotations

import pytest

from modelship.release import verdicts


@pytest.mark.parametrize(("verdict", "on_inconclusive", "bake", "then", "code", "shown"), [
    ("passed", "hold", False, "next", 0, "passed"),
    ("failed", "hold", False, "abort", 1, "failed"),
    ("usage", "hold", False, "abort", 2, "inconclusive"),
    ("error", "hold", False, "abort", 3, "inconclusive"),
    ("inconclusive", "hold", False, "hold", 3, "inconclusive"),
    ("inconclusive", "abort", False, "abort", 3, "inconclusive"),
    ("inconclusive", "hold", True, "abort", 3, "inconclusive"),  # a bake never holds
    ("something new", "hold", False, "abort", 3, "inconclusive"),
])
def test_verdict_table(verdict: str, on_inconclusive: str, bake: bool, then: str, code: int,
                       shown: str) -> None:
    action = verdicts.action(verdict, on_inconclusive=on_inconclusive, bake=bake)
    assert (action.then, action.exit_code, action.shown) == (then, code, shown)


def test_skipped_is_shown_as_is() -> None:
    assert verdicts.shown("skipped") == "skipped"
    assert verdicts.shown("error") == "inconclusive"
