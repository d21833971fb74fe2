"""Benchmark: `modelship build` of the example model against a naive single-stage Dockerfile,
cold and after a code-only change.

Contender: `modelship build` with its generated Dockerfile (dependencies, weights and code in
separate layers). Baseline, measured in the same run on the same project and engine: a naive
single-stage Dockerfile (`COPY . .` then `pip install`), built and pushed by the same command.

1. Cold builds (--no-cache, so nocache=True: every step runs, for both), ROUNDS of each,
   interleaved and alternating which goes first so that a busy machine or a slow package index
   weighs on both alike; the median of each is compared (goal: modelship <= 1.1x naive). The
   last cold build of each is pushed.
2. A one-line change to server.py (a code-only change), rebuilt with the cache and pushed.
   Reported: the rebuild/cold time ratio (goal <= 0.25 for modelship) and the bytes the change
   added to the registry (compressed layer blobs plus the config blob that the cold image's
   manifest did not have; goal <= 0.1x the naive baseline's).

Needs the test bed: eval "$(scripts/testbed env)"; then python benchmarks/build_bench.py
[--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def build(project: Path, repo: str, env: dict[str, str], log: Path, *extra: str) -> dict:
    push = () if "--no-push" in extra else ("--push",)
    flags = [flag for flag in extra if flag != "--no-push"]
    started = time.monotonic()
    with log.open("a") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "modelship", "build", "--config",
             str(project / "modelship.yaml"), *push, "--no-smoke", "--json",
             "--repository", repo, *flags], env=env, stdout=subprocess.PIPE, stderr=err,
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


def measure_cold(projects: dict[str, tuple[Path, str]], env: dict[str, str], log: Path,
                 rounds: int) -> dict[str, list[dict]]:
    """Cold builds of every project, interleaved; the last round pushes."""
    runs: dict[str, list[dict]] = {name: [] for name in projects}
    for index in range(rounds):
        order = list(projects) if index % 2 == 0 else list(reversed(projects))
        last = index == rounds - 1
        for name in order:
            project, repo = projects[name]
            print(f"[{name}] cold build {index + 1}/{rounds}{' and push' if last else ''} ...",
                  flush=True)
            flags = ("--no-cache",) if last else ("--no-cache", "--no-push")
            runs[name].append(build(project, repo, env, log, *flags))
            print(f"    {runs[name][-1]['build']['seconds']:.2f} s "
                  f"({runs[name][-1]['build']['steps']} steps)", flush=True)
    return runs


def measure_rebuild(name: str, project: Path, repo: str, env: dict[str, str], log: Path,
                    cold: list[dict]) -> dict:
    change_code(project)
    print(f"[{name}] code-only change: rebuild and push ...", flush=True)
    warm = build(project, repo, env, log)
    last = cold[-1]
    added, layers = added_bytes(repo, last["digest"], warm["digest"])
    return {"cold_s": statistics.median(r["build"]["seconds"] for r in cold),
            "cold_runs": [r["build"]["seconds"] for r in cold],
            "cold_steps": last["build"]["steps"], "rebuild_s": warm["build"]["seconds"],
            "cold_wall_s": last["wall_s"], "rebuild_wall_s": warm["wall_s"],
            "added_bytes": added, "added_layers": layers,
            "image_bytes": last["size"], "compressed_bytes": total_bytes(repo, last["digest"]),
            "cached_steps": warm["build"]["cached_steps"], "steps": warm["build"]["steps"]}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def _report(ours: dict, base: dict) -> tuple[float, float, float]:
    cold_ratio = ours["cold_s"] / base["cold_s"]
    time_ratio = ours["rebuild_s"] / ours["cold_s"]
    bytes_ratio = ours["added_bytes"] / base["added_bytes"]
    runs = (lambda r: ", ".join(f"{s:.1f}" for s in r["cold_runs"]))  # noqa: E731
    rows = [
        ("", "modelship (layered)", "naive (COPY . . + install)"),
        ("cold build (median)", f"{ours['cold_s']:.2f} s", f"{base['cold_s']:.2f} s"),
        ("cold builds (s)", runs(ours), runs(base)),
        ("cold build steps", str(ours["cold_steps"]), str(base["cold_steps"])),
        ("rebuild after code change", f"{ours['rebuild_s']:.2f} s",
         f"{base['rebuild_s']:.2f} s"),
        ("rebuild / cold", f"{time_ratio:.3f}x", f"{base['rebuild_s'] / base['cold_s']:.3f}x"),
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
    print(f"cold build time ratio (modelship cold / naive cold, medians): {cold_ratio:.3f}x "
          f"(goal <= 1.1x) {'OK' if cold_ratio <= 1.1 else 'MISSED'}")
    print(f"rebuild time ratio (modelship rebuild / modelship cold): {time_ratio:.3f}x "
          f"(goal <= 0.25x) {'OK' if time_ratio <= 0.25 else 'MISSED'}")
    print(f"rebuild time vs the naive rebuild (modelship / naive): "
          f"{ours['rebuild_s'] / base['rebuild_s']:.3f}x")
    print(f"bytes pushed for the change (modelship / naive baseline): {bytes_ratio:.4f}x "
          f"(goal <= 0.1x) {'OK' if bytes_ratio <= 0.1 else 'MISSED'}")
    return cold_ratio, time_ratio, bytes_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="cold builds of each, interleaved (default 3; the median counts)")
    args = parser.parse_args()
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
        projects = {"naive": (naive, f"{registry}/bench/naive-{run}"),
                    "modelship": (layered, f"{registry}/bench/layered-{run}")}
        try:
            cold = measure_cold(projects, env, log, max(1, args.rounds))
            ours = measure_rebuild("modelship", *projects["modelship"], env, log,
                                   cold["modelship"])
            base = measure_rebuild("naive", *projects["naive"], env, log, cold["naive"])
        finally:
            if log.is_file():
                shutil.copy(log, Path(tempfile.gettempdir()) / "modelship-build-bench.log")
    cold_ratio, time_ratio, bytes_ratio = _report(ours, base)
    return 0 if cold_ratio <= 1.1 and time_ratio <= 0.25 and bytes_ratio <= 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
