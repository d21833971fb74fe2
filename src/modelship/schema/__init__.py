"""modelship.yaml's JSON Schema (modelship.schema.json, beside this file) and the check of a
loaded config against it.

The schema is the one list of keys and types: the CLI validates every config with it when it
loads one, and editors read the same file through `# yaml-language-server: $schema=...`, so the
two cannot drift. jsonschema finds the mistakes; this module only words the first one (in file
order) as modelship's errors do: file, line, key, what was expected, and a "did you mean".
Finer checks the schema cannot express (a threshold within its metric's range, a Helm release
name) stay with the code that reads the key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from modelship.errors import ConfigError

SCHEMA_FILE = Path(__file__).with_name("modelship.schema.json")
EXPECTED = "x-expected"  # our annotation: how a message names what a key expects
# our annotation: a value never echoed in a message (a webhook URL where the name of the
# variable holding it belongs carries the webhook's token)
CONCEAL = "x-conceal"

_TYPES = {"object": "a mapping", "array": "a list", "string": "a string",
          "integer": "an integer", "number": "a number", "boolean": "true or false",
          "null": "nothing"}


@functools.cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def key_path(parts: Iterable[str | int]) -> str:
    """`deploy.canary.steps[1]`: the way messages (and Config.lines) name a key."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data: Mapping[str, Any], file: str, lines: Mapping[str, int]) -> None:
    """Raise ConfigError for the first mistake in the file; a key left empty (null) means its
    default and is not checked."""
    errors = list(_validator().iter_errors(_without_nulls(data)))
    if not errors:
        return
    found = [_describe(e) for e in errors]
    key, message, hint = min(found, key=lambda f: (lines.get(f[0], 1 << 30), f[0]))
    raise ConfigError(message, file=file, key=key or None, line=lines.get(key), hint=hint)


def _without_nulls(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def _describe(error: ValidationError, expected: str | None = None) -> tuple[str, str, str | None]:
    """(key path, message, hint) for one error."""
    path = list(error.absolute_path)
    where = key_path(path)
    schema_ = error.schema if isinstance(error.schema, Mapping) else {}
    got = kind(error.instance)
    if schema_.get(CONCEAL):
        got = ("a URL (not shown: it may carry a token; store it in a secret and write the "
               "secret's name here)" if "://" in str(error.instance) else "a value not shown")
    expected = schema_.get(EXPECTED, expected)
    validator = error.validator
    if "propertyNames" in error.relative_schema_path:
        names = sorted(_enum(error))
        return (key_path([*path, str(error.instance)]),
                f"unknown key; expected one of {', '.join(names)}",
                _suggest(str(error.instance), names))
    if validator == "additionalProperties":
        known = sorted(schema_.get("properties", {}))  # sorted: easier to scan
        extra = [k for k in error.instance if k not in known]
        name = str(extra[0])
        return (key_path([*path, name]), f"unknown key; expected one of {', '.join(known)}",
                _suggest(name, known))
    if validator in ("anyOf", "oneOf"):
        branch = _matching_branch(error)
        if branch is not None:
            return _describe(branch, expected)
        return where, f"expected {expected or 'another value'}, got {got}", None
    if expected is not None and validator in ("pattern", "type", "minimum", "maximum"):
        return where, f"expected {expected}, got {got}", None
    return where, *_simple(error, where, got)


def _simple(error: ValidationError, where: str, got: str) -> tuple[str, str | None]:
    validator, value = error.validator, error.validator_value
    if validator == "type":
        types = [value] if isinstance(value, str) else list(value)
        wanted = " or ".join(_TYPES.get(t, t) for t in types)
        if "object" in types and isinstance(error.schema, Mapping) \
                and error.schema.get("properties"):
            wanted += f" ({', '.join(error.schema['properties'])})"
        return f"expected {wanted}, got {got}", None
    if validator == "enum":
        names = _enum(error)
        last = where.rsplit(".", 1)[-1].split("[", 1)[0]  # events[1] -> events
        return (f"unknown {last} {got}; expected one of {', '.join(names)}",
                _suggest(str(error.instance), names))
    if validator == "const":
        return f"expected '{value}', got {got}", None
    if validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=",
              "exclusiveMaximum": "<"}[str(validator)]
        return f"expected a value {op} {value}, got {error.instance}", None
    if validator == "minLength":
        return "expected a non-empty string", None
    if validator == "minItems":
        return "expected a non-empty list (leave the key out for the default)", None
    if validator == "required":
        return f"{error.message}", None
    return f"{error.message}", None


def _matching_branch(error: ValidationError) -> ValidationError | None:
    """Of the alternatives of an anyOf, the errors of the one whose type the value has (a
    mapping under `url | mapping` is judged as a mapping), or None when no single one does."""
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context or []:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [errs for errs in by_branch.values()
             if not any(e.validator == "type" and not e.relative_path for e in errs)]
    if len(typed) != 1:
        return None
    return best_match(typed[0])


def _enum(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [str(v) for v in value] if isinstance(value, list) else []


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    from modelship.config import suggest  # config imports this module

    return suggest(word, choices)


def kind(value: Any) -> str:
    """A value as a message shows it: 'text', a number (3), a mapping, a list, nothing."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return f"'{value}'"
