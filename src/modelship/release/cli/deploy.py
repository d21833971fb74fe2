"""`modelship deploy`: run the release plan to the end (or to --pause-at)."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release import settings
from modelship.release.cli import add_common, duration

HELP = "deploy a model version with canary, blue-green or rolling steps"


def _weight(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a weight 0-100, got '{text}'") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a weight 0-100, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--image", metavar="REF",
                        help="image to deploy (repo:tag or repo@sha256:...; a tag is resolved "
                             "to its digest). Default: image.repository at the model version")
    parser.add_argument("--strategy", choices=settings.STRATEGIES,
                        help="canary, blue-green or rolling (default: deploy.strategy)")
    parser.add_argument("--pause-at", type=_weight, metavar="WEIGHT",
                        help="stop once this weight passed analysis and leave the release "
                             "paused (blue-green: 0 stops before the switch)")
    parser.add_argument("--timeout", type=duration("--timeout"), metavar="D",
                        help="readiness wait per step (default: deploy.timeout, 10m)")
    from modelship.provenance import release_check

    release_check.add_arguments(parser)  # --allow-unverified


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship import imageref
    from modelship.release import deploy

    image = args.image
    if image is not None:  # a bad reference is a usage error before helm or the cluster
        image = imageref.check(image, "--image")
    return deploy.run(deploy.DeployArgs(
        environment=args.environment, image=image, strategy=args.strategy,
        pause_at=args.pause_at, timeout=args.timeout, lock_timeout=args.lock_timeout,
        allow_unverified=args.allow_unverified), cfg)
