"""python -m testbed.prebuild: build everything slow the tests need (from Go modules: the
cluster's binaries, actionlint, docker-buildx, cosign; from PyPI: the serving runtimes' venvs)
ahead of the tests that need them.

scripts/test starts it in the background before the linters, so on a new machine those
builds (most of a cold run) overlap the linters and the tests that need no cluster, which
pytest runs first (tests/conftest.py). The fixtures wait for the same per-binary locks rather
than build anything twice, and build it themselves if this failed. A no-op once all is cached.
"""

from __future__ import annotations

import subprocess
import sys
import time

from testbed import docker_runner, lint_tools, runtimes, signing, state
from testbed.cluster import builder


def main() -> int:
    started = time.monotonic()
    try:
        builder.build()
        lint_tools.actionlint()
        docker_runner.buildx()
        signing.cosign()
        for name in runtimes.EXAMPLES:  # the serving runtimes' venvs (llama.cpp compiles)
            runtimes.example_venv(name)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        state.say(f"prebuild stopped: {e} (the tests build what they need themselves)")
        return 3
    state.say(f"prebuild done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
