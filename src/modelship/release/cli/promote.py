"""`modelship promote`: continue a paused release through its remaining steps."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome

HELP = "continue a paused release through its remaining steps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelship.release import commands

    commands.add_common(parser)
    parser.add_argument("--full", action="store_true", help="straight to 100%%")


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import commands

    return commands.promote(args, cfg)
