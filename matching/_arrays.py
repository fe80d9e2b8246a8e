"""Array helpers shared by the solver modules."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sized
from typing import Any

import numpy as np

__all__ = ["distinct_codes", "unique_ints"]


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


def distinct_codes(values: Iterable[Hashable]) -> tuple[np.ndarray, list[Any]]:
    """Each value's index into the distinct values (in order of first
    appearance), and those values: one hash per value, so work done per
    distinct value is done once (roster cells repeat).  Raises TypeError on
    an unhashable value."""
    distinct: dict[Any, int] = {}
    items = values if isinstance(values, Sized) else list(values)
    codes = np.fromiter(
        (distinct.setdefault(value, len(distinct)) for value in items),
        dtype=np.int64,
        count=len(items),
    )
    return codes, list(distinct)
