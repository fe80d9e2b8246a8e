"""The warm-started assignment behind the pricing loop (matching._engine.flow).

Checked against independent oracles: scipy's ``linear_sum_assignment`` on
the expanded matrix (tests/oracle.py), brute force on tiny cases, OR-Library
assign100 (optimum 305), and OR-Tools' min-cost flow.  After every solve the
potentials must prove the flow optimal (``residual_ok``), which is what the
pricing loop relies on.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import brute_force_optimum, scipy_optimum
from test_solve import load_orlib, orlib_path

from matching._engine.flow import IncrementalAssignment
from matching.solve import circulation, max_pairs_circulation


@pytest.fixture(scope="module")
def assign100():
    return load_orlib(orlib_path())


def _random(seed: int, max_side: int = 25):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, max_side)), int(rng.integers(1, max_side))
    k = int(rng.integers(1, n * m + 1))
    key = rng.choice(n * m, size=k, replace=False)
    ci, mj = key // m, key % m
    cost = rng.integers(-5, 60, size=k).astype(np.int64)
    caps = rng.integers(0, 4, size=m).astype(np.int64)
    unm = rng.integers(0, 90, size=n).astype(np.int64)
    return rng, n, m, ci, mj, cost, caps, unm


def _dense(n, m, ci, mj, cost):
    full = np.full((n, m), np.inf)
    full[ci, mj] = cost
    return full


def _solve_in_chunks(rng, n, m, ci, mj, cost, caps, unm, chunks):
    f = IncrementalAssignment(n, m, caps, unm)
    for part in np.array_split(rng.permutation(ci.size), chunks):
        f.add_arcs(ci[part], mj[part], cost[part])
        f.solve()
        assert f.residual_ok()
    return f


def _check_feasible(f, n, m, ci, mj, cost, caps, unm):
    on = np.flatnonzero(f.amentor >= 0)
    load = np.bincount(f.amentor[on], minlength=m)
    assert (load <= caps).all()
    pairs = zip(ci.tolist(), mj.tolist(), strict=True)
    arcs = dict(zip(pairs, cost.tolist(), strict=True))
    total = sum(arcs[(int(i), int(f.amentor[i]))] for i in on) + int(unm[f.amentor < 0].sum())
    assert total == f.objective()
    return total


@pytest.mark.parametrize("seed", range(150))
@pytest.mark.parametrize("chunks", [1, 4])
def test_matches_scipy_oracle(seed, chunks):
    rng, n, m, ci, mj, cost, caps, unm = _random(seed)
    f = _solve_in_chunks(rng, n, m, ci, mj, cost, caps, unm, chunks)
    total = _check_feasible(f, n, m, ci, mj, cost, caps, unm)
    assert total == scipy_optimum(_dense(n, m, ci, mj, cost), caps, unm)


@pytest.mark.parametrize("seed", range(60))
def test_many_ties_match_scipy_oracle(seed):
    """Costs of 0-2 only: most arcs are tight, so the shortest-path searches
    finalise many nodes at one distance (the stack of ties in _route)."""
    rng, n, m, ci, mj, _, caps, unm = _random(5000 + seed, max_side=40)
    cost = rng.integers(0, 3, size=ci.size).astype(np.int64)
    unm = rng.integers(0, 4, size=n).astype(np.int64)
    f = _solve_in_chunks(rng, n, m, ci, mj, cost, caps, unm, 5)
    total = _check_feasible(f, n, m, ci, mj, cost, caps, unm)
    assert total == scipy_optimum(_dense(n, m, ci, mj, cost), caps, unm)


@pytest.mark.parametrize("seed", range(60))
def test_tiny_brute_force(seed):
    rng, n, m, ci, mj, cost, caps, unm = _random(1000 + seed, max_side=5)
    f = _solve_in_chunks(rng, n, m, ci, mj, cost, caps, unm, 3)
    total = _check_feasible(f, n, m, ci, mj, cost, caps, unm)
    assert total == brute_force_optimum(_dense(n, m, ci, mj, cost), caps, unm)


def test_assign100_arc_by_arc_rounds(assign100):
    """OR-Library assign100 (optimum 305), its arcs given in ten rounds."""
    n = 100
    ci, mj = np.divmod(np.arange(n * n), n)
    cost = assign100.ravel().astype(np.int64)
    big = np.full(n, 10**6, dtype=np.int64)  # every row must be assigned
    rng = np.random.default_rng(7)
    f = _solve_in_chunks(rng, n, n, ci, mj, cost, np.ones(n, np.int64), big, 10)
    assert not f.unmatched.any()
    assert f.objective() == 305


@pytest.mark.parametrize("seed", range(40))
def test_max_pairs_price_matches_ortools(seed):
    """With an unmatched price above any sum of arc costs (how match runs
    objective="max_pairs"), the same optimum as OR-Tools' max flow with
    minimum cost."""
    rng, n, m, ci, mj, cost, caps, _ = _random(2000 + seed)
    cost = cost - cost.min()
    big = np.full(n, (min(n, int(caps.sum())) + 1) * (int(cost.max()) + 1), dtype=np.int64)
    f = _solve_in_chunks(rng, n, m, ci, mj, cost, caps, big, 3)
    ref = max_pairs_circulation(ci, mj, cost, n, m, caps)
    assert ref.arc_flow is not None
    assert int((~f.unmatched).sum()) == int((~ref.unmatched).sum())
    assert f.objective() == int(cost[ref.arc_flow > 0].sum() + big[ref.unmatched].sum())


def _bellman_ford(a, b, c, assigned, n, m, caps, unm):
    """Reference potentials: plain Bellman-Ford on the residual graph of a
    flow, from a virtual root joined to every node at cost 0."""
    t = n + m
    load = np.bincount(assigned[assigned >= 0], minlength=m)
    arcs = []  # (tail, head, cost) of every residual arc
    for i, j, cost in zip(a.tolist(), b.tolist(), c.tolist(), strict=True):
        arcs.append((n + j, i, -cost) if assigned[i] == j else (i, n + j, cost))
    for i in range(n):
        arcs.append((t, i, -int(unm[i])) if assigned[i] < 0 else (i, t, int(unm[i])))
    for j in range(m):
        if load[j] < caps[j]:
            arcs.append((n + j, t, 0))
        if load[j] > 0:
            arcs.append((t, n + j, 0))
    d = [0] * (t + 1)
    for _ in range(t + 2):
        changed = False
        for u, v, cost in arcs:
            if d[u] + cost < d[v]:
                d[v] = d[u] + cost
                changed = True
        if not changed:
            return np.array(d, dtype=np.int64)
    raise AssertionError("negative cycle: the flow given is not optimal")


@pytest.mark.parametrize("own_potentials", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_load_solution_then_warm_start(seed, own_potentials):
    """Start from OR-Tools' flow and reference Bellman-Ford potentials (or
    the flow's own compiled ones), add arcs, re-solve: the optimum over all
    arcs."""
    rng, n, m, ci, mj, cost, caps, unm = _random(3000 + seed)
    first = rng.random(ci.size) < 0.5
    f = IncrementalAssignment(n, m, caps, unm)
    f.add_arcs(ci[first], mj[first], cost[first])
    a, b, c = ci[first], mj[first], cost[first]
    has_u = np.ones(n, dtype=bool)
    sol = circulation(a, b, c, n, m, caps, unm, has_u)
    assert sol.arc_flow is not None
    assigned = np.full(n, -1, dtype=np.int64)
    assigned[a[sol.arc_flow > 0]] = b[sol.arc_flow > 0]
    d = _bellman_ford(a, b, c, assigned, n, m, caps, unm)
    f.load_solution(assigned, None if own_potentials else d)
    assert f.residual_ok()
    f.add_arcs(ci[~first], mj[~first], cost[~first])
    f.solve()
    assert f.residual_ok()
    total = _check_feasible(f, n, m, ci, mj, cost, caps, unm)
    assert total == scipy_optimum(_dense(n, m, ci, mj, cost), caps, unm)


def test_deterministic_and_no_arcs():
    _, n, m, ci, mj, cost, caps, unm = _random(5)
    a = _solve_in_chunks(np.random.default_rng(1), n, m, ci, mj, cost, caps, unm, 3)
    b = _solve_in_chunks(np.random.default_rng(1), n, m, ci, mj, cost, caps, unm, 3)
    assert (a.amentor == b.amentor).all() and (a.pi == b.pi).all()
    f = IncrementalAssignment(3, 2, np.ones(2, np.int64), np.array([1, 2, 3]))
    f.add_arcs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    f.solve()
    assert f.unmatched.all() and f.objective() == 6 and f.residual_ok()


@pytest.mark.parametrize(
    ("assigned", "caps"),
    [
        ([1, 0], [1, 1]),  # crossed: swapping saves 18
        ([0, -1], [1, 1]),  # row 1 unmatched beside a free column it could take
        ([1, 1], [1, 2]),  # row 0 on its dear column while column 0 has room
    ],
)
def test_load_solution_refuses_a_flow_that_is_not_optimal(assigned, caps):
    """Without potentials given, a flow that a negative cycle improves is
    refused (no potentials exist), and the flow is left empty, not half set."""
    n, m = 2, 2
    ci, mj = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    cost = np.array([1, 10, 10, 1])
    f = IncrementalAssignment(n, m, np.array(caps), np.array([50, 50]))
    f.add_arcs(ci, mj, cost)
    with pytest.raises(ValueError, match="not optimal"):
        f.load_solution(np.array(assigned))
    assert (f.amentor == -2).all() and (f.load == 0).all() and (f.pi == 0).all()
    f.solve()  # still usable: solves from scratch
    assert f.residual_ok() and f.objective() == 2
    f.load_solution(np.array([0, 1]))  # the optimum is taken
    assert f.residual_ok() and f.objective() == 2


@pytest.mark.parametrize("seed", range(10))
def test_disturbed_counts_the_rows_the_new_arcs_would_release(seed):
    rng, n, m, ci, mj, cost, caps, unm = _random(9000 + seed)
    first = rng.random(ci.size) < 0.5
    f = IncrementalAssignment(n, m, caps, unm)
    f.add_arcs(ci[first], mj[first], cost[first])
    assert f.disturbed() == n  # nothing solved yet: every row is routed
    f.solve()
    assert f.disturbed() == 0  # no arc since the solve
    a, b, c = ci[~first], mj[~first], cost[~first]
    f.add_arcs(a, b, c)
    want = np.unique(a[c + f.pi[a] - f.pi[n + b] < 0]).size
    assert f.disturbed() == want
    f.solve()
    assert f.disturbed() == 0 and f.residual_ok()
    assigned = np.where(f.amentor >= 0, f.amentor, -1)
    f.load_solution(assigned)
    assert f.disturbed() == 0 and f.residual_ok()


@pytest.mark.parametrize("seed", range(20))
def test_contains_answers_membership_of_arcs_added_in_chunks(seed: int) -> None:
    rng, n, m, ci, mj, cost, caps, unm = _random(seed)
    f = IncrementalAssignment(n, m, caps, unm)
    added = np.zeros((n, m), dtype=bool)
    for part in np.array_split(rng.permutation(ci.size), 3):
        f.add_arcs(ci[part], mj[part], cost[part])  # pending until the query merges them
        added[ci[part], mj[part]] = True
        qi = rng.integers(0, n, 200)
        qj = rng.integers(0, m, 200)
        np.testing.assert_array_equal(f.contains(qi, qj), added[qi, qj])
    assert f.contains(np.empty(0, np.int64), np.empty(0, np.int64)).shape == (0,)
