"""The action's entry point: the container runs this; modelship.action does the work.

No product logic lives here (see src/modelship/action.py): inputs become arguments and
environment variables, secrets are masked before anything can print them, and
modelship.cli.main runs the command.
"""

import sys

from modelship.action import arguments, main

__all__ = ["arguments", "main"]

if __name__ == "__main__":
    sys.exit(main())
