"""`modelship status`: the release as it is (a table, or the contract's JSON)."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release.cli import add_common

HELP = "show the release: versions, weights, colours, pods and history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, changes=False)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import status

    return status.run(status.StatusArgs(environment=args.environment), cfg)
