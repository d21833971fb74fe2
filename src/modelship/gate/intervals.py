"""95% intervals for each metric, so a reviewer sees whether a difference is noise.

Percentile bootstrap over rows (`resamples` resamples, fixed seed, so reports are reproducible):
- classification: a resample of n rows is a multinomial draw over the confusion cells, which is
  exact and costs nothing per row, whatever n is;
- generation: rows are resampled and sacrebleu's corpus statistics and the per-row ROUGE and
  exact-match scores are summed per resample (fewer resamples, at least 200, when n x resamples
  would pass 30 million; the report gives the number);
- error_rate: a binomial draw.
- latency: resampled rows while n x resamples stays under 20 million; beyond that (20,000 rows
  at 1000 resamples) the large-sample equivalents the bootstrap converges to: mean +- 1.96
  standard errors, and for percentiles the distribution-free order-statistic interval. The
  method is in the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelship.gate import metrics as m
from modelship.gate.column import PERCENTILES

SEED = 20240601
LEVEL = 0.95
CELL_BUDGET = 50_000_000  # resamples x confusion cells
ROW_BUDGET = 30_000_000  # n x resamples for row resampling of generation statistics
ROW_MIN_RESAMPLES = 200  # the fewest resamples a large generation set gets
LATENCY_BUDGET = 20_000_000  # n x resamples for row resampling of latencies
Z = 1.959963984540054  # standard normal quantile for 95%
STD_BLOCK = 1 << 16  # rows per block of the standard deviation


def _interval(samples: np.ndarray, method: str, resamples: int) -> dict[str, Any]:
    finite = samples[np.isfinite(samples)]
    if not len(finite):
        return {"low": None, "high": None, "method": method, "resamples": resamples}
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return {"low": float(low), "high": float(high), "method": method, "resamples": resamples}


def _row_weights(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """b resamples of n rows with replacement, as how often each row was drawn (b x n)."""
    draws = rng.integers(0, n, size=(b, n))
    offset = (np.arange(b) * n)[:, None]
    return np.bincount((draws + offset).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def classification(stats: m.ClassificationStats, resamples: int,
                   rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    n = stats.n
    p = stats.counts / n
    resamples = max(1, min(resamples, max(100, CELL_BUDGET // len(p))))  # huge label sets
    batch = max(1, min(resamples, 2_000_000 // max(1, len(p) + len(stats.labels))))
    collected: dict[str, list[np.ndarray]] = {name: [] for name in m.CLASSIFICATION}
    done = 0
    while done < resamples:
        b = min(batch, resamples - done)
        values = stats.resampled(rng.multinomial(n, p, size=b))
        for name, v in values.items():
            collected[name].append(v)
        done += b
    return {name: _interval(np.concatenate(v), "bootstrap", resamples)
            for name, v in collected.items()}


def generation(stats: m.GenerationStats, resamples: int,
               rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    n = stats.n
    resamples = max(1, min(resamples, max(ROW_MIN_RESAMPLES, ROW_BUDGET // n)))
    batch = max(1, 4_000_000 // n)
    bleu_stats = stats.bleu.astype(np.float64)
    chrf_stats = stats.chrf.astype(np.float64)
    per_row = np.column_stack([stats.rouge, stats.exact.astype(np.float64)])
    samples: dict[str, list[float]] = {name: [] for name in m.GENERATION}
    done = 0
    while done < resamples:
        b = min(batch, resamples - done)
        w = _row_weights(rng, n, b)
        bleu = np.rint(w @ bleu_stats)
        chrf = np.rint(w @ chrf_stats)
        means = (w @ per_row) / n
        for i in range(b):
            samples["bleu"].append(stats.bleu_score(bleu[i]))
            samples["chrf"].append(stats.chrf_score(chrf[i]))
        for j, name in enumerate((*m.ROUGE_TYPES, "exact_match")):
            samples[name].extend(means[:, j].tolist())
        done += b
    return {name: _interval(np.asarray(v), "bootstrap", resamples) for name, v in samples.items()}


def latency(values: np.ndarray, resamples: int,
            rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Intervals of the latency metrics. Large sets are reordered in place (see below)."""
    n = len(values)
    if n * resamples <= LATENCY_BUDGET:
        batch = max(1, 2_000_000 // n)
        samples: dict[str, list[np.ndarray]] = {name: [] for name in m.LATENCY}
        done = 0
        while done < resamples:
            b = min(batch, resamples - done)
            draws = values[rng.integers(0, n, size=(b, n))]
            samples["latency_mean_ms"].append(draws.mean(axis=1))
            for name, q in PERCENTILES.items():
                samples[name].append(np.percentile(draws, q, axis=1))
            done += b
        return {name: _interval(np.concatenate(v), "bootstrap", resamples)
                for name, v in samples.items()}
    out: dict[str, dict[str, Any]] = {}
    mean = float(np.mean(values))
    error = _std(values, mean) / np.sqrt(n)
    out["latency_mean_ms"] = {"low": mean - Z * error, "high": mean + Z * error,
                              "method": "normal", "resamples": 0}
    bounds: dict[str, tuple[int, int]] = {}
    for name, q in PERCENTILES.items():
        p = q / 100
        spread = Z * np.sqrt(n * p * (1 - p))
        lo = int(np.clip(np.floor(n * p - spread) - 1, 0, n - 1))
        hi = int(np.clip(np.ceil(n * p + spread), 0, n - 1))
        bounds[name] = (lo, hi)
    # the order statistics in place: a sorted copy would double the gate's largest array
    values.partition(sorted({i for pair in bounds.values() for i in pair}))
    for name, (lo, hi) in bounds.items():
        out[name] = {"low": float(values[lo]), "high": float(values[hi]),
                     "method": "order-statistic", "resamples": 0}
    return out


def _std(values: np.ndarray, mean: float) -> float:
    """The sample standard deviation (ddof=1), a block at a time: np.std would make a
    temporary as large as `values`."""
    squares = 0.0
    for start in range(0, len(values), STD_BLOCK):
        deviation = values[start:start + STD_BLOCK] - mean
        squares += float(np.dot(deviation, deviation))
    return float(np.sqrt(squares / (len(values) - 1)))


def error_rate(rows: int, errors: int, resamples: int,
               rng: np.random.Generator) -> dict[str, Any]:
    draws = rng.binomial(rows, errors / rows, size=resamples) / rows
    return _interval(draws, "bootstrap", resamples)


def compute(evaluation: m.Evaluation, resamples: int) -> dict[str, dict[str, Any]]:
    """Intervals for every metric that has row-level data behind it."""
    if resamples <= 0:
        return {}
    rng = np.random.default_rng(SEED)
    out: dict[str, dict[str, Any]] = {}
    if evaluation.classification is not None:
        out.update(classification(evaluation.classification, resamples, rng))
    if evaluation.generation is not None and evaluation.generation.n:
        out.update(generation(evaluation.generation, resamples, rng))
    if evaluation.latencies is not None and len(evaluation.latencies) > 1:
        out.update(latency(evaluation.latencies, resamples, rng))
    if "error_rate" in evaluation.metrics and evaluation.rows:
        out["error_rate"] = error_rate(evaluation.rows, evaluation.errors, resamples, rng)
    return out
