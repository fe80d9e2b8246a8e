"""Array helpers shared by the solver modules."""

from __future__ import annotations

import numpy as np

__all__ = ["unique_ints"]


def unique_ints(x: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array, as ``np.unique(x)``.

    By one sort and a comparison of neighbours: numpy 2's ``np.unique``
    takes a hash-table path for integers that is far slower on large arrays
    of mostly distinct values (576,000 int64 keys on the benchmark machine:
    0.37-0.44 s against 0.01 s; see ``benchmarks/README.md``).
    """
    s = np.sort(np.asarray(x).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
