"""A multinomial naive Bayes text classifier with numpy: tokenize, train, save, load, predict.

Words and word bigrams are the features; Laplace smoothing; the weights are one small JSON file
(`model/weights.json`) so the image needs no training step and no model hub.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z']+")


def features(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@dataclass
class Model:
    labels: list[str]
    vocab: dict[str, int]
    log_prior: np.ndarray  # (labels,)
    log_likelihood: np.ndarray  # (labels, vocab)

    @classmethod
    def train(cls, texts: list[str], labels: list[str], alpha: float = 1.0) -> Model:
        classes = sorted(set(labels))
        vocab: dict[str, int] = {}
        for text in texts:
            for feature in features(text):
                vocab.setdefault(feature, len(vocab))
        counts = np.zeros((len(classes), len(vocab)))
        prior = np.zeros(len(classes))
        for text, label in zip(texts, labels, strict=True):
            row = classes.index(label)
            prior[row] += 1
            for feature in features(text):
                counts[row, vocab[feature]] += 1
        smoothed = counts + alpha
        log_likelihood = np.log(smoothed / smoothed.sum(axis=1, keepdims=True))
        return cls(classes, vocab, np.log(prior / prior.sum()), log_likelihood)

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely label and its posterior probability."""
        scores = self.log_prior.copy()
        for feature in features(text):
            index = self.vocab.get(feature)
            if index is not None:
                scores += self.log_likelihood[:, index]
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        best = int(probs.argmax())
        return self.labels[best], float(probs[best])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"labels": self.labels, "vocab": self.vocab,
                "log_prior": [round(v, 6) for v in self.log_prior.tolist()],
                "log_likelihood": [[round(v, 6) for v in row]
                                   for row in self.log_likelihood.tolist()]}
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Model:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["labels"], data["vocab"], np.array(data["log_prior"]),
                   np.array(data["log_likelihood"]))
