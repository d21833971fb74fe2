"""One float64 array that grows in place, for a value per row (latencies) of any number of rows.

Collecting a batch array per read and concatenating them at the end holds every value twice at
that moment (16 bytes a row). Here the array doubles its capacity with `ndarray.resize`, which is
`realloc`: a large block is moved by remapping its pages, not copied, and the capacity not yet
written is never touched, so it takes no memory. The gate holds 8 bytes a row, once.
"""

from __future__ import annotations

import numpy as np

INITIAL_CAPACITY = 1 << 16


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
