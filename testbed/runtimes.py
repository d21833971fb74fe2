"""Real serving runtimes for the tests, never written here: each installed from its own PyPI
package into a virtualenv under ~/.cache/modelship-runtimes/<name>, built once and kept while
its pinned requirements are unchanged. Here rather than in tests/ so that testbed.prebuild can
make them in the background of a cold run (llama-cpp-python compiles llama.cpp from its sdist).
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


def requirements(path: Path) -> list[str]:
    """The pinned lines of a requirements file (comments and blanks left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def example_venv(name: str) -> Path:
    """The venv of one of EXAMPLES, made on first use."""
    example, extra = EXAMPLES[name]
    return venv(name, [*requirements(REPO / example / "requirements.txt"), *extra])


def venv(name: str, pins: Sequence[str]) -> Path:
    """A virtualenv with exactly `pins` installed, made once and reused; one maker at a time
    (the prebuild and a test may ask for the same one)."""
    root = CACHE / name
    wanted = "\n".join(pins) + "\n"
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
                                   "--disable-pip-version-check", *pins], stdout=out,
                                  stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False)
        if done.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RuntimeError(f"pip install {' '.join(pins)} into {root} failed:\n{tail}")
        marker.write_text(wanted)
        # the cost a cold CI run pays once per machine
        print(f"runtimes: installed {' '.join(pins)} into {root} in "
              f"{time.monotonic() - started:.0f}s", file=sys.stderr)
        return root
