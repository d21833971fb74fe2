"""Eval-set rows and request bodies: rows (JSONL or CSV) with their line numbers, the request
template (`fill`, the one way a row becomes a body) and where the prediction is in an answer
(`extract`)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelship import records
from modelship.errors import UsageError
from modelship.serving import protocol
from modelship.serving.spec import JSON, ServeSpec

REFERENCE = "reference"


@dataclass(frozen=True)
class Row:
    """One eval-set row: its fields (input fields, optionally `reference`) and where it is."""

    line: int
    fields: Mapping[str, JSON]
    source: Path

    @property
    def where(self) -> str:
        return records.where(self.source, self.line)

    @property
    def has_reference(self) -> bool:
        return REFERENCE in self.fields

    @property
    def reference(self) -> JSON:
        return self.fields.get(REFERENCE)


def iter_rows(path: Path) -> Generator[Row, None, None]:
    """The rows of an eval set (JSONL, or CSV with a header), UTF-8 with or without a BOM, read
    lazily. CSV cells are strings; a short row's missing cells are None."""
    if not path.is_file():
        raise UsageError(f"{path}: eval set does not exist" if not path.exists()
                         else f"{path}: is not a file; expected an eval set")
    csv = path.suffix.lower() == ".csv"
    try:
        with path.open(encoding="utf-8-sig", newline="" if csv else None) as fh:
            if csv:
                header: list[str] | None = None
                for line, record in records.csv_records(fh, path):
                    if not any(cell.strip() for cell in record):  # blank line
                        continue
                    if header is None:
                        header = [cell.strip() for cell in record]
                        continue
                    # like csv.DictReader: missing cells are None, surplus cells are dropped
                    padded: list[str | None] = [*record, *[None] * (len(header) - len(record))]
                    yield Row(line, dict(zip(header, padded, strict=False)), path)
            else:
                for line, text in enumerate(fh, start=1):
                    if text.strip():
                        yield Row(line, records.json_object(text, path, line, "input fields"),
                                  path)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read eval set: {e.strerror or e}") from None


def load_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The first `limit` rows (all without one); the file is read no further than needed."""
    rows = iter_rows(path)
    try:
        out: list[Row] = []
        for row in rows:
            if limit is not None and len(out) >= limit:
                break
            out.append(row)
        return out
    finally:
        rows.close()


def fill(template: JSON, row: Mapping[str, JSON], where: str = "") -> JSON:
    """The request body from a template and a row's fields: a string that is exactly "{field}"
    becomes that field's value (any JSON type); other strings are formatted with the fields
    ("Classify: {text}"); dicts and lists are filled item by item; other values stay. A field
    the template names but the row lacks is bad input (UsageError naming `where`)."""
    if isinstance(template, dict):
        return {k: fill(v, row, where) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, row, where) for v in template]
    if not isinstance(template, str):
        return template
    if template.startswith("{") and template.endswith("}") and template[1:-1] in row:
        return row[template[1:-1]]
    try:
        return template.format_map(row)
    except KeyError as e:
        prefix = f"{where}: " if where else ""
        raise UsageError(f"{prefix}the request template (gate.online.request) needs field {e}, "
                         f"which the row does not have (fields: {', '.join(row)})") from None
    except (ValueError, IndexError) as e:
        raise UsageError(f"gate.online.request: bad template '{template}': {e}",
                         hint="a literal { or } in a template is written {{ or }}") from None


def request_body(spec: ServeSpec, row: Row) -> JSON:
    """What is POSTed for a row: the template filled, or the body serve.protocol builds from
    the row (custom: the row minus `reference`; v2: one tensor per field; OpenAI: the prompt)."""
    if spec.request is None:
        return protocol.body(spec.preset, row.fields, row.where, model=spec.model,
                             max_tokens=spec.max_tokens)
    return fill(spec.request, row.fields, row.where)


MISSING = object()  # extract(): the answer has no such field


def extract(answer: JSON, path: str) -> JSON:
    """The prediction inside an answer: `path` is dotted, list indexes allowed (`outputs.0.label`,
    `-1` for the last); an empty path, or an answer that is a bare JSON value, is the prediction
    itself. MISSING when the path leads nowhere."""
    if not isinstance(answer, dict | list):
        return answer
    node = answer
    for part in path.split(".") if path else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (isinstance(node, list) and part.lstrip("-").isdigit()
              and -len(node) <= int(part) < len(node)):
            node = node[int(part)]
        else:
            return MISSING
    return node


