"""Reference oracles for the assignment-solver tests.

Written from the specification only, independently of ``matching.solve``:

- :func:`scipy_optimum` expands the capacitated / unmatched-cost problem into a
  plain rectangular assignment problem and hands it to
  ``scipy.optimize.linear_sum_assignment``;
- :func:`brute_force_optimum` enumerates every assignment of a tiny instance;
- :func:`permutation_optimum` enumerates the permutations of a small square
  matrix with exact Python integers (for the overflow tests);
- :func:`check_result` verifies every constraint of a returned assignment and
  returns its total cost.

The optimum functions return ``None`` when the instance is infeasible.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "brute_force_optimum",
    "check_result",
    "normalise",
    "permutation_optimum",
    "scipy_optimum",
]


def normalise(cost, capacities=None, unmatched_cost=None):
    """Return ``(cost, capacities, unmatched)`` as float / int / float-or-None arrays."""
    cost = np.array(cost, dtype=float)
    n, m = cost.shape
    if capacities is None:
        cap = np.ones(m, dtype=np.int64)
    else:
        cap = np.array(capacities, dtype=np.int64)
    if unmatched_cost is None:
        unmatched = None
    else:
        unmatched = np.broadcast_to(np.asarray(unmatched_cost, dtype=float), (n,)).copy()
    return cost, cap, unmatched


def scipy_optimum(cost, capacities=None, unmatched_cost=None):
    """Optimal total via scipy on the expanded matrix, or ``None`` if infeasible.

    Column ``j`` is replicated ``capacities[j]`` times.  With unmatched costs,
    ``n`` dummy columns are appended: dummy ``i`` costs ``unmatched_cost[i]`` in
    row ``i`` and is forbidden (inf) everywhere else, so every row is assigned
    (to a real column or to its own dummy) and scipy's rectangular semantics
    give exactly the "assigned + unmatched" objective.  Without unmatched costs,
    scipy's rectangular semantics (``min(n, sum(capacities))`` pairs) apply
    directly to the replicated matrix.
    """
    cost, cap, unmatched = normalise(cost, capacities, unmatched_cost)
    n, _ = cost.shape
    owner = np.repeat(np.arange(cost.shape[1]), cap)
    big = cost[:, owner]
    if unmatched is not None:
        dummy = np.full((n, n), np.inf)
        dummy[np.arange(n), np.arange(n)] = unmatched
        big = np.hstack([big, dummy])
    if big.size == 0:
        return 0.0
    try:
        r, c = linear_sum_assignment(big)
    except ValueError as exc:
        if "infeasible" in str(exc):
            return None
        raise
    return float(big[r, c].sum())


def brute_force_optimum(cost, capacities=None, unmatched_cost=None):
    """Optimal total by enumerating every assignment (tiny instances only)."""
    cost, cap, unmatched = normalise(cost, capacities, unmatched_cost)
    n, m = cost.shape
    want = min(n, int(cap.sum()))
    best = None
    for choice in itertools.product(range(-1, m), repeat=n):
        used = [c for c in choice if c >= 0]
        if unmatched is None and len(used) != want:
            continue
        counts = np.bincount(np.array(used, dtype=np.int64), minlength=m)
        if np.any(counts > cap):
            continue
        total = 0.0
        for i, c in enumerate(choice):
            if c >= 0:
                total += cost[i, c]
            elif unmatched is not None:
                total += unmatched[i]
        if math.isinf(total):
            continue
        if best is None or total < best:
            best = total
    return best


def permutation_optimum(cost):
    """Exact optimum (Python ints) of a small square integer matrix."""
    rows = [[int(v) for v in row] for row in np.asarray(cost).tolist()]
    n = len(rows)
    return min(sum(rows[i][p[i]] for i in range(n)) for p in itertools.permutations(range(n)))


def check_result(result, cost, capacities=None, unmatched_cost=None, *, sparse_arcs=None):
    """Assert every documented property of ``result`` and return its total cost.

    ``cost`` is the dense matrix (inf = forbidden).  ``sparse_arcs``, if given,
    is the set of allowed ``(row, col)`` pairs of the sparse formulation.
    The total is computed in the dtype of ``cost`` (exact for integers) plus
    the unmatched costs of the rows left out.
    """
    assert isinstance(result, tuple), type(result)
    assert len(result) == 2
    row_ind, col_ind = result
    assert isinstance(row_ind, np.ndarray)
    assert isinstance(col_ind, np.ndarray)
    assert row_ind.dtype == np.intp, row_ind.dtype
    assert col_ind.dtype == np.intp, col_ind.dtype
    assert row_ind.ndim == 1
    assert col_ind.ndim == 1
    assert row_ind.shape == col_ind.shape

    raw = np.asarray(cost)
    if raw.dtype.kind == "f":
        raw = raw.astype(np.float64)  # totals of float32 input in double precision
    fcost, cap, unmatched = normalise(raw, capacities, unmatched_cost)
    n, m = fcost.shape
    k = row_ind.size
    if k:
        assert row_ind.min() >= 0
        assert row_ind.max() < n
        assert col_ind.min() >= 0
        assert col_ind.max() < m
    # sorted by row, each row at most once
    assert np.all(np.diff(row_ind) > 0), row_ind
    counts = np.bincount(col_ind, minlength=m)
    assert np.all(counts <= cap), (counts, cap)
    assert np.all(np.isfinite(fcost[row_ind, col_ind])), "a forbidden cell was used"
    if sparse_arcs is not None:
        for r, c in zip(row_ind.tolist(), col_ind.tolist(), strict=True):
            assert (r, c) in sparse_arcs, f"({r}, {c}) is not an allowed arc"

    if unmatched is None:
        assert k == min(n, int(cap.sum())), (k, n, cap)
        return raw[row_ind, col_ind].sum() if k else 0
    left = np.ones(n, dtype=bool)
    left[row_ind] = False
    assert np.all(np.isfinite(unmatched[left])), "a row with inf unmatched cost was left out"
    assigned = raw[row_ind, col_ind].sum() if k else 0
    return assigned + unmatched[left].sum()
