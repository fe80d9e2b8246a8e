"""The auction behind the pricing loop's fresh solves (matching._engine.auction).

Checked against independent oracles: scipy's ``linear_sum_assignment`` on
the expanded matrix (tests/oracle.py), brute force on tiny cases, OR-Library
assign100 (optimum 305) and OR-Tools' maximum flow with minimum cost; and
every result must be taken by the flow's own proof of optimality
(``IncrementalAssignment.load_solution`` refuses a flow that is not
optimal).
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import brute_force_optimum, scipy_optimum
from test_flow import _dense, _random
from test_solve import load_orlib, orlib_path

from matching import MatchConfig, match
from matching._engine import pricing
from matching._engine.auction import auction_assign
from matching._engine.flow import IncrementalAssignment
from matching.datasets.synth import district
from matching.solve import max_pairs_circulation


def _total(assigned, n, m, ci, mj, cost, caps, unm):
    """The assignment's cost, after checking it is feasible."""
    assert assigned.shape == (n,)
    on = np.flatnonzero(assigned >= 0)
    assert (np.bincount(assigned[on], minlength=m) <= caps).all()
    arcs = dict(zip(zip(ci.tolist(), mj.tolist(), strict=True), cost.tolist(), strict=True))
    return sum(arcs[(int(i), int(assigned[i]))] for i in on) + int(unm[assigned < 0].sum())


def _proven(assigned, pi, n, m, ci, mj, cost, caps, unm):
    """The potentials returned prove the assignment optimal, and so does
    the flow's own Bellman-Ford (which raises if it is not)."""
    f = IncrementalAssignment(n, m, caps, unm)
    f.add_arcs(ci, mj, cost)
    f.load_solution(assigned, pi)
    assert f.residual_ok()
    f.load_solution(assigned)
    assert f.residual_ok()


@pytest.mark.parametrize("seed", range(120))
@pytest.mark.parametrize("stop_units", [0.0, 0.5, 4.0, 8.0])
def test_matches_scipy_oracle(seed, stop_units):
    _, n, m, ci, mj, cost, caps, unm = _random(seed)
    got = auction_assign(n, m, caps, unm, ci, mj, cost, stop_units=stop_units)
    assert got is not None
    assigned, pi, stats = got
    total = _total(assigned, n, m, ci, mj, cost, caps, unm)
    assert total == scipy_optimum(_dense(n, m, ci, mj, cost), caps, unm)
    _proven(assigned, pi, n, m, ci, mj, cost, caps, unm)
    assert stats["runs"] == 1  # the unmatched costs differ: no moderate stand-in


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("theta", [2, 4, 7])
def test_tiny_brute_force(seed, theta):
    _, n, m, ci, mj, cost, caps, unm = _random(1000 + seed, max_side=5)
    assigned, pi, _ = auction_assign(n, m, caps, unm, ci, mj, cost, theta=theta)
    total = _total(assigned, n, m, ci, mj, cost, caps, unm)
    _proven(assigned, pi, n, m, ci, mj, cost, caps, unm)
    assert total == brute_force_optimum(_dense(n, m, ci, mj, cost), caps, unm)


@pytest.mark.parametrize("seed", range(60))
def test_pairs_first_matches_ortools(seed):
    """A uniform unmatched price above any sum of arc costs (how match runs
    objective="max_pairs"): the same optimum as OR-Tools' maximum flow with
    minimum cost."""
    _, n, m, ci, mj, cost, caps, _ = _random(2000 + seed)
    cost = cost - cost.min()
    big = np.full(n, (min(n, int(caps.sum())) + 1) * (int(cost.max()) + 1), dtype=np.int64)
    assigned, pi, _ = auction_assign(n, m, caps, big, ci, mj, cost)
    ref = max_pairs_circulation(ci, mj, cost, n, m, caps)
    assert ref.arc_flow is not None
    assert int((assigned >= 0).sum()) == int((~ref.unmatched).sum())
    total = _total(assigned, n, m, ci, mj, cost, caps, big)
    assert total == int(cost[ref.arc_flow > 0].sum() + big[ref.unmatched].sum())
    _proven(assigned, pi, n, m, ci, mj, cost, caps, big)


def test_pairs_first_grows_the_stand_in():
    """The moderate stand-in for a huge uniform unmatched cost (2 * max arc
    cost + 2) leaves row 0 unmatched here, while pairing it too means moving
    every row along the chain (11 arcs of cost 10): the augmenting check
    must catch that and raise the stand-in until all 11 rows are paired."""
    k, t = 10, 10
    ci = [0]
    mj = [0]
    cost = [t]
    for i in range(1, k + 1):
        ci += [i, i]
        mj += [i - 1, i]
        cost += [0, t]
    ci, mj, cost = (np.array(x, dtype=np.int64) for x in (ci, mj, cost))
    n, m = k + 1, k + 1
    caps = np.ones(m, dtype=np.int64)
    big = np.full(n, 10**9, dtype=np.int64)
    assigned, pi, stats = auction_assign(n, m, caps, big, ci, mj, cost)
    assert (assigned >= 0).all()
    assert _total(assigned, n, m, ci, mj, cost, caps, big) == (k + 1) * t
    assert stats["runs"] >= 2
    _proven(assigned, pi, n, m, ci, mj, cost, caps, big)


def test_assign100():
    """OR-Library assign100 (optimum 305), every row to be assigned."""
    cost_matrix = load_orlib(orlib_path())
    n = cost_matrix.shape[0]
    ci, mj = np.divmod(np.arange(n * n), n)
    cost = cost_matrix.ravel().astype(np.int64)
    big = np.full(n, 10**6, dtype=np.int64)
    assigned, pi, _ = auction_assign(n, n, np.ones(n, np.int64), big, ci, mj, cost)
    assert (assigned >= 0).all()
    assert _total(assigned, n, n, ci, mj, cost, np.ones(n, np.int64), big) == 305
    _proven(assigned, pi, n, n, ci, mj, cost, np.ones(n, np.int64), big)


def test_edges_and_overflow():
    """No rows; rows without arcs; mentors of capacity 0; and costs whose
    scaled values would not fit (None: the caller solves another way)."""
    empty = np.empty(0, dtype=np.int64)
    assigned, _, _ = auction_assign(0, 2, np.ones(2, np.int64), empty, empty, empty, empty)
    assert assigned.size == 0
    unm = np.array([5, 7, 9], dtype=np.int64)
    caps = np.array([0, 1], dtype=np.int64)
    ci, mj, cost = np.array([0, 1]), np.array([0, 1]), np.array([1, 2])
    assigned, pi, _ = auction_assign(3, 2, caps, unm, ci, mj, cost)
    assert assigned.tolist() == [-1, 1, -1]
    _proven(assigned, pi, 3, 2, ci, mj, cost, caps, unm)
    huge = np.array([2**58, 1, 1], dtype=np.int64)
    assert auction_assign(3, 2, caps, huge, ci, mj, cost) is None


def test_match_falls_back_when_the_auction_is_wrong(monkeypatch):
    """A wrong answer from the auction is refused by the flow's proof and
    OR-Tools takes over: the result is the same optimum."""
    kids, mentors = district(1500, 1200, seed=4)
    cfg = MatchConfig()
    expected = match(kids, mentors, cfg)
    calls = []

    def wrong(n, m, caps, unm, ci, mj, cost, **kw):
        calls.append(n)
        return np.full(n, -1, dtype=np.int64), np.zeros(n + m + 1, dtype=np.int64), {}

    monkeypatch.setattr("matching._engine.auction.auction_assign", wrong)
    got = match(kids, mentors, cfg)
    assert calls  # the pricing loop asked the auction at least once
    assert got.metrics["objective_units"] == expected.metrics["objective_units"]
    # (equal optima may pair differently: the objective decides)
    assert got.metrics["n_pairs"] == expected.metrics["n_pairs"]


def test_auction_is_used_and_agrees_with_ortools(monkeypatch):
    """The same district matched with the auction and with OR-Tools for
    the fresh solves: the same optimum; and the auction's run repeats
    pair for pair."""
    kids, mentors = district(1500, 1200, seed=5)
    cfg = MatchConfig()
    with_auction = match(kids, mentors, cfg)
    original = pricing.fresh_solve
    monkeypatch.setattr(pricing, "fresh_solve", lambda *a, **kw: original(*a, auction=False))
    with_ortools = match(kids, mentors, cfg)
    assert with_auction.metrics["objective_units"] == with_ortools.metrics["objective_units"]
    assert with_auction.metrics["n_pairs"] == with_ortools.metrics["n_pairs"]
    monkeypatch.setattr(pricing, "fresh_solve", original)
    assert match(kids, mentors, cfg).pairs.equals(with_auction.pairs)


@pytest.mark.parametrize("seed", range(20))
def test_slot_arcs_layout(seed):
    """The compressed row -> slot layout against a plain reference: rows in
    order, each row's arcs in the order given, one entry per slot of the
    column (none for a column of capacity 0), the slot's cost the arc's."""
    from matching._engine.auction import _slot_arcs

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    caps = rng.integers(0, 4, m).astype(np.int64)
    keys = rng.choice(n * m, size=int(rng.integers(0, n * m + 1)), replace=False)
    ci, mj = (keys // m).astype(np.int64), (keys % m).astype(np.int64)
    cost = rng.integers(-5, 50, keys.size).astype(np.int64)
    rp, col, cst, slot_ptr = _slot_arcs(ci, mj, cost, caps, n)
    first = np.r_[0, np.cumsum(caps)]
    assert slot_ptr.tolist() == first.tolist()
    want_rows = [[] for _ in range(n)]
    for i, j, c in zip(ci.tolist(), mj.tolist(), cost.tolist(), strict=True):
        want_rows[i] += [(int(first[j]) + t, c) for t in range(int(caps[j]))]
    assert rp.tolist() == np.r_[0, np.cumsum([len(r) for r in want_rows])].tolist()
    got = list(zip(col.tolist(), cst.tolist(), strict=True))
    assert got == [x for r in want_rows for x in r]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("stop_units", [4.0, 36.0])
def test_rough_auction_is_feasible_and_close(seed, stop_units):
    """Stopped early without the exact finish: a feasible assignment whose
    cost is within about stop_units per row of the optimum, and potentials
    in the flow's layout (rows, columns, the sink at zero)."""
    _, n, m, ci, mj, cost, caps, unm = _random(seed)
    got = auction_assign(n, m, caps, unm, ci, mj, cost, stop_units=stop_units, exact=False)
    assert got is not None
    assigned, pi, stats = got
    total = _total(assigned, n, m, ci, mj, cost, caps, unm)  # checks feasibility
    best = scipy_optimum(_dense(n, m, ci, mj, cost), caps, unm)
    assert best <= total <= best + n * (stop_units + 1)
    assert pi.shape == (n + m + 1,) and pi[-1] == 0
    assert stats["routed"] == 0  # no exact finish
