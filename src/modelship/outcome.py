"""What a command hands back to the CLI: the JSON result, the exit code, and what to show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelship.errors import EXIT_OK


@dataclass(frozen=True)
class Annotation:
    """A line GitHub shows on the run's page (`::error`, `::warning`, `::notice`); the CLI
    emits it (ghactions.annotate), a library only describes it."""

    level: str  # error | warning | notice
    message: str
    title: str | None = None


@dataclass
class Outcome:
    result: dict[str, Any]
    exit_code: int = EXIT_OK
    text: str = ""  # human-readable result, printed on stdout without --json
    summary: str = ""  # markdown for the GitHub job summary
    outputs: dict[str, Any] = field(default_factory=dict)  # step outputs besides `result`
    annotations: list[Annotation] = field(default_factory=list)
    # work left once the result is out (e.g. blue-green's scale-down after its delay): the CLI
    # runs it after printing, so a pipeline sees the result without waiting; its errors still
    # set the exit code
    after: Callable[[], None] | None = None
