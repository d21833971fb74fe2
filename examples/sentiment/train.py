"""Train the sentiment model from data/train.csv and write model/weights.json.

    python train.py                          # the model the example ships
    python train.py --shuffle-labels --out ../sentiment-bad/model/weights.json
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from model import Model

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "train.csv")
    parser.add_argument("--out", type=Path, default=HERE / "model" / "weights.json")
    parser.add_argument("--shuffle-labels", action="store_true",
                        help="break the text/label pairing (makes a deliberately bad model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with args.data.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [row["text"] for row in rows]
    labels = [row["label"] for row in rows]
    if args.shuffle_labels:
        random.Random(args.seed).shuffle(labels)  # noqa: S311 (reproducible, not crypto)
    model = Model.train(texts, labels)
    model.save(args.out)
    print(f"trained on {len(rows)} rows, {len(model.vocab)} features -> {args.out}")


if __name__ == "__main__":
    main()
