"""The test bed's own wheels (testbed/runtime_wheels.py) are made once per version: a wheel
already repaired is used as it is; a compiled one left by an interrupted run is repaired, not
compiled again; the venv that needs one installs that file and never the sdist."""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed import runtime_wheels, runtimes

REQUIREMENT = "llama-cpp-python==0.3.36"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(runtimes, "CACHE", tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(runtime_wheels, "_compile", lambda req, raw: calls.append("compile"))

    def repair(wheel: Path, house: Path) -> None:
        calls.append(f"repair {wheel.name}")
        (house / wheel.name.replace("linux", "manylinux_2_35")).write_bytes(b"")

    monkeypatch.setattr(runtime_wheels, "_repair", repair)
    return calls


def test_a_repaired_wheel_is_used_as_it_is(tmp_path: Path, cache: list[str]) -> None:
    house = tmp_path / "wheels/llama-cpp-python-0.3.36"
    house.mkdir(parents=True)
    (house / "llama_cpp_python-0.3.36-py3-none-manylinux_2_35_x86_64.whl").write_bytes(b"")
    assert runtime_wheels.wheelhouse(REQUIREMENT) == house
    assert cache == []


def test_a_compiled_wheel_is_repaired_not_compiled_again(tmp_path: Path,
                                                         cache: list[str]) -> None:
    raw = runtime_wheels.compiled(REQUIREMENT)
    raw.mkdir(parents=True)
    (raw / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl").write_bytes(b"")
    house = runtime_wheels.wheelhouse(REQUIREMENT)
    assert cache == ["repair llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"]
    assert [p.name for p in house.iterdir()] == [
        "llama_cpp_python-0.3.36-py3-none-manylinux_2_35_x86_64.whl"]  # alone: --find-links


def test_the_llama_venv_installs_that_wheel_only(tmp_path: Path, cache: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    house = runtime_wheels.directory(REQUIREMENT)
    house.mkdir(parents=True)
    (house / "llama_cpp_python-0.3.36-py3-none-manylinux_2_35_x86_64.whl").write_bytes(b"")
    asked: list[tuple[str, list[str], list[str]]] = []
    monkeypatch.setattr(runtimes, "venv", lambda name, pins, pip_args=():
                        asked.append((name, list(pins), list(pip_args))) or tmp_path)
    runtimes.example_venv("llama-cpp-python-0.3.36")
    runtimes.example_venv("mlserver-1.7.1")
    (_, pins, pip_args), (_, _, plain) = asked
    assert "llama-cpp-python[server]==0.3.36" in pins
    assert pip_args == ["--find-links", str(house), "--only-binary", "llama-cpp-python"]
    assert plain == []
    assert cache == []
