"""Build the cluster's binaries from the Go module proxy, once: each lands in
~/.cache/modelship-testbed/bin/<component>-<version>/ and later runs reuse it."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed import state
from testbed.cluster.components import COMPONENTS, GO_MINIMUM, Component


def bin_root() -> Path:
    return state.cache_dir() / "bin"


def cached_path(component: Component) -> Path:
    return bin_root() / f"{component.name}-{component.version}" / component.name


def go_binary() -> str:
    found = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None)
    if not found:
        msg = (f"the cluster binaries are built with Go >= {GO_MINIMUM[0]}.{GO_MINIMUM[1]}, "
               "and `go` is not on PATH: install Go (https://go.dev/dl/) or point "
               "MODELSHIP_TEST_KUBECONFIG at an existing cluster")
        raise RuntimeError(msg)
    out = subprocess.run([found, "env", "GOVERSION"], capture_output=True, text=True,
                         check=True).stdout.strip()
    match = re.match(r"go(\d+)\.(\d+)", out)
    if not match or (int(match[1]), int(match[2])) < GO_MINIMUM:
        msg = f"{found} is {out}; the cluster binaries need Go >= {GO_MINIMUM[0]}.{GO_MINIMUM[1]}"
        raise RuntimeError(msg)
    return found


def build_one(component: Component, go: str) -> Path:
    target = cached_path(component)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    state.say(f"building {component.name} {component.version} from the Go module proxy "
              f"(first run only, ~{component.minutes} min)")
    partial = target.with_name(f".{component.name}.partial")
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=readonly",  # go.sum in the repo pins every module
        "GOTOOLCHAIN": "local",  # never fetch a toolchain behind the user's back
    }
    argv = [go, "build", "-p", "2", "-trimpath",
            "-ldflags", " ".join(("-s", "-w", *component.ldflags)),
            *(["-tags", ",".join(component.tags)] if component.tags else []),
            "-o", str(partial), component.package]
    started = time.monotonic()
    result = subprocess.run(argv, cwd=component.module_dir, env=env, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        msg = (f"building {component.name} {component.version} failed "
               f"(in {component.module_dir}: {' '.join(argv[1:])}):\n{result.stderr[-4000:]}")
        raise RuntimeError(msg)
    partial.replace(target)
    state.say(f"built {component.name} in {time.monotonic() - started:.0f}s -> {target}")
    return target


# Two builds at once: each `go build -p 2` leaves the cores idle while it links or waits on
# the module cache, so a pair finishes sooner than one after the other (the Go build cache is
# safe to share between processes).
PARALLEL_BUILDS = 2


def _build_locked(component: Component, go: str) -> Path:
    """Build one component unless another process does or did: one lock per binary, so
    a pytest session and `scripts/testbed up` never build the same thing twice."""
    with open(bin_root() / f".{component.name}-{component.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return build_one(component, go)


def build(names: list[str] | None = None) -> dict[str, Path]:
    """Paths of all (or the named) binaries, building the ones not cached yet."""
    wanted = [COMPONENTS[n] for n in (names or COMPONENTS)]
    if all(cached_path(c).exists() for c in wanted):
        return {c.name: cached_path(c) for c in wanted}
    go = go_binary()
    missing = [c for c in wanted if not cached_path(c).exists()]
    state.say(f"building {len(missing)} test-bed binaries with {go} (first run only, "
              f"~{sum(c.minutes for c in missing)} min of work on 2 cores, "
              f"{PARALLEL_BUILDS} at a time; cached in {bin_root()})")
    bin_root().mkdir(parents=True, exist_ok=True)
    # longest first, so the last build to finish is a short one
    missing.sort(key=lambda c: -c.minutes)
    with ThreadPoolExecutor(max_workers=PARALLEL_BUILDS) as pool:
        for future in [pool.submit(_build_locked, c, go) for c in missing]:
            future.result()
    return {c.name: cached_path(c) for c in wanted}
