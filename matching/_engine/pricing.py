"""The pricing loop and its proof of optimality.

Only pairs that break a hard rule are left out of the model, so the sparse
result is the optimum over every allowed pair.  For speed, the solver first
works on a small subset of the allowed arcs and then proves, with node
potentials (linear-programming dual prices), that no arc outside the subset
could lower the total.  An arc can only do so within a radius of its child
that the potentials bound (:mod:`matching._engine.arcs`), so the proof
searches those radii instead of listing every allowed pair; arcs that fail
join the model and it is solved again (:func:`priced_lazy`).

The model's flow and potentials are kept between rounds and re-optimised
around the new arcs (:mod:`matching._engine.flow`); an exact auction
(:mod:`matching._engine.auction`) solves afresh the rounds where that would
be slow.  While the model still pairs more children each round, the
children whose potentials carry the unmatched price get only their nearest
few arcs per search (those rounds prove nothing).  Once the count is
settled, the grid scan keeps each child's few suspects with the lowest
reduced cost and bounds the reduced cost of every pair it leaves out; the
proof then needs no kept suspect below zero and no child whose left-out
pairs could be (otherwise that child's list is made complete), so it is
still complete.  A child's list is kept between rounds while the potentials
have moved too little to change it, so later searches cover only the
children whose lists went stale.  Small matches start with a rough auction
whose prices only guide the first search; only exact rounds may end in a
proof.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from matching._engine.arcs import all_arcs, nearest_arcs, suspects, suspects_grid
from matching._engine.problem import Arcs, MatchProblem, join_arcs
from matching.solve import Circulation, circulation, max_pairs_circulation, solve_assignment

if TYPE_CHECKING:  # imported where used: numba is slow to import
    from matching._engine.flow import IncrementalAssignment

__all__ = ["Solution", "priced_lazy", "solve_all", "solve_problem"]

Solution = tuple[np.ndarray, np.ndarray, np.ndarray]
"""The paired children, their mentors, and a mask of the unmatched children."""


def solve_problem(p: MatchProblem, method: str, stats: dict[str, Any]) -> Solution:
    """Solve the problem by ``method`` (``"sparse"`` or ``"dense"``); the
    solver's statistics go to ``stats``."""
    if method == "dense":
        return _solve_dense(p, stats)
    small = p.n * p.m <= p.tuning.pricing_min_pairs
    if p.config.k_nearest is not None or small or p.n == 0 or p.m == 0:
        return solve_all(p, stats)
    return priced_lazy(p, stats)


def _solve_dense(p: MatchProblem, stats: dict[str, Any]) -> Solution:
    """The full matrix, and the unmatched price carried as a cost (an
    independent route to the same optimum as the sparse path)."""
    ci, mj, km = all_arcs(p)
    dense = np.full((p.n, p.m), np.inf)
    dense[ci, mj] = p.arc_cost(ci, mj, km)
    r_ind, c_ind = solve_assignment(
        dense, capacities=p.capacity, unmatched_cost=p.unmatched_arc, scale=1
    )
    unmatched = np.ones(p.n, dtype=bool)
    unmatched[r_ind] = False
    stats.update(candidate_arcs=int(ci.size), rounds=1, model_arcs=p.n * p.m, proven=True)
    return r_ind.astype(np.int64), c_ind.astype(np.int64), unmatched


def _model_solve(p: MatchProblem, ci: np.ndarray, mj: np.ndarray, arc: np.ndarray) -> Circulation:
    if p.config.objective == "max_pairs":
        return max_pairs_circulation(ci, mj, arc, p.n, p.m, p.capacity)
    return circulation(ci, mj, arc, p.n, p.m, p.capacity, p.unmatched_arc, np.ones(p.n, bool))


def solve_all(p: MatchProblem, stats: dict[str, Any]) -> Solution:
    """One solve over every allowed arc (small problems, and the fallback)."""
    ci, mj, km = all_arcs(p)
    sol = _model_solve(p, ci, mj, p.arc_cost(ci, mj, km))
    assert sol.arc_flow is not None
    on = sol.arc_flow > 0
    stats.update(candidate_arcs=int(ci.size), model_arcs=int(ci.size), proven=True)
    stats.setdefault("rounds", 1)
    return ci[on], mj[on], sol.unmatched


def fresh_solve(
    p: MatchProblem, ci: np.ndarray, mj: np.ndarray, arc: np.ndarray, *, auction: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Solve the model from scratch: each child's mentor (-1: unmatched),
    and potentials that should prove it (None: the flow finds its own).

    By the auction (:mod:`matching._engine.auction`), or by OR-Tools where
    the auction's scaled costs would not fit in int64 or ``auction`` is
    False.  The flow that takes it over checks the proof (see
    :func:`take_fresh`).
    """
    if auction:
        from matching._engine.auction import auction_assign

        got = auction_assign(p.n, p.m, p.capacity, p.unmatched_arc, ci, mj, arc)
        if got is not None:
            return got[0], got[1]
    sol = _model_solve(p, ci, mj, arc)
    assert sol.arc_flow is not None  # every child has its unmatched arc
    on = sol.arc_flow > 0
    assigned = np.full(p.n, -1, dtype=np.int64)
    assigned[ci[on]] = mj[on]
    return assigned, None


def take_fresh(p: MatchProblem, flow: IncrementalAssignment) -> None:
    """Solve the flow's model afresh and hand the result to the flow with a
    checked proof of optimality: the solver's potentials if they pass
    :meth:`~matching._engine.flow.IncrementalAssignment.residual_ok`, else the
    flow's own (Bellman-Ford, which refuses a flow that is not optimal).
    A refused answer from the auction goes to OR-Tools, and one from
    OR-Tools (which would be a solver bug) to the flow's own solve."""
    for auction in (True, False):
        assigned, pi = fresh_solve(p, *flow.arcs(), auction=auction)
        if pi is not None:
            flow.load_solution(assigned, pi)
            if flow.residual_ok():
                return
        try:
            flow.load_solution(assigned)
            return
        except ValueError:
            continue
    flow.solve()  # the flow was left empty: from scratch


def _grow(
    p: MatchProblem,
    flow: IncrementalAssignment,
    xi: np.ndarray,
    xj: np.ndarray,
    xarc: np.ndarray,
    red: np.ndarray,
) -> None:
    """Add priced arcs to the model: per child and per mentor, the few with
    the lowest reduced cost below the margin (the negative ones, which decide
    optimality, and nearly tight ones, which would likely turn negative after
    the next solve).  The arcs given are all outside the model."""
    from matching._engine.scan import smallest_per_group

    add_k = p.tuning.pricing_add
    near = np.flatnonzero(red < p.tuning.margin_units)
    pick = smallest_per_group(xi[near], red[near], add_k)
    smallest_per_group(xj[near], red[near], add_k, keep=pick)
    add = near[pick]
    flow.add_arcs(xi[add], xj[add], xarc[add])


class _Pricing:
    """The state of :func:`priced_lazy` between rounds.

    ``kept`` holds every child's kept suspects (child, mentor, km, cost);
    ``snaps`` the potentials each list was made under (``snap[i]`` indexes
    them, -1: no list); ``drop[i]`` bounds how far below its list's bound a
    pair child ``i`` left out may be (-inf: it left none out)."""

    def __init__(self, p: MatchProblem, stats: dict[str, Any]) -> None:
        from matching._engine.flow import IncrementalAssignment

        t = p.tuning
        self.p, self.stats, self.n = p, stats, p.n
        ci, mj, km = nearest_arcs(p, t.pricing_k, t.pricing_km, t.pricing_kc)
        self.flow = IncrementalAssignment(p.n, p.m, p.capacity, p.unmatched_arc)
        self.flow.add_arcs(ci, mj, p.arc_cost(ci, mj, km))
        self.checked = self.searches = self.settled = 0
        empty = np.empty(0, dtype=np.int64)
        self.kept: tuple[np.ndarray, ...] = (empty, empty, np.empty(0), empty)
        self.snaps: list[np.ndarray] = []
        self.snap = np.full(p.n, -1, dtype=np.int64)
        self.drop = np.full(p.n, -np.inf)
        self.prev_unmatched = p.n + 1
        self.grid = p.planar_grid()
        self.most = min(p.n, int(p.capacity.sum()))  # no model pairs more
        self.rough_used = False
        self.want_complete = np.ones(p.n, dtype=bool)

    def suspects(
        self,
        d: np.ndarray,
        extra_km: float,
        hot: np.ndarray | None = None,
        only: np.ndarray | None = None,
    ) -> Arcs:
        """The complete suspect search, on the grid where there is one."""
        if self.grid is None:
            return suspects(self.p, d, extra_km, hot=hot, only=only)
        return suspects_grid(self.p, self.grid, d, extra_km, hot=hot, only=only)

    def solve_round(self, rnd: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Solve the model: potentials, the unmatched mask, and whether the
        round was rough.

        The flow is re-routed around the arcs just added, except right after
        a settling round (its arcs join unmatched children to crowded
        mentors, which re-routing would search child by child), when the new
        arcs would take most children off their arcs, and in the first
        round: those are solved afresh.  The first round of a small match is
        a rough auction, whose prices guide the first search and prove
        nothing; the flow stays empty, so the next round solves afresh."""
        p, t, flow, n = self.p, self.p.tuning, self.flow, self.n
        got = None
        if rnd == 1 and 0 < n <= t.rough_max_children and t.rough_units > 0:
            from matching._engine.auction import auction_assign

            got = auction_assign(
                n, p.m, p.capacity, p.unmatched_arc, *flow.arcs(),
                stop_units=t.rough_units, exact=False,
            )  # fmt: skip
        if got is not None:
            self.rough_used = True
            return got[1], got[0] < 0, True
        fresh = self.settled and self.settled == rnd - 1
        if fresh or flow.disturbed() > t.fresh_share * n:
            take_fresh(p, flow)
        else:
            flow.solve()
        return flow.pi.copy(), flow.unmatched, False  # the kept lists keep d; the flow moves on

    def settle(self, d: np.ndarray, unmatched: np.ndarray) -> bool:
        """A settling round, where the model still pairs more children.

        A child the model leaves unmatched -- and every child joined to one
        by alternating paths -- has a potential that carries the unmatched
        price, so nearly every arc in its reach looks negative.  Such "hot"
        children get only their nearest few mentors per search (the list is
        incomplete, so this round proves nothing), enough to open the
        augmenting paths; once the count stops falling, or reaches its
        ceiling, the complete search runs and the proof follows.  False
        where the count is settled."""
        p, n, m = self.p, self.n, self.p.m
        n_unmatched = int(unmatched.sum())
        settling = (
            p.cardinality_price > 0
            and 0 < n_unmatched < self.prev_unmatched
            and n - n_unmatched < self.most
        )
        self.prev_unmatched = n_unmatched
        if not settling:
            return False
        self.settled += 1
        hot = unmatched | (d[:n] <= d[n + m] - p.cardinality_price // 2)
        if self.grid is None:
            xi, xj, xk = self.suspects(d, 0.0, hot=hot)
        else:
            # this round proves nothing, so the other children need only
            # their best few suspects too, not the complete list
            best0 = (self.flow.key_index(), np.full(n, -np.inf))
            xi, xj, xk = suspects_grid(p, self.grid, d, 0.0, hot=hot, best=best0)
        out = ~self.flow.contains(xi, xj)
        xi, xj, xk = xi[out], xj[out], xk[out]
        xarc = p.arc_cost(xi, xj, xk)
        self.checked += int(xi.size)
        self.searches += 1
        _grow(p, self.flow, xi, xj, xarc, xarc + d[xi] - d[n + xj])
        return True

    def drift(self, d: np.ndarray) -> np.ndarray:
        """How far each child's list bound may have moved since its list was
        made (inf: no list).

        A list made under potentials d0 with every bound widened by E stays
        usable under d while none of its bounds grows by more than E: the
        bound of arc (i, j) moves by res * ((d - d0)[j] - (d - d0)[i]), at
        most res * (max over mentors of (d - d0) - (d - d0)[i])."""
        n, m, res = self.n, self.p.m, self.p.resolution_km
        drift = np.full(n, np.inf)
        for s_id, d0 in enumerate(self.snaps):
            own = self.snap == s_id
            if own.any():
                dd = d - d0
                drift[own] = res * (float(dd[n : n + m].max()) - dd[:n][own])
        return drift

    def search_again(self, d: np.ndarray, stale: np.ndarray) -> None:
        """New suspect lists under ``d`` for the ``stale`` children (a mask):
        complete lists where ``want_complete``, best lists (on the grid) for
        the others; ``drop`` is updated for all of them."""
        p, extra_km = self.p, self.p.tuning.suspect_extra_km
        self.snaps.append(d)
        self.snap[stale] = len(self.snaps) - 1
        full = stale & self.want_complete
        part = stale & ~self.want_complete
        self.drop[stale] = -np.inf
        out = []
        if full.any():
            out.append(self.suspects(d, extra_km, only=full))
        if part.any():
            assert self.grid is not None  # best lists only on the grid
            fresh_drop = np.full(p.n, -np.inf)
            best = (self.flow.key_index(), fresh_drop)
            out.append(suspects_grid(p, self.grid, d, extra_km, best=best, only=part))
            self.drop[part] = fresh_drop[part]
        fi, fj, fk = join_arcs(out)
        keep = ~stale[self.kept[0]]
        fresh = (fi, fj, fk, p.arc_cost(fi, fj, fk))
        self.kept = tuple(
            np.concatenate([old[keep], new]) for old, new in zip(self.kept, fresh, strict=True)
        )
        self.checked += int(fi.size)
        self.searches += 1

    def priced(self, d: np.ndarray) -> tuple[np.ndarray, ...]:
        """The kept suspects outside the model below the margin, with their
        arc costs and reduced costs under ``d``: ``(i, j, arc, reduced)``."""
        n = self.n
        xi, xj, _, xarc = self.kept
        # the arcs already in the model say nothing: left out
        near = np.flatnonzero(xarc + d[xi] - d[n + xj] < self.p.tuning.margin_units)
        near = near[~self.flow.contains(xi[near], xj[near])]
        xi, xj, xarc = xi[near], xj[near], xarc[near]
        return xi, xj, xarc, xarc + d[xi] - d[n + xj]

    def prove(self, d: np.ndarray, rough: bool) -> tuple[np.ndarray, ...] | None:
        """Search the stale lists until a kept suspect is negative (its arcs
        ``(i, j, arc, reduced)`` returned, to grow the model) or the
        potentials are proven optimal (None).

        Once the number of pairs is settled, a search on the grid keeps only
        each child's best few suspects outside the model: a round adds at
        most a few per child anyway, and the bound, tightened as a child's
        best list fills, skips most of the pairs a complete list would
        measure.  The proof needs no kept suspect below zero and no child
        that may hide one (its left-out pairs within its ``drop``), else that
        child's complete list decides."""
        t, n = self.p.tuning, self.n
        self.want_complete = np.full(n, self.grid is None or t.best_k <= 0)
        while True:
            drift = self.drift(d)
            stale = drift > t.suspect_extra_km
            if stale.sum() > t.rescan_share * n:
                stale[:] = True  # fresh lists for all: better arcs to add
            if stale.any():
                self.search_again(d, stale)
                drift[stale] = 0.0
            priced = self.priced(d)
            if (priced[3] < 0).any() or rough:
                return priced  # rough potentials prove nothing: an exact solve next
            # rounding: a negative pair has half a unit more room than the
            # bound's slack; half a unit more against float error
            hide = self.drop + drift > t.suspect_extra_km + self.p.resolution_km
            if not hide.any():
                return None
            # their best lists under these potentials, or where that was
            # it, their complete lists
            self.want_complete |= hide & (drift == 0.0)
            self.snap[hide] = -1

    def run(self) -> Solution:
        """The pricing rounds until a proof; every allowed arc if none comes."""
        max_rounds = self.p.tuning.max_pricing_rounds
        for rnd in range(1, max_rounds + 1):
            d, unmatched, rough = self.solve_round(rnd)
            if self.settle(d, unmatched):
                continue
            priced = self.prove(d, rough)
            if priced is None:
                self.stats.update(
                    rounds=rnd,
                    model_arcs=int(self.flow.arcs()[0].size),
                    checked_arcs=self.checked,
                    suspect_searches=self.searches,
                    settling_rounds=self.settled,
                    grid_search=self.grid is not None,
                    rough_first_round=self.rough_used,
                    proven=True,
                )
                paired = np.flatnonzero(~unmatched)
                return paired, self.flow.amentor[paired], unmatched
            _grow(self.p, self.flow, *priced)
        self.stats["rounds"] = max_rounds + 1
        return solve_all(self.p, self.stats)


def priced_lazy(p: MatchProblem, stats: dict[str, Any]) -> Solution:
    """Pricing without listing every allowed arc (see the module docstring)."""
    return _Pricing(p, stats).run()
