"""MODELSHIP_TEST_KUBECONFIG switches the test bed to an existing cluster: nothing is built,
started or stopped. (No cluster needed: these run without the test bed.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed import cluster
from testbed.cluster import builder, control_plane


def test_existing_kubeconfig_is_used_as_is(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kind.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("MODELSHIP_TEST_KUBECONFIG", str(kubeconfig))

    def no_build(*args: object) -> None:
        pytest.fail("nothing may be built for an existing cluster")

    monkeypatch.setattr(builder, "build_one", no_build)
    monkeypatch.setattr(control_plane, "start", no_build)
    assert cluster.up(tmp_path / "run") == {"KUBECONFIG": str(kubeconfig)}
    cluster.down(tmp_path / "run")  # nothing of ours runs there: a no-op
    assert not (tmp_path / "run").exists()


def test_missing_existing_kubeconfig_is_named(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("MODELSHIP_TEST_KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(RuntimeError, match=r"MODELSHIP_TEST_KUBECONFIG=.*nope"):
        cluster.up(tmp_path)
