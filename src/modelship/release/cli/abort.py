"""`modelship abort`: stable (or the active colour) back to 100%, the new version to 0."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release.cli import add_common

HELP = "stop a release: production back to 100%, the new version scaled to 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import abort

    return abort.run(abort.AbortArgs(environment=args.environment,
                                     lock_timeout=args.lock_timeout), cfg)
