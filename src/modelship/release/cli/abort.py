"""`modelship abort`: stable (or the active colour) back to 100%, the new version to 0."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome

HELP = "stop a release: production back to 100%, the new version scaled to 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelship.release import commands

    commands.add_common(parser)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import commands

    return commands.abort(args, cfg)
