"""JSONL and CSV records with their line numbers, and how a bad line is reported.

The one place that knows the CSV field limit and the wording of "this line is not valid JSON":
the gate's results reader (`gate/readers.py`) and the serve contract's eval-set rows
(`serving/rows.py`) both read through here. Every problem is a UsageError naming the file and line.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from modelship.errors import UsageError

# the csv module refuses fields over 128 KiB by default; a long generated answer is a valid field
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


def where(path: Path, line: int | None) -> str:
    """`file:7: line 7` (editors jump to the first part, people read the second)."""
    return f"{path}:{line}: line {line}" if line is not None else str(path)


def csv_records(lines: Iterable[str], path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, record) from CSV text; a malformed file is bad input naming the line, never an
    internal error."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(lines)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise UsageError(f"{where(path, reader.line_num)}: not valid CSV: {e}") from None
        yield reader.line_num, record


def json_object(text: str, path: Path, line: int, expected: str) -> dict[str, Any]:
    """One JSONL line as a JSON object; `expected` says what the object should hold, for the
    message when the line holds something else."""
    try:
        row = json.loads(text)
    except ValueError as e:
        detail = getattr(e, "msg", str(e))
        col = getattr(e, "colno", None)
        pos = getattr(e, "pos", 0)
        truncated = (" (truncated?)" if pos >= len(text.rstrip("\r\n")) - 1
                     or "Unterminated" in detail else "")
        if col:
            detail += f" column {col}" if detail.endswith(" at") else f" at column {col}"
        raise UsageError(f"{where(path, line)} is not valid JSON{truncated}: {detail}") from None
    if not isinstance(row, dict):
        raise UsageError(f"{where(path, line)}: expected a JSON object with {expected}, "
                         f"got {type(row).__name__}")
    return row
