"""`modelship rollback --to X`: a version, tag, revision or digest straight back to 100%."""

from __future__ import annotations

import argparse

from modelship.config import Config
from modelship.outcome import Outcome
from modelship.release.cli import add_common

HELP = "put a previous version back at 100% (a selector switch when its colour is warm)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--to", metavar="X",
                        help="a version (1.2.3 or v1.2.3), a tag naming one (rollback-v1.2.3), "
                             "a Helm revision number or a digest (default in Actions: the "
                             "pushed rollback-* tag)")
    from modelship.provenance import release_check

    release_check.add_arguments(parser)  # --allow-unverified


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    from modelship.errors import UsageError
    from modelship.release import rollback

    to = args.to
    if not to:  # a workflow on a `rollback-v1.2.3` tag push names the version itself
        from modelship import ghactions

        tag = ghactions.tag_from_ref() or ""
        to = tag if tag.startswith("rollback-") else None
    if not to or not to.strip():
        raise UsageError("modelship rollback: --to X is required: a version (1.2.3 or v1.2.3), "
                         "a tag naming one (rollback-v1.2.3), a Helm revision or a digest")
    return rollback.run(rollback.RollbackArgs(to=to, environment=args.environment,
                                              lock_timeout=args.lock_timeout,
                                              allow_unverified=args.allow_unverified), cfg)
