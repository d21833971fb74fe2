"""Train the iris classifier and write what MLServer serves and what the gate judges.

    model.joblib         a scikit-learn pipeline (MLServer's sklearn runtime loads it)
    eval/eval.jsonl      held-out rows: {"features": [4 numbers], "reference": "setosa"}
    eval/results.jsonl   the model's predictions on them, for the offline gate

The iris data ships inside scikit-learn (no download). `--shuffle-labels` trains on shuffled
labels: the wrong-answers variant the gate and the canary analysis must reject.
Run it with the runtime's own Python (the versions in requirements.txt), so the pickle loads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--shuffle-labels", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]  # string labels: "setosa", ...
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, labels, test_size=0.4, random_state=args.seed, stratify=labels)
    if args.shuffle_labels:
        y_train = np.random.default_rng(args.seed).permutation(y_train)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x_train, y_train)
    joblib.dump(model, args.out / "model.joblib")

    (args.out / "eval").mkdir(exist_ok=True)
    correct = 0
    with (args.out / "eval/eval.jsonl").open("w", encoding="utf-8") as rows, \
            (args.out / "eval/results.jsonl").open("w", encoding="utf-8") as results:
        for features, reference in zip(x_test.tolist(), y_test.tolist(), strict=True):
            started = time.perf_counter()
            prediction = str(model.predict(np.asarray([features]))[0])
            latency_ms = (time.perf_counter() - started) * 1000
            rows.write(json.dumps({"features": features, "reference": reference}) + "\n")
            results.write(json.dumps({"prediction": prediction, "reference": reference,
                                      "latency_ms": round(latency_ms, 3)}) + "\n")
            correct += prediction == reference
    print(f"accuracy {correct / len(y_test):.3f} on {len(y_test)} held-out rows")


if __name__ == "__main__":
    main()
