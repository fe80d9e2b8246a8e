"""End-to-end matching benchmarks: sparse (library default) vs dense OR-Tools vs dense scipy.

Each benchmark runs on a synthetic district (``district(n_children, n_mentors,
seed=1)``, 5 km limit) in two tiers: ``quick`` (2,000 x 1,600, for CI) and
``full`` (5,000 x 4,000, the issue's target).  In the same run:

1. ``sparse``        - ``match(children, mentors, cfg)`` end to end (validation included);
2. ``dense_ortools`` - ``match(..., method="dense")``: dense n x m matrix + OR-Tools flow;
3. ``dense_scipy``   - the same integer costs the library optimises, expanded to a
   dense matrix (mentor columns replicated by capacity, one "unmatched" column
   per child) and solved by :func:`scipy.optimize.linear_sum_assignment`; timed
   from the raw rosters (validation, candidate arcs, costs, matrix, solve), with
   the phases in ``extra_info``;
4. phases            - candidate generation (``all_arcs`` + ``arc_cost``), one
   flow solve on every candidate arc, and the priced solve (``priced_lazy``, which
   starts with the same candidate generation).

The objectives must agree exactly (integer units of ``resolution_km``): the
flow-model objective (arc costs + unmatched-arc costs) and the reported
``metrics["objective_units"]``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bench_support import (
    SEED,
    Instance,
    build_problem,
    library_flow_objective,
    tier_params,
)
from scipy.optimize import linear_sum_assignment

from matching import match
from matching._engine.arcs import all_arcs
from matching._engine.pricing import priced_lazy
from matching.solve import circulation

# rounds per (benchmark, tier); slow ones run once or twice.
ROUNDS: dict[str, dict[str, int]] = {
    "sparse": {"quick": 3, "full": 3},
    "dense_ortools": {"quick": 3, "full": 2},
    "dense_scipy": {"quick": 2, "full": 1},
    "candidates": {"quick": 3, "full": 3},
    "solve_all_arcs": {"quick": 3, "full": 1},
    "solve_priced": {"quick": 3, "full": 2},
}

TIERS = pytest.mark.parametrize("instance", tier_params(), indirect=True)


# ---------------------------------------------------------------------------
# helpers


def scipy_dense_match(children: pd.DataFrame, mentors: pd.DataFrame, cfg: Any) -> dict[str, Any]:
    """The library's flow model solved as a dense rectangular assignment by scipy.

    Rows are children; columns are ``caps[j]`` copies of each active mentor
    ``j`` followed by one dummy column per child (its unmatched-arc cost on
    its own row, ``inf`` elsewhere).  Pairs outside the hard rules are ``inf``.
    """
    t0 = time.perf_counter()
    p = build_problem(children, mentors, cfg)
    t1 = time.perf_counter()
    ci, mj, km = all_arcs(p)
    arc = p.arc_cost(ci, mj, km)
    t2 = time.perf_counter()
    n, caps = p.n, p.capacity.astype(np.int64)
    n_slots = int(caps.sum())
    first = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.int64)
    slot_mentor = np.repeat(np.arange(p.m, dtype=np.int64), caps)
    cost = np.full((n, n_slots + n), np.inf)
    for k in range(int(caps.max()) if caps.size else 0):
        s = caps[mj] > k
        cost[ci[s], first[mj[s]] + k] = arc[s]
    cost[np.arange(n), n_slots + np.arange(n)] = p.unmatched_arc
    t3 = time.perf_counter()
    rows, cols = linear_sum_assignment(cost)
    t4 = time.perf_counter()

    chosen = cost[rows, cols]
    assert np.isfinite(chosen).all(), "scipy chose a forbidden pair"
    assert np.array_equal(rows, np.arange(n)), "every child gets a column (real or dummy)"
    paired = cols < n_slots
    pc, pm = rows[paired].astype(np.int64), slot_mentor[cols[paired]]
    assert (np.bincount(pm, minlength=p.m) <= caps).all()
    # every cost is an integer < 2**53, so the float64 entries convert exactly
    flow_objective = int(chosen.astype(np.int64).sum())
    # back from flow-arc costs to the reported objective (cost units per pair)
    pair_arc = chosen[paired].astype(np.int64)
    if p.config.objective == "max_pairs":  # arc = icost + arc_offset[child]
        icost = pair_arc - (int(p.max_unmatched_units) - p.unmatched_units[pc]) + int(p.cost_floor)
    else:
        icost = pair_arc
    unmatched = np.ones(n, dtype=bool)
    unmatched[pc] = False
    objective_units = int(icost.sum()) + int(p.unmatched_units[unmatched].sum())
    return {
        "flow_objective": flow_objective,
        "objective_units": objective_units,
        "n_pairs": int(paired.sum()),
        # the pairs (child row, mentor row), for the quality columns; not JSON
        "pc": pc,
        "pm": pm,
        "candidate_arcs": int(ci.size),
        "matrix_shape": [int(cost.shape[0]), int(cost.shape[1])],
        # phases of the last timed round
        "phase_s": {
            "validate_problem": round(t1 - t0, 4),
            "candidate_arcs_and_costs": round(t2 - t1, 4),
            "dense_matrix": round(t3 - t2, 4),
            "linear_sum_assignment": round(t4 - t3, 4),
        },
    }


def _record(benchmark: Any, inst: Instance, kind: str, **info: Any) -> None:
    n_children, n_mentors = inst.shape
    benchmark.extra_info.update(
        tier=inst.tier,
        kind=kind,
        n_children=n_children,
        n_mentors=n_mentors,
        max_distance_km=inst.config.max_distance_km,
        seed=SEED,
        # other processes share this 2-core machine: record how busy it was
        load_avg_1min=round(os.getloadavg()[0], 2),
        **info,
    )


def _result_info(p: Any, result: Any) -> dict[str, Any]:
    m = result.metrics
    return {
        "objective_units": int(m["objective_units"]),
        "flow_objective": library_flow_objective(p, result),
        "n_pairs": int(m["n_pairs"]),
        "n_unmatched": int(m["n_unmatched"]),
        "n_mentors_active": int(m["n_mentors_active"]),
        "mentor_capacity": int(m["mentor_capacity"]),
        "solver": {k: v for k, v in m["solver"].items() if isinstance(v, int | float | str)},
    }


# ---------------------------------------------------------------------------
# end to end


@TIERS
def test_sparse(benchmark: Any, instance: Instance) -> None:
    benchmark.group = f"{instance.tier}: end to end"
    result = benchmark.pedantic(
        match,
        args=(instance.children, instance.mentors, instance.config),
        rounds=ROUNDS["sparse"][instance.tier],
        iterations=1,
    )
    instance.results["sparse"] = result
    info = _result_info(instance.problem(), result)
    _record(benchmark, instance, "sparse", **info)
    assert info["n_pairs"] > 0


@TIERS
def test_dense_ortools(benchmark: Any, instance: Instance) -> None:
    benchmark.group = f"{instance.tier}: end to end"
    result = benchmark.pedantic(
        match,
        args=(instance.children, instance.mentors, instance.config),
        kwargs={"method": "dense"},
        rounds=ROUNDS["dense_ortools"][instance.tier],
        iterations=1,
    )
    instance.results["dense"] = result
    info = _result_info(instance.problem(), result)
    _record(benchmark, instance, "dense_ortools", **info)
    sparse = instance.result("sparse")
    assert info["objective_units"] == sparse.metrics["objective_units"]
    assert info["flow_objective"] == library_flow_objective(instance.problem(), sparse)


@TIERS
def test_dense_scipy(benchmark: Any, instance: Instance) -> None:
    benchmark.group = f"{instance.tier}: end to end"
    out = benchmark.pedantic(
        scipy_dense_match,
        args=(instance.children, instance.mentors, instance.config),
        rounds=ROUNDS["dense_scipy"][instance.tier],
        iterations=1,
    )
    out = {k: v for k, v in out.items() if k not in ("pc", "pm")}
    sparse = instance.result("sparse")
    lib_flow = library_flow_objective(instance.problem(), sparse)
    lib_units = int(sparse.metrics["objective_units"])
    _record(
        benchmark,
        instance,
        "dense_scipy",
        library_objective_units=lib_units,
        library_flow_objective=lib_flow,
        identical_objective=out["objective_units"] == lib_units
        and out["flow_objective"] == lib_flow,
        **out,
    )
    assert out["flow_objective"] == lib_flow
    assert out["objective_units"] == lib_units
    assert out["n_pairs"] == int(sparse.metrics["n_pairs"])


# ---------------------------------------------------------------------------
# phases: candidate generation vs solving


def _candidates(p: Any) -> int:
    ci, mj, km = all_arcs(p)
    arc = p.arc_cost(ci, mj, km)
    return int(arc.size)


@TIERS
def test_phase_candidates(benchmark: Any, instance: Instance) -> None:
    benchmark.group = f"{instance.tier}: phases"
    p = instance.problem()
    n_arcs = benchmark.pedantic(
        _candidates, args=(p,), rounds=ROUNDS["candidates"][instance.tier], iterations=1
    )
    _record(
        benchmark, instance, "candidates", candidate_arcs=n_arcs, n_children_x_mentors=p.n * p.m
    )


def _solve_all_arcs(p: Any, ci: np.ndarray, mj: np.ndarray, arc: np.ndarray) -> int:
    sol = circulation(ci, mj, arc, p.n, p.m, p.capacity, p.unmatched_arc, np.ones(p.n, dtype=bool))
    assert sol.arc_flow is not None
    on = sol.arc_flow > 0
    return int(arc[on].sum()) + int(p.unmatched_arc[sol.unmatched].sum())


@TIERS
def test_phase_solve_all_arcs(benchmark: Any, instance: Instance) -> None:
    """One OR-Tools min-cost-flow solve on every candidate arc (no pricing)."""
    benchmark.group = f"{instance.tier}: phases"
    p = instance.problem()
    ci, mj, _, arc = instance.arcs()
    flow_objective = benchmark.pedantic(
        _solve_all_arcs,
        args=(p, ci, mj, arc),
        rounds=ROUNDS["solve_all_arcs"][instance.tier],
        iterations=1,
    )
    _record(benchmark, instance, "solve_all_arcs", flow_objective=flow_objective, arcs=int(ci.size))
    assert flow_objective == library_flow_objective(p, instance.result("sparse"))


@TIERS
def test_phase_solve_priced(benchmark: Any, instance: Instance) -> None:
    """``priced_lazy``: pricing rounds; suspects found by radius search from the potentials."""
    benchmark.group = f"{instance.tier}: phases"
    p = instance.problem()
    stats: dict[str, Any] = {}

    def run() -> int:
        stats.clear()
        pc, _, _ = priced_lazy(p, stats)
        return int(pc.size)

    n_pairs = benchmark.pedantic(run, rounds=ROUNDS["solve_priced"][instance.tier], iterations=1)
    _record(
        benchmark,
        instance,
        "solve_priced",
        n_pairs=n_pairs,
        solver={k: v for k, v in stats.items() if isinstance(v, int | float | str)},
    )
