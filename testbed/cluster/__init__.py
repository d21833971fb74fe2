"""A real Kubernetes control plane for the test bed, built from Go modules.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok run as local
processes on 127.0.0.1; kwok plays the kubelets of five fake nodes (three CPU nodes, two
with `nvidia.com/gpu: 4`), so scheduling, controllers, Services, EndpointSlices, Leases and
helm are all real while no container runs. The binaries (and helm and kubectl) are built
once from the Go module proxy through the wrapper modules in go/ and cached by version.

Set MODELSHIP_TEST_KUBECONFIG to a kubeconfig to use an existing cluster (kind, ...)
instead: nothing is built or started then.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from testbed import state
from testbed.cluster import control_plane
from testbed.cluster.builder import build

EXISTING = "MODELSHIP_TEST_KUBECONFIG"

__all__ = ["build", "down", "up"]


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """One up/down at a time per run_dir, across processes (a pytest session and a person
    running `scripts/testbed up` must not start two clusters)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "cluster.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(run_dir: Path) -> dict[str, str]:
    """Start the cluster (or find it running) and return the variables that reach it."""
    existing = os.environ.get(EXISTING)
    if existing:
        if not Path(existing).is_file():
            msg = f"{EXISTING}={existing}: no such kubeconfig file"
            raise RuntimeError(msg)
        return {"KUBECONFIG": existing}
    if control_plane.running(run_dir):
        return control_plane.env_of(run_dir)
    binaries = build()
    with _locked(run_dir):
        if control_plane.running(run_dir):
            return control_plane.env_of(run_dir)
        control_plane.stop(run_dir)  # leftovers of a half-dead earlier run
        try:
            return control_plane.start(run_dir, binaries)
        except (RuntimeError, TimeoutError) as first:
            # ports are picked free but bound later, so another program can take one in
            # between; a second start with new ports settles that, a real fault fails again
            control_plane.stop(run_dir)
            state.say(f"cluster start failed, retrying once with new ports: {first}")
        try:
            return control_plane.start(run_dir, binaries)
        except BaseException:
            control_plane.stop(run_dir)
            raise


def down(run_dir: Path) -> None:
    """Stop what `up` started in run_dir; a no-op when nothing runs (or with an existing
    cluster, which is never ours to stop)."""
    if not control_plane.load(run_dir):
        return
    with _locked(run_dir):
        control_plane.stop(run_dir)
