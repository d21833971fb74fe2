"""python -m testbed.cluster build|up|down|status: the cluster alone, for debugging and timing
(`scripts/testbed` runs it together with Docker and the registry)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from testbed import cluster, node, state
from testbed.cluster import control_plane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.cluster")
    parser.add_argument("action", choices=["build", "up", "down", "status"])
    args = parser.parse_args(argv)
    run_dir = state.run_dir()
    started = time.monotonic()
    if args.action == "build":
        result: object = {k: str(v) for k, v in cluster.build().items()}
    elif args.action == "up":
        result = cluster.up(run_dir)
    elif args.action == "down":
        cluster.down(run_dir)
        result = {}
    else:
        rss = {**control_plane.rss_bytes(run_dir), **node.rss_bytes(run_dir),
               **cluster.traffic_rss_bytes(run_dir)}
        result = {"running": control_plane.running(run_dir),
                  "rss_mib": {k: round(v / 2**20) for k, v in rss.items()},
                  "rss_total_mib": round(sum(rss.values()) / 2**20),
                  **control_plane.load(run_dir)}
    print(json.dumps(result, indent=2))
    state.say(f"{args.action} took {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
