"""One table from a step's verdict to what the release does next and the exit code. Pure.

passed -> the next step; failed -> production put back, exit 1 (the new version's fault);
usage -> put back, exit 2 (a check the configuration got wrong, e.g. a refused query);
error and inconclusive -> put back, exit 3, unless `on_inconclusive: hold` keeps an
inconclusive step paused for a person (also exit 3: nothing was decided). A bake (after 100%)
never holds: production must not stay on a version nobody could judge.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelship.errors import EXIT_INFRA, EXIT_OK, EXIT_REJECTED, EXIT_USAGE


@dataclass(frozen=True)
class Action:
    then: str  # next | abort | hold
    exit_code: int
    shown: str  # the verdict in the contract's enum (passed | failed | inconclusive | skipped)


TABLE: dict[str, Action] = {
    "passed": Action("next", EXIT_OK, "passed"),
    "failed": Action("abort", EXIT_REJECTED, "failed"),
    "usage": Action("abort", EXIT_USAGE, "inconclusive"),
    "error": Action("abort", EXIT_INFRA, "inconclusive"),
    "inconclusive": Action("abort", EXIT_INFRA, "inconclusive"),
}
HOLD = Action("hold", EXIT_INFRA, "inconclusive")


def action(verdict: str, *, on_inconclusive: str = "hold", bake: bool = False) -> Action:
    if verdict == "inconclusive" and on_inconclusive == "hold" and not bake:
        return HOLD
    return TABLE.get(verdict, TABLE["error"])


def shown(verdict: str) -> str:
    return TABLE[verdict].shown if verdict in TABLE else verdict
