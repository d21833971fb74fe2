"""One float64 array that grows in place, for a value per row (latencies) of any number of rows.

Collecting a batch array per read and concatenating them at the end holds every value twice at
that moment (16 bytes a row). Here the array doubles its capacity with `ndarray.resize`, which is
`realloc`: a large block is moved by remapping its pages, not copied, and the capacity not yet
written is never touched, so it takes no memory. The gate holds 8 bytes a row, once.
"""

from __future__ import annotations

import numpy as np

INITIAL_CAPACITY = 1 << 16
PERCENTILES = {"latency_p50_ms": 50, "latency_p95_ms": 95, "latency_p99_ms": 99}


class FloatColumn:
    """Append float64 arrays; `finish()` returns them as one array, in order."""

    def __init__(self) -> None:
        self._values = np.empty(INITIAL_CAPACITY, dtype=np.float64)
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def extend(self, values: np.ndarray) -> None:
        needed = self._used + len(values)
        capacity = len(self._values)
        if needed > capacity:
            while capacity < needed:
                capacity *= 2
            # no other reference to the array exists: it is only handed out by finish()
            self._values.resize(capacity, refcheck=False)
        self._values[self._used:needed] = values
        self._used = needed

    def finish(self) -> np.ndarray:
        """The values so far as one array (this column's memory, trimmed to size, no copy).
        The column is empty afterwards."""
        values = self._values
        values.resize(self._used, refcheck=False)
        self._values = np.empty(INITIAL_CAPACITY, dtype=np.float64)
        self._used = 0
        return values


def latency_values(latencies: np.ndarray) -> dict[str, float]:
    """Mean and percentiles. Reorders `latencies` in place: numpy's percentile partitions its
    input, and a copy of the gate's largest array would double its memory. The mean comes
    first, over the rows in file order (its pairwise sum depends on the order); a percentile
    does not depend on it."""
    out = {"latency_mean_ms": float(np.mean(latencies))}
    for name, q in PERCENTILES.items():
        out[name] = float(np.percentile(latencies, q, overwrite_input=True))
    return out
