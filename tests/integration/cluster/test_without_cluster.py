"""What needs no cluster: MODELSHIP_TEST_KUBECONFIG switches the test bed to an existing cluster
(nothing is built, started or stopped), and a component that dies is reported with its log."""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed import cluster, state
from testbed.cluster import builder, control_plane


def test_existing_kubeconfig_is_used_as_is(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kind.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("MODELSHIP_TEST_KUBECONFIG", str(kubeconfig))

    def no_build(*args: object) -> None:
        pytest.fail("nothing may be built for an existing cluster")

    monkeypatch.setattr(builder, "build_group", no_build)
    monkeypatch.setattr(control_plane, "start", no_build)
    assert cluster.up(tmp_path / "run") == {"KUBECONFIG": str(kubeconfig)}
    cluster.down(tmp_path / "run")  # nothing of ours runs there: a no-op
    assert not (tmp_path / "run").exists()


def test_missing_existing_kubeconfig_is_named(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("MODELSHIP_TEST_KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(RuntimeError, match=r"MODELSHIP_TEST_KUBECONFIG=.*nope"):
        cluster.up(tmp_path)


def test_a_component_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "etcd.log"
    pid = state.start_daemon(["sh", "-c", "echo 'listen tcp 127.0.0.1:1: bind: denied'; exit 1"],
                               log)
    with pytest.raises(RuntimeError, match="etcd exited") as caught:
        control_plane._wait_while_alive("etcd", pid, log, lambda: False, timeout=30)
    assert "bind: denied" in str(caught.value)
