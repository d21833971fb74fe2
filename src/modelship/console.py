"""Human output: progress lines on stderr, plain-text tables, secret redaction.

Everything a person reads goes through here so that masked secrets are redacted in one place,
whether or not we run inside GitHub Actions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence

_secrets: set[str] = set()
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Remember a value that must never be printed (see ghactions.mask for the GitHub side)."""
    if value and len(value) >= 3:  # masking 1-2 character strings would shred every line
        _secrets.add(value)


def forget_secrets() -> None:
    """Forget every registered secret: a fresh start for a new run in the same process (tests,
    or a program that calls cli.main more than once)."""
    _secrets.clear()


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def info(message: str) -> None:
    print(redact(message), file=sys.stderr, flush=True)


class Progress:
    """Prints a line when a long wait starts, at most every `every` seconds while it lasts,
    and when it ends, so a user watching a log knows the tool is alive and what it waits for."""

    def __init__(self, what: str, *, every: float = 5.0) -> None:
        self.what = what
        self.every = every
        self.started = time.monotonic()
        self._last = 0.0
        info(f"... {what}")

    def tick(self, detail: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            info(f"... {self.what}: {detail} ({now - self.started:.0f}s)")

    def done(self, detail: str = "done") -> None:
        info(f"... {self.what}: {detail} ({time.monotonic() - self.started:.1f}s)")


def table_text(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return redact("\n".join(lines))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
