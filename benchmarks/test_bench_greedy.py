"""Baseline: greedy nearest available mentor (how staff match by hand), against the optimum.

Children are taken in order of priority (highest first), then by id; each gets
the nearest allowed mentor who still has room.  Its pairs and its total cost
(the library's cost model, integer units of 1 m, unmatched prices included)
are compared with the library's optimum on the same instance.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from bench_support import Instance, build_problem, tier_params

from matching import match
from matching._engine.arcs import all_arcs
from matching._engine.costs import pair_costs

TIERS = pytest.mark.parametrize("instance", tier_params(), indirect=True)


def greedy_nearest(p: Any) -> tuple[np.ndarray, np.ndarray]:
    """(children, mentors) index arrays of the greedy pairing of problem ``p``."""
    ci, mj, km = all_arcs(p)
    order = np.lexsort((mj, km, ci))  # each child's arcs, nearest first
    ci, mj = ci[order], mj[order]
    start = np.searchsorted(ci, np.arange(p.n + 1))
    priority = p.children["priority"].to_numpy()
    load = np.zeros(p.m, dtype=np.int64)
    caps = p.capacity
    out_c, out_m = [], []
    for child in np.lexsort((np.arange(p.n), -priority)):
        for k in range(start[child], start[child + 1]):
            j = mj[k]
            if load[j] < caps[j]:
                load[j] += 1
                out_c.append(child)
                out_m.append(j)
                break
    return np.asarray(out_c, dtype=np.int64), np.asarray(out_m, dtype=np.int64)


def objective_units(p: Any, pc: np.ndarray, pm: np.ndarray) -> int:
    """Pair costs plus unmatched prices, in the library's integer units."""
    from matching.geo.distance import great_circle_km

    km = great_circle_km(p.child_lat[pc], p.child_lon[pc], p.mentor_lat[pm], p.mentor_lon[pm])
    terms = pair_costs(pc, pm, km, p.child_needs, p.mentor_skills, p.interests, p.config)
    paired = np.zeros(p.n, dtype=bool)
    paired[pc] = True
    icost = np.rint(terms.total_km / p.resolution_km).astype(np.int64)
    return int(icost.sum()) + int(p.unmatched_units[~paired].sum())


@TIERS
def test_greedy_nearest_vs_optimum(benchmark: Any, instance: Instance) -> None:
    p = build_problem(instance.children, instance.mentors, instance.config)
    pc, pm = benchmark.pedantic(greedy_nearest, args=(p,), rounds=1, iterations=1)
    best = match(instance.children, instance.mentors, instance.config)
    greedy_units = objective_units(p, pc, pm)
    km = best.pairs["distance_km"].to_numpy()
    from matching.geo.distance import great_circle_km

    gkm = great_circle_km(p.child_lat[pc], p.child_lon[pc], p.mentor_lat[pm], p.mentor_lon[pm])
    benchmark.extra_info.update(
        tier=instance.tier,
        case="greedy",
        load_avg_1min=round(os.getloadavg()[0], 2),
        greedy_pairs=int(pc.size),
        optimum_pairs=int(best.metrics["n_pairs"]),
        greedy_objective_units=greedy_units,
        optimum_objective_units=int(best.metrics["objective_units"]),
        greedy_mean_km=round(float(gkm.mean()), 4) if gkm.size else 0.0,
        optimum_mean_km=round(float(km.mean()), 4) if km.size else 0.0,
        greedy_needs_uncovered=int(
            np.bitwise_count(p.child_needs[pc] & ~p.mentor_skills[pm]).sum()
        ),
        optimum_needs_uncovered=int(sum(len(t) for t in best.pairs["needs_uncovered"])),
    )
    # the optimum pairs at least as many children and costs no more
    assert best.metrics["n_pairs"] >= pc.size
    assert best.metrics["objective_units"] <= greedy_units
