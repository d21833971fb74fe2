"""scripts/testbed up|down|env|status: the test bed as a command a person runs."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import testbed
from testbed import state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/testbed", description=testbed.__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start Docker, base images, registry, cluster (with the "
                        "real node, Prometheus and the Gateway)")
    up.add_argument("--without", action="append", default=[], choices=["registry", "cluster"],
                    help="skip a part (repeatable)")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("env", help="print shell export lines: eval \"$(scripts/testbed env)\"")
    sub.add_parser("status", help="print the state as JSON")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            parts = tuple(p for p in testbed.PARTS if p not in args.without)
            testbed.up(parts)
            state.say("up; run: eval \"$(scripts/testbed env)\"")
        elif args.action == "down":
            testbed.down()
            state.say("down")
        elif args.action == "env":
            for key, value in testbed.env().items():
                print(f"export {key}={shlex.quote(value)}")
        else:
            print(json.dumps({k: v for k, v in state.load().items()}, indent=2))
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
