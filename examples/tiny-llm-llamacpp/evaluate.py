"""Run the model in-process (llama_cpp, the library the server wraps) over eval/eval.jsonl and
write eval/results.jsonl for the offline gate: the same greedy chat completion the server
gives for each prompt. `--golden` rewrites the eval set's references with these answers (the
golden outputs a later version is held to)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from llama_cpp import Llama

MAX_TOKENS = 32  # serve.max_tokens's default: the gate sends the same


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model.gguf"))
    parser.add_argument("--eval-set", type=Path, default=Path("eval/eval.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("eval/results.jsonl"))
    parser.add_argument("--golden", action="store_true")
    args = parser.parse_args(argv)
    llm = Llama(model_path=str(args.model), n_ctx=512, seed=0, verbose=False)
    rows = [json.loads(line) for line in args.eval_set.read_text().splitlines() if line.strip()]
    results = []
    for row in rows:
        started = time.perf_counter()
        answer = llm.create_chat_completion(
            messages=[{"role": "user", "content": row["prompt"]}], max_tokens=MAX_TOKENS,
            temperature=0)
        text = answer["choices"][0]["message"]["content"]
        results.append({"prediction": text, "reference": row["reference"],
                        "latency_ms": round((time.perf_counter() - started) * 1000, 3)})
        if args.golden:
            row["reference"] = text
    if args.golden:
        args.eval_set.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for result, row in zip(results, rows, strict=True):
            result["reference"] = row["reference"]
    args.out.write_text("".join(json.dumps(r) + "\n" for r in results))
    print(f"{len(results)} answers -> {args.out}")


if __name__ == "__main__":
    main()
