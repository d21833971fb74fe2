"""The kubeconfig files a release command reads, checked before the kubernetes client loads
them.

A kubeconfig that is not YAML, has no clusters or contexts, or whose context names a cluster it
does not define is the user's configuration to fix: exit 2 naming the file and what is wrong,
rather than the client library's exception surfacing as an internal error or as an unreachable
cluster. Files are merged as kubectl does (KUBECONFIG is a list; the first file to name an entry
or a current-context wins). A context that is simply absent from the files is reported by
release/kube.py, which lists the contexts that exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from modelship.errors import ConfigError

SECTIONS = ("clusters", "contexts", "users")
_HINT = ("a kubeconfig holds clusters (name, cluster.server), users and contexts (name, "
         "context.cluster, context.user), as `kubectl config view` prints it")


def check(files: Sequence[str], context: str | None) -> None:
    """Raise ConfigError when the merged kubeconfig cannot select a cluster."""
    entries: dict[str, dict[str, tuple[str, Mapping[str, Any]]]] = {s: {} for s in SECTIONS}
    current: tuple[str, str] | None = None
    for file in files:
        data = _read(file)
        for section in SECTIONS:
            for name, entry in _entries(file, data, section):
                entries[section].setdefault(name, (file, entry))
        value = data.get("current-context")
        if current is None and isinstance(value, str) and value:
            current = (file, value)
    shown = ", ".join(files)
    if not entries["contexts"] or not entries["clusters"]:
        missing = " and ".join(s for s in ("clusters", "contexts") if not entries[s])
        raise ConfigError(f"kubeconfig has no {missing}; expected at least one of each",
                          file=shown, hint=_HINT)
    if context is None and current is None:
        raise ConfigError("kubeconfig has no current-context; expected one, or "
                          "deploy.kube_context naming one of its contexts "
                          f"({', '.join(entries['contexts'])})", file=shown)
    wanted = context or (current[1] if current else "")
    if wanted not in entries["contexts"]:
        if context is None and current is not None:
            raise ConfigError(f"current-context '{wanted}' names no context; its contexts: "
                              f"{', '.join(entries['contexts'])}", file=current[0],
                              key="current-context")
        return  # an unknown deploy.kube_context: release/kube.py names the contexts
    file, entry = entries["contexts"][wanted]
    cluster = entry.get("context", {}).get("cluster") if isinstance(entry.get("context"),
                                                                     Mapping) else None
    if not isinstance(cluster, str) or cluster not in entries["clusters"]:
        raise ConfigError(f"context '{wanted}' names cluster {cluster!r}, which no clusters "
                          f"entry defines; its clusters: {', '.join(entries['clusters'])}",
                          file=file, key=f"contexts[{wanted}].context.cluster", hint=_HINT)
    file, entry = entries["clusters"][cluster]
    server = entry.get("cluster", {}).get("server") if isinstance(entry.get("cluster"),
                                                                  Mapping) else None
    if not isinstance(server, str) or not server.strip():
        raise ConfigError(f"cluster '{cluster}' has no server; expected the API server's URL",
                          file=file, key=f"clusters[{cluster}].cluster.server", hint=_HINT)


def _read(file: str) -> Mapping[str, Any]:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the kubeconfig: {e}", file=file) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"kubeconfig is not valid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark is not None else None, hint=_HINT) from e
    if data is None:
        return {}  # an empty file in a KUBECONFIG list adds nothing, as with kubectl
    if not isinstance(data, Mapping):
        what = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r:.40}"
        raise ConfigError(f"kubeconfig holds {what}; expected a mapping "
                          "(apiVersion, clusters, contexts, users, current-context)",
                          file=file, hint=_HINT)
    return data


def _entries(file: str, data: Mapping[str, Any],
             section: str) -> list[tuple[str, Mapping[str, Any]]]:
    value = data.get(section)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"expected a list of named entries, got {type(value).__name__}",
                          file=file, key=section, hint=_HINT)
    out = []
    for index, entry in enumerate(value):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ConfigError("expected an entry with a name", file=file,
                              key=f"{section}[{index}]", hint=_HINT)
        out.append((name, entry))
    return out
