"""`modelship deploy`: run the release plan to the end (or to --pause-at)."""

from __future__ import annotations

import argparse

from modelship import imageref
from modelship.config import Config
from modelship.outcome import Outcome

HELP = "deploy a model version with canary, blue-green or rolling steps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelship.release import commands

    commands.add_deploy_arguments(parser)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.release import commands

    if args.image is not None:  # a bad reference is a usage error before helm or the cluster
        args.image = imageref.check(args.image, "--image")
    return commands.deploy(args, cfg)
