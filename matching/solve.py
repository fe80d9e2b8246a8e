"""Assignment solvers: pure functions over arrays.

Two public functions, in the manner of :func:`scipy.optimize.linear_sum_assignment`:

- :func:`solve_assignment` over a dense cost matrix (``np.inf`` = forbidden);
- :func:`solve_sparse_assignment` over a list of allowed arcs.

Both solve a *capacitated* assignment with an optional price for leaving a row
unassigned, as a min-cost flow with OR-Tools.  Costs are solved as integers:
see :func:`integer_costs` for the scaling rule, its precision and the overflow
guard.

Internal helpers used by :func:`matching.match` live here too: the flow model
in circulation form (:func:`circulation`) and its maximum-pairs variant
(:func:`max_pairs_circulation`).  The node potentials that prove an arc left
out of a model cannot improve it come from :mod:`matching._engine.flow`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from matching._arrays import unique_ints
from matching.errors import InfeasibleError, InputError

__all__ = ["integer_costs", "solve_assignment", "solve_sparse_assignment"]

# OR-Tools' cost-scaling algorithm multiplies every cost by (number of nodes + 1)
# and sums costs along paths; keep the largest scaled cost times that factor,
# times a safety margin of 4, below 2**63.
_INT64_SAFE = 2**61
_MAX_AUTO_SCALE = 10**9


def integer_costs(
    values: np.ndarray, *, n_nodes: int, scale: float | None = None
) -> tuple[np.ndarray, float]:
    """Convert finite costs to int64 for the flow solver.

    Parameters
    ----------
    values : ndarray
        Finite costs (any sign).
    n_nodes : int
        Number of nodes of the flow network the costs go into (for the
        overflow guard).
    scale : float, optional
        Multiply by this and round to the nearest integer.  By default 1 when
        every value is integral, else the largest power of ten up to ``1e9``
        that keeps clear of overflow.

    Returns
    -------
    icost : ndarray of int64
    scale : float
        The factor used.  Each cost is off by at most ``0.5 / scale``, so an
        assignment of ``k`` pairs that is optimal for the rounded costs is
        within ``k / scale`` of the true optimum (exact for integral input
        with ``scale=1``).

    Raises
    ------
    InputError
        If the scaled costs would overflow the solver's 64-bit arithmetic.
    """
    limit = _INT64_SAFE // max(n_nodes + 1, 2) // 4
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer) and scale in (None, 1, 1.0):
        # integers are taken exactly, never through float64 (which is exact
        # only up to 2**53)
        ints = values.astype(np.int64)
        peak = int(np.max(np.abs(ints))) if ints.size else 0
        if peak > limit:
            raise InputError(
                f"cost values too large for exact integer flow: max |cost| = {peak} would "
                f"overflow 64-bit arithmetic (limit {limit:.3g}); rescale the costs"
            )
        return ints, 1.0
    values = values.astype(np.float64)
    max_abs = float(np.max(np.abs(values))) if values.size else 0.0
    if scale is None:
        if values.size == 0 or bool(np.all(values == np.round(values))):
            scale = 1.0
        else:
            scale = float(_MAX_AUTO_SCALE)
            while scale > 1 and max_abs * scale > limit:
                scale /= 10.0
    elif not (np.isfinite(scale) and scale > 0):
        raise InputError(f"The 'scale' parameter must be a positive finite number, got {scale!r}.")
    if max_abs * scale > limit:
        raise InputError(
            f"cost values too large for exact integer flow: max |cost| = {max_abs:g} "
            f"at scale {scale:g} would overflow 64-bit arithmetic (limit {limit:.3g}); "
            "rescale the costs"
        )
    return np.rint(values * scale).astype(np.int64), scale


# ---------------------------------------------------------------------------
# validation at the public boundary


def _check_capacities(capacities: object, m: int) -> np.ndarray:
    if capacities is None:
        return np.ones(m, dtype=np.int64)
    caps = np.asarray(capacities)
    if caps.ndim != 1 or caps.shape[0] != m:
        raise InputError(
            f"The 'capacities' parameter must be a 1-D array of length {m} (one per column), "
            f"got shape {caps.shape}."
        )
    if caps.size and not np.issubdtype(caps.dtype, np.number):
        raise InputError("The 'capacities' parameter must hold non-negative integers.")
    capf = caps.astype(np.float64)
    if caps.size and (not np.all(np.isfinite(capf)) or np.any(capf != np.round(capf))):
        raise InputError("The 'capacities' parameter must hold non-negative integers.")
    if caps.size and np.any(capf < 0):
        j = int(np.flatnonzero(capf < 0)[0])
        raise InputError(
            f"The 'capacities' parameter must hold non-negative integers, got {capf[j]:g} "
            f"at column {j}."
        )
    return capf.astype(np.int64)


def _check_unmatched(unmatched_cost: object, n: int) -> np.ndarray | None:
    if unmatched_cost is None:
        return None
    u = np.asarray(unmatched_cost, dtype=np.float64) if not _is_str(unmatched_cost) else None
    if u is None:
        raise InputError("The 'unmatched_cost' parameter must be numeric.")
    if u.ndim == 0:
        u = np.full(n, float(u))
    if u.ndim != 1 or u.shape[0] != n:
        raise InputError(
            f"The 'unmatched_cost' parameter must be a scalar or a 1-D array of length {n} "
            f"(one per row), got shape {u.shape}."
        )
    if np.any(np.isnan(u)) or np.any(u == -np.inf):
        raise InputError("The 'unmatched_cost' parameter must not contain NaN or -inf.")
    return u


def _is_str(x: object) -> bool:
    return isinstance(x, (str, bytes))


def _check_cost_matrix(cost: object) -> np.ndarray:
    try:
        c = np.asarray(cost)
        if not np.issubdtype(c.dtype, np.integer):
            c = np.asarray(cost, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"The 'cost' parameter must be a numeric 2-D array: {exc}") from None
    if c.ndim != 2:
        raise InputError(f"The 'cost' parameter must be a 2-D array, got {c.ndim} dimension(s).")
    if np.issubdtype(c.dtype, np.integer):
        return c
    if np.any(np.isnan(c)):
        i, j = np.argwhere(np.isnan(c))[0]
        raise InputError(f"The 'cost' parameter contains NaN (at row {i}, column {j}).")
    if np.any(c == -np.inf):
        i, j = np.argwhere(c == -np.inf)[0]
        raise InputError(f"The 'cost' parameter contains -inf (at row {i}, column {j}).")
    return c


# ---------------------------------------------------------------------------
# public solvers


def solve_assignment(
    cost: object,
    *,
    capacities: object = None,
    unmatched_cost: object = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of rows to columns with column capacities.

    Parameters
    ----------
    cost : array_like, shape (n, m)
        ``cost[i, j]`` is the cost of assigning row ``i`` (a child) to column
        ``j`` (a mentor); ``np.inf`` forbids the pair.  NaN and ``-inf`` are
        rejected.
    capacities : array_like of int, shape (m,), optional
        Column ``j`` takes at most ``capacities[j]`` rows (default 1 each;
        0 makes a column unusable).
    unmatched_cost : float or array_like, shape (n,), optional
        Price of leaving row ``i`` unassigned; ``np.inf`` means row ``i``
        must be assigned.  By default (``None``) the assignment has exactly
        ``min(n, sum(capacities))`` pairs, as in scipy.
    scale : float, optional
        Integer scaling of the costs; see :func:`integer_costs`.

    Returns
    -------
    row_ind, col_ind : ndarray of intp
        The assigned pairs, sorted by row.  Each row appears at most once and
        column ``j`` at most ``capacities[j]`` times.  With integral costs the
        total ``cost[row_ind, col_ind].sum()`` (plus the unmatched costs of
        the rows left out) is the exact minimum; otherwise it is within
        ``len(row_ind) / scale`` of it.

    Raises
    ------
    InputError
        Malformed ``cost``, ``capacities``, ``unmatched_cost`` or ``scale``.
    InfeasibleError
        No assignment of the required kind exists ("cost matrix is
        infeasible").

    Notes
    -----
    Solved as a min-cost flow (OR-Tools ``SimpleMinCostFlow``); without
    ``unmatched_cost`` by its maximum-flow-with-minimum-cost mode.  The input
    is never modified and the result is deterministic.

    Examples
    --------
    >>> import numpy as np
    >>> from matching import solve_assignment
    >>> cost = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    >>> row, col = solve_assignment(cost)
    >>> col.tolist(), int(cost[row, col].sum())
    ([1, 0, 2], 5)
    >>> row, col = solve_assignment(cost, capacities=[0, 2, 1])
    >>> col.tolist(), int(cost[row, col].sum())
    ([1, 1, 2], 3)
    """
    c = _check_cost_matrix(cost)
    n, m = c.shape
    caps = _check_capacities(capacities, m)
    u = _check_unmatched(unmatched_cost, n)
    if np.issubdtype(c.dtype, np.integer):
        rows, cols = np.nonzero(np.ones(c.shape, dtype=bool))
    else:
        rows, cols = np.nonzero(np.isfinite(c))
    return _solve_arcs(rows, cols, c[rows, cols], n, m, caps, u, scale)


def solve_sparse_assignment(
    rows: object,
    cols: object,
    costs: object,
    *,
    shape: tuple[int, int],
    capacities: object = None,
    unmatched_cost: object = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment over a list of allowed arcs.

    The same problem as :func:`solve_assignment`, where the allowed pairs are
    given as arcs ``(rows[k], cols[k])`` with finite cost ``costs[k]``; every
    pair not listed is forbidden.

    Parameters
    ----------
    rows, cols : array_like of int, shape (k,)
        Row and column index of each arc; no pair may repeat.
    costs : array_like of float, shape (k,)
        Finite cost of each arc.
    shape : (int, int)
        ``(n, m)``: number of rows and columns.
    capacities, unmatched_cost, scale
        As in :func:`solve_assignment`.

    Returns
    -------
    row_ind, col_ind : ndarray of intp
        As in :func:`solve_assignment`.

    Examples
    --------
    >>> from matching import solve_sparse_assignment
    >>> solve_sparse_assignment([0, 0, 1], [0, 1, 1], [1.0, 2.0, 1.0], shape=(2, 2))
    (array([0, 1]), array([0, 1]))
    """
    try:
        n, m = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError, IndexError):
        raise InputError(f"The 'shape' parameter must be a pair (n, m), got {shape!r}.") from None
    if n < 0 or m < 0:
        raise InputError(f"The 'shape' parameter must be non-negative, got {shape!r}.")
    r = np.asarray(rows)
    cc = np.asarray(cols)
    w = np.asarray(costs)
    if not np.issubdtype(w.dtype, np.integer):
        w = np.asarray(costs, dtype=np.float64)
    for name, arr in (("rows", r), ("cols", cc), ("costs", w)):
        if arr.ndim != 1:
            raise InputError(f"The '{name}' parameter must be 1-D, got {arr.ndim} dimension(s).")
    if not (r.shape == cc.shape == w.shape):
        raise InputError(
            "The 'rows', 'cols' and 'costs' parameters must have the same length, got "
            f"{r.shape[0]}, {cc.shape[0]} and {w.shape[0]}."
        )
    for name, arr, hi in (("rows", r, n), ("cols", cc, m)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"The '{name}' parameter must hold integers, got dtype {arr.dtype}.")
        if arr.size and (arr.min() < 0 or arr.max() >= hi):
            raise InputError(f"The '{name}' parameter has an index outside 0..{hi - 1}.")
    if not np.all(np.isfinite(w)):
        raise InputError(
            "The 'costs' parameter must hold finite values (leave forbidden arcs out)."
        )
    r = r.astype(np.int64)
    cc = cc.astype(np.int64)
    key = r * max(m, 1) + cc
    if unique_ints(key).size != key.size:
        raise InputError("The 'rows' and 'cols' parameters repeat an arc (duplicated pair).")
    caps = _check_capacities(capacities, m)
    u = _check_unmatched(unmatched_cost, n)
    return _solve_arcs(r, cc, w, n, m, caps, u, scale)


def _solve_arcs(
    rows: np.ndarray,
    cols: np.ndarray,
    costs: np.ndarray,
    n: int,
    m: int,
    caps: np.ndarray,
    u: np.ndarray | None,
    scale: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    empty = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp))
    n_nodes = n + m + 2
    finite_u = None if u is None else np.isfinite(u)
    if u is None:
        values = costs
    elif (
        np.issubdtype(costs.dtype, np.integer)
        and np.all(u[finite_u] == np.round(u[finite_u]))
        and np.all(np.abs(u[finite_u]) < 2.0**53)
    ):
        values = np.concatenate([costs.astype(np.int64), u[finite_u].astype(np.int64)])
    else:
        values = np.concatenate([costs.astype(np.float64), u[finite_u]])
    ivalues, _ = integer_costs(values, n_nodes=n_nodes, scale=scale)
    icost = ivalues[: costs.size]
    if u is None:
        if n == 0 or m == 0 or int(caps.sum()) == 0:
            return empty
        flow = _max_flow_min_cost(rows, cols, icost, n, m, caps)
        if flow is None:
            raise InfeasibleError("cost matrix is infeasible")
    else:
        iu = np.full(n, -1, dtype=np.int64)
        assert finite_u is not None
        iu[finite_u] = ivalues[costs.size :]
        if n == 0:
            return empty
        flow = circulation(rows, cols, icost, n, m, caps, iu, finite_u).arc_flow
        if flow is None:
            raise InfeasibleError("cost matrix is infeasible")
    sel = np.flatnonzero(flow > 0)
    order = np.argsort(rows[sel], kind="stable")
    sel = sel[order]
    return rows[sel].astype(np.intp), cols[sel].astype(np.intp)


# ---------------------------------------------------------------------------
# flow models


def _new_flow() -> min_cost_flow.SimpleMinCostFlow:
    return min_cost_flow.SimpleMinCostFlow()


def _max_flow_min_cost(
    rows: np.ndarray, cols: np.ndarray, icost: np.ndarray, n: int, m: int, caps: np.ndarray
) -> np.ndarray | None:
    """Maximum-cardinality assignment of minimum cost; None if not min(n, sum caps)."""
    x, total = _max_flow(rows, cols, icost, n, m, caps)
    if x is None or total != min(n, int(caps.sum())):
        return None
    return x


def max_pairs_circulation(
    rows: np.ndarray, cols: np.ndarray, icost: np.ndarray, n: int, m: int, caps: np.ndarray
) -> Circulation:
    """The most pairs possible and, among those, the cheapest.

    The same optimum as :func:`circulation` with an unmatched price larger
    than any sum of arc costs, solved by OR-Tools' maximum flow with minimum
    cost, which is faster than carrying that price through cost scaling.
    """
    x, _ = _max_flow(rows, cols, icost, n, m, caps)
    if x is None:  # pragma: no cover - the source can always send zero flow
        return Circulation(None, np.ones(n, bool), np.zeros(m, np.int64))
    on = x > 0
    unmatched = np.ones(n, dtype=bool)
    unmatched[rows[on]] = False
    load = np.bincount(cols[on], minlength=m).astype(np.int64)
    return Circulation(x, unmatched, load)


def _max_flow(
    rows: np.ndarray, cols: np.ndarray, icost: np.ndarray, n: int, m: int, caps: np.ndarray
) -> tuple[np.ndarray | None, int]:
    f = _new_flow()
    src, snk = n + m, n + m + 1
    k = rows.size
    f.add_arcs_with_capacity_and_unit_cost(
        np.full(n, src, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        np.ones(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )
    first = n
    if k:
        f.add_arcs_with_capacity_and_unit_cost(
            rows.astype(np.int64), cols.astype(np.int64) + n, np.ones(k, dtype=np.int64), icost
        )
    f.add_arcs_with_capacity_and_unit_cost(
        np.arange(n, n + m, dtype=np.int64),
        np.full(m, snk, dtype=np.int64),
        caps.astype(np.int64),
        np.zeros(m, dtype=np.int64),
    )
    f.set_node_supply(src, n)
    f.set_node_supply(snk, -n)
    status = f.solve_max_flow_with_min_cost()
    if status != f.OPTIMAL:
        _raise_for_status(status)
        return None, 0
    x = f.flows(np.arange(first, first + k, dtype=np.int64)) if k else np.empty(0, np.int64)
    return x, int(f.maximum_flow())


def _raise_for_status(status: object) -> None:
    if status == min_cost_flow.SimpleMinCostFlow.BAD_COST_RANGE:
        raise InputError("cost values too large for exact integer flow (solver reports overflow)")
    if status in (
        min_cost_flow.SimpleMinCostFlow.BAD_RESULT,
        min_cost_flow.SimpleMinCostFlow.BAD_CAPACITY_RANGE,
    ):
        raise InputError(f"the flow solver rejected the problem (status {status})")


@dataclass(frozen=True)
class Circulation:
    """Optimal flow of the assignment in circulation form.

    Nodes are rows ``0..n-1``, columns ``n..n+m-1`` and the sink ``n+m``.
    Every row has supply 1 and leaves either through an arc to a column or
    through its own "unmatched" arc to the sink.
    """

    arc_flow: np.ndarray | None  # per given arc, 0/1; None if infeasible
    unmatched: np.ndarray  # bool per row
    load: np.ndarray  # int per column


def circulation(
    rows: np.ndarray,
    cols: np.ndarray,
    icost: np.ndarray,
    n: int,
    m: int,
    caps: np.ndarray,
    iu: np.ndarray,
    has_u: np.ndarray,
) -> Circulation:
    """Solve the assignment with unmatched arcs ``row -> sink`` at cost ``iu``.

    Rows where ``has_u`` is False have no unmatched arc and must be assigned.
    """
    f = _new_flow()
    snk = n + m
    k = rows.size
    if k:
        f.add_arcs_with_capacity_and_unit_cost(
            rows.astype(np.int64), cols.astype(np.int64) + n, np.ones(k, dtype=np.int64), icost
        )
    urows = np.flatnonzero(has_u).astype(np.int64)
    f.add_arcs_with_capacity_and_unit_cost(
        urows, np.full(urows.size, snk, dtype=np.int64), np.ones(urows.size, np.int64), iu[urows]
    )
    f.add_arcs_with_capacity_and_unit_cost(
        np.arange(n, n + m, dtype=np.int64),
        np.full(m, snk, dtype=np.int64),
        caps.astype(np.int64),
        np.zeros(m, dtype=np.int64),
    )
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = 1
    supplies[snk] = -n
    f.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64), supplies)
    status = f.solve()
    if status != f.OPTIMAL:
        _raise_for_status(status)
        return Circulation(None, np.zeros(n, bool), np.zeros(m, np.int64))
    x = f.flows(np.arange(k, dtype=np.int64)) if k else np.empty(0, np.int64)
    unmatched = np.zeros(n, dtype=bool)
    if urows.size:
        unmatched[urows] = f.flows(np.arange(k, k + urows.size, dtype=np.int64)) > 0
    load = np.bincount(cols[x > 0], minlength=m).astype(np.int64)
    return Circulation(x, unmatched, load)
