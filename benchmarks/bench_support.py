"""Instances, library internals and the results summary shared by the benchmarks.

Not a test module: imported by ``conftest.py``, ``test_bench_match.py`` and
``summarize.py``.  Every instance is synthetic
(:func:`matching.datasets.synth.district`), so the only ids are generated ones, and no
id-level data is written to the benchmark output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from matching import MatchConfig, match
from matching._engine.arcs import all_arcs
from matching._engine.problem import MatchProblem, sort_by_id
from matching.datasets.synth import district
from matching.geo.distance import great_circle_km
from matching.rosters import validate_children, validate_mentors

SEED = 1
MAX_DISTANCE_KM = 5.0

# tier name -> (children, mentors)
TIERS: dict[str, tuple[int, int]] = {
    "quick": (2000, 1600),
    "full": (5000, 4000),
}


def tier_params() -> list[Any]:
    """One ``pytest.param`` per tier, marked and id'd by name (``-m quick`` / ``-k quick``)."""
    return [pytest.param(name, id=name, marks=getattr(pytest.mark, name)) for name in TIERS]


def build_problem(children: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig) -> Any:
    """Validated, id-sorted rosters and active mentors -> ``MatchProblem``, exactly as ``match``."""
    kids = sort_by_id(validate_children(children))
    all_mentors = sort_by_id(validate_mentors(mentors))
    active = all_mentors[all_mentors["active"].to_numpy(dtype=bool)].reset_index(drop=True)
    return MatchProblem(kids, active, cfg)


@dataclass
class Instance:
    """One synthetic district and what is derived from it (each computed once per session)."""

    tier: str
    children: pd.DataFrame
    mentors: pd.DataFrame
    config: MatchConfig
    results: dict[str, Any] = field(default_factory=dict)  # method -> MatchResult
    _problem: Any = None
    _arcs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def make(cls, tier: str) -> Instance:
        n_children, n_mentors = TIERS[tier]
        children, mentors = district(n_children, n_mentors, seed=SEED)
        return cls(tier, children, mentors, MatchConfig(max_distance_km=MAX_DISTANCE_KM))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.children), len(self.mentors)

    def problem(self) -> Any:
        """The library's ``MatchProblem`` for this instance."""
        if self._problem is None:
            self._problem = build_problem(self.children, self.mentors, self.config)
        return self._problem

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every candidate arc ``(child, mentor, km, integer arc cost)`` of the flow model."""
        if self._arcs is None:
            p = self.problem()
            ci, mj, km = all_arcs(p)
            self._arcs = (ci, mj, km, p.arc_cost(ci, mj, km))
        return self._arcs

    def result(self, method: str = "sparse") -> Any:
        """The library's result; reuses the timed run's result when there was one."""
        if method not in self.results:
            self.results[method] = match(self.children, self.mentors, self.config, method=method)
        return self.results[method]


def library_flow_objective(p: Any, result: Any) -> int:
    """Flow-model objective of a ``MatchResult``: its pairs' integer arc costs + unmatched arcs."""
    kid_index = pd.Index(p.children["id"])
    ci = kid_index.get_indexer(result.pairs["child_id"]).astype(np.int64)
    mj = pd.Index(p.mentors["id"]).get_indexer(result.pairs["mentor_id"]).astype(np.int64)
    u = kid_index.get_indexer(result.unmatched["child_id"])
    assert (ci >= 0).all() and (mj >= 0).all() and (u >= 0).all()
    assert ci.size + u.size == p.n
    km = great_circle_km(p.child_lat[ci], p.child_lon[ci], p.mentor_lat[mj], p.mentor_lon[mj])
    return int(p.arc_cost(ci, mj, km).sum()) + int(p.unmatched_arc[u].sum())


# ---------------------------------------------------------------------------
# summary of a pytest-benchmark run (used by the JSON hook and summarize.py)

_END_TO_END = ("sparse", "dense_ortools", "dense_scipy")
_PHASES = ("candidates", "solve_all_arcs", "solve_priced")


def _by_tier(
    benchmarks: list[dict[str, Any]], tier_key: str, kind_key: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """Saved benchmarks by ``extra_info[tier_key]``, then ``extra_info[kind_key]``."""
    by_tier: dict[str, dict[str, dict[str, Any]]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if tier_key in info and kind_key in info:
            by_tier.setdefault(info[tier_key], {})[info[kind_key]] = b
    return by_tier


def summarize(benchmarks: list[dict[str, Any]]) -> dict[str, Any]:
    """Per tier: median seconds of each benchmark, the ratios and the objective check."""
    out: dict[str, Any] = {}
    for tier, kinds in _by_tier(benchmarks, "tier", "kind").items():
        med = {k: float(b["stats"]["median"]) for k, b in kinds.items()}
        rounds = {k: int(b["stats"]["rounds"]) for k, b in kinds.items()}
        row: dict[str, Any] = {"median_s": med, "rounds": rounds}
        any_info = next(iter(kinds.values()))["extra_info"]
        row["instance"] = {k: any_info[k] for k in ("n_children", "n_mentors", "max_distance_km")}
        sp = med.get("sparse")
        if sp:
            if "dense_scipy" in med:
                row["ratio_dense_scipy_over_sparse"] = med["dense_scipy"] / sp
                lsa = kinds["dense_scipy"]["extra_info"]["phase_s"]["linear_sum_assignment"]
                row["ratio_scipy_solve_only_over_sparse"] = lsa / sp
            if "dense_ortools" in med:
                row["ratio_dense_ortools_over_sparse"] = med["dense_ortools"] / sp
        objectives = {
            k: kinds[k]["extra_info"].get("objective_units") for k in _END_TO_END if k in kinds
        }
        flows = {k: kinds[k]["extra_info"].get("flow_objective") for k in _END_TO_END if k in kinds}
        row["objective_units"] = objectives
        row["flow_objective"] = flows
        row["objectives_identical"] = (
            len(set(objectives.values())) == 1 and len(set(flows.values())) == 1
        )
        for k in ("sparse", "candidates", "dense_scipy"):
            if k in kinds and "candidate_arcs" in kinds[k]["extra_info"]:
                row["candidate_arcs"] = kinds[k]["extra_info"]["candidate_arcs"]
                break
        if "sparse" in kinds:
            row["sparse_solver"] = kinds["sparse"]["extra_info"].get("solver")
            row["n_pairs"] = kinds["sparse"]["extra_info"].get("n_pairs")
        if "dense_scipy" in kinds:
            row["dense_scipy_phase_s"] = kinds["dense_scipy"]["extra_info"]["phase_s"]
            row["dense_scipy_matrix_shape"] = kinds["dense_scipy"]["extra_info"]["matrix_shape"]
        out[tier] = row
    return out


def summary_markdown(summary: dict[str, Any]) -> str:
    """A markdown table of :func:`summarize` (one row per tier)."""
    lines = [
        "| tier | children x mentors | candidate arcs | sparse (s) | dense OR-Tools (s) "
        "| dense scipy (s) | scipy LSA only (s) | scipy / sparse | OR-Tools / sparse "
        "| objective_units | identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    def r(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}x"

    for tier, row in summary.items():
        med = row["median_s"]
        inst = row["instance"]
        lsa = (row.get("dense_scipy_phase_s") or {}).get("linear_sum_assignment")
        objs = sorted({v for v in row["objective_units"].values() if v is not None})
        same = "yes" if row["objectives_identical"] else "NO"
        lines.append(
            f"| {tier} | {inst['n_children']:,} x {inst['n_mentors']:,} "
            f"| {row.get('candidate_arcs', 0):,} | {s(med.get('sparse'))} "
            f"| {s(med.get('dense_ortools'))} | {s(med.get('dense_scipy'))} | {s(lsa)} "
            f"| {r(row.get('ratio_dense_scipy_over_sparse'))} "
            f"| {r(row.get('ratio_dense_ortools_over_sparse'))} "
            f"| {', '.join(str(o) for o in objs)} | {same} |"
        )
    lines += [
        "",
        "| tier | candidates: `_all_arcs` + `arc_cost` (s) | one flow solve on all arcs (s) "
        "| `priced_lazy` (s) | pricing rounds | model arcs |",
        "|---|---|---|---|---|---|",
    ]
    for tier, row in summary.items():
        med = row["median_s"]
        solver = row.get("sparse_solver") or {}
        lines.append(
            f"| {tier} | {s(med.get('candidates'))} | {s(med.get('solve_all_arcs'))} "
            f"| {s(med.get('solve_priced'))} | {solver.get('rounds', '-')} "
            f"| {solver.get('model_arcs', '-')} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Scaling tiers (test_bench_tiers.py): district to province, library vs baselines

#: The issue's speed targets on this 2-core machine (seconds, end to end).
TARGET_S: dict[str, float] = {
    "district_2k": 0.5,
    "district_20k": 5.0,
    "city_200k": 60.0,
    "province_1m": 600.0,
}
#: Peak-memory target of the province tier (GiB).
PROVINCE_PEAK_GIB = 16.0
#: At the district tier the library must be at least this many times faster than dense scipy.
DISTRICT_SCIPY_RATIO = 20.0
#: Dense baselines must fit in this much memory (GiB) to be run.
DENSE_MEMORY_BUDGET_GIB = 16.0


@dataclass(frozen=True)
class ScaleTier:
    """One size tier: how its rosters are generated and which pytest markers select it."""

    name: str
    generator: str  # "district" or "city"
    args: tuple[int, ...]
    n_children: int
    n_mentors: int
    markers: tuple[str, ...]
    # timed rounds per method; None: pytest-benchmark's own policy (one
    # untimed calibration call, then --benchmark-min-rounds rounds, 5 by
    # default, or as many as fit in --benchmark-max-time, 1 s by default)
    rounds: int | None

    def rosters(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tier's synthetic ``(children, mentors)`` (deterministic, seed :data:`SEED`)."""
        from matching.datasets import synth

        return getattr(synth, self.generator)(*self.args, seed=SEED)

    def param(self) -> Any:
        return pytest.param(
            self.name, id=self.name, marks=[getattr(pytest.mark, mk) for mk in self.markers]
        )


SCALE_TIERS: dict[str, ScaleTier] = {
    t.name: t
    for t in (
        ScaleTier("district_2k", "district", (2000, 1600), 2000, 1600, ("quick",), None),
        ScaleTier(
            "district_20k", "district", (20_000, 16_000), 20_000, 16_000, ("full", "tier20k"), 1
        ),
        # a city: 10 districts of 20,000 x 16,000 side by side
        ScaleTier(
            "city_200k", "city", (10, 20_000, 16_000), 200_000, 160_000, ("full", "tier200k"), 1
        ),
        # a province: 100 districts of 10,000 x 8,000 (sparse only)
        ScaleTier(
            "province_1m",
            "province",
            (100, 10_000, 8_000),
            1_000_000,
            800_000,
            ("full", "tier1m"),
            1,
        ),
    )
}


def scale_tier_params() -> list[Any]:
    """One ``pytest.param`` per scaling tier, marked with its markers and id'd by name."""
    return [t.param() for t in SCALE_TIERS.values()]


def dense_estimate(p: Any) -> dict[str, float]:
    """Memory (GiB) of the two dense baselines' matrices for problem ``p``.

    scipy: one float64 ``n x (slots + n)`` matrix (and ``linear_sum_assignment``
    works on a copy); OR-Tools ``SimpleLinearSumAssignment``: the square
    ``(n + slots)`` matrix padded with dummy rows, one arc per finite entry
    (the ``slots x n`` dummy block dominates) at about 32 bytes in the solver
    and its input arrays (int32, int32, int64).
    """
    n, slots = int(p.n), int(p.capacity.sum())
    gib = 2.0**30
    scipy_gib = 2 * 8.0 * n * (slots + n) / gib
    dummy_arcs = slots * (n + 1)
    ortools_gib = (16.0 + 16.0) * (dummy_arcs + n * slots * 0.5 + n) / gib
    return {"dense_scipy": round(scipy_gib, 1), "dense_ortools_lsa": round(ortools_gib, 1)}


def count_candidate_arcs(p: Any) -> int:
    """Number of (child, active mentor) pairs within the mentor's distance limit.

    Counted per mentor with a k-d tree over the children (no arc is listed), so it
    works at every tier.  Equals the number of allowed arcs when no rule
    (forbidden pairs, same street, same gender) is active, as in the tiers.
    """
    from scipy.spatial import cKDTree

    from matching.geo.distance import chord

    if p.n == 0 or p.m == 0:
        return 0
    counts = cKDTree(p.child_vec).query_ball_point(
        p.mentor_vec, np.asarray(chord(p.limit_km)), return_length=True, workers=2
    )
    return int(np.asarray(counts, dtype=np.int64).sum())


def greedy_nearest_fast(p: Any, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest available mentor without listing every arc (scales to 1M children).

    The same rule as ``test_bench_greedy.greedy_nearest`` (children by priority,
    then id; each takes the nearest allowed mentor with room, ties by mentor
    index).  Each child first looks at its ``k`` nearest mentors (one batched
    k-d tree query); a child who finds them all full asks a k-d tree of the
    mentors that still had room when it was built, nearest first, 4x as many
    at a time until its reach is exhausted.  That tree is rebuilt once a
    quarter of its members have filled up.  Mentors never get room back, so
    the tree always holds every mentor with room, and the first allowed one
    with room in distance order is the greedy choice.
    """
    from scipy.spatial import cKDTree

    from matching.geo.distance import chord, great_circle_km

    n, m = p.n, p.m
    e = np.empty(0, dtype=np.int64)
    if n == 0 or m == 0:
        return e, e.copy()
    r = float(chord(p.radius_km)) * (1 + 1e-9) + 1e-12

    def sorted_allowed(ci: np.ndarray, mj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Allowed arcs sorted by (child, km, mentor)."""
        km = great_circle_km(p.child_lat[ci], p.child_lon[ci], p.mentor_lat[mj], p.mentor_lon[mj])
        keep = km <= p.limit_km[mj]
        ci, mj, km = p.allowed(ci[keep], mj[keep], km[keep])
        order = np.lexsort((mj, km, ci))
        return ci[order], mj[order]

    kk = min(k, m)
    _, jm = p.mentor_tree.query(p.child_vec, k=kk, distance_upper_bound=r)
    jm = np.asarray(jm).reshape(n, kk)
    ci = np.repeat(np.arange(n), kk)
    mj = jm.ravel()
    ok = mj < m
    ci, mj = sorted_allowed(ci[ok], mj[ok])
    start = np.searchsorted(ci, np.arange(n + 1)).tolist()
    mjl = mj.tolist()
    caps = p.capacity.tolist()
    load = [0] * m

    members = np.flatnonzero(p.capacity > 0)
    tree = cKDTree(p.mentor_vec[members]) if members.size else None
    filled_since_build = 0

    def nearest_free(child: int) -> int:
        nonlocal members, tree, filled_since_build
        if filled_since_build * 4 > members.size:
            room = np.asarray(load) < p.capacity
            members = np.flatnonzero(room)
            tree = cKDTree(p.mentor_vec[members]) if members.size else None
            filled_since_build = 0
        if tree is None:
            return -1
        size = members.size
        want = min(k, size)
        while True:
            _, loc = tree.query(p.child_vec[child], k=want, distance_upper_bound=r)
            loc = np.atleast_1d(loc)
            loc = loc[loc < size]
            _, js = sorted_allowed(np.full(loc.size, child), members[loc])
            for j in js.tolist():
                if load[j] < caps[j]:
                    return j
            if loc.size < want or want == size:
                return -1  # every mentor within reach is full or excluded
            want = min(want * 4, size)

    priority = p.children["priority"].to_numpy()
    out_c: list[int] = []
    out_m: list[int] = []
    for child in np.lexsort((np.arange(n), -priority)).tolist():
        chosen = -1
        for t in range(start[child], start[child + 1]):
            j = mjl[t]
            if load[j] < caps[j]:
                chosen = j
                break
        if chosen < 0:
            chosen = nearest_free(child)
        if chosen >= 0:
            load[chosen] += 1
            if load[chosen] == caps[chosen]:
                filled_since_build += 1
            out_c.append(child)
            out_m.append(chosen)
    return np.asarray(out_c, dtype=np.int64), np.asarray(out_m, dtype=np.int64)


def ortools_lsa_dense(p: Any) -> dict[str, Any]:
    """The library's flow model as a dense square assignment solved by OR-Tools.

    ``SimpleLinearSumAssignment`` needs a perfect matching on a square matrix
    (ortools#2597), so the matrix is padded: rows are the ``n`` children and then
    one dummy row per mentor slot; columns are the mentor slots (each active
    mentor's column repeated ``capacity`` times) and then one "unmatched" column
    per child.  A child row has its integer arc costs on the slots it may take
    and its unmatched-arc cost on its own unmatched column; the dummy row of
    slot ``s`` costs 0 on slot ``s`` (left empty) and on every unmatched column
    (the column of a child who got a slot).  Entries outside the hard rules have no arc.  Costs
    are int64 (the vectorised ``add_arcs_with_cost`` truncates floats).
    """
    from ortools.graph.python import linear_sum_assignment as lsa

    t0 = time.perf_counter()
    ci, mj, km = all_arcs(p)
    arc = p.arc_cost(ci, mj, km).astype(np.int64)
    t1 = time.perf_counter()
    n, caps = int(p.n), p.capacity.astype(np.int64)
    slots = int(caps.sum())
    size = n + slots
    first = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.int64)
    slot_mentor = np.repeat(np.arange(p.m, dtype=np.int64), caps)
    # child rows: each allowed arc once per slot of its mentor
    rep = caps[mj]
    left = [np.repeat(ci, rep), np.arange(n, dtype=np.int64)]
    right = [
        np.repeat(first[mj], rep)
        + (np.arange(int(rep.sum())) - np.repeat(np.cumsum(rep) - rep, rep)),
        slots + np.arange(n, dtype=np.int64),
    ]
    cost = [np.repeat(arc, rep), np.asarray(p.unmatched_arc, dtype=np.int64)]
    # dummy row s: its own slot s (left empty) or any unmatched column (of a
    # child who took a slot), at cost 0; k pairs leave k unmatched columns to
    # the k dummies whose slots were taken, so a perfect matching always exists
    dummies = np.arange(n, size, dtype=np.int64)
    left += [dummies, np.repeat(dummies, n)]
    right += [
        np.arange(slots, dtype=np.int64),
        np.tile(slots + np.arange(n, dtype=np.int64), slots),
    ]
    cost += [np.zeros(slots, dtype=np.int64), np.zeros(slots * n, dtype=np.int64)]
    tails = np.concatenate(left).astype(np.int32)
    heads = np.concatenate(right).astype(np.int32)
    costs = np.concatenate(cost)
    del left, right, cost
    solver = lsa.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(tails, heads, costs)
    t2 = time.perf_counter()
    status = solver.solve()
    t3 = time.perf_counter()
    if status != solver.OPTIMAL:
        raise AssertionError(f"OR-Tools SimpleLinearSumAssignment status {status}")
    mate = np.fromiter((solver.right_mate(i) for i in range(n)), dtype=np.int64, count=n)
    paired = mate < slots
    pc = np.flatnonzero(paired).astype(np.int64)
    pm = slot_mentor[mate[paired]]
    assert (np.bincount(pm, minlength=p.m) <= caps).all()
    unmatched = ~paired
    flow = int(p.arc_cost(pc, pm, _pair_km(p, pc, pm)).sum()) + int(
        p.unmatched_arc[unmatched].sum()
    )
    assert flow == int(solver.optimal_cost()), "the assignment's cost is its flow objective"
    return {
        "pc": pc,
        "pm": pm,
        "flow_objective": flow,
        "candidate_arcs": int(ci.size),
        "lsa_arcs": int(costs.size),
        "matrix_shape": [size, size],
        "phase_s": {
            "candidate_arcs_and_costs": round(t1 - t0, 4),
            "padded_arcs": round(t2 - t1, 4),
            "linear_sum_assignment": round(t3 - t2, 4),
        },
    }


def library_match(
    tier: str, children: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig
) -> Any:
    """The library's default path for the tier's rosters.

    A district: :func:`matching.match`.  A city or a province (rosters with a
    ``district`` column): :func:`matching.scale.province.match_province`, districts
    independent (each federation matches its own), serially on one process.
    """
    if SCALE_TIERS[tier].generator == "district":
        return match(children, mentors, cfg)
    from matching.scale.province import match_province

    return match_province(children, mentors, cfg)


_KERNELS_WARM: list[float] = []


def warm_kernels() -> float:
    """Load the library's compiled kernels in this process once (a 2,000-child
    match), so that a timed single round measures the match and not numba
    loading its cache (once per process).  Returns the
    seconds the warm-up took in this process (the same value on later calls)."""
    if not _KERNELS_WARM:
        from matching.datasets.synth import district

        start = time.perf_counter()
        match(*district(2_000, 1_600, seed=2), MatchConfig())
        _KERNELS_WARM.append(time.perf_counter() - start)
    return _KERNELS_WARM[0]


def greedy_per_district(
    p: Any, children: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`greedy_nearest_fast` district by district (the rule the library
    follows at the city and province tiers), as indices into ``p``."""
    if "district" not in children.columns:
        return greedy_nearest_fast(p)
    kid_pos = pd.Index(p.children["id"])
    mentor_pos = pd.Index(p.mentors["id"])
    pcs, pms = [], []
    for name in sorted(children["district"].unique()):
        ch = children[children["district"] == name]
        me = mentors[mentors["district"] == name]
        q = build_problem(ch, me, cfg)
        qc, qm = greedy_nearest_fast(q)
        pcs.append(kid_pos.get_indexer(q.kids["id"].to_numpy()[qc]))
        pms.append(mentor_pos.get_indexer(q.mentors["id"].to_numpy()[qm]))
    return np.concatenate(pcs).astype(np.int64), np.concatenate(pms).astype(np.int64)


def _pair_km(p: Any, pc: np.ndarray, pm: np.ndarray) -> np.ndarray:
    return great_circle_km(p.child_lat[pc], p.child_lon[pc], p.mentor_lat[pm], p.mentor_lon[pm])


def pairing_quality(p: Any, pc: np.ndarray, pm: np.ndarray) -> dict[str, Any]:
    """Pairs, pairing rate, mean distance, needs covered and objectives of any pairing.

    ``objective_units`` is the library's reported objective (pair costs plus the
    unmatched price of every child left out, integer units of
    ``resolution_km``), ``flow_objective`` the flow model's (arc costs plus
    unmatched-arc costs); both are what ``match`` computes for its own result.
    """
    from matching._engine.costs import pair_costs

    km = _pair_km(p, pc, pm)
    terms = pair_costs(pc, pm, km, p.child_needs, p.mentor_skills, p.interests, p.config)
    icost = np.rint(terms.total_km / p.resolution_km).astype(np.int64)
    unmatched = np.ones(p.n, dtype=bool)
    unmatched[pc] = False
    needs = np.bitwise_count(p.child_needs[pc]).astype(np.int64)
    covered = np.bitwise_count(p.child_needs[pc] & p.mentor_skills[pm]).astype(np.int64)
    return {
        "n_pairs": int(pc.size),
        "pairing_rate": round(float(pc.size / p.n), 6) if p.n else 0.0,
        "distance_km_mean": round(float(km.mean()), 6) if km.size else 0.0,
        "needs_covered_share": round(float(covered.sum() / needs.sum()), 6) if pc.size else 0.0,
        "objective_units": int(icost.sum()) + int(p.unmatched_units[unmatched].sum()),
        "flow_objective": int(p.arc_cost(pc, pm, km).sum()) + int(p.unmatched_arc[unmatched].sum()),
    }


def result_indices(p: Any, result: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(children, mentors)`` index arrays of a ``MatchResult``'s pairs in problem ``p``."""
    pc = pd.Index(p.children["id"]).get_indexer(result.pairs["child_id"]).astype(np.int64)
    pm = pd.Index(p.mentors["id"]).get_indexer(result.pairs["mentor_id"]).astype(np.int64)
    assert (pc >= 0).all() and (pm >= 0).all()
    return pc, pm


# -- peak memory in a fresh process ------------------------------------------

_CHILD_CODE = (
    "import sys; sys.path.insert(0, {path!r}); import bench_support; "
    "bench_support.memory_child({tier!r}, {method!r})"
)


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_child(tier: str, method: str) -> None:
    """Body of the peak-memory subprocess: set up, run ``method`` once, print JSON.

    The peak is the kernel's high-water mark of the process's resident memory
    (``VmHWM`` in ``/proc/self/status``): it counts every allocation, including
    OR-Tools' and scipy's C/C++ memory that tracemalloc misses.  ``ru_maxrss``
    is not used: Linux carries it over ``exec`` from the forking parent, so a
    child of a large pytest process would report the parent's peak.  After
    setup (interpreter, imports, rosters) the mark is reset
    (``/proc/self/clear_refs``, value 5) so that the method's own peak is seen.
    """
    import json

    children, mentors = SCALE_TIERS[tier].rosters()
    cfg = MatchConfig()
    setup_peak = _rss_kib("VmHWM")
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    start_rss = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    if method == "library":
        library_match(tier, children, mentors, cfg)
    elif method == "greedy":
        greedy_per_district(build_problem(children, mentors, cfg), children, mentors, cfg)
    elif method == "dense_ortools_lsa":
        ortools_lsa_dense(build_problem(children, mentors, cfg))
    elif method == "dense_scipy":
        from test_bench_match import scipy_dense_match

        scipy_dense_match(children, mentors, cfg)
    else:
        raise ValueError(f"unknown method {method!r}")
    seconds = time.perf_counter() - t0
    method_peak = _rss_kib("VmHWM")
    if setup_peak is None or start_rss is None or method_peak is None:
        raise AssertionError("peak memory needs /proc/self/status (Linux)")
    print(
        json.dumps(
            {
                "setup_peak_kib": setup_peak,
                "start_rss_kib": start_rss,
                "method_peak_kib": method_peak,
                "peak_reset": reset,
                "seconds": seconds,
            }
        )
    )


def peak_memory(tier: str, method: str, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Run ``method`` on ``tier`` in a fresh Python process; its peak RSS in MiB.

    Returns ``peak_rss_mib`` (the whole process: interpreter, imports, rosters
    and the method), ``setup_peak_rss_mib`` (before the method),
    ``method_peak_rss_mib`` (the peak while the method ran, rosters included),
    ``method_rss_mib`` (that peak minus the resident size when the method
    started: the method's own memory) and the child's own timing.
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = _CHILD_CODE.format(path=str(Path(__file__).resolve().parent), tier=tier, method=method)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s
    )
    if proc.returncode != 0:
        raise AssertionError(f"memory child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    mib = 1024.0
    peak = max(out["setup_peak_kib"], out["method_peak_kib"])
    return {
        "peak_rss_mib": round(peak / mib, 1),
        "setup_peak_rss_mib": round(out["setup_peak_kib"] / mib, 1),
        "method_peak_rss_mib": round(out["method_peak_kib"] / mib, 1),
        "method_rss_mib": round((out["method_peak_kib"] - out["start_rss_kib"]) / mib, 1)
        if out["peak_reset"]
        else None,
        "child_seconds": round(out["seconds"], 4),
    }


# -- summary of the scaling tiers ----------------------------------------------

_TIER_METHODS = ("library", "greedy", "dense_scipy", "dense_ortools_lsa")


def summarize_tiers(benchmarks: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scaling tier: medians, quality of each method, ratios against the library, targets.

    Reads the ``extra_info`` that ``test_bench_tiers.py`` records (keys
    ``scale_tier`` and ``method``).  Time ratios are ``baseline / library``
    (> 1: the library is faster); cost ratios ``baseline / library`` of
    ``objective_units``.
    """
    out: dict[str, Any] = {}
    for tier, methods in _by_tier(benchmarks, "scale_tier", "method").items():
        any_info = next(iter(methods.values()))["extra_info"]
        row: dict[str, Any] = {
            "n_children": any_info["n_children"],
            "n_mentors": any_info["n_mentors"],
            "median_s": {k: float(b["stats"]["median"]) for k, b in methods.items()},
            "rounds": {k: int(b["stats"]["rounds"]) for k, b in methods.items()},
        }
        quality = {}
        for k in _TIER_METHODS:
            if k in methods:
                info = methods[k]["extra_info"]
                quality[k] = {
                    key: info.get(key)
                    for key in (
                        "n_pairs",
                        "pairing_rate",
                        "distance_km_mean",
                        "needs_covered_share",
                        "objective_units",
                        "flow_objective",
                        "peak_rss_mib",
                    )
                }
        row["quality"] = quality
        lib = methods.get("library")
        if lib is not None:
            info = lib["extra_info"]
            t_lib = row["median_s"]["library"]
            for key in (
                "candidate_arcs",
                "peak_rss_mib",
                "setup_peak_rss_mib",
                "method_peak_rss_mib",
                "method_rss_mib",
                "solver",
                "baselines_skipped",
                "target_s",
            ):
                row[key] = info.get(key)
            row["target_met"] = t_lib < info["target_s"]
            for kind in ("processes", "threads"):  # the same districts on two workers
                if f"library_{kind}" in methods:
                    t_kind = row["median_s"][f"library_{kind}"]
                    row[f"{kind}_target_met"] = t_kind < info["target_s"]
                    row[f"serial_over_{kind}"] = t_lib / t_kind
            row["ratio_time_over_library"] = {
                k: row["median_s"][k] / t_lib for k in _TIER_METHODS[1:] if k in methods
            }
            lib_units = info["objective_units"]
            row["ratio_cost_over_library"] = {
                k: quality[k]["objective_units"] / lib_units
                for k in _TIER_METHODS[1:]
                if k in quality and lib_units
            }
            if "dense_scipy" in methods:
                row["scipy_ratio_target_met"] = (
                    row["median_s"]["dense_scipy"] / t_lib >= DISTRICT_SCIPY_RATIO
                )
            if tier == "province_1m":
                row["peak_memory_target_met"] = info["peak_rss_mib"] / 1024 < PROVINCE_PEAK_GIB
            dense = [quality[k]["flow_objective"] for k in _TIER_METHODS[2:] if k in quality]
            if dense:
                row["dense_objective_identical"] = all(
                    f == info["flow_objective"] for f in dense
                ) and all(
                    quality[k]["objective_units"] == lib_units
                    for k in _TIER_METHODS[2:]
                    if k in quality
                )
        cand = methods.get("candidate_graph")
        if cand is not None:
            row["candidate_graph_phase_s"] = cand["extra_info"].get("phase_s")
            row["initial_model_arcs"] = cand["extra_info"].get("initial_arcs")
        out[tier] = row
    return out


def tiers_markdown(summary: dict[str, Any]) -> str:
    """Markdown tables of :func:`summarize_tiers` (timings and ratios; quality)."""

    def s(x: float | None) -> str:
        return "-" if x is None else (f"{x:.2f}" if x < 100 else f"{x:,.0f}")

    def r(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}x"

    def f3(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = [
        "| tier | children x mentors | candidate arcs | library (s) | target (s) | met "
        "| peak RSS (MiB) | greedy (s) | dense scipy (s) | dense OR-Tools LSA (s) "
        "| scipy / library | OR-Tools / library | dense objective identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tier, row in summary.items():
        med = row["median_s"]
        ratio = row.get("ratio_time_over_library") or {}
        same = row.get("dense_objective_identical")
        lines.append(
            f"| {tier} | {row['n_children']:,} x {row['n_mentors']:,} "
            f"| {row.get('candidate_arcs') or 0:,} | {s(med.get('library'))} "
            f"| {s(row.get('target_s'))} | {'yes' if row.get('target_met') else 'no'} "
            f"| {row.get('peak_rss_mib') or '-'} | {s(med.get('greedy'))} "
            f"| {s(med.get('dense_scipy'))} | {s(med.get('dense_ortools_lsa'))} "
            f"| {r(ratio.get('dense_scipy'))} | {r(ratio.get('dense_ortools_lsa'))} "
            f"| {'-' if same is None else ('yes' if same else 'NO')} |"
        )
    lines += [
        "",
        "| tier | method | pairs | pairing rate | mean km | needs covered | objective_units "
        "| cost / library | peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tier, row in summary.items():
        costs = row.get("ratio_cost_over_library") or {}
        for method, q in row["quality"].items():
            cost = costs.get(method, 1.0 if method == "library" else None)
            lines.append(
                f"| {tier} | {method} | {q['n_pairs']:,} | {f3(q['pairing_rate'])} "
                f"| {f3(q['distance_km_mean'])} | {f3(q['needs_covered_share'])} "
                f"| {q['objective_units']:,} | {'-' if cost is None else f'{cost:.2f}x'} "
                f"| {q.get('peak_rss_mib') or '-'} |"
            )
    lines += [
        "",
        "| tier | build problem + k-d tree (s) | initial candidate graph (s) | initial arcs "
        "| list every allowed arc (s) | solve + explain = library - build (s) |",
        "|---|---|---|---|---|---|",
    ]
    for tier, row in summary.items():
        ph = row.get("candidate_graph_phase_s") or {}
        lib = row["median_s"].get("library")
        build = (ph.get("problem") or 0.0) + (ph.get("initial_arcs") or 0.0)
        solve = None if lib is None or not ph else lib - build
        lines.append(
            f"| {tier} | {s(ph.get('problem'))} | {s(ph.get('initial_arcs'))} "
            f"| {row.get('initial_model_arcs') or '-'} | {s(ph.get('all_arcs'))} | {s(solve)} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# how fast the machine is right now (a shared virtual machine's speed drifts)


def speed_probe() -> dict[str, float]:
    """Seconds for two fixed workloads: a pure-Python loop (10 M additions)
    and a numpy sort of 4 M random int64.  Recorded at the start and the end
    of a benchmark session: a machine that got slower in between shows here,
    whatever the code under test does."""
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**62, 4_000_000)
    np.sort(keys)  # first-touch page faults out of the timing
    t0 = time.perf_counter()
    total = 0
    for k in range(10_000_000):
        total += k
    t1 = time.perf_counter()
    np.sort(keys)
    t2 = time.perf_counter()
    return {"python_loop_s": round(t1 - t0, 3), "numpy_sort_s": round(t2 - t1, 3)}


def cpu_jiffies() -> list[int] | None:
    """The machine-wide CPU counters of ``/proc/stat`` (user, nice, system,
    idle, iowait, irq, softirq, steal), or None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            first = fh.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu" or len(first) < 9:
        return None
    return [int(x) for x in first[1:9]]


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave to other guests between two
    :func:`cpu_jiffies` readings ("steal")."""
    if before is None or after is None:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    busy = sum(delta)
    return round(delta[7] / busy, 4) if busy > 0 else None
