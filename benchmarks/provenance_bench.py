"""Benchmark: the time `build --sign --gate-report` adds to a build (gate attestation + cosign
signature, both pushed beside the image), as a ratio to the build alone.

Baseline, measured in the same run on the same project, engine and registry: `modelship build
--push --no-smoke` of the example model. Contender: the same build plus `--gate-report
<the example's real gate report> --sign --key <a fresh cosign key pair>`. Each round changes
one line of server.py first, so every build makes and pushes a new digest (a CI build after a
code change: the dependency layers come from the cache); the rounds alternate baseline and
contender so machine load hits both alike. Reported: median wall seconds of each, the
contender/baseline ratio, and attest + sign seconds alone over the baseline build.
No SBOM step: syft is not built here (see the README's provenance section).

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
PASSWORD = "provenance-bench"  # noqa: S105 - a throwaway key pair's password


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

    repo = f"{os.environ['MODELSHIP_TEST_REGISTRY']}/bench/provenance-{uuid.uuid4().hex[:6]}"
    base: list[float] = []
    signed: list[float] = []
    sign_only: list[float] = []
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        root = Path(tmp)
        log = root / "bench.log"
        project = root / "sentiment"
        shutil.copytree(EXAMPLE, project)
        key = signing.key_pair(root / "keys", "bench", PASSWORD)
        report = root / "gate-report.json"
        _modelship(env, log, "gate", "--config", str(project / "modelship.yaml"),
                   "--report-json", str(report), "--bootstrap", "0")
        print("warm-up build (fills the layer cache) ...", flush=True)
        build(project, repo, env, log)
        try:
            for n in range(ROUNDS):
                change_code(project, 2 * n)
                base.append(build(project, repo, env, log)["wall_s"])
                change_code(project, 2 * n + 1)
                result = build(project, repo, env, log, "--gate-report", str(report),
                               "--sign", "--key", str(key.private))
                signed.append(result["wall_s"])
                sign_only.append(result["provenance"]["seconds"])
                print(f"round {n + 1}: build {base[-1]:.1f} s, build + attest + sign "
                      f"{signed[-1]:.1f} s (attest + sign {sign_only[-1]:.1f} s)", flush=True)
        finally:
            if log.is_file():
                shutil.copy(log, Path(tempfile.gettempdir()) / "modelship-provenance-bench.log")
    b, s, o = (statistics.median(v) for v in (base, signed, sign_only))
    print()
    print(f"build + push alone (baseline, median of {ROUNDS}):  {b:.1f} s")
    print(f"build + push + attest + sign (median of {ROUNDS}): {s:.1f} s")
    print(f"attest + sign alone (median):                  {o:.1f} s")
    print(f"ratio (build with provenance / build alone): {s / b:.3f}x")
    print(f"time added by attest + sign, over the build alone: {o / b:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
