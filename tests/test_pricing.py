"""The priced sparse path: the radius search, the per-group selection and the proof.

Regression: a per-child radius rounded to the wrong power of two dropped
arcs from the proof, so a "proven" answer was not optimal; these tests
compare every such search with brute force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching import MatchConfig, SolverTuning, match
from matching._engine import pricing, scan
from matching._engine.arcs import in_reach
from matching._engine.explain import unmatched_frame
from matching._engine.problem import MatchProblem, sort_by_id
from matching.datasets.synth import district
from matching.geo.distance import haversine_km, pairs_within
from matching.rosters import validate_children, validate_mentors

S = scan


def _problem(
    n: int, k: int, seed: int, tuning: SolverTuning | None = None, **cfg: object
) -> MatchProblem:
    kids, mentors = district(n, k, seed=seed, area_km2=40.0)
    kids = sort_by_id(validate_children(kids))
    mentors = sort_by_id(validate_mentors(mentors))
    mentors = mentors[mentors["active"]].reset_index(drop=True)
    return MatchProblem(kids, mentors, MatchConfig(**cfg), tuning=tuning or SolverTuning())


def _brute(p: MatchProblem, child_idx: np.ndarray, r: np.ndarray, mentor_idx: np.ndarray) -> set:
    out = set()
    for c, rc in zip(child_idx, r, strict=True):
        d = haversine_km(
            p.child_lat[c], p.child_lon[c], p.mentor_lat[mentor_idx], p.mentor_lon[mentor_idx]
        )
        lim = np.minimum(p.limit_km[mentor_idx], min(rc, p.radius_km))
        # a margin of 1e-9 km for the two distance formulas
        out |= {(int(c), int(j)) for j in mentor_idx[d <= lim - 1e-9]}
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_within_per_child_radius_and_mentor_subset_matches_brute_force(seed: int) -> None:
    p = _problem(120, 90, seed, max_distance_km=4.0)
    rng = np.random.default_rng(seed)
    child_idx = np.sort(rng.choice(p.n, size=60, replace=False))
    r = rng.uniform(-0.5, 5.0, size=child_idx.size)  # some negative, some beyond the limit
    mentor_idx = np.sort(rng.choice(p.m, size=p.m // 2, replace=False))
    ci, mj, km = p.within(child_idx, r, mentor_idx)
    got = set(zip(ci.tolist(), mj.tolist(), strict=True))
    want = _brute(p, child_idx, r, mentor_idx)
    assert want <= got  # nothing within reach is missed
    for c, j, k in zip(ci, mj, km, strict=True):  # and nothing beyond it is returned
        rc = r[np.searchsorted(child_idx, c)]
        assert k <= min(rc, p.radius_km, p.limit_km[j]) + 1e-9
    assert len(got) == ci.size  # no pair twice


def test_pairs_within_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    a = rng.uniform([31.7, 119.9], [31.9, 120.1], size=(150, 2))
    b = rng.uniform([31.7, 119.9], [31.9, 120.1], size=(130, 2))
    ia, ib, km = pairs_within(a[:, 0], a[:, 1], b[:, 0], b[:, 1], 3.0)
    d = haversine_km(a[:, 0][:, None], a[:, 1][:, None], b[:, 0][None, :], b[:, 1][None, :])
    want = {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= 3.0 - 1e-9), strict=True)}
    got = set(zip(ia.tolist(), ib.tolist(), strict=True))
    assert want <= got
    assert np.all(km <= 3.0)
    np.testing.assert_allclose(km, d[ia, ib], atol=1e-9)
    assert list(zip(ia, ib, strict=True)) == sorted(zip(ia, ib, strict=True))


@pytest.mark.parametrize(
    ("n", "groups", "k"), [(500, 20, 3), (2000, 7, 4), (300, 300, 1), (50, 3, 60)]
)
def test_smallest_per_group_keeps_the_k_smallest_of_each_group_earliest_first(
    n: int, groups: int, k: int
) -> None:
    rng = np.random.default_rng(n + k)
    group = rng.integers(0, groups, n)
    value = rng.integers(-5, 5, n)  # many ties: the earlier entry must win
    got = S.smallest_per_group(group, value, k)
    want = np.zeros(n, dtype=bool)
    for g in range(groups):
        members = np.flatnonzero(group == g)
        want[members[np.argsort(value[members], kind="stable")[:k]]] = True
    assert np.array_equal(got, want)
    # or'ed into a given mask, which is returned
    base = rng.random(n) < 0.5
    out = S.smallest_per_group(group, value, k, keep=base.copy())
    assert np.array_equal(out, base | want)
    assert S.smallest_per_group(group[:0], value[:0], k).size == 0


# dense districts (900 x 700 on 60 km2) and configurations for the priced path
_DENSE_DISTRICTS = [
    (11, {"max_distance_km": 5.0}),
    (12, {"max_distance_km": 3.0, "objective": "min_cost", "unmatched_km": 4.0}),
    (13, {"max_distance_km": 4.0, "same_street": True, "priority_km": 30.0}),
    (14, {"max_distance_km": 5.0, "uncovered_need_km": 6.0, "shared_interest_km": 2.0}),
]


def _proven_equal_to_dense(seed: int, cfg: dict, tuning: SolverTuning) -> None:
    """The priced path on a dense district proves its result, and it equals
    the dense solve's (objective and number of pairs)."""
    kids, mentors = district(900, 700, seed=seed, area_km2=60.0)
    config = MatchConfig(**cfg)
    sparse = match(kids, mentors, config, tuning=tuning)
    dense = match(kids, mentors, config, method="dense")
    assert sparse.metrics["solver"]["proven"] is True
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]


@pytest.mark.parametrize(("seed", "cfg"), _DENSE_DISTRICTS)
@pytest.mark.parametrize("grid", [True, False])
def test_priced_path_equals_dense_on_dense_districts(
    monkeypatch: pytest.MonkeyPatch, seed: int, cfg: dict, grid: bool
) -> None:
    # dense districts: hundreds of mentors within reach of each child; the
    # suspect search on the planar grid and, where there is no grid, the
    # k-d tree search
    if not grid:
        monkeypatch.setattr(S.Grid, "build", classmethod(lambda cls, *args, **kw: None))
    kids, mentors = district(900, 700, seed=seed, area_km2=60.0)
    config = MatchConfig(**cfg)
    sparse = match(kids, mentors, config)
    dense = match(kids, mentors, config, method="dense")
    solver = sparse.metrics["solver"]
    assert solver["proven"] is True
    assert solver["grid_search"] is grid
    assert solver["rounds"] >= 2  # the priced path ran
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]


def test_the_suspect_list_is_reused_while_the_potentials_barely_move() -> None:
    # the complete lists (no grid, or a child that may hide more than its
    # best few) are kept between rounds; here every search lists them all
    reused = []
    for seed in (11, 12, 13, 14):
        kids, mentors = district(900, 700, seed=seed, area_km2=60.0)
        result = match(kids, mentors, MatchConfig(), tuning=SolverTuning(best_k=0))
        solver = result.metrics["solver"]
        assert solver["proven"] is True
        reused.append(solver["suspect_searches"] < solver["rounds"])
    assert any(reused)


@pytest.mark.parametrize(("seed", "cfg"), _DENSE_DISTRICTS)
@pytest.mark.parametrize(("best_k", "hide"), [(1, False), (2, True), (8, False)])
def test_each_childs_best_suspects_prove_the_dense_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, cfg: dict, best_k: int, hide: bool
) -> None:
    # once the number of pairs is settled, each search lists only each
    # child's best few suspects; where a child may hide more (forced here
    # with ``hide``: every child reports a left-out pair that could price
    # negative) the complete list decides the proof
    searches: list[str] = []
    search = pricing.suspects_grid

    def spy(*args: object, **kw: object) -> tuple[np.ndarray, ...]:
        out = search(*args, **kw)
        best = kw.get("best")
        if best is not None and hide:
            best[1][:] = np.inf
        searches.append("best" if best else "hot" if kw.get("hot") is not None else "all")
        return out

    monkeypatch.setattr(pricing, "suspects_grid", spy)
    _proven_equal_to_dense(seed, cfg, SolverTuning(best_k=best_k))
    assert "best" in searches
    if hide:
        assert "all" in searches


@pytest.mark.parametrize(("seed", "cfg"), _DENSE_DISTRICTS)
@pytest.mark.parametrize("extra_km", [0.3, 0.05])
def test_lists_searched_again_child_by_child_prove_the_dense_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, cfg: dict, extra_km: float
) -> None:
    # each child's suspect list is kept until its own drift passes the
    # widening; forced here to search only the drifted children every time
    # (and, with a narrow widening, often), the proof must still be exact
    sizes: list[int] = []
    search = pricing.suspects_grid

    def spy(*args: object, **kw: object) -> tuple[np.ndarray, ...]:
        only = kw.get("only")
        if only is not None:
            sizes.append(int(np.count_nonzero(only)))
        return search(*args, **kw)

    monkeypatch.setattr(pricing, "suspects_grid", spy)
    _proven_equal_to_dense(seed, cfg, SolverTuning(rescan_share=1.0, suspect_extra_km=extra_km))
    assert sizes and sizes[0] == 900  # the first search covers every child
    assert all(0 < k <= 900 for k in sizes)


def test_only_the_drifted_children_are_searched_again_at_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a district of 2,000 children at the defaults: the last search covers
    # only the children whose lists drifted, and the optimum is the dense one
    sizes: list[int] = []
    search = pricing.suspects_grid

    def spy(*args: object, **kw: object) -> tuple[np.ndarray, ...]:
        only = kw.get("only")
        sizes.append(args[0].n if only is None else int(np.count_nonzero(only)))
        return search(*args, **kw)

    monkeypatch.setattr(pricing, "suspects_grid", spy)
    kids, mentors = district(2000, 1600, seed=1)
    sparse = match(kids, mentors)
    assert sparse.metrics["solver"]["proven"] is True
    assert sizes[0] == 2000 and 0 < min(sizes) < 2000 * SolverTuning().rescan_share
    dense = match(kids, mentors, method="dense")
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]


def test_a_rough_first_round_never_proves_and_reaches_the_dense_optimum() -> None:
    # small matches start with a rough auction; even where the first model
    # holds every allowed pair (so the first search finds nothing to add)
    # the proof waits for an exact solve
    kids, mentors = district(600, 450, seed=5, area_km2=60.0)
    dense = match(kids, mentors, method="dense")
    for k in (SolverTuning().pricing_k, 10**6):
        solver = match(kids, mentors, tuning=SolverTuning(pricing_k=k)).metrics
        assert solver["solver"]["rough_first_round"] is True
        assert solver["solver"]["proven"] is True and solver["solver"]["rounds"] >= 2
        assert solver["objective_units"] == dense.metrics["objective_units"]
    exact = SolverTuning(rough_max_children=100)  # beyond it: exact from the start
    assert match(kids, mentors, tuning=exact).metrics["solver"]["rough_first_round"] is False


def test_keep_bonuses_give_the_same_optimum_on_the_priced_and_dense_paths() -> None:
    kids, mentors = district(800, 650, seed=21, area_km2=60.0)
    config = MatchConfig(max_distance_km=4.0)
    first = match(kids, mentors, config)
    keep = {
        (c, m): 1.5
        for c, m in zip(first.pairs["child_id"][::2], first.pairs["mentor_id"][::2], strict=True)
    }
    # move the children a little so that keeping is no longer free
    moved = kids.assign(lat=kids["lat"] + 0.004)
    sparse = match(moved, mentors, config, keep=keep)
    dense = match(moved, mentors, config, keep=keep, method="dense")
    plain = match(moved, mentors, config)
    assert sparse.metrics["solver"]["rounds"] >= 2

    def kept(r: object) -> int:
        pairs = r.pairs  # type: ignore[attr-defined]
        return len(set(zip(pairs["child_id"], pairs["mentor_id"], strict=True)) & set(keep))

    def with_bonus(r: object) -> int:
        return r.metrics["objective_units"] - 1500 * kept(r)  # type: ignore[attr-defined]

    # the optimised total counts each kept pair's bonus (1.5 km = 1500 units)
    assert with_bonus(sparse) == with_bonus(dense)
    assert with_bonus(sparse) <= with_bonus(plain)
    # the bonus is not part of the reported objective, which is never better
    # than without bonuses; and bonuses never make fewer pairs stay
    assert sparse.metrics["objective_units"] >= plain.metrics["objective_units"]
    assert kept(sparse) >= kept(plain)


# crowded districts whose first model pairs fewer children than the optimum
# (and fewer than the mentors' places), so settling rounds happen
_CROWDED = [(1200, 900, 200.0, 31), (1200, 900, 200.0, 33), (1000, 800, 300.0, 31)]


def _crowded(case: tuple[int, int, float, int]) -> tuple:
    n, k, area, seed = case
    return district(n, k, seed=seed, area_km2=area), MatchConfig(max_distance_km=3.0)


@pytest.mark.parametrize(
    ("tag_split", "hot_scan", "fresh_share"),
    [(False, True, 0.5), (True, False, 0.5), (False, False, 0.5), (False, True, 0.0)],
)
@pytest.mark.parametrize("case", _CROWDED)
def test_settling_rounds_and_tag_searches_reach_the_dense_optimum(
    case: tuple[int, int, float, int],
    tag_split: bool,
    hot_scan: bool,
    fresh_share: float,
) -> None:
    # scarce mentors: the first model leaves children unmatched that the
    # optimum pairs, so "hot" children get incomplete (nearest-only) lists
    # for a round or more before the complete search and the proof; those
    # lists come from the grid scan or from the k-d tree search
    tuning = SolverTuning(
        tag_split_min=0 if tag_split else 10**9,
        hot_scan_pairs=10**12 if hot_scan else 0,
        fresh_share=fresh_share,  # 0.0: every round after the first is solved afresh
    )
    (kids, mentors), config = _crowded(case)
    sparse = match(kids, mentors, config, tuning=tuning)
    dense = match(kids, mentors, config, method="dense")
    solver = sparse.metrics["solver"]
    assert solver["proven"] is True
    assert solver["settling_rounds"] >= 1
    assert solver["rounds"] > solver["settling_rounds"]  # the last round was a complete one
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]


def test_settling_rounds_continue_while_the_pairs_stay_below_the_ceiling() -> None:
    # mentors 40 km away from every child can never be paired: the ceiling
    # min(children, places) is out of reach, and settling rounds follow one
    # another only while the count of pairs still grows
    (kids, mentors), config = _crowded(_CROWDED[0])
    far = mentors.head(30).copy()
    far["id"] = "far-" + far["id"].astype(str)
    far["lat"] = far["lat"] + 0.36
    mentors = pd.concat([mentors, far], ignore_index=True)
    sparse = match(kids, mentors, config)
    dense = match(kids, mentors, config, method="dense")
    solver = sparse.metrics["solver"]
    assert solver["settling_rounds"] >= 1 and solver["proven"] is True
    assert sparse.metrics["n_pairs"] < min(len(kids), sparse.metrics["mentor_capacity"])
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]


@pytest.mark.parametrize("seed", [41, 42])
def test_no_settling_round_once_every_mentor_place_is_taken(seed: int) -> None:
    # far fewer mentors than children: the first model already fills every
    # mentor place, so the number of pairs cannot grow and no settling round
    # (an incomplete search) may follow; the proof still holds
    kids, mentors = district(3000, 100, seed=seed, area_km2=60.0)
    config = MatchConfig(max_distance_km=4.0)
    sparse = match(kids, mentors, config)
    dense = match(kids, mentors, config, method="dense")
    solver = sparse.metrics["solver"]
    assert solver["method"] == "sparse" and solver["proven"] is True
    assert sparse.metrics["n_pairs"] == sparse.metrics["mentor_capacity"]
    assert solver["settling_rounds"] == 0
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]


@pytest.mark.parametrize("seed", [51, 52])
def test_pairs_in_reach_by_grid_equal_the_kd_tree_search(seed: int) -> None:
    p = _problem(700, 300, seed, SolverTuning(grid_reach_pairs=0), max_distance_km=2.5)
    p.limit_km[::7] = 1.0  # some mentors with a shorter limit of their own
    kids = np.arange(0, p.n, 3)
    gi, gj, gk = in_reach(p, kids)
    ki, kj, kk = p.within(kids, p.radius_km)
    assert gi.size == ki.size > 0
    g = np.lexsort((gj, gi))
    k = np.lexsort((kj, ki))
    assert np.array_equal(gi[g], ki[k]) and np.array_equal(gj[g], kj[k])
    np.testing.assert_allclose(gk[g], kk[k], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "cfg",
    [
        {"max_distance_km": 3.0},
        {"max_distance_km": 3.0, "same_street": True, "k_nearest": 5},
    ],
)
def test_unmatched_reasons_are_the_same_by_grid_and_by_kd_tree(cfg: dict) -> None:
    (kids, mentors), _ = _crowded(_CROWDED[0])
    config = MatchConfig(**cfg)
    by_grid = match(kids, mentors, config, tuning=SolverTuning(grid_reach_pairs=0)).unmatched
    by_tree = match(kids, mentors, config, tuning=SolverTuning(grid_reach_pairs=10**18)).unmatched
    assert len(by_grid) > 0
    assert set(by_grid["reason"]) >= {"mentors_taken"}
    pd.testing.assert_frame_equal(by_grid, by_tree)


def test_a_fresh_solve_that_is_not_optimal_is_refused_and_solved_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the flow refuses a taken-over solution its potentials cannot prove
    # (here: every child left unmatched, from the auction and from OR-Tools
    # alike) and solves the model itself
    calls = []

    def worse(p: MatchProblem, *arcs: np.ndarray, auction: bool = True) -> tuple[np.ndarray, None]:
        calls.append(auction)
        return np.full(p.n, -1, dtype=np.int64), None

    (kids, mentors), config = _crowded(_CROWDED[0])
    dense = match(kids, mentors, config, method="dense")
    monkeypatch.setattr(pricing, "fresh_solve", worse)
    sparse = match(kids, mentors, config)
    assert True in calls and False in calls  # the auction, then OR-Tools
    assert sparse.metrics["solver"]["proven"] is True
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"same_street": True},
        {"same_gender": True},
        {"same_street": True, "same_gender": True, "forbid": 40},
    ],
)
def test_unmatched_reasons_counted_on_the_grid_equal_the_listed_ones(
    monkeypatch: pytest.MonkeyPatch, rules: dict
) -> None:
    # the counts of the unmatched frame (in reach, per rule, allowed, with
    # room) by the compiled pass equal those from listing every pair
    rules = dict(rules)
    forbid = rules.pop("forbid", 0)
    p = _problem(600, 400, 31, max_distance_km=2.5, **rules)
    rng = np.random.default_rng(5)
    if forbid:
        ci, mj, _ = p.within(np.arange(p.n), p.radius_km)
        pick = rng.choice(ci.size, forbid, replace=False)
        pairs = [(p.children["id"][ci[k]], p.mentors["id"][mj[k]]) for k in pick]
        p = _problem(600, 400, 31, max_distance_km=2.5, forbidden_pairs=pairs, **rules)
        assert p.forbidden_keys.size == forbid
    unmatched = rng.random(p.n) < 0.4
    load = p.capacity.copy()  # every mentor full but three
    load[rng.choice(p.m, 3, replace=False)] = 0
    counted = unmatched_frame(p, unmatched, load)
    monkeypatch.setattr(p, "planar_grid", lambda: None)  # listing, k-d tree
    listed = unmatched_frame(p, unmatched, load)
    assert len(counted) == int(unmatched.sum())
    assert set(counted["reason"]) >= {"mentors_taken", "cheaper_unmatched"}
    if rules or forbid:  # the rules excluded some pairs
        assert (counted["mentors_allowed"] < counted["mentors_in_reach"]).any()
    pd.testing.assert_frame_equal(counted, listed)
    # the same counts on one thread and on three (threads from the first child on)
    split = SolverTuning(scan_split_min=1)
    cell_km = p.radius_km / p.tuning.grid_cells_per_radius
    grid = S.Grid.build(p.child_lat, p.child_lon, p.mentor_lat, p.mentor_lon, cell_km, tuning=split)
    assert grid is not None
    idx = np.arange(p.n)
    terms = {"vc": p.child_vec, "vm": p.mentor_vec, "limit": p.limit_km, "spare": load < p.capacity}
    terms |= {"rules": p.rule_codes(), "stride": p.m}
    one = grid.reach_counts(idx, p.radius_km, **terms, threads=1)
    assert np.array_equal(one, grid.reach_counts(idx, p.radius_km, **terms, threads=3))


def test_best_suspects_leave_out_forbidden_pairs_and_other_genders_as_the_dense_path_does() -> None:
    # the rules are applied inside the best-suspects scan; the optimum must
    # still equal the dense one, with none of the forbidden pairs
    kids, mentors = district(900, 700, seed=17, area_km2=60.0)
    free = match(kids, mentors, MatchConfig(max_distance_km=4.0))
    chosen = free.pairs.iloc[::30]
    forbidden = tuple(zip(chosen["child_id"], chosen["mentor_id"], strict=True))
    config = MatchConfig(max_distance_km=4.0, same_gender=True, forbidden_pairs=forbidden)
    sparse = match(kids, mentors, config)
    dense = match(kids, mentors, config, method="dense")
    assert sparse.metrics["solver"]["proven"] is True
    assert sparse.metrics["solver"]["rounds"] >= 2
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]
    made = set(zip(sparse.pairs["child_id"], sparse.pairs["mentor_id"], strict=True))
    assert len(forbidden) >= 20 and not made & set(forbidden)
