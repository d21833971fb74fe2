"""`modelship promote`: continue a paused release through its remaining steps."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release.cli import add_common

HELP = "continue a paused release through its remaining steps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--full", action="store_true", help="straight to 100%%")


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import promote

    return promote.run(promote.PromoteArgs(environment=args.environment, full=args.full,
                                           lock_timeout=args.lock_timeout), cfg)
