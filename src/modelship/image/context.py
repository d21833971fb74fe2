"""The build context as a tar stream: the project (honouring .dockerignore, symlinks followed so
shared files land in the image as files) plus files modelship adds under .modelship-build/
(a generated Dockerfile, the CA bundle pip needs, a labelled copy of the project's Dockerfile).
The user's project is never written to."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from docker.utils.build import PatternMatcher

from modelship.errors import UsageError
from modelship.image import dockerfile

EXTRA_DIR = ".modelship-build"
STATE_DIR = ".modelship"  # modelship's own files (a gate report handed on): not image content


def _ignored(matcher: PatternMatcher, rel: str) -> bool:
    # the stubs ask for a PathLike; docker's own build code passes a relative str path
    return matcher.matches(rel)  # type: ignore[arg-type]


@dataclass
class Context:
    root: Path
    files: list[str]  # context-relative paths of regular files (symlinks resolved)
    top_level: list[str]  # top-level names that survive .dockerignore
    directories: set[str] = field(default_factory=set)  # top-level names that are directories


def _ignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    try:  # docker skips a byte-order mark; the file is UTF-8 text
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})",
                         hint="save .dockerignore as UTF-8") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read .dockerignore: {e.strerror or e}") from None
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def scan(root: Path, *, skip_git: bool = False) -> Context:
    """Walk the context: files not excluded by .dockerignore, following symlinks (with loop
    protection)."""
    if not root.is_dir():
        raise UsageError(f"build context {root} is not a directory",
                         hint="set image.context to the directory holding the model project")
    patterns = _ignore_patterns(root)
    matcher = PatternMatcher(patterns)
    can_prune = not any(p.startswith("!") for p in patterns)
    files: list[str] = []
    top: set[str] = set()
    dirs: set[str] = set()
    seen: set[str] = set()
    for current, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        rel_dir = os.path.relpath(current, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for name in sorted(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if (skip_git and rel == ".git") or rel == STATE_DIR:
                continue
            if can_prune and _ignored(matcher, rel):
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _ignored(matcher, rel) or not os.path.isfile(os.path.join(current, name)):
                continue
            files.append(rel)
            head = rel.split("/", 1)[0]
            top.add(head)
            if "/" in rel:
                dirs.add(head)
    return Context(root, files, sorted(top), dirs)


def archive(ctx: Context, extra: dict[str, bytes] | None = None) -> IO[bytes]:
    """A seekable tar of the context plus `extra` files (name -> content)."""
    fileobj = tempfile.TemporaryFile()  # noqa: SIM115 (returned to the caller, who closes it)
    with tarfile.open(fileobj=fileobj, mode="w", dereference=True) as tar:
        for rel in ctx.files:
            info = tar.gettarinfo(str(ctx.root / rel), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(info.mtime)
            with open(ctx.root / rel, "rb") as fh:
                tar.addfile(info, fh)
        for name, content in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    fileobj.seek(0)
    return fileobj


def with_labels(ctx: Context, extra: dict[str, bytes], dockerfile_path: str,
                labels: dict[str, str]) -> tuple[dict[str, bytes], str, dict[str, str]]:
    """(extra files, the Dockerfile's path, labels left for the engine's API) with the labels
    written into the Dockerfile as one instruction (dockerfile.fold_labels). A project's own
    Dockerfile inside the context goes along as a labelled copy: the project is untouched."""
    files, path = dict(extra), dockerfile_path
    try:
        raw = files[path] if path in files else (ctx.root / path).read_bytes()
        text, rest = dockerfile.fold_labels(raw.decode("utf-8"), labels)
    except (OSError, UnicodeDecodeError):  # the build itself reports an unreadable Dockerfile
        return files, path, dict(labels)
    if rest == labels:
        return files, path, dict(labels)
    if path not in files:
        path = f"{EXTRA_DIR}/Dockerfile"
    files[path] = text.encode()
    return files, path, rest
