"""A warm-startable min-cost assignment with capacities and unmatched arcs.

The engine's pricing loop solves the same model many times, each time with
a few more arcs, and needs node potentials (dual prices) after every solve;
OR-Tools offers neither a warm start nor the potentials.
:class:`IncrementalAssignment` keeps the flow and the potentials between
rounds: new arcs that price out negative only disturb the children they
leave, and those are re-routed by shortest augmenting paths (Dijkstra on
reduced costs, :func:`matching._engine.paths.route`, where the model and
its potentials are described), so a round costs about as much as the change
it brings.

:meth:`IncrementalAssignment.load_solution` takes over a flow solved
elsewhere (the auction of :mod:`matching._engine.auction`, or OR-Tools, in the
rounds where re-routing row by row would be slow), with the solver's
potentials (checked by :meth:`IncrementalAssignment.residual_ok`) or
potentials of its own: shortest distances on the residual graph by a
queue-based Bellman-Ford, which also refuses a flow that is not optimal (a
negative cycle).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from matching._arrays import unique_ints
from matching._engine.kernel_cache import CACHE
from matching._engine.paths import (
    FlowArcs,
    FlowState,
    greedy_start,
    release_rows,
    residual_potentials,
    route,
)
from matching._engine.scan_kernels import in_model

__all__ = ["IncrementalAssignment"]


@nb.njit(cache=CACHE, nogil=True)
def _contains(
    keys: np.ndarray, row_ptr: np.ndarray, stride: int, ci: np.ndarray, mj: np.ndarray
) -> np.ndarray:
    """Whether each arc ``(ci, mj)`` is among ``keys`` (see :meth:`key_index`)."""
    out = np.zeros(ci.size, dtype=np.bool_)
    for e in range(ci.size):
        out[e] = in_model(keys, row_ptr, stride, ci[e], mj[e])
    return out


class IncrementalAssignment:
    """Min-cost assignment of rows to capacitated columns, re-solved as arcs
    are added.

    Parameters
    ----------
    n, m : int
        Rows and columns.
    caps : ndarray of int, shape (m,)
        Column capacities (>= 0).
    unm : ndarray of int, shape (n,)
        Cost of leaving each row unassigned (its arc to the sink).

    Notes
    -----
    Call :meth:`add_arcs`, then :meth:`solve`; repeat.  Arcs are never
    removed, and an arc ``(i, j)`` must not be added twice.  Costs are
    int64; the caller keeps every path cost well inside int64 (the model in
    :mod:`matching.match` guards ``(n + m + 2) * 4 * max cost < 2**61``).
    """

    def __init__(self, n: int, m: int, caps: np.ndarray, unm: np.ndarray) -> None:
        self.n, self.m = n, m
        self.caps = np.ascontiguousarray(caps, dtype=np.int64)
        self.unm = np.ascontiguousarray(unm, dtype=np.int64)
        self.slot_ptr = np.r_[0, np.cumsum(self.caps)].astype(np.int64)
        self.slot_child = np.full(int(self.slot_ptr[-1]), -1, dtype=np.int64)
        self.amentor = np.full(n, -2, dtype=np.int64)
        self.acost = np.zeros(n, dtype=np.int64)
        self.load = np.zeros(m, dtype=np.int64)
        self.out = np.zeros(m, dtype=np.int64)
        self.pi = np.zeros(n + m + 1, dtype=np.int64)
        self.tdef = 0
        self.work = np.zeros(2, dtype=np.int64)  # nodes finalised, searches
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._costs: list[np.ndarray] = []
        self._started = False
        self._seen = 0  # arcs [0, _seen) were in the model at the last solve
        self.ci = np.empty(0, dtype=np.int64)
        self.mj = np.empty(0, dtype=np.int64)
        self.cost = np.empty(0, dtype=np.int64)
        self._keys = np.empty(0, dtype=np.int64)  # row * m + col of every arc, sorted

    def _reset(self) -> None:
        self._started = False
        self.slot_child[:] = -1
        self.amentor[:] = -2
        self.acost[:] = 0
        self.load[:] = 0
        self.out[:] = 0
        self.pi[:] = 0
        self.tdef = 0

    def load_solution(self, assigned: np.ndarray, pi: np.ndarray | None = None) -> None:
        """Take over an optimal flow on every arc added so far: ``assigned``
        gives each row's column (-1: unmatched) and ``pi`` potentials with
        every residual reduced cost >= 0; without ``pi`` (the usual case)
        they are computed here (shortest paths on the residual graph,
        compiled).

        Raises
        ------
        ValueError
            If ``pi`` is not given and the flow is not optimal on these arcs
            (its residual graph has a negative cycle).
        """
        self._merge_pending()
        self._reset()
        self._started = True
        self._seen = self.ci.size
        on = np.flatnonzero(assigned >= 0)
        cols = assigned[on]
        keys = self.ci * max(self.m, 1) + self.mj
        order = np.argsort(keys, kind="stable")
        pos = order[np.searchsorted(keys[order], on * max(self.m, 1) + cols)]
        self.amentor[:] = -1
        self.amentor[on] = cols
        self.acost[on] = self.cost[pos]
        self.load[:] = np.bincount(cols, minlength=self.m)
        self.out[:] = self.load
        # each column's rows into its first slots
        by_col = np.argsort(cols, kind="stable")
        sc = cols[by_col]
        rank = np.arange(sc.size) - np.searchsorted(sc, sc)
        self.slot_child[self.slot_ptr[sc] + rank] = on[by_col]
        if pi is None:
            if not residual_potentials(self._flow_arcs(), self._state()):
                self._reset()
                raise ValueError("the flow given is not optimal on the arcs added")
            pi = self.pi
        self.pi[:] = pi - pi[self.n + self.m]

    def _merge_pending(self) -> None:
        """Append the arcs added since the last call to the arc list."""
        if self._rows:
            new = np.concatenate(
                [r * max(self.m, 1) + c for r, c in zip(self._rows, self._cols, strict=True)]
            )
            # two sorted runs (the new keys come by row, as each search
            # lists its children in turn): the stable sort merges them in
            # linear time, and sorts the sorted new keys fastest
            self._keys = np.sort(np.r_[self._keys, np.sort(new, kind="stable")], kind="stable")
            self.ci = np.concatenate([self.ci, *self._rows])
            self.mj = np.concatenate([self.mj, *self._cols])
            self.cost = np.concatenate([self.cost, *self._costs])
            self._rows, self._cols, self._costs = [], [], []

    def _flow_arcs(self) -> FlowArcs:
        """The model as the kernels take it, its arcs as compressed rows."""
        order = np.argsort(self.ci, kind="stable")
        col = np.ascontiguousarray(self.mj[order])
        cst = np.ascontiguousarray(self.cost[order])
        rp = np.searchsorted(self.ci[order], np.arange(self.n + 1)).astype(np.int64)
        return FlowArcs(self.n, self.m, rp, col, cst, self.unm, self.caps, self.slot_ptr)

    def _state(self) -> FlowState:
        """The flow and potentials as the kernels take them (the arrays themselves)."""
        return FlowState(self.slot_child, self.amentor, self.acost, self.load, self.out, self.pi)

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every arc added so far: rows, columns, costs (in the order added)."""
        self._merge_pending()
        return self.ci, self.mj, self.cost

    def contains(self, ci: np.ndarray, mj: np.ndarray) -> np.ndarray:
        """Which arcs ``(ci[k], mj[k])`` are in the model (a boolean mask)."""
        ci = np.ascontiguousarray(ci, dtype=np.int64)
        mj = np.ascontiguousarray(mj, dtype=np.int64)
        return _contains(*self.key_index(), ci, mj)

    def key_index(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Every arc's key ``row * stride + col`` (sorted), each row's start
        in them (n + 1 entries), and ``stride``."""
        self._merge_pending()
        stride = max(self.m, 1)
        row_ptr = np.searchsorted(self._keys, np.arange(self.n + 1, dtype=np.int64) * stride)
        return self._keys, row_ptr.astype(np.int64), stride

    def add_arcs(self, ci: np.ndarray, mj: np.ndarray, cost: np.ndarray) -> None:
        ci = np.asarray(ci, dtype=np.int64)
        mj = np.asarray(mj, dtype=np.int64)
        cost = np.asarray(cost, dtype=np.int64)
        self._rows.append(ci)
        self._cols.append(mj)
        self._costs.append(cost)

    def disturbed(self) -> int:
        """How many rows the arcs added since the last solve would take off
        their current arc (a negative reduced cost): the rows the next
        :meth:`solve` re-routes one by one (every row before the first)."""
        if not self._started:
            return self.n
        self._merge_pending()
        return int(self._disturbed_rows(self._seen).size)

    def _disturbed_rows(self, new: int) -> np.ndarray:
        ci, mj, cost = self.ci[new:], self.mj[new:], self.cost[new:]
        return unique_ints(ci[cost + self.pi[ci] - self.pi[self.n + mj] < 0])

    def solve(self) -> None:
        """Optimal flow on every arc added so far (potentials in :attr:`pi`)."""
        n, m = self.n, self.m
        self._merge_pending()
        new, self._seen = self._seen, self.ci.size
        arcs, state = self._flow_arcs(), self._state()
        if not self._started:
            self._started = True
            self.tdef = n - greedy_start(arcs, state)
        else:
            rows = self._disturbed_rows(new)
            if rows.size:
                self.tdef = release_rows(arcs, state, rows, self.tdef)
        queue = np.flatnonzero(self.amentor == -2).astype(np.int64)
        if queue.size:
            left = route(arcs, state, self.tdef, queue, self.work)
            if left < 0:  # pragma: no cover - see route
                raise RuntimeError("no augmenting path (internal error)")
            self.tdef = left
        # only differences matter: keep the numbers small (sink at 0)
        self.pi -= self.pi[n + m]

    @property
    def unmatched(self) -> np.ndarray:
        return self.amentor < 0

    def objective(self) -> int:
        on = self.amentor >= 0
        return int(self.acost[on].sum() + self.unm[~on].sum())

    def residual_ok(self) -> bool:
        """Check the proof of optimality: no residual arc has a negative
        reduced cost (an arc that carries flow is residual backwards)."""
        n, m, pi = self.n, self.m, self.pi
        t = n + m
        red = self.cost + pi[self.ci] - pi[n + self.mj]
        used = self.amentor[self.ci] == self.mj
        ok = bool((red[~used] >= 0).all() and (red[used] <= 0).all())
        un = self.amentor == -1
        ured = self.unm + pi[:n] - pi[t]
        ok &= bool((ured[~un] >= 0).all() and (ured[un] <= 0).all())
        cred = pi[n:t] - pi[t]
        ok &= bool((cred[self.load < self.caps] >= 0).all() and (cred[self.load > 0] <= 0).all())
        ok &= bool((self.amentor >= -1).all() and (self.load == self.out).all())
        return ok
