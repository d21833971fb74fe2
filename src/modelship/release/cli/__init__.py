"""One module per release sub-command (HELP, add_arguments, run), as modelship.cli expects.
Each turns its argparse.Namespace into the verb's typed arguments; the work is in
modelship.release.<verb>. Shared flags are here."""

from __future__ import annotations

import argparse
from typing import Any

from modelship.config import parse_duration

DEFAULT_LOCK_TIMEOUT = 300.0  # modelship.release.session.DEFAULT_LOCK_TIMEOUT


def duration(flag: str) -> Any:
    def parse(text: str) -> float:
        seconds = parse_duration(text)
        if seconds is None:
            raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 5m or 1h, "
                                             f"got '{text}' ({flag})")
        return seconds
    return parse


def add_common(parser: argparse.ArgumentParser, *, changes: bool = True) -> None:
    parser.add_argument("--environment", metavar="NAME",
                        help="environments.NAME overrides deploy (namespace, release, ...)")
    if changes:
        parser.add_argument("--lock-timeout", type=duration("--lock-timeout"),
                            default=DEFAULT_LOCK_TIMEOUT, metavar="D",
                            help="how long to wait for another release command of this model "
                                 "and environment (default 5m)")
