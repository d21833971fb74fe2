"""`modelship status`: the release as it is (a table, or the contract's JSON)."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome

HELP = "show the release: versions, weights, colours, pods and history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelship.release import commands

    commands.add_common(parser, changes=False)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import commands

    return commands.status(args, cfg)
