"""Read eval results: JSONL or CSV rows, or a JSON object of precomputed metrics.

Rows have `prediction`, `reference`, optional `latency_ms`; other fields are ignored. A row whose
`error` field is set (online evaluation writes these for failed requests) is counted as an error
and left out of the quality and latency metrics. Rows are read in batches of about a megabyte, so
memory does not grow with the file. Labels are compared as strings: `1` and `"1"` are one label,
JSON booleans read as `true` / `false`. Files are UTF-8 (a byte-order mark is allowed).

Every problem with the input is a UsageError (exit 2) naming the file, the line and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelship.config import suggest
from modelship.errors import UsageError
from modelship.records import csv_records, json_object, where

BATCH_BYTES = 1 << 20
CSV_BATCH_ROWS = 10_000
METRICS_JSON_MAX_BYTES = 64 << 20
REQUIRED = ("prediction", "reference")
LATENCY = "latency_ms"
ERROR = "error"


@dataclass
class Batch:
    """Consecutive rows of a results file, already checked and converted."""

    predictions: list[str]
    references: list[str]
    latencies: np.ndarray | None  # float64 milliseconds, or None when the file has none
    rows: int  # rows read, errors included
    errors: int = 0  # rows with an `error`, not in predictions/references/latencies


@dataclass
class Precomputed:
    """A JSON object of metrics computed elsewhere: {"accuracy": 0.93, ...}."""

    path: Path
    metrics: dict[str, float]
    n: int | None = None
    ignored: list[str] = field(default_factory=list)


def label(value: Any, path: Path, line: int, name: str) -> str:
    """A prediction or reference as the string it is compared by."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        raise UsageError(f"{where(path, line)}: field '{name}' is null; "
                         "expected a string or number")
    kind = "a list" if isinstance(value, list) else "an object"
    raise UsageError(f"{where(path, line)}: field '{name}' is {kind}; expected a string or number")


def latency(value: Any, path: Path, line: int) -> float:
    here = where(path, line)
    if value is None or value == "":
        raise UsageError(f"{here}: field '{LATENCY}' is empty; expected milliseconds >= 0")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UsageError(f"{here}: field '{LATENCY}' is not a number: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{here}: field '{LATENCY}' is not a number: {value!r}") from None
    if math.isnan(number):
        raise UsageError(f"{here}: field '{LATENCY}' is NaN; expected milliseconds >= 0")
    if math.isinf(number):
        raise UsageError(f"{here}: field '{LATENCY}' is infinite; expected milliseconds >= 0")
    if number < 0:
        raise UsageError(f"{here}: field '{LATENCY}' is negative ({value}); "
                         "expected milliseconds >= 0")
    return number


def _is_error_row(row: dict[str, Any]) -> bool:
    value = row.get(ERROR)
    return value is not None and value is not False and value != ""


class Rows:
    """A JSONL or CSV results file, read in batches."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.has_latency: bool | None = None  # decided by the first row that is not an error
        self.has_error_field = False  # rows carry `error` (online results): error_rate applies
        try:
            self.size = path.stat().st_size
        except OSError:
            self.size = 0

    def validate(self) -> int:
        """Read the whole file once, checking every row, and return the row count: before
        minutes of per-row scoring, a bad line at the end should fail in seconds."""
        return sum(batch.rows for batch in self.batches())

    def batches(self) -> Iterator[Batch]:
        total = 0
        try:
            reader = self._jsonl() if self.format == "jsonl" else self._csv()
            for batch in reader:
                total += batch.rows
                yield batch
        except UnicodeDecodeError as e:
            msg = (f"{self.path}: not UTF-8 text (after row {total}, byte {e.start} of a "
                   f"block: {e.reason}); save the file as UTF-8")
            raise UsageError(msg) from None
        except OSError as e:
            raise UsageError(f"{self.path}: cannot read results file: {e.strerror or e}") from None
        if total == 0:
            raise UsageError(f"{self.path}: results file is empty; expected rows with "
                             "prediction and reference")

    # -- rows as dicts ---------------------------------------------------------------------
    def _check_row(self, row: dict[str, Any], line: int, out: Batch, lat: list[float]) -> None:
        """Check one row and append it to `out`: the reference path, also used to explain a
        batch that the fast path could not take."""
        if ERROR in row:
            self.has_error_field = True
        if _is_error_row(row):
            out.errors += 1
            return
        for name in REQUIRED:
            if name not in row:
                hint = suggest(name, [str(k) for k in row])
                raise UsageError(f"{where(self.path, line)}: missing field '{name}'"
                                 + (f" ({hint})" if hint else ""))
        prediction = label(row["prediction"], self.path, line, "prediction")
        reference = label(row["reference"], self.path, line, "reference")
        has = LATENCY in row and row[LATENCY] not in (None, "") if self.format == "csv" \
            else LATENCY in row
        if self.has_latency is None:
            self.has_latency = has
        if self.has_latency:
            if LATENCY not in row:
                raise UsageError(f"{where(self.path, line)}: missing field '{LATENCY}' "
                                 "(earlier rows have it; give it on every row or none)")
            lat.append(latency(row[LATENCY], self.path, line))
        elif has:
            raise UsageError(f"{where(self.path, line)}: field '{LATENCY}' appears, but the "
                             "first row has none; give it on every row or none")
        out.predictions.append(prediction)
        out.references.append(reference)

    def _slow(self, rows: list[tuple[int, dict[str, Any]]]) -> Batch:
        out = Batch([], [], None, rows=len(rows))
        lat: list[float] = []
        for line, row in rows:
            self._check_row(row, line, out, lat)
        if self.has_latency:
            out.latencies = np.asarray(lat, dtype=np.float64)
        return out

    def _fast(self, objs: list[Any]) -> Batch | None:
        """The common case in bulk: every row complete and well-typed, no error rows.
        None means "not sure": the caller checks row by row, which explains the problem."""
        try:
            if any(ERROR in o for o in objs):
                return None
            predictions = [o["prediction"] for o in objs]
            references = [o["reference"] for o in objs]
        except (KeyError, TypeError):
            return None
        if not (all(type(p) is str for p in predictions)
                and all(type(r) is str for r in references)):
            return None
        if self.has_latency is None:
            self.has_latency = LATENCY in objs[0]
        latencies = None
        if self.has_latency:
            try:
                raw = [o[LATENCY] for o in objs]
            except KeyError:
                return None
            if not all(type(v) is float or type(v) is int for v in raw):
                return None
            latencies = np.asarray(raw, dtype=np.float64)
            if not bool(np.all(latencies >= 0)) or not bool(np.all(np.isfinite(latencies))):
                return None
        elif any(LATENCY in o for o in objs):
            return None
        return Batch(predictions, references, latencies, rows=len(objs))

    # -- JSONL -----------------------------------------------------------------------------
    def _jsonl(self) -> Iterator[Batch]:
        with self.path.open(encoding="utf-8-sig") as fh:
            first = 1
            while True:
                lines = fh.readlines(BATCH_BYTES)
                if not lines:
                    return
                batch = None
                try:  # one parse for the whole batch; any doubt -> line by line
                    objs = json.loads("[" + ",".join(lines) + "]")
                except ValueError:
                    objs = None
                if (objs is not None and len(objs) == len(lines)
                        and all(type(o) is dict for o in objs)):
                    batch = self._fast(objs)
                if batch is None:
                    batch = self._slow(self._parse_lines(lines, first))
                first += len(lines)
                if batch.rows:
                    yield batch

    def _parse_lines(self, lines: list[str], first: int) -> list[tuple[int, dict[str, Any]]]:
        return [(number, json_object(text, self.path, number, "prediction and reference"))
                for number, text in enumerate(lines, start=first) if text.strip()]

    # -- CSV -------------------------------------------------------------------------------
    def _csv(self) -> Iterator[Batch]:
        with self.path.open(encoding="utf-8-sig", newline="") as fh:
            records = csv_records(fh, self.path)
            header: list[str] | None = None
            header_line = 0
            for line, record in records:
                if any(cell.strip() for cell in record):
                    header, header_line = [cell.strip() for cell in record], line
                    break
            if header is None:
                return
            for name in REQUIRED:
                if name not in header:
                    hint = suggest(name, header)
                    raise UsageError(f"{where(self.path, header_line)}: missing column "
                                     f"'{name}' in the header ({', '.join(header)})"
                                     + (f"; {hint}" if hint else ""))
            width = len(header)
            pending: list[tuple[int, dict[str, Any]]] = []
            for line, record in records:
                if not record or not any(record):
                    continue
                row = {header[i]: record[i] for i in range(min(width, len(record)))}
                pending.append((line, row))
                if len(pending) >= CSV_BATCH_ROWS:
                    yield self._slow(pending)
                    pending = []
            if pending:
                yield self._slow(pending)


def _number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _precomputed(path: Path, data: dict[str, Any], known: set[str]) -> Precomputed:
    source = data
    n = data.get("n")
    if isinstance(data.get("metrics"), dict):  # a report this command wrote
        source = data["metrics"]
    metrics: dict[str, float] = {}
    ignored: list[str] = []
    for name, value in source.items():
        if name == "n" or name not in known:
            if name != "n":
                ignored.append(name)
            continue
        if not _number(value):
            raise UsageError(f"{path}: metric '{name}' must be a finite number, got {value!r}")
        if name.startswith("latency_") and value < 0:
            raise UsageError(f"{path}: metric '{name}' is negative ({value})")
        metrics[name] = float(value)
    if not metrics:
        raise UsageError(f"{path}: no known metrics in this JSON object "
                         f"(keys: {', '.join(map(str, source)) or 'none'})")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise UsageError(f"{path}: 'n' must be a row count, got {n!r}")
    return Precomputed(path, metrics, n, ignored)


def open_results(path: Path, known_metrics: set[str]) -> Rows | Precomputed:
    """Rows (JSONL, CSV) or precomputed metrics (a JSON object), decided by the suffix and,
    for `.json` or unknown suffixes, by the content."""
    try:
        if path.is_dir():
            raise UsageError(f"{path}: is a directory; expected a results file")
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise UsageError(f"{path}: results file does not exist") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read results file: {e.strerror or e}") from None
    if not head.strip().lstrip(b"\xef\xbb\xbf").strip():
        raise UsageError(f"{path}: results file is empty; expected rows with prediction and "
                         "reference, or a JSON object of metrics")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return Rows(path, "csv")
    if suffix in (".jsonl", ".ndjson"):
        return Rows(path, "jsonl")
    starts_json = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    if suffix == ".json" and size <= METRICS_JSON_MAX_BYTES:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            raise UsageError(f"{path}: not UTF-8 text ({e.reason})") from None
        except OSError as e:
            raise UsageError(f"{path}: cannot read results file: {e.strerror or e}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if e.msg == "Extra data" and starts_json:  # one object per line: JSONL
                return Rows(path, "jsonl")
            raise UsageError(f"{where(path, e.lineno)} is not valid JSON: {e.msg} at column "
                             f"{e.colno}") from None
        if isinstance(data, dict):
            if all(k in data for k in REQUIRED):  # a single row
                return Rows(path, "jsonl")
            return _precomputed(path, data, known_metrics)
        raise UsageError(f"{path}: expected a JSON object of metrics or one JSON row per line, "
                         f"got a {type(data).__name__}")
    return Rows(path, "jsonl" if starts_json else "csv")
