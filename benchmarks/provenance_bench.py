"""Benchmark: the time `build --sign --gate-report [--sbom]` adds to a build (gate attestation,
SPDX SBOM by syft and its attestation, cosign signature, all pushed beside the image), as a
ratio to the build alone.

Baseline, measured in the same run on the same project, engine and registry: `modelship build
--push --no-smoke` of the example model. Contenders: the same build plus `--gate-report
<the example's real gate report> --sign --key <a fresh cosign key pair>`, and that plus
`--sbom`. Each round changes
one line of server.py first, so every build makes and pushes a new digest (a CI build after a
code change: the dependency layers come from the cache); each round runs all three, so machine
load hits them alike. Reported: median wall seconds of each, its ratio to the build alone, and
the provenance step's own seconds (timed inside the build) over the build alone.

Needs the test bed: eval "$(scripts/testbed env)"; then python benchmarks/provenance_bench.py
"""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
EXAMPLE = REPO / "examples" / "sentiment"
CA = Path("/etc/ssl/certs/ca-certificates.crt")
ROUNDS = 3
MODES = ("build", "attest+sign", "sbom+attest+sign")
PASSWORD = "bench-key-password-7f3a"  # noqa: S105 - a throwaway key pair's password


def _env() -> dict[str, str]:
    missing = [k for k in ("MODELSHIP_TEST_REGISTRY", "MODELSHIP_TEST_REGISTRY_USER",
                           "MODELSHIP_TEST_REGISTRY_PASSWORD") if not os.environ.get(k)]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run eval \"$(scripts/testbed env)\" first")
    from testbed import signing

    env = dict(os.environ)
    env.update({"MODELSHIP_REGISTRY_USER": os.environ["MODELSHIP_TEST_REGISTRY_USER"],
                "MODELSHIP_REGISTRY_PASSWORD": os.environ["MODELSHIP_TEST_REGISTRY_PASSWORD"],
                "MODELSHIP_COSIGN": str(signing.cosign()), "COSIGN_PASSWORD": PASSWORD,
                "PYTHONPATH": str(REPO / "src")})
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    if CA.is_file():
        env["PIP_CERT"] = str(CA)
    return env


def _modelship(env: dict[str, str], log: Path, *args: str) -> dict:
    with log.open("a") as err:
        proc = subprocess.run([sys.executable, "-m", "modelship", *args, "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=err, text=True, check=False,
                              timeout=1800)
    if proc.returncode not in (0,):
        sys.exit(f"modelship {args[0]} failed ({proc.returncode}); see {log}\n{proc.stdout}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def build(project: Path, repo: str, env: dict[str, str], log: Path, *extra: str) -> dict:
    started = time.monotonic()
    result = _modelship(env, log, "build", "--config", str(project / "modelship.yaml"),
                        "--push", "--no-smoke", "--repository", repo, *extra)
    result["wall_s"] = time.monotonic() - started
    return result


def change_code(project: Path, n: int) -> None:
    server = project / "server.py"
    server.write_text(server.read_text() + f"\n# benchmark change {n}\n")


def main() -> int:
    env = _env()
    from testbed import signing

    env["MODELSHIP_SYFT"] = str(signing.syft())
    repo = f"{os.environ['MODELSHIP_TEST_REGISTRY']}/bench/provenance-{uuid.uuid4().hex[:6]}"
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    added: dict[str, list[float]] = {mode: [] for mode in MODES if mode != "build"}
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        root = Path(tmp)
        log = root / "bench.log"
        project = root / "sentiment"
        shutil.copytree(EXAMPLE, project)
        key = signing.key_pair(root / "keys", "bench", PASSWORD)
        report = root / "gate-report.json"
        _modelship(env, log, "gate", "--config", str(project / "modelship.yaml"),
                   "--report-json", str(report), "--bootstrap", "0")
        flags = {"build": [], "attest+sign": ["--gate-report", str(report), "--sign", "--key",
                                              str(key.private)]}
        flags["sbom+attest+sign"] = [*flags["attest+sign"], "--sbom"]
        print("warm-up build (fills the layer cache) ...", flush=True)
        build(project, repo, env, log)
        try:
            change = 0
            for n in range(ROUNDS):
                for mode in MODES:  # alternated, so machine load hits every mode alike
                    change += 1
                    change_code(project, change)
                    result = build(project, repo, env, log, *flags[mode])
                    walls[mode].append(result["wall_s"])
                    if mode in added:
                        added[mode].append(result["provenance"]["seconds"])
                print(f"round {n + 1}: " + ", ".join(
                    f"{mode} {walls[mode][-1]:.1f} s" for mode in MODES), flush=True)
        finally:
            if log.is_file():
                shutil.copy(log, Path(tempfile.gettempdir()) / "modelship-provenance-bench.log")
    base = statistics.median(walls["build"])
    print()
    print(f"build + push alone (baseline, median of {ROUNDS}): {base:.1f} s")
    for mode in added:
        wall, extra = statistics.median(walls[mode]), statistics.median(added[mode])
        print(f"build + push + {mode}: {wall:.1f} s wall, ratio to the build alone "
              f"{wall / base:.3f}x; {mode} itself {extra:.1f} s = {extra / base:.3f}x of the "
              "build alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
