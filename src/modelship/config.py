"""modelship.yaml: loading, line numbers, typed access with defaults, and errors that name
the file, the key and what was expected.

Sections (`gate`, `image`, `deploy`, ...) read their own keys through `Config.get*`; the set of
known keys lives in KNOWN_KEYS so that a typo gets a "did you mean" instead of being ignored.
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

import yaml

from modelship.errors import ConfigError

DEFAULT_FILE = "modelship.yaml"

# Known keys per section (dotted prefix -> keys). A section maps to None when its keys are free
# (user-chosen names such as metric thresholds or environment names).
KNOWN_KEYS: dict[str, set[str] | None] = {
    "": {"model", "gate", "image", "serve", "deploy", "environments"},
    "model": {"name", "version"},
    "gate": {"results", "task", "tokenize", "thresholds", "baseline", "online", "bootstrap",
             "workers"},
    "gate.thresholds": None,
    "gate.baseline": {"report", "tolerance"},
    "gate.baseline.tolerance": None,
    "gate.online": {"eval_set", "request", "response_field", "concurrency", "timeout", "retries"},
    "gate.online.request": None,
    "image": {"repository", "context", "dockerfile", "accelerator", "cuda", "gpu_products",
              "gpu_count", "smoke", "build_args", "platform", "python", "weights", "network",
              "base_image"},
    "image.smoke": None,
    "image.build_args": None,
    "serve": {"command", "port", "health", "predict", "metrics", "env"},
    "serve.env": None,
    "deploy": None,  # owned by the release engine, validated there
    "environments": None,
}

# sections that may hold something other than a mapping (a request body template may be any JSON)
FREE_FORM = {"gate.online.request"}

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

    def check_known_keys(self) -> None:
        """Reject unknown keys (typos) with a suggestion, section by section."""
        _check_keys(self, self.data, "")


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


def _kind(value: Any) -> str:
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


def _check_range(cfg: Config, key: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise cfg.error(key, f"expected a value >= {lo}, got {value}")
    if hi is not None and value > hi:
        raise cfg.error(key, f"expected a value <= {hi}, got {value}")


def _check_keys(cfg: Config, node: Mapping[str, Any], prefix: str) -> None:
    known = KNOWN_KEYS.get(prefix)
    if known is None:
        return
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in known:
            raise cfg.error(dotted, f"unknown key; expected one of {', '.join(sorted(known))}",
                            hint=suggest(str(key), sorted(known)))
        if dotted not in KNOWN_KEYS or value is None:
            continue
        if not isinstance(value, Mapping) and dotted not in FREE_FORM:
            keys = KNOWN_KEYS[dotted]
            what = f" ({', '.join(sorted(keys))})" if keys else ""
            raise cfg.error(dotted, f"expected a mapping{what}, got {_kind(value)}")
        if isinstance(value, Mapping):
            _check_keys(cfg, value, dotted)


def _compose(node: yaml.Node, prefix: str, lines: dict[str, int],
             scalars: dict[str, str]) -> None:
    """Record each key's line, and each scalar's source text, by dotted key."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            dotted = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[dotted] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode):
                scalars[dotted] = value_node.value
            _compose(value_node, dotted, lines, scalars)


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
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"invalid YAML: {problem}", file=shown, line=line) from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {_kind(data)}", file=shown)
    lines: dict[str, int] = {}
    scalars: dict[str, str] = {}
    if node is not None:
        _compose(node, "", lines, scalars)
    cfg = Config(data, file=shown, root=file.resolve().parent, lines=lines, scalars=scalars)
    cfg.check_known_keys()
    return cfg
