"""Real serving runtimes for the tests, never written here: each installed from its own PyPI
package into a virtualenv under ~/.cache/modelship-runtimes/<name>, built once and kept while
its pinned requirements are unchanged. Here rather than in tests/ so that testbed.prebuild can
make them in the background of a cold run (llama-cpp-python compiles llama.cpp from its sdist:
once, into a wheel that the venv and the example's image both install, testbed/runtime_wheels.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MODELSHIP_RUNTIMES_CACHE",
                            "~/.cache/modelship-runtimes")).expanduser()
MARKER = ".modelship-requirements"  # written last: a venv without it is incomplete
INSTALL_TIMEOUT = 40 * 60  # MLServer and BentoML download ~0.5 GB; llama.cpp compiles

# venv name -> (the example whose requirements.txt it installs, extra pins for the tests)
EXAMPLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mlserver-1.7.1": ("examples/iris-mlserver", ()),
    "bentoml-1.4.40": ("examples/iris-bentoml", ()),
    "llama-cpp-python-0.3.36": ("examples/tiny-llm-llamacpp", ("gguf==0.19.0",)),
}
# venv name -> the requirement installed from the test bed's own wheel (runtime_wheels.py)
OWN_WHEELS: dict[str, str] = {"llama-cpp-python-0.3.36": "llama-cpp-python==0.3.36"}


def requirements(path: Path) -> list[str]:
    """The pinned lines of a requirements file (comments and blanks left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def example_venv(name: str) -> Path:
    """The venv of one of EXAMPLES, made on first use."""
    example, extra = EXAMPLES[name]
    pins = [*requirements(REPO / example / "requirements.txt"), *extra]
    if name not in OWN_WHEELS:
        return venv(name, pins)
    from testbed import runtime_wheels

    requirement = OWN_WHEELS[name]
    house = runtime_wheels.wheelhouse(requirement)
    # that wheel or nothing: never a second compile from the sdist
    return venv(name, pins, ["--find-links", str(house), "--only-binary",
                             requirement.split("==", 1)[0]])


def venv(name: str, pins: Sequence[str], pip_args: Sequence[str] = ()) -> Path:
    """A virtualenv with exactly `pins` installed (pip given `pip_args` too), made once and
    reused; one maker at a time (the prebuild and a test may ask for the same one)."""
    root = CACHE / name
    wanted = "\n".join([*pins, *pip_args]) + "\n"
    marker = root / MARKER
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == wanted:
            return root
        if root.exists():
            shutil.rmtree(root)
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        log = root.with_suffix(".install.log")
        started = time.monotonic()
        with log.open("w") as out:
            done = subprocess.run([str(root / "bin/pip"), "install",
                                   "--disable-pip-version-check", *pip_args, *pins],
                                  stdout=out,
                                  stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False)
        if done.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RuntimeError(f"pip install {' '.join(pins)} into {root} failed:\n{tail}")
        marker.write_text(wanted)
        # the cost a cold CI run pays once per machine
        print(f"runtimes: installed {' '.join(pins)} into {root} in "
              f"{time.monotonic() - started:.0f}s", file=sys.stderr)
        return root
