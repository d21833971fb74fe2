"""Benchmark `modelship gate` against the obvious scripts, measured in the same run.

- classification: a generated 1,000,000-row JSONL file; baseline (a) reads it with json.loads per
  line into lists and calls scikit-learn (accuracy, precision/recall/F1 macro, F1 micro and
  weighted) and numpy (latency mean and percentiles).
- generation: a generated 100,000-row JSONL file; baseline (b) reads it the same way and runs
  sacrebleu corpus BLEU and chrF and a rouge-score loop (ROUGE-1/2/L with stemming), numpy means.

Scaling (issue 17): classification files of 1M and 4M rows (`--scaling-rows`), each read by the
gate and by the named baseline (c) json.loads per line, holding nothing (the cost of reading the
file, which grows linearly in time and not at all in memory). Printed: peak memory growth per row
between the two sizes (the child's own peak RSS, getrusage via wait4) and the time ratio of the
large to the small file, wall and CPU. Goals: <= 12 bytes a row, <= 4.4x time for 4x rows.
`--before SRC` adds another checkout's src/ (e.g. main's) as a third contender in the same run.

Each contender runs in its own process, alternately, `--repeat` times; the fastest run of each
counts. Wall time, CPU time (workers included) and peak memory (the sum of the resident memory of
the process and its children, sampled every 10 ms, so worker processes count) are measured from
outside. `modelship gate` runs as users run it, bootstrap intervals included. Values must
be identical. Goals: classification <= 0.5x wall and <= 0.2x peak memory of (a); generation
<= 0.6x wall of (b).

    python benchmarks/gate_bench.py [--rows 1000000] [--gen-rows 100000] [--keep DIR]
        [--only compare|scaling] [--scaling-rows 1000000,4000000] [--before SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

BASELINE_A = textwrap.dedent("""
    import json, sys
    import numpy as np
    from sklearn import metrics as skm
    preds, refs, lat = [], [], []
    with open(sys.argv[1], encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    refs = [str(r["reference"]) for r in rows]
    preds = [str(r["prediction"]) for r in rows]
    lat = np.array([r["latency_ms"] for r in rows], dtype=float)
    out = {
        "accuracy": skm.accuracy_score(refs, preds),
        "precision_macro": skm.precision_score(refs, preds, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(refs, preds, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(refs, preds, average="macro", zero_division=0),
        "f1_micro": skm.f1_score(refs, preds, average="micro", zero_division=0),
        "f1_weighted": skm.f1_score(refs, preds, average="weighted", zero_division=0),
        "latency_mean_ms": np.mean(lat),
        "latency_p50_ms": np.percentile(lat, 50),
        "latency_p95_ms": np.percentile(lat, 95),
        "latency_p99_ms": np.percentile(lat, 99),
    }
    print(json.dumps({k: float(v) for k, v in out.items()}))
""")

BASELINE_B = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sacrebleu
    from rouge_score import rouge_scorer
    with open(sys.argv[1], encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    hyps = [r["prediction"] for r in rows]
    refs = [r["reference"] for r in rows]
    lat = np.array([r["latency_ms"] for r in rows], dtype=float)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = [scorer.score(r, h) for h, r in zip(hyps, refs)]
    out = {
        "bleu": sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score,
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
        "rouge1": np.mean([s["rouge1"].fmeasure for s in scores]),
        "rouge2": np.mean([s["rouge2"].fmeasure for s in scores]),
        "rougeL": np.mean([s["rougeL"].fmeasure for s in scores]),
        "exact_match": np.mean([h.strip() == r.strip() for h, r in zip(hyps, refs)]),
        "latency_mean_ms": np.mean(lat),
        "latency_p50_ms": np.percentile(lat, 50),
        "latency_p95_ms": np.percentile(lat, 95),
        "latency_p99_ms": np.percentile(lat, 99),
    }
    print(json.dumps({k: float(v) for k, v in out.items()}))
""")

BASELINE_C = textwrap.dedent("""
    import json, sys
    with open(sys.argv[1], encoding="utf-8") as fh:
        rows = sum(1 for line in fh if line.strip() and json.loads(line))
    print(json.dumps({"rows": rows}))
""")
SRC = Path(__file__).resolve().parent.parent / "src"
SCALING_GOALS = (12.0, 4.4)  # bytes a row of peak memory growth, time ratio for 4x rows

LABELS = ["positive", "negative", "neutral", "mixed", "sarcastic", "off-topic", "question",
          "complaint"]
WORDS = ["model", "models", "modelling", "deploy", "deployed", "deployment",
         "deployments", "canary", "release", "releases", "released", "rollback", "rolled",
         "serving", "served", "server", "latency", "latencies", "improved", "improving",
         "improvement", "metric", "metrics", "evaluation", "evaluated", "quickly",
         "slowly", "the", "a", "an", "of", "to", "in", "on", "for", "with", "cluster",
         "clusters", "node", "nodes", "scheduled", "scheduling", "gpu", "gpus", "memory",
         "traffic", "weighted", "weights", "stable", "candidate", "baseline",
         "regression", "regressions", "passed", "failing", "failed", "gate", "gates",
         "report", "reported", "summary", "tokens", "generated", "generation", "running",
         "runs", "ran", "tested", "testing", "tests", "healthy", "unhealthy"]


def generate_classification(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    weights = [30, 25, 20, 8, 5, 5, 4, 3]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            ref = rng.choices(LABELS, weights)[0]
            pred = ref if rng.random() < 0.87 else rng.choice(LABELS)
            fh.write(json.dumps({"id": i, "prediction": pred, "reference": ref,
                                 "latency_ms": round(rng.lognormvariate(3.2, 0.45), 3),
                                 "model": "sentiment-v2"}) + "\n")


def generate_generation(path: Path, rows: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(rows):
            ref_words = rng.choices(WORDS, k=rng.randint(4, 14))
            hyp_words = list(ref_words)
            for _edit in range(rng.randint(0, 5)):
                op = rng.random()
                if op < 0.4 and hyp_words:
                    hyp_words[rng.randrange(len(hyp_words))] = rng.choice(WORDS)
                elif op < 0.7:
                    hyp_words.insert(rng.randrange(len(hyp_words) + 1), rng.choice(WORDS))
                elif hyp_words:
                    del hyp_words[rng.randrange(len(hyp_words))]
            ref = " ".join(ref_words).capitalize() + "."
            hyp = " ".join(hyp_words).capitalize() + ("." if rng.random() < 0.8 else "")
            fh.write(json.dumps({"prediction": hyp, "reference": ref,
                                 "latency_ms": round(rng.lognormvariate(5, 0.6), 2)}) + "\n")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(argv: list[str], src: Path = SRC) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak MB of the process tree, stdout)."""
    wall, cpu, peak, _own_peak, text = measure_all(argv, src)
    return wall, cpu, peak, text


def measure_all(argv: list[str], src: Path = SRC) -> tuple[float, float, float, float, str]:
    """measure() plus the child's own peak RSS in MiB (getrusage through wait4), which is
    exact where the sampled tree peak can miss a short spike."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["PYTHONPATH"] = str(src)  # this checkout's package (or --before's), not an install
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} exited {proc.returncode}")
    # the child's CPU time includes the worker processes it waited for
    return (wall, usage.ru_utime + usage.ru_stime, peak / 2**20, usage.ru_maxrss / 1024,
            text)


def _gate(path: Path, task: str) -> list[str]:
    return [sys.executable, "-m", "modelship", "gate", "--results", str(path), "--task", task,
            "--json"]


def compare(ours: dict[str, float], theirs: dict[str, float]) -> tuple[bool, float]:
    worst = 0.0
    identical = True
    for name, value in theirs.items():
        mine = ours[name]
        identical &= mine == value
        worst = max(worst, abs(mine - value) / max(abs(value), 1e-300))
    return identical, worst


def versus_baselines(args: argparse.Namespace, work: Path) -> None:
    """The gate against scripts (a) and (b) on the same files: time, memory, identical values."""
    cls, gen = work / "classification.jsonl", work / "generation.jsonl"
    baseline_a, baseline_b = work / "baseline_a.py", work / "baseline_b.py"
    baseline_a.write_text(BASELINE_A, encoding="utf-8")
    baseline_b.write_text(BASELINE_B, encoding="utf-8")
    print(f"generating {args.rows:,} classification rows and {args.gen_rows:,} generation "
          f"rows in {work} ...", file=sys.stderr)
    if not cls.exists():
        generate_classification(cls, args.rows)
    if not gen.exists():
        generate_generation(gen, args.gen_rows)
    print(f"{os.cpu_count()} CPUs; files: classification {cls.stat().st_size / 2**20:.0f} "
          f"MB, generation {gen.stat().st_size / 2**20:.0f} MB", file=sys.stderr)

    results = []
    for case, path, task, script, baseline, goals in [
        ("classification", cls, "classification", baseline_a,
         "(a) json + scikit-learn", (0.5, 0.2)),
        ("generation", gen, "generation", baseline_b,
         "(b) sacrebleu + rouge-score loop", (0.6, None)),
    ]:
        best: dict[str, tuple[float, float, float, dict[str, float]]] = {}
        for round_ in range(1, args.repeat + 1):  # alternate, keep each side's best run
            for side, argv in (("gate", _gate(path, task)),
                               ("base", [sys.executable, str(script), str(path)])):
                print(f"{case} round {round_}: {side} ...", file=sys.stderr)
                wall, cpu, peak, out = measure(argv)
                values = json.loads(out.strip().splitlines()[-1])
                values = values["metrics"] if side == "gate" else values
                if side not in best or wall < best[side][0]:
                    best[side] = (wall, cpu, peak, values)
        identical, worst = compare(best["gate"][3], best["base"][3])
        results.append((case, baseline, best["gate"][:3], best["base"][:3], goals,
                        identical, worst, len(best["base"][3])))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs, load average at the end {load}; best of {args.repeat} "
          "alternating runs each. Other work on the machine slows both sides, but weighs more on "
          "the parallel generation run (cpu x: CPU seconds, workers included).")
    header = (f"{'case':<15}{'baseline':<34}{'gate s':>8}{'base s':>8}{'wall x':>8}"
              f"{'cpu x':>7}{'gate MB':>9}{'base MB':>9}{'mem x':>7}  {'goal':<27}{'values'}")
    print(header)
    print("-" * len(header))
    for case, baseline, ours, theirs, goals, identical, worst, count in results:
        (wall, cpu, peak), (b_wall, b_cpu, b_peak) = ours, theirs
        wall_x, cpu_x, mem_x = wall / b_wall, cpu / b_cpu, peak / b_peak
        goal_wall, goal_mem = goals
        met = wall_x <= goal_wall and (goal_mem is None or mem_x <= goal_mem)
        goal = f"wall<={goal_wall}x" + (f" mem<={goal_mem}x" if goal_mem else "")
        goal += " met" if met else " MISSED"
        values = f"{count} identical" if identical else f"max rel diff {worst:.1e}"
        print(f"{case:<15}{baseline:<34}{wall:>8.2f}{b_wall:>8.2f}{wall_x:>7.2f}x"
              f"{cpu_x:>6.2f}x{peak:>9.0f}{b_peak:>9.0f}{mem_x:>6.2f}x  {goal:<27}{values}")


def _scaling_files(work: Path, sizes: list[int]) -> list[Path]:
    """One classification file per size; each smaller file is a prefix of the largest."""
    largest = work / f"scaling-{max(sizes)}.jsonl"
    if not largest.exists():
        print(f"generating {max(sizes):,} classification rows in {work} ...", file=sys.stderr)
        generate_classification(largest, max(sizes))
    paths = []
    for size in sizes:
        path = work / f"scaling-{size}.jsonl"
        if not path.exists():
            with largest.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as dst:
                for _ in range(size):
                    dst.write(src.readline())
        paths.append(path)
    return paths


def scaling(args: argparse.Namespace, work: Path) -> None:
    """How time and peak memory grow from the small to the large file, for each contender."""
    sizes = sorted(int(x) for x in args.scaling_rows.split(","))
    if len(sizes) != 2 or sizes[0] <= 0 or sizes[0] == sizes[1]:
        raise SystemExit("--scaling-rows: expected two different row counts, e.g. 1000000,4000000")
    paths = _scaling_files(work, sizes)
    script = work / "baseline_c.py"
    script.write_text(BASELINE_C, encoding="utf-8")
    contenders: list[tuple[str, Path, Any]] = [
        ("gate (this checkout)", SRC, lambda p: _gate(p, "classification"))]
    if args.before:
        contenders.append((f"gate ({args.before})", Path(args.before).resolve(),
                           lambda p: _gate(p, "classification")))
    contenders.append(("(c) json read only", SRC, lambda p: [sys.executable, str(script), str(p)]))
    # best (wall, cpu, own peak MiB) per contender and size, alternating to share the load
    best: dict[tuple[str, int], tuple[float, float, float]] = {}
    for round_ in range(1, args.repeat + 1):
        for size, path in zip(sizes, paths, strict=True):
            for name, src, argv in contenders:
                print(f"scaling round {round_}: {name}, {size:,} rows ...", file=sys.stderr)
                wall, cpu, _tree, own, _out = measure_all(argv(path), src)
                old = best.get((name, size))
                best[(name, size)] = (min(wall, old[0]), min(cpu, old[1]), min(own, old[2])) \
                    if old else (wall, cpu, own)
    small, large = sizes
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nscaling {small:,} -> {large:,} rows ({large / small:g}x), classification with "
          f"latency, best of {args.repeat} alternating runs; load average at the end {load}")
    header = (f"{'contender':<34}{'small s':>9}{'large s':>9}{'wall x':>8}{'cpu x':>7}"
              f"{'small MiB':>11}{'large MiB':>11}{'B/row':>7}  goal")
    print(header)
    print("-" * (len(header) + 30))
    goal_bytes, goal_ratio = SCALING_GOALS
    for name, _src, _argv in contenders:
        (s_wall, s_cpu, s_mem), (l_wall, l_cpu, l_mem) = best[(name, small)], best[(name, large)]
        per_row = (l_mem - s_mem) * 2**20 / (large - small)
        wall_x, cpu_x = l_wall / s_wall, l_cpu / s_cpu
        goal = ""
        if name.startswith("gate"):
            met = per_row <= goal_bytes and cpu_x <= goal_ratio
            goal = (f"<= {goal_bytes:g} B/row, cpu <= {goal_ratio}x: "
                    + ("met" if met else "MISSED"))
        print(f"{name:<34}{s_wall:>9.2f}{l_wall:>9.2f}{wall_x:>7.2f}x{cpu_x:>6.2f}x"
              f"{s_mem:>11.1f}{l_mem:>11.1f}{per_row:>7.1f}  {goal}")
    print("B/row: growth of the process's own peak RSS per added row (getrusage); cpu x: CPU "
          "seconds, steadier than wall time on a shared machine; (c) is the floor: reading the "
          "file costs linear time and no memory per row.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gen-rows", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep the files")
    parser.add_argument("--repeat", type=int, default=2,
                        help="rounds; each side's fastest run counts (default: 2)")
    parser.add_argument("--only", choices=("compare", "scaling"),
                        help="run one part: against the baselines, or the scaling")
    parser.add_argument("--scaling-rows", default="1000000,4000000", metavar="SMALL,LARGE",
                        help="row counts of the scaling files (default: 1000000,4000000)")
    parser.add_argument("--before", metavar="SRC",
                        help="another checkout's src/ measured in the scaling too (e.g. main's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "compare"):
            versus_baselines(args, work)
        if args.only in (None, "scaling"):
            scaling(args, work)


if __name__ == "__main__":
    main()
