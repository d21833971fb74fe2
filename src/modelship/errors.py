"""Exception types and the exit codes they map to (DESIGN.md, "Exit codes").

Library code raises these with a message written for the user; only the CLI turns
them into an error line and an exit code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3


class ModelshipError(Exception):
    """Base class: a failure the user should read about, never a traceback."""

    exit_code = EXIT_INFRA

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class Rejected(ModelshipError):
    """The model or release was judged and rejected (gate failed, analysis failed)."""

    exit_code = EXIT_REJECTED


class UsageError(ModelshipError):
    """Bad input: a flag, a file, a config key. The message names which and what was expected."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """modelship.yaml (or a file it points to) is missing or invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = file or ""
        if line is not None:
            where = f"{where}:{line}"
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.key = key
        self.line = line


class InfraError(ModelshipError):
    """Something we depend on (registry, cluster, Prometheus, Docker) failed after retries."""

    exit_code = EXIT_INFRA


def first_line(error: BaseException, limit: int = 200) -> str:
    """An exception as one short line for a message: its first line, cut at `limit`
    characters, or its type's name when it has no text."""
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else type(error).__name__
