"""Download one file and keep it only if its sha256 is the pinned one (the action image's
cosign). Usage: fetch_verified.py URL SHA256 DEST. Standard library only: runs in the slim
base before anything is installed."""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from pathlib import Path


def main(url: str, expected: str, dest: str) -> int:
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - pinned URL
        data = response.read()
    found = hashlib.sha256(data).hexdigest()
    if found != expected.strip().lower():
        print(f"{url}: sha256 {found} is not the pinned {expected}; refusing it",
              file=sys.stderr)
        return 1
    path = Path(dest)
    path.write_bytes(data)
    path.chmod(0o755)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: fetch_verified.py URL SHA256 DEST")
    sys.exit(main(*sys.argv[1:]))
