"""Latencies are held once, as one float64 array grown in place (8 bytes a row), and their
metrics and intervals are computed without copies of it: the values stay exactly numpy's
(mean over the rows in file order, linear percentiles), the intervals those of a sorted copy.
The memory itself is measured in benchmarks/gate_bench.py (scaling), not here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelship.gate import column, intervals, readers
from modelship.gate import metrics as m


def test_column_grows_in_place_and_keeps_every_value_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(column, "INITIAL_CAPACITY", 4)
    rng = np.random.default_rng(1)
    parts = [rng.random(int(n)) for n in rng.integers(0, 50, size=60)]
    col = column.FloatColumn()
    for part in parts:
        col.extend(part)
    assert len(col) == sum(len(p) for p in parts)
    values = col.finish()
    assert values.dtype == np.float64
    assert np.array_equal(values, np.concatenate(parts))
    assert len(col) == 0
    assert len(col.finish()) == 0


def test_latency_metrics_equal_numpy_exactly_across_many_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "BATCH_BYTES", 4096)  # many batches
    monkeypatch.setattr(column, "INITIAL_CAPACITY", 8)  # many doublings
    rng = np.random.default_rng(7)
    latencies = np.round(rng.lognormal(3, 0.7, 20_011), 3)
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"prediction": "a", "reference": "a", "latency_ms": x})
                            + "\n" for x in latencies.tolist()))
    source = readers.open_results(path, set(m.ALL))
    assert isinstance(source, readers.Rows)
    ev = m.evaluate(source.batches(), "classification")
    assert ev.metrics["latency_mean_ms"] == float(np.mean(latencies))
    for name, q in column.PERCENTILES.items():
        assert ev.metrics[name] == float(np.percentile(latencies, q)), name
    assert ev.latencies is not None
    assert np.array_equal(np.sort(ev.latencies), np.sort(latencies))  # reordered, all there


def test_large_latency_intervals_equal_those_of_a_sorted_copy() -> None:
    rng = np.random.default_rng(11)
    values = rng.lognormal(3, 0.5, 250_000)
    n = len(values)
    ordered = np.sort(values)
    mean = float(np.mean(values))
    error = float(np.std(values, ddof=1)) / np.sqrt(n)
    got = intervals.latency(values.copy(), 1000, np.random.default_rng(0))
    assert got["latency_mean_ms"]["method"] == "normal"
    assert got["latency_mean_ms"]["low"] == pytest.approx(mean - intervals.Z * error, rel=1e-12)
    assert got["latency_mean_ms"]["high"] == pytest.approx(mean + intervals.Z * error, rel=1e-12)
    for name, q in column.PERCENTILES.items():
        p = q / 100
        spread = intervals.Z * np.sqrt(n * p * (1 - p))
        lo = int(np.clip(np.floor(n * p - spread) - 1, 0, n - 1))
        hi = int(np.clip(np.ceil(n * p + spread), 0, n - 1))
        assert got[name] == {"low": float(ordered[lo]), "high": float(ordered[hi]),
                             "method": "order-statistic", "resamples": 0}, name
