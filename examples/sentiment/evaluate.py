"""Run the model over eval/eval.jsonl and write eval/results.jsonl for `modelship gate`
(rows: text, prediction, reference, latency_ms)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from model import Model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path("model/weights.json"))
    parser.add_argument("--eval-set", type=Path, default=Path("eval/eval.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("eval/results.jsonl"))
    args = parser.parse_args(argv)
    model = Model.load(args.weights)
    correct = total = 0
    with args.eval_set.open(encoding="utf-8") as src, args.out.open("w", encoding="utf-8") as out:
        for line in src:
            if not line.strip():
                continue
            row = json.loads(line)
            started = time.perf_counter()
            label, _ = model.predict(row["text"])
            latency_ms = (time.perf_counter() - started) * 1000
            out.write(json.dumps({"text": row["text"], "prediction": label,
                                  "reference": row["reference"],
                                  "latency_ms": round(latency_ms, 3)}) + "\n")
            total += 1
            correct += label == row["reference"]
    print(f"accuracy {correct / max(total, 1):.3f} on {total} rows -> {args.out}")


if __name__ == "__main__":
    main()
