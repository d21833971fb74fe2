"""A YAML config file read once: its data, the line of each key, the source text of each scalar,
and no duplicate keys.

PyYAML keeps the last of two equal keys in a mapping without a word, so a second `thresholds:`
under `gate` would silently replace the first (and could weaken the gate). Here the composed
node tree is walked before it is turned into data, and a repeated key is an error naming both
lines and the key's path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from modelship.errors import ConfigError

_MERGE = "tag:yaml.org,2002:merge"  # `<<: *base`: later keys override merged ones on purpose


@dataclass
class Document:
    data: Any
    lines: dict[str, int] = field(default_factory=dict)  # key path -> 1-based line
    scalars: dict[str, str] = field(default_factory=dict)  # key path -> source text


def parse(text: str, file: str) -> Document:
    """Parse `text` (from `file`, for messages). Raises ConfigError for invalid YAML and for a
    key repeated in one mapping."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = Document(None)
        if node is not None:
            _walk(node, "", doc, file, set())
            doc.data = loader.construct_document(node)
        return doc
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from e
    finally:
        loader.dispose()


def _walk(node: yaml.Node, prefix: str, doc: Document, file: str, seen: set[int]) -> None:
    if id(node) in seen:  # an alias of a node already walked (and a guard against loops)
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}[{index}]"
            doc.lines.setdefault(path, item.start_mark.line + 1)
            _walk(item, path, doc, file, seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[str, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            continue
        name = str(key_node.value)
        path = f"{prefix}.{name}" if prefix else name
        line = key_node.start_mark.line + 1
        if name in first:
            raise ConfigError(f"duplicate key (first at line {first[name]}); YAML would keep "
                              "only the last one and silently drop the other",
                              file=file, key=path, line=line,
                              hint="remove one of them, or merge their contents")
        first[name] = line
        doc.lines[path] = line
        if isinstance(value_node, yaml.ScalarNode):
            doc.scalars[path] = value_node.value
        _walk(value_node, path, doc, file, seen)
