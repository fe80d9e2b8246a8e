"""The compiled grid search for suspect arcs (matching._engine.scan) lists exactly
the pairs a brute-force pass over every (child, mentor) pair finds."""

from __future__ import annotations

import numpy as np
import pytest

from matching._engine.costs import InterestCodes, pair_costs
from matching._engine.scan import Grid
from matching._engine.tuning import DEFAULT_TUNING, SolverTuning
from matching.config import MatchConfig
from matching.geo.distance import great_circle_km, unit_vectors

TAGS = ["chess", "music", "art", "football", "reading", "coding"]
MANY_TAGS = [f"tag{k}" for k in range(70)]  # two 64-bit words per person


def _instance(seed: int, lat0: float, span_deg: float, tags: list[str] = TAGS):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 160)), int(rng.integers(1, 120))
    clat = lat0 + rng.random(n) * span_deg
    clon = 119.9 + rng.random(n) * span_deg
    mlat = lat0 + rng.random(m) * span_deg
    mlon = 119.9 + rng.random(m) * span_deg
    need = rng.integers(0, 16, n).astype(np.uint8)
    skill = rng.integers(0, 16, m).astype(np.uint8)
    few = 3 if len(tags) < 10 else 12
    ktags = [tuple(rng.choice(tags, rng.integers(0, few), replace=False)) for _ in range(n)]
    mtags = [tuple(rng.choice(tags, rng.integers(0, few), replace=False)) for _ in range(m)]
    if len(tags) > 64:  # every tag on both sides: the bitsets need two words
        ktags[0] = mtags[0] = tuple(tags)
    codes = InterestCodes(ktags, mtags)
    limit = rng.choice([2.0, 3.5, 5.0], m)
    top = rng.normal(0.0, 3.0, m)
    base = rng.normal(-2.0, 3.0, n)
    return rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base


def _terms(clat, clon, mlat, mlon, need, skill, codes, limit, cfg, slack) -> dict:
    """The keyword arguments of Grid.scan for an instance of _instance."""
    return {
        "vc": unit_vectors(clat, clon),
        "vm": unit_vectors(mlat, mlon),
        "kneed": need,
        "kbits": codes.child,
        "mskill": skill,
        "mbits": codes.mentor,
        "limit": limit,
        "need_km": cfg.uncovered_need_km,
        "int_km": cfg.shared_interest_km,
        "max_shared": cfg.max_shared_interests,
        "slack": slack,
    }


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize(
    ("lat0", "span_deg", "tags"),
    [(31.7, 0.25, TAGS), (45.0, 2.0, TAGS), (-33.9, 0.5, TAGS), (31.7, 0.1, MANY_TAGS)],
)
def test_scan_equals_brute_force(seed, lat0, span_deg, tags):
    rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base = _instance(
        seed, lat0, span_deg, tags
    )
    cfg = MatchConfig(max_distance_km=5.0)
    n, m = clat.size, mlat.size
    slack = 0.002
    n_tags = np.bitwise_count(codes.child).sum(axis=1).astype(np.int64)
    bonus_hi = cfg.shared_interest_km * np.minimum(n_tags, cfg.max_shared_interests)
    reach = np.minimum(float(top.max()) - base + bonus_hi + slack, limit.max())
    grid = Grid.build(clat, clon, mlat, mlon, float(rng.choice([0.3, 0.7, 2.0])))
    assert grid is not None
    assert codes.child.shape[1] == (2 if len(tags) > 64 else 1)
    kids = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    xi, xj, xk = grid.scan(
        kids,
        reach,
        base,
        bonus_hi.astype(np.float64),
        top,
        vc=unit_vectors(clat, clon),
        vm=unit_vectors(mlat, mlon),
        kneed=need,
        kbits=codes.child,
        mskill=skill,
        mbits=codes.mentor,
        limit=limit,
        need_km=cfg.uncovered_need_km,
        int_km=cfg.shared_interest_km,
        max_shared=cfg.max_shared_interests,
        slack=slack,
    )
    # brute force over every pair of the chosen children
    ci = np.repeat(kids, m)
    mj = np.tile(np.arange(m), kids.size)
    km = great_circle_km(clat[ci], clon[ci], mlat[mj], mlon[mj])
    terms = pair_costs(ci, mj, km, need, skill, codes, cfg)
    bound = top[mj] - base[ci] - terms.need_km - terms.interest_km + slack
    want = (km <= limit[mj]) & (km <= reach[ci]) & (km <= bound)
    got = set(zip(xi.tolist(), xj.tolist(), strict=True))
    assert len(got) == xi.size  # no pair twice
    assert got == set(zip(ci[want].tolist(), mj[want].tolist(), strict=True))
    np.testing.assert_allclose(
        xk, great_circle_km(clat[xi], clon[xi], mlat[xj], mlon[xj]), rtol=1e-12, atol=1e-9
    )


def test_no_grid_where_the_projection_would_distort():
    lat = np.array([10.0, 60.0])
    lon = np.array([100.0, 100.5])
    assert Grid.build(lat, lon, lat, lon, 0.5) is None  # 50 degrees of latitude
    lon_wide = np.array([-170.0, 170.0])
    lat_eq = np.array([0.0, 0.1])
    assert Grid.build(lat_eq, lon_wide, lat_eq, lon_wide, 0.5) is None  # antimeridian
    assert Grid.build(np.empty(0), np.empty(0), lat, lon, 0.5) is None


@pytest.mark.parametrize(("keep_k", "best_k"), [(0, 0), (2, 0), (0, 3)])
@pytest.mark.parametrize("seed", range(6))
def test_scan_on_threads_lists_the_same_pairs_in_the_same_order(seed, keep_k, best_k):
    _rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base = _instance(seed, 31.7, 0.25)
    cfg = MatchConfig(max_distance_km=5.0)
    reach = np.minimum(float(top.max()) - base + 3.0, limit.max())
    # threads from the first child on
    grid = Grid.build(clat, clon, mlat, mlon, 0.7, tuning=SolverTuning(scan_split_min=1))
    kids = np.arange(clat.size)
    args = (kids, reach, base, np.full(clat.size, 2.0), top)
    terms = _terms(clat, clon, mlat, mlon, need, skill, codes, limit, cfg, 0.002)
    terms |= {"bucket": skill.astype(np.int64), "keep_k": keep_k}
    n, m = clat.size, mlat.size
    drops = []

    def run(threads: int) -> tuple[np.ndarray, ...]:
        if not best_k:
            return grid.scan(*args, **terms, threads=threads)
        # half of each child's first pairs are in the model already
        keys = np.arange(0, n * m, 2, dtype=np.int64)
        model = (keys, np.searchsorted(keys, np.arange(n + 1) * m).astype(np.int64), m)
        drops.append(np.zeros(n))
        return grid.scan(
            *args, **terms, best_k=best_k, model=model, drop=drops[-1], threads=threads
        )

    one = run(1)
    for threads in (2, 3):
        many = run(threads)
        for a, b in zip(one, many, strict=True):
            assert np.array_equal(a, b)
    assert one[0].size > 0
    for later in drops[1:]:
        assert np.array_equal(drops[0], later)


@pytest.mark.parametrize("nearest_first", [False, True])
@pytest.mark.parametrize("rules", [False, True])
@pytest.mark.parametrize("best_k", [1, 3, 8])
@pytest.mark.parametrize("seed", range(12))
def test_best_k_keeps_each_childs_pairs_with_the_most_room_outside_the_model(
    seed, best_k, rules, nearest_first
):
    rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base = _instance(seed, 31.7, 0.25)
    cfg = MatchConfig(max_distance_km=5.0)
    n, m = clat.size, mlat.size
    slack = 0.002
    n_tags = np.bitwise_count(codes.child).sum(axis=1).astype(np.int64)
    bonus_hi = (cfg.shared_interest_km * np.minimum(n_tags, cfg.max_shared_interests)).astype(
        np.float64
    )
    reach = np.minimum(float(top.max()) - base + bonus_hi + slack, limit.max())
    grid = Grid.build(clat, clon, mlat, mlon, 0.7)
    terms = _terms(clat, clon, mlat, mlon, need, skill, codes, limit, cfg, slack)
    kids = np.arange(n)
    args = (kids, reach, base, bonus_hi, top)
    ai, aj, ak = grid.scan(*args, **terms)  # every pair that passes the bound
    # a third of them are in the model already
    in_model = rng.random(ai.size) < 1 / 3
    keys = np.sort(ai[in_model] * m + aj[in_model])
    row_ptr = np.searchsorted(keys, np.arange(n + 1) * m).astype(np.int64)
    drop = np.full(n, 7.0)
    extra = {}
    if rules:  # streets, genders (0: any) and forbidden pairs leave pairs out
        kst, mst = rng.integers(0, 3, n), rng.integers(0, 3, m)
        kgd, mgd = rng.integers(0, 3, n), rng.integers(0, 3, m)
        banned = rng.random(ai.size) < 0.2
        fkeys = np.sort(ai[banned] * m + aj[banned])
        frow = np.searchsorted(fkeys, np.arange(n + 1) * m).astype(np.int64)
        extra["rules"] = (kst, mst, kgd, mgd, fkeys, frow)
        gender_ok = (kgd[ai] == 0) | (mgd[aj] == 0) | (kgd[ai] == mgd[aj])
        excluded = (kst[ai] != mst[aj]) | ~gender_ok | banned
        # the complete list with the rules: every pair but the excluded ones
        li, lj, _ = grid.scan(*args, **terms, rules=extra["rules"])
        want = set(zip(ai[~excluded].tolist(), aj[~excluded].tolist(), strict=True))
        assert set(zip(li.tolist(), lj.tolist(), strict=True)) == want and li.size == len(want)
        in_model |= excluded  # left out, as the model is
    xi, xj, xk = grid.scan(
        *args,
        **terms,
        best_k=best_k,
        model=(keys, row_ptr, m),
        drop=drop,
        nearest_first=nearest_first,
        **extra,
    )
    terms_all = pair_costs(ai, aj, ak, need, skill, codes, cfg)
    room = top[aj] - base[ai] - terms_all.need_km - terms_all.interest_km + slack - ak
    listed = {(int(i), int(j)): float(r) for i, j, r in zip(ai, aj, room, strict=True)}
    got = list(zip(xi.tolist(), xj.tolist(), strict=True))
    assert len(set(got)) == len(got)
    assert all(pair in listed for pair in got)
    left_out = set(zip(ai[in_model].tolist(), aj[in_model].tolist(), strict=True))
    assert not any(pair in left_out for pair in got)
    np.testing.assert_allclose(xk, [ak[(ai == i) & (aj == j)][0] for i, j in got])
    for i in range(n):
        outside = np.sort(room[(ai == i) & ~in_model])
        kept = np.sort([listed[(c, j)] for c, j in got if c == i])
        want = outside[::-1][:best_k][::-1]
        np.testing.assert_allclose(kept, want, atol=1e-9)
        if outside.size >= best_k:
            assert drop[i] == pytest.approx(want[0], abs=1e-9)
            assert outside[: outside.size - best_k].max(initial=-np.inf) <= drop[i] + 1e-9
        else:
            assert drop[i] == -np.inf


@pytest.mark.parametrize("ring_max", [0, 9, 1_000_000])
def test_nearest_first_walk_falls_back_to_the_box_beyond_its_size(ring_max):
    # a ring of more than tuning.ring_max offsets is left out and the box is
    # walked: the best lists (and drops) come out as they do without
    # nearest_first
    _rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base = _instance(3, 31.7, 0.25)
    cfg = MatchConfig(max_distance_km=5.0)
    n, m = clat.size, mlat.size
    reach = np.minimum(float(top.max()) - base + 3.0, limit.max())
    grid = Grid.build(clat, clon, mlat, mlon, 0.7, tuning=SolverTuning(ring_max=ring_max))
    terms = _terms(clat, clon, mlat, mlon, need, skill, codes, limit, cfg, 0.002)
    args = (np.arange(n), reach, base, np.full(n, 2.0), top)
    ring, _ = grid.ring(float(reach.max()))
    assert (ring.shape[0] == 0) == (ring_max < 1_000_000)
    empty = np.empty(0, dtype=np.int64)
    lists = []
    for nearest_first in (False, True):
        drop = np.zeros(n)
        got = grid.scan(
            *args, **terms, best_k=3, model=(empty, np.zeros(n + 1, np.int64), m), drop=drop,
            nearest_first=nearest_first,
        )  # fmt: skip
        lists.append((set(zip(got[0].tolist(), got[1].tolist(), strict=True)), drop))
    assert lists[0][0] == lists[1][0] and lists[0][0]
    np.testing.assert_array_equal(lists[0][1], lists[1][1])


def test_shared_worker_pool_serves_callers_on_many_threads_and_after_a_fork():
    """The scans' worker pool is started once and shared: eight callers
    scanning at once on their own threads get the single-threaded list,
    and a forked child (which has none of the parent's threads) gets a
    pool of its own."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    import matching._engine.scan as S

    _rng, clat, clon, mlat, mlon, need, skill, codes, limit, top, base = _instance(3, 31.7, 0.25)
    reach = np.minimum(float(top.max()) - base + 3.0, limit.max())
    grid = Grid.build(clat, clon, mlat, mlon, 0.7, tuning=SolverTuning(scan_split_min=1))
    args = (np.arange(clat.size), reach, base, np.full(clat.size, 2.0), top)
    terms = _terms(clat, clon, mlat, mlon, need, skill, codes, limit, MatchConfig(), 0.002)
    want = grid.scan(*args, **terms, threads=1)
    assert want[0].size > 0
    with ThreadPoolExecutor(max_workers=8) as callers:
        got = list(callers.map(lambda _: grid.scan(*args, **terms, threads=2), range(8)))
    for one in got:
        for a, b in zip(want, one, strict=True):
            assert np.array_equal(a, b)
    pool = S.thread_pool(2)
    assert S.thread_pool(2) is pool  # started once
    if "fork" not in multiprocessing.get_all_start_methods():
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as child:
        sizes = child.apply(_scan_size_in_child, (grid, args, terms))
    assert sizes == [a.size for a in want]


def _scan_size_in_child(grid, args, terms):
    import matching._engine.scan as S

    assert not S._POOL  # the parent's pool did not come along
    return [a.size for a in grid.scan(*args, **terms, threads=2)]


@pytest.mark.parametrize("seed", range(8))
def test_pairs_by_child_lists_each_pair_once_by_child_then_mentor(seed):
    """The first model's pairs: repeats dropped, pairs beyond the mentor's
    limit dropped, sorted by child then mentor, km as great_circle_km."""
    from matching._engine.scan import pairs_by_child

    _rng, clat, clon, mlat, mlon, _need, _skill, _codes, limit, _top, _base = _instance(
        seed, 31.7, 0.25
    )
    rng = np.random.default_rng(seed)
    n, m = clat.size, mlat.size
    ci = rng.integers(0, n, 3 * (n + m))
    mj = rng.integers(0, m, ci.size)
    vc, vm = unit_vectors(clat, clon), unit_vectors(mlat, mlon)
    oi, oj, ok = pairs_by_child(n, ci, mj, vc, vm, limit)
    km = great_circle_km(clat[ci], clon[ci], mlat[mj], mlon[mj])
    want = sorted({(int(i), int(j)) for i, j, k in zip(ci, mj, km, strict=True) if k <= limit[j]})
    assert list(zip(oi.tolist(), oj.tolist(), strict=True)) == want
    assert 0 < len(want) < ci.size  # some repeats and some out of reach
    want_km = great_circle_km(clat[oi], clon[oi], mlat[oj], mlon[oj])
    np.testing.assert_allclose(ok, want_km, rtol=1e-12)


def _nearest_by_brute_force(km, need, skill, radius, k, k_mentor, k_cover):
    """The pairs Grid.nearest should list, from the full km matrix."""
    n, m = km.shape
    want = set()
    for i in range(n):
        near = [j for j in np.argsort(km[i], kind="stable")[:k] if km[i, j] <= radius]
        want |= {(i, int(j)) for j in near}
        if need[i]:
            cover = np.flatnonzero((skill & need[i]) == need[i])
            best = cover[np.argsort(km[i, cover], kind="stable")[:k_cover]]
            want |= {(i, int(j)) for j in best if km[i, j] <= radius}
    for j in range(m):
        near = [i for i in np.argsort(km[:, j], kind="stable")[:k_mentor] if km[i, j] <= radius]
        want |= {(int(i), j) for i in near}
    return want


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("crowd", [1, 40])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("lat0", "span_deg"), [(31.7, 0.25), (45.0, 2.0), (-33.9, 0.5)])
def test_nearest_lists_the_nearest_and_nearest_covering_pairs(seed, crowd, threads, lat0, span_deg):
    """Each child's k nearest mentors and k_cover nearest covering mentors,
    each mentor's k_mentor nearest children, all within the radius: the
    same pairs as sorting the full distance matrix (continuous random
    positions, so no ties), also where the projection stretches distances
    (45-47 degrees north).  ``crowd`` puts many mentors in few cells, so the
    walk uses cells finer than the grid's."""
    _rng, clat, clon, mlat, mlon, need, skill, _codes, _limit, _top, _base = _instance(
        seed, lat0, span_deg
    )
    rng = np.random.default_rng(seed + 1000)
    if crowd > 1:  # a dense cluster: most mentors within a few hundred metres
        mlat = np.r_[mlat, lat0 + 0.1 + rng.random(crowd * 10) * 0.01]
        mlon = np.r_[mlon, 120.0 + rng.random(crowd * 10) * 0.01]
        clat = np.r_[clat, lat0 + 0.1 + rng.random(crowd) * 0.01]
        clon = np.r_[clon, 120.0 + rng.random(crowd) * 0.01]
        skill = np.r_[skill, rng.integers(0, 16, crowd * 10)].astype(np.uint8)
        need = np.r_[need, rng.integers(0, 16, crowd)].astype(np.uint8)
    radius = float(rng.choice([3.0, 8.0, 40.0]))
    # two lanes from the first child on
    grid = Grid.build(clat, clon, mlat, mlon, radius / 8, tuning=SolverTuning(scan_split_min=1))
    k, k_mentor, k_cover = (int(x) for x in rng.integers(1, 20, 3))
    got = grid.nearest(
        radius, k, k_mentor, k_cover, vc=unit_vectors(clat, clon), vm=unit_vectors(mlat, mlon),
        need=need, skill=skill, threads=threads,
    )  # fmt: skip
    assert got is not None
    km = np.array([great_circle_km(np.full(mlat.size, a), np.full(mlat.size, b), mlat, mlon)
                   for a, b in zip(clat, clon, strict=True)])  # fmt: skip
    want = _nearest_by_brute_force(km, need, skill, radius, k, k_mentor, k_cover)
    assert set(zip(got[0].tolist(), got[1].tolist(), strict=True)) == want
    assert want or crowd == 1  # the cluster puts pairs in reach (sparse rosters may have none)


@pytest.mark.parametrize(("knob", "value"), [("ring_max", 1), ("nearest_max_index", 10)])
def test_first_model_is_the_same_without_the_grid_walk(knob, value):
    """Where the walk would take more than ``ring_max`` cell offsets or its
    index more than ``nearest_max_index`` entries, the first model comes
    from k-d tree searches instead: the same pairs."""
    from matching._engine.arcs import nearest_arcs
    from matching._engine.problem import MatchProblem, sort_by_id
    from matching.datasets.synth import district
    from matching.rosters import validate_children, validate_mentors

    kids, mentors = district(600, 480, seed=3)
    kids, mentors = sort_by_id(validate_children(kids)), sort_by_id(validate_mentors(mentors))
    p = MatchProblem(kids, mentors, MatchConfig())
    walked = nearest_arcs(p, 8, 16, 16)
    # the same problem, with the walk's limit lowered
    q = MatchProblem(kids, mentors, MatchConfig(), tuning=SolverTuning(**{knob: value}))
    assert q.planar_grid().nearest(
        q.radius_km, 8, 16, 16, vc=q.child_vec, vm=q.mentor_vec, need=q.child_needs,
        skill=q.mentor_skills,
    ) is None  # fmt: skip
    searched = nearest_arcs(q, 8, 16, 16)
    for a, b in zip(walked, searched, strict=True):
        np.testing.assert_array_equal(a, b)
    assert walked[0].size > 600 * 8


def test_nearest_walks_coarser_cells_to_keep_its_index_small():
    """A crowded roster asks for cells several times finer than the grid's;
    with a small index budget the walk takes coarser ones: the same pairs."""
    rng = np.random.default_rng(5)
    mlat, mlon = 31.8 + rng.random(900) * 0.01, 120.0 + rng.random(900) * 0.01
    clat, clon = 31.8 + rng.random(300) * 0.02, 120.0 + rng.random(300) * 0.02
    need, skill = (
        rng.integers(0, 16, 300).astype(np.uint8),
        rng.integers(0, 16, 900).astype(np.uint8),
    )
    n_sets = np.unique(need[need != 0]).size  # 15: 17 index arrays with both sides'
    budget = SolverTuning(nearest_max_index=17 * 4 * 4)  # of 4 x 4 cells
    grids = [Grid.build(clat, clon, mlat, mlon, 1.0, tuning=t) for t in (DEFAULT_TUNING, budget)]
    planes = [grid.walk_plane(n_sets) for grid in grids]
    assert planes[0] is not None and planes[1] is not None
    assert planes[0].h < planes[1].h <= grids[1].h  # the budget made the cells coarser
    assert (n_sets + 2) * planes[1].nx * planes[1].ny <= 17 * 4 * 4
    args = (5.0, 8, 16, 16)
    terms = {"vc": unit_vectors(clat, clon), "vm": unit_vectors(mlat, mlon), "need": need,
             "skill": skill, "threads": 1}  # fmt: skip
    fine, coarse = (grid.nearest(*args, **terms) for grid in grids)
    assert fine is not None and coarse is not None
    pairs = [set(zip(ci.tolist(), mj.tolist(), strict=True)) for ci, mj in (fine, coarse)]
    assert pairs[0] == pairs[1]
