"""The action's entry point: map INPUT_* to `modelship` CLI arguments and run it.

No product logic lives here: inputs become arguments and environment variables, secrets are
masked before anything can print them, and modelship.cli.main does the rest.
"""

import os
import shlex
import sys
from pathlib import Path

from modelship import cli, ghactions
from modelship.errors import EXIT_USAGE

DEFAULT_CONFIG = "modelship.yaml"


def arguments() -> list[str]:
    argv = [ghactions.get_input("command", "doctor")]
    config = ghactions.get_input("config", DEFAULT_CONFIG)
    # the default file may be absent (a command that needs no config); a chosen one must exist
    if config != DEFAULT_CONFIG or Path(config).exists():
        argv += ["--config", config]
    # split like a shell would, but never run one: no expansion, no injection
    return argv + shlex.split(ghactions.get_input("args"))


def main() -> int:
    for name, variable in (("registry-username", "MODELSHIP_REGISTRY_USER"),
                           ("registry-password", "MODELSHIP_REGISTRY_PASSWORD")):
        value = ghactions.get_input(name)
        if value:
            if name.endswith("password"):
                ghactions.mask(value)
            os.environ[variable] = value
    workdir = ghactions.get_input("working-directory", ".")
    try:
        os.chdir(workdir)
    except OSError as e:
        ghactions.error(f"input working-directory: cannot enter '{workdir}': {e.strerror}")
        return EXIT_USAGE
    try:
        argv = arguments()
    except ValueError as e:  # unbalanced quotes in `args`
        ghactions.error(f"input args: {e}; expected arguments as on a command line")
        return EXIT_USAGE
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
