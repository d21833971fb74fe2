"""Benchmark: a code-only change to the example model, rebuilt and pushed after a cold build.

Contender: `modelship build` with its generated Dockerfile (dependencies, weights and code in
separate layers). Baseline, measured in the same run on the same project and engine: a naive
single-stage Dockerfile (`COPY . .` then `pip install`), built and pushed by the same command.

For each: a cold build (--no-cache) and push, then a one-line change to server.py, rebuilt and
pushed. Reported: build seconds, the rebuild/cold time ratio (goal <= 0.25 for modelship), and
the bytes the change added to the registry (compressed layer blobs plus the config blob that
the cold image's manifest did not have; goal <= 0.1x the naive baseline's).

Needs the test bed: eval "$(scripts/testbed env)"; then python benchmarks/build_bench.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "sentiment"
CA = Path("/etc/ssl/certs/ca-certificates.crt")
NAIVE_DOCKERFILE = """\
# The naive baseline: one layer holds code, weights and data; any change reinstalls everything.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY . .
RUN PIP_CERT=/app/ca-bundle.crt pip install --no-cache-dir -r requirements.txt
CMD ["python", "server.py"]
"""
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")


def _env() -> dict[str, str]:
    missing = [k for k in ("MODELSHIP_TEST_REGISTRY", "MODELSHIP_TEST_REGISTRY_USER",
                           "MODELSHIP_TEST_REGISTRY_PASSWORD") if not os.environ.get(k)]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run eval \"$(scripts/testbed env)\" first")
    env = dict(os.environ)
    env["MODELSHIP_REGISTRY_USER"] = os.environ["MODELSHIP_TEST_REGISTRY_USER"]
    env["MODELSHIP_REGISTRY_PASSWORD"] = os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"]
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    if CA.is_file():
        env["PIP_CERT"] = str(CA)
    return env


def build(project: Path, repo: str, env: dict[str, str], log: Path, *cold: str) -> dict:
    started = time.monotonic()
    with log.open("a") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "modelship", "build", "--config",
             str(project / "modelship.yaml"), "--push", "--no-smoke", "--json",
             "--repository", repo, *cold], env=env, stdout=subprocess.PIPE, stderr=err,
            text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        sys.exit(f"build of {project.name} failed ({proc.returncode}); see {log}\n"
                 f"{proc.stdout}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    return result


def manifest(repo: str, digest: str) -> dict:
    host, name = repo.split("/", 1)
    answer = requests.get(f"http://{host}/v2/{name}/manifests/{digest}", timeout=30,
                          headers={"Accept": MANIFEST_TYPES},
                          auth=(os.environ["MODELSHIP_TEST_REGISTRY_USER"],
                                os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"]))
    answer.raise_for_status()
    return answer.json()


def added_bytes(repo: str, before: str, after: str) -> tuple[int, int]:
    """(bytes, layers) the `after` manifest references that `before` did not."""
    old, new = manifest(repo, before), manifest(repo, after)
    known = {layer["digest"] for layer in old["layers"]} | {old["config"]["digest"]}
    blobs = [*new["layers"], new["config"]]
    added = [b for b in blobs if b["digest"] not in known]
    return sum(b["size"] for b in added), len([b for b in added if b in new["layers"]])


def total_bytes(repo: str, digest: str) -> int:
    m = manifest(repo, digest)
    return sum(layer["size"] for layer in m["layers"]) + m["config"]["size"]


def change_code(project: Path) -> None:
    server = project / "server.py"
    server.write_text(server.read_text() + "\n# a code-only change for the benchmark\n")


def measure(name: str, project: Path, repo: str, env: dict[str, str], log: Path) -> dict:
    print(f"[{name}] cold build and push ...", flush=True)
    cold = build(project, repo, env, log, "--no-cache")
    change_code(project)
    print(f"[{name}] code-only change: rebuild and push ...", flush=True)
    warm = build(project, repo, env, log)
    added, layers = added_bytes(repo, cold["digest"], warm["digest"])
    return {"cold_s": cold["build"]["seconds"], "rebuild_s": warm["build"]["seconds"],
            "cold_wall_s": cold["wall_s"], "rebuild_wall_s": warm["wall_s"],
            "added_bytes": added, "added_layers": layers,
            "image_bytes": cold["size"], "compressed_bytes": total_bytes(repo, cold["digest"]),
            "cached_steps": warm["build"]["cached_steps"], "steps": warm["build"]["steps"]}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def main() -> int:
    env = _env()
    registry = os.environ["MODELSHIP_TEST_REGISTRY"]
    run = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="build-bench-") as tmp:
        root = Path(tmp)
        log = root / "build.log"
        layered = root / "layered"
        shutil.copytree(EXAMPLE, layered)
        naive = root / "naive"
        shutil.copytree(EXAMPLE, naive)
        (naive / "Dockerfile").write_text(NAIVE_DOCKERFILE)
        (naive / ".dockerignore").unlink()
        shutil.copy(CA, naive / "ca-bundle.crt")
        try:
            ours = measure("modelship", layered, f"{registry}/bench/layered-{run}", env, log)
            base = measure("naive", naive, f"{registry}/bench/naive-{run}", env, log)
        finally:
            if log.is_file():
                shutil.copy(log, Path(tempfile.gettempdir()) / "modelship-build-bench.log")
    time_ratio = ours["rebuild_s"] / ours["cold_s"]
    naive_time_ratio = base["rebuild_s"] / base["cold_s"]
    bytes_ratio = ours["added_bytes"] / base["added_bytes"]
    rows = [
        ("", "modelship (layered)", "naive (COPY . . + install)"),
        ("cold build", f"{ours['cold_s']:.1f} s", f"{base['cold_s']:.1f} s"),
        ("rebuild after code change", f"{ours['rebuild_s']:.1f} s", f"{base['rebuild_s']:.1f} s"),
        ("rebuild / cold", f"{time_ratio:.3f}x", f"{naive_time_ratio:.3f}x"),
        ("cold build + push (wall)", f"{ours['cold_wall_s']:.1f} s",
         f"{base['cold_wall_s']:.1f} s"),
        ("rebuild + push (wall)", f"{ours['rebuild_wall_s']:.1f} s",
         f"{base['rebuild_wall_s']:.1f} s"),
        ("steps cached on rebuild", f"{ours['cached_steps']}/{ours['steps']}",
         f"{base['cached_steps']}/{base['steps']}"),
        ("bytes pushed for the change", _mb(ours["added_bytes"]), _mb(base["added_bytes"])),
        ("new layers for the change", str(ours["added_layers"]), str(base["added_layers"])),
        ("image size (uncompressed)", _mb(ours["image_bytes"]), _mb(base["image_bytes"])),
        ("image size (compressed, in registry)", _mb(ours["compressed_bytes"]),
         _mb(base["compressed_bytes"])),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print()
    print(f"rebuild time ratio (modelship rebuild / modelship cold): {time_ratio:.3f}x "
          f"(goal <= 0.25x) {'OK' if time_ratio <= 0.25 else 'MISSED'}")
    print(f"bytes pushed for the change (modelship / naive baseline): {bytes_ratio:.4f}x "
          f"(goal <= 0.1x) {'OK' if bytes_ratio <= 0.1 else 'MISSED'}")
    print(f"rebuild time vs the naive rebuild: {ours['rebuild_s'] / base['rebuild_s']:.3f}x")
    return 0 if time_ratio <= 0.25 and bytes_ratio <= 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
