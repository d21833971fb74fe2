"""modelship.yaml: loading, line numbers, typed access with defaults, and errors that name
the file, the key and what was expected.

Sections (`gate`, `image`, `deploy`, ...) read their own keys through `Config.get*`. The keys
and their types are the JSON Schema's (modelship/schema/modelship.schema.json), checked when the
file is loaded, so a typo gets a "did you mean" instead of being ignored; a key written twice is
refused by the YAML reader (modelship.yamldoc).
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship import schema, yamldoc
from modelship.errors import ConfigError
from modelship.schema import kind as _kind

DEFAULT_FILE = "modelship.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_MISSING = object()


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """A "did you mean" hint for a near miss, or None."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


@dataclass
class Config:
    data: dict[str, Any]
    file: str = DEFAULT_FILE
    root: Path = field(default_factory=Path.cwd)
    lines: dict[str, int] = field(default_factory=dict)
    exists: bool = True
    # the source text of each scalar: `python: 3.10` is the string "3.10", not the float 3.1
    scalars: dict[str, str] = field(default_factory=dict)

    # -- errors ---------------------------------------------------------------------------
    def error(self, key: str, message: str, *, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, key=key, line=self.lines.get(key), hint=hint)

    # -- raw access -----------------------------------------------------------------------
    def raw(self, key: str, default: Any = _MISSING) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node or node[part] is None:
                if default is _MISSING:
                    raise self.error(key, "missing required key")
                return default
            node = node[part]
        return node

    def has(self, key: str) -> bool:
        return self.raw(key, None) is not None

    # -- typed access ---------------------------------------------------------------------
    def get_str(self, key: str, default: Any = _MISSING, *,
                choices: Sequence[str] | None = None) -> str:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        value = value if isinstance(value, str) else self.scalars.get(key, str(value))
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got '{value}'",
                             hint=suggest(value, choices))
        return value

    def get_int(self, key: str, default: Any = _MISSING, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_kind(value)}")
        _check_range(self, key, value, minimum, maximum)
        return value

    def get_float(self, key: str, default: Any = _MISSING, *, minimum: float | None = None,
                  maximum: float | None = None) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        _check_range(self, key, value, minimum, maximum)
        return float(value)

    def get_bool(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def get_list(self, key: str, default: Any = _MISSING) -> list[Any]:
        value = self.raw(key, default)
        if isinstance(value, str):  # a single value where a list is expected is a common typo
            return [value]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_kind(value)}")
        return value

    def get_mapping(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        value = self.raw(key, default)
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping of key: value, got {_kind(value)}")
        return dict(value)

    def get_duration(self, key: str, default: Any = _MISSING) -> float:
        """Seconds from `60s`, `5m`, `1h`, `250ms` or a bare number of seconds."""
        value = self.raw(key, default)
        seconds = parse_duration(value)
        if seconds is None:
            raise self.error(key, f"expected a duration such as 30s, 5m or 1h, got '{value}'")
        return seconds

    def get_path(self, key: str, default: Any = _MISSING) -> Path:
        """A path in the config is relative to the directory holding the config file."""
        value = self.get_str(key, default)
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.root / path

    def validate(self) -> None:
        """Check the whole config against the schema: unknown keys (with a suggestion), types,
        choices and ranges, the first mistake in file order."""
        schema.validate(self.data, self.file, self.lines)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: `override` on top of `base`, nested mappings merged key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_duration(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


def _check_range(cfg: Config, key: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise cfg.error(key, f"expected a value >= {lo}, got {value}")
    if hi is not None and value > hi:
        raise cfg.error(key, f"expected a value <= {hi}, got {value}")


def load(path: str | os.PathLike[str] | None = None, *, required: bool = False) -> Config:
    """Load the config. `path` None means the default file, which may be absent (an empty config
    with defaults); an explicit path, or `required`, must exist."""
    explicit = path is not None
    file = Path(path) if path is not None else Path(DEFAULT_FILE)
    shown = str(file)
    if not file.is_file():
        if explicit or required:
            what = "is a directory" if file.is_dir() else "does not exist"
            raise ConfigError(f"config file {what}; expected a modelship.yaml",
                              file=shown, hint="pass --config PATH to a modelship.yaml")
        return Config({}, file=shown, root=Path.cwd(), exists=False)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file: {e}", file=shown) from e
    doc = yamldoc.parse(text, shown)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {_kind(data)}", file=shown)
    cfg = Config(data, file=shown, root=file.resolve().parent, lines=doc.lines,
                 scalars=doc.scalars)
    cfg.validate()
    return cfg
