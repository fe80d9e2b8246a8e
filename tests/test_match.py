"""Tests of ``matching.match``: optimality, rules, explanations, metrics, errors.

Written from the documented behaviour (module docstrings of ``matching.match``,
``matching.config``, ``matching._engine.costs`` and ``matching.rosters``), not from the
implementation.  The reference optimum is computed here, independently:

- the cost matrix is built from the documented cost model with
  ``matching.geo.distance.haversine_km`` and rounded to integer units of
  ``resolution_km``;
- the objective is solved with ``scipy.optimize.linear_sum_assignment`` on an
  expanded matrix (mentor columns replicated by capacity, one private dummy
  column per child holding its unmatched price), with a big-M on the dummies
  for the lexicographic ``"max_pairs"`` objective;
- maximum cardinality comes from ``scipy.sparse.csgraph.maximum_bipartite_matching``.

``match`` measures distances through unit vectors (chord length) while the
oracle uses haversine; the two agree to ~1e-12 km, so after rounding to whole
units they differ only at exact .5 ties, which random real-valued coordinates
never hit in practice.  All comparisons of objectives are therefore exact.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from builders import at, kids_frame, mentors_frame
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from matching import (
    ConfigError,
    InputError,
    MatchConfig,
    MatchResult,
    RosterError,
    SolverTuning,
    match,
)
from matching.datasets.synth import district
from matching.geo.distance import haversine_km
from matching.rosters import NEEDS

PAIR_COLUMNS = [
    "child_id",
    "mentor_id",
    "distance_km",
    "need_penalty_km",
    "interest_bonus_km",
    "cost_km",
    "needs_covered",
    "needs_uncovered",
    "shared_interests",
    "child_street",
    "mentor_street",
    "child_priority",
]
UNMATCHED_COLUMNS = [
    "child_id",
    "street",
    "priority",
    "reason",
    "detail",
    "mentors_in_reach",
    "mentors_allowed",
    "unmatched_price_km",
]
REASONS = {"no_mentor_in_reach", "forbidden_by_rule", "mentors_taken", "cheaper_unmatched"}


# ---------------------------------------------------------------------------
# roster helpers


def pair_set(result: MatchResult) -> set[tuple[str, str]]:
    return set(zip(result.pairs["child_id"], result.pairs["mentor_id"], strict=True))


# ---------------------------------------------------------------------------
# the independent model: allowed pairs and integer costs


class Model:
    """The documented model of a (canonical) roster pair, computed from scratch.

    The rosters must already hold canonical values (tuples of need codes,
    lower-case tags, ``"female"/"male"/""`` genders), as the synthetic rosters
    and the hand-built ones here do.
    """

    def __init__(self, kids: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig) -> None:
        self.kids, self.mentors, self.cfg = kids, mentors, cfg
        self.n, self.m = n, m = len(kids), len(mentors)
        self.cid = [str(v) for v in kids["id"]]
        self.mid = [str(v) for v in mentors["id"]]
        res = cfg.resolution_km
        clat = kids["lat"].to_numpy(float)[:, None]
        clon = kids["lon"].to_numpy(float)[:, None]
        mlat = mentors["lat"].to_numpy(float)[None, :]
        mlon = mentors["lon"].to_numpy(float)[None, :]
        self.dist = np.asarray(haversine_km(clat, clon, mlat, mlon), dtype=float).reshape(n, m)
        own = mentors["max_distance_km"].to_numpy(dtype=float, na_value=np.nan)
        self.limit = np.where(np.isnan(own), cfg.max_distance_km, own)
        self.active = mentors["active"].to_numpy(dtype=bool)
        self.caps = mentors["capacity"].to_numpy(dtype=np.int64)
        self.reach = (self.dist <= self.limit[None, :]) & self.active[None, :]
        excluded = np.zeros((n, m), dtype=bool)
        if cfg.same_street:
            cs = kids["street"].to_numpy(dtype=object)[:, None]
            ms = mentors["street"].to_numpy(dtype=object)[None, :]
            excluded |= cs != ms
        if cfg.same_gender:
            cg = kids["gender"].to_numpy(dtype=object)[:, None]
            mg = mentors["gender"].to_numpy(dtype=object)[None, :]
            excluded |= (cg != "") & (mg != "") & (cg != mg)
        ci = {c: i for i, c in enumerate(self.cid)}
        mi = {c: j for j, c in enumerate(self.mid)}
        self.forbidden = {(str(c), str(x)) for c, x in cfg.forbidden_pairs}
        for c, x in self.forbidden:
            excluded[ci[c], mi[x]] = True
        self.allowed = self.reach & ~excluded
        # need and interest sets as bit masks (vectorised over all pairs)
        need_bit = {c: 1 << b for b, c in enumerate(NEEDS)}
        tags = sorted(
            {t for col in (kids["interests"], mentors["interests"]) for x in col for t in x}
        )
        tag_bit = {t: 1 << b for b, t in enumerate(tags)}
        assert len(tags) < 63

        def mask(col: pd.Series, bit: dict[str, int]) -> np.ndarray:
            return np.array([sum(bit[t] for t in set(x)) for x in col], dtype=np.int64)

        cneed, mskill = mask(kids["needs"], need_bit), mask(mentors["skills"], need_bit)
        ctag, mtag = mask(kids["interests"], tag_bit), mask(mentors["interests"], tag_bit)
        unc = np.bitwise_count(cneed[:, None] & ~mskill[None, :]).astype(float)
        shared = np.bitwise_count(ctag[:, None] & mtag[None, :]).astype(float)
        need_km = cfg.uncovered_need_km * unc
        bonus_km = -cfg.shared_interest_km * np.minimum(shared, cfg.max_shared_interests)
        total_units = np.rint((self.dist + need_km + bonus_km) / res)
        self.cost = np.where(self.allowed, total_units, np.inf)
        prio = kids["priority"].to_numpy(dtype=float)
        self.price_km = cfg.unmatched_km + cfg.priority_km * prio
        self.unm = np.rint(self.price_km / res)

    # -- oracles -------------------------------------------------------------
    def _expanded(self, dummy_cost: np.ndarray) -> tuple[np.ndarray, int]:
        owner = np.repeat(np.arange(self.m), np.where(self.active, self.caps, 0))
        real = self.cost[:, owner]
        dummy = np.full((self.n, self.n), np.inf)
        dummy[np.arange(self.n), np.arange(self.n)] = dummy_cost
        return np.hstack([real, dummy]), owner.size

    def optimum(self) -> tuple[int, int, int]:
        """(optimal total in units, fewest pairs, most pairs) among the optimal pairings.

        ``"max_pairs"``: the dummies carry a big-M, so the most pairs come first;
        then the total of pair costs plus unmatched prices is minimised.
        ``"min_cost"``: the total alone; the cardinality range of the optima is
        found with a +-1 tie-break on the dummies after scaling by ``n + 1``.
        """
        n = self.n
        if n == 0:
            return 0, 0, 0
        finite = np.where(np.isfinite(self.cost), np.abs(self.cost), 0.0)
        big_m = 0.0
        if self.cfg.objective == "max_pairs":
            big_m = 2.0 * float((finite.max(axis=1, initial=0.0) + np.abs(self.unm)).sum()) + 1.0
        k = n + 1
        out = []
        for eps in (+1, -1):  # +1: fewest pairs among optima, -1: most
            big, slots = self._expanded(k * (self.unm + big_m) + eps)
            big[:, :slots] *= k
            r, c = linear_sum_assignment(big)
            total = float(big[r, c].sum())
            n_unm = int((c >= slots).sum())
            opt = (total - eps * n_unm) / k - big_m * n_unm
            assert opt == round(opt)
            out.append((round(opt), n - n_unm))
        assert out[0][0] == out[1][0]
        return out[0][0], out[0][1], out[1][1]

    def max_cardinality(self) -> int:
        """Maximum number of pairs over the allowed graph (capacities as replicated slots)."""
        if self.n == 0:
            return 0
        owner = np.repeat(np.arange(self.m), np.where(self.active, self.caps, 0))
        adj = self.allowed[:, owner]
        if adj.shape[1] == 0:
            return 0
        graph = csr_matrix(adj.astype(np.int8))
        matched = maximum_bipartite_matching(graph, perm_type="column")
        return int((matched >= 0).sum())


# ---------------------------------------------------------------------------
# the checker of every documented property of a result


def check_result(result: MatchResult, kids: pd.DataFrame, mentors: pd.DataFrame) -> Model:
    """Assert every hard rule and every documented column relation; return the model."""
    cfg = result.config
    model = Model(kids, mentors, cfg)
    pairs, unm, met = result.pairs, result.unmatched, result.metrics
    assert list(pairs.columns) == PAIR_COLUMNS
    assert list(unm.columns) == UNMATCHED_COLUMNS
    ci = {c: i for i, c in enumerate(model.cid)}
    mi = {c: j for j, c in enumerate(model.mid)}

    # every child exactly once, in pairs or unmatched; both frames sorted by child id
    paired = list(pairs["child_id"])
    left = list(unm["child_id"])
    assert len(set(paired)) == len(paired), "a child is paired twice"
    assert len(set(left)) == len(left)
    assert not set(paired) & set(left)
    assert sorted(paired + left) == sorted(model.cid)
    assert paired == sorted(paired)
    assert left == sorted(left)

    # mentor loads, activity, distance limits, rules
    load = pairs["mentor_id"].value_counts()
    for mid_, k in load.items():
        j = mi[mid_]
        assert model.active[j], f"inactive mentor {mid_} used"
        assert k <= model.caps[j], f"mentor {mid_} over capacity"
    kids_by_id = kids.assign(id=kids["id"].astype(str)).set_index("id")
    mentors_by_id = mentors.assign(id=mentors["id"].astype(str)).set_index("id")
    for row in pairs.itertuples(index=False):
        i, j = ci[row.child_id], mi[row.mentor_id]
        kid, mentor = kids_by_id.loc[row.child_id], mentors_by_id.loc[row.mentor_id]
        assert row.distance_km == pytest.approx(model.dist[i, j], abs=1e-9)
        assert row.distance_km <= model.limit[j] + 1e-9
        assert model.allowed[i, j], f"pair {row.child_id}-{row.mentor_id} breaks a rule"
        assert (row.child_id, row.mentor_id) not in model.forbidden
        if cfg.same_street:
            assert kid["street"] == mentor["street"]
        if cfg.same_gender:
            assert "" in (kid["gender"], mentor["gender"]) or kid["gender"] == mentor["gender"]
        assert row.child_street == kid["street"]
        assert row.mentor_street == mentor["street"]
        assert row.child_priority == kid["priority"]
        # cost terms
        assert row.distance_km + row.need_penalty_km + row.interest_bonus_km == pytest.approx(
            row.cost_km, abs=1e-9
        )
        assert row.need_penalty_km >= 0
        assert row.interest_bonus_km <= 0
        needs, skills = set(kid["needs"]), set(mentor["skills"])
        covered, uncovered = set(row.needs_covered), set(row.needs_uncovered)
        assert covered | uncovered == needs
        assert not covered & uncovered
        assert covered <= skills
        assert not uncovered & skills
        assert list(row.needs_covered) == [c for c in NEEDS if c in covered]
        assert row.need_penalty_km == pytest.approx(cfg.uncovered_need_km * len(uncovered))
        shared = set(row.shared_interests)
        assert shared <= set(kid["interests"])
        assert shared <= set(mentor["interests"])
        assert shared == set(kid["interests"]) & set(mentor["interests"])
        assert list(row.shared_interests) == sorted(shared)
        assert row.interest_bonus_km == pytest.approx(
            -cfg.shared_interest_km * min(len(shared), cfg.max_shared_interests)
        )

    # unmatched rows: price, counts and a reason consistent with the model
    pair_load = np.zeros(model.m, dtype=np.int64)
    for mid_, k in load.items():
        pair_load[mi[mid_]] = k
    for row in unm.itertuples(index=False):
        i = ci[row.child_id]
        kid = kids_by_id.loc[row.child_id]
        assert row.street == kid["street"]
        assert row.priority == kid["priority"]
        assert row.unmatched_price_km == pytest.approx(model.price_km[i])
        assert row.reason in REASONS
        assert row.mentors_in_reach == int(model.reach[i].sum())
        if cfg.k_nearest is None:
            assert row.mentors_allowed == int(model.allowed[i].sum())
        free = model.allowed[i] & (pair_load < model.caps)
        if row.mentors_in_reach == 0:
            assert row.reason == "no_mentor_in_reach"
        elif row.mentors_allowed == 0:
            assert row.reason == "forbidden_by_rule"
        elif cfg.k_nearest is None and not free.any():
            assert row.reason == "mentors_taken"
        elif cfg.k_nearest is None:
            assert row.reason == "cheaper_unmatched"
            # optimality: no free allowed mentor is cheaper than leaving the child out
            assert cfg.objective == "min_cost", "max_pairs left a child with a free mentor"
            assert model.cost[i, free].min() >= model.unm[i]

    # the reported objective is the total of this very pairing
    res = cfg.resolution_km
    total = int(np.rint(pairs["cost_km"].to_numpy(float) / res).sum()) + int(
        np.rint(unm["unmatched_price_km"].to_numpy(float) / res).sum()
    )
    assert met["objective_units"] == total
    assert met["objective_km"] == pytest.approx(total * res, abs=1e-6)
    assert met["n_pairs"] == len(pairs)
    assert met["n_unmatched"] == len(unm)
    return model


# ---------------------------------------------------------------------------
# 1. sparse vs dense on synthetic districts

# (seed, n_children, n_mentors, area_km2, priority_share, config, n_forbidden)
DISTRICT_CASES = [
    (1, 200, 120, 300.0, 0.08, {}, 0),
    (2, 300, 40, 300.0, 0.08, {"max_distance_km": 1.0}, 0),
    (3, 250, 200, 300.0, 0.08, {"max_distance_km": 2.0, "same_street": True}, 0),
    (4, 400, 150, 300.0, 0.2, {"max_distance_km": 3.0, "same_gender": True}, 0),
    (
        5,
        150,
        150,
        300.0,
        0.08,
        {"max_distance_km": 1.5, "objective": "min_cost", "unmatched_km": 1.5, "priority_km": 3},
        0,
    ),
    (
        6,
        300,
        100,
        150.0,
        0.1,
        {"max_distance_km": 2.5, "same_street": True, "same_gender": True},
        0,
    ),
    (7, 500, 300, 300.0, 0.08, {"max_distance_km": 2.0}, 12),
    (8, 600, 400, 600.0, 0.08, {"max_distance_km": 1.0, "objective": "min_cost"}, 0),
    (9, 700, 500, 15.0, 0.08, {"max_distance_km": 2.0}, 0),
    (
        10,
        700,
        500,
        30.0,
        0.08,
        {"max_distance_km": 3.0, "objective": "min_cost", "uncovered_need_km": 0.5},
        0,
    ),
    (11, 800, 400, 20.0, 0.3, {"max_distance_km": 1.5, "same_street": True}, 0),
    (12, 700, 450, 25.0, 0.08, {"max_distance_km": 2.0, "same_gender": True}, 15),
    (
        13,
        300,
        300,
        100.0,
        0.08,
        {"objective": "min_cost", "shared_interest_km": 2.0, "max_shared_interests": 3},
        0,
    ),
    (14, 200, 60, 300.0, 0.3, {"max_distance_km": 3.0, "priority_km": 20.0}, 0),
    (
        15,
        600,
        450,
        20.0,
        0.1,
        {"max_distance_km": 1.0, "objective": "min_cost", "unmatched_km": 0.8},
        0,
    ),
    (16, 100, 300, 300.0, 0.08, {"max_distance_km": 2.0, "uncovered_need_km": 4.0}, 5),
]


def _district_case(case) -> tuple[pd.DataFrame, pd.DataFrame, MatchConfig]:
    seed, n, m, area, share, kwargs, n_forbidden = case
    kids, mentors = district(n, m, seed=seed, area_km2=area, priority_share=share)
    cfg = MatchConfig(**kwargs)
    if n_forbidden:
        # forbid pairs the optimum would otherwise make, plus one of an inactive mentor
        free = match(kids, mentors, cfg)
        chosen = free.pairs.iloc[:: max(1, len(free.pairs) // n_forbidden)][:n_forbidden]
        forbidden = list(zip(chosen["child_id"], chosen["mentor_id"], strict=True))
        inactive = mentors.loc[~mentors["active"], "id"]
        if len(inactive):
            forbidden.append((kids["id"].iloc[0], inactive.iloc[0]))
        cfg = MatchConfig(**kwargs, forbidden_pairs=tuple(forbidden))
    return kids, mentors, cfg


@pytest.mark.parametrize("case", DISTRICT_CASES, ids=[f"seed{c[0]}" for c in DISTRICT_CASES])
def test_sparse_and_dense_reach_the_same_optimum(case):
    kids, mentors, cfg = _district_case(case)
    sparse = match(kids, mentors, cfg, method="sparse")
    dense = match(kids, mentors, cfg, method="dense")
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
    assert sparse.metrics["n_pairs"] == dense.metrics["n_pairs"]
    assert sparse.metrics["solver"]["proven"] is True
    assert sparse.metrics["solver"]["method"] == "sparse"
    assert dense.metrics["solver"]["method"] == "dense"
    for result in (sparse, dense):
        model = check_result(result, kids, mentors)
        if cfg.objective == "max_pairs":
            assert result.metrics["n_pairs"] == model.max_cardinality()
    if cfg.forbidden_pairs:
        assert not pair_set(sparse) & set(cfg.forbidden_pairs)


def test_the_priced_path_is_used_and_proven():
    """Above 250,000 child x mentor pairs the sparse path prices arcs in rounds."""
    rounds = []
    for seed in (9, 21):
        kids, mentors = district(700, 500, seed=seed, area_km2=15.0)
        cfg = MatchConfig(max_distance_km=2.0)
        sparse = match(kids, mentors, cfg)
        dense = match(kids, mentors, cfg, method="dense")
        solver = sparse.metrics["solver"]
        assert solver["proven"] is True
        # the priced model holds fewer arcs than the dense path's allowed pairs
        assert solver["model_arcs"] < dense.metrics["solver"]["candidate_arcs"]
        assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
        rounds.append(solver["rounds"])
    assert max(rounds) > 1


# ---------------------------------------------------------------------------
# 2. independent oracle on small random instances

TAGS = ("chess", "music", "art", "football", "reading", "coding")


def _needs(rng: np.random.Generator) -> tuple[str, ...]:
    bits = int(rng.integers(0, 16))
    return tuple(c for b, c in enumerate(NEEDS) if bits >> b & 1)


def _tags(rng: np.random.Generator) -> tuple[str, ...]:
    k = int(rng.integers(0, 4))
    return tuple(sorted(rng.choice(TAGS, size=k, replace=False).tolist()))


def random_instance(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, MatchConfig]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 41)), int(rng.integers(1, 31))
    half = float(rng.uniform(1.5, 5.0))
    streets = ["north", "south", "east"][: int(rng.integers(1, 4))]
    genders = ["female", "male", ""]
    kids = kids_frame(
        [
            {
                "id": f"C{i:03d}",
                "x": rng.uniform(-half, half),
                "y": rng.uniform(-half, half),
                "street": str(rng.choice(streets)),
                "needs": _needs(rng),
                "interests": _tags(rng),
                "priority": int(rng.choice([0, 0, 0, 1, 2])),
                "gender": str(rng.choice(genders)),
            }
            for i in range(n)
        ]
    )
    mentors = mentors_frame(
        [
            {
                "id": f"M{j:03d}",
                "x": rng.uniform(-half, half),
                "y": rng.uniform(-half, half),
                "street": str(rng.choice(streets)),
                "skills": _needs(rng),
                "interests": _tags(rng),
                "capacity": int(rng.choice([1, 1, 1, 2, 3])),
                "max_distance_km": (
                    np.nan if rng.random() < 0.6 else round(float(rng.uniform(0.5, 6.0)), 3)
                ),
                "active": bool(rng.random() < 0.85),
                "gender": str(rng.choice(genders)),
            }
            for j in range(m)
        ]
    )
    n_forbidden = int(rng.integers(0, 6))
    forbidden = tuple(
        (f"C{int(rng.integers(n)):03d}", f"M{int(rng.integers(m)):03d}") for _ in range(n_forbidden)
    )
    cfg = MatchConfig(
        objective=str(rng.choice(["max_pairs", "min_cost"])),
        max_distance_km=round(float(rng.uniform(1.0, 4.0)), 3),
        uncovered_need_km=round(float(rng.uniform(0.0, 3.0)), 2),
        shared_interest_km=round(float(rng.uniform(0.0, 1.5)), 2),
        max_shared_interests=int(rng.integers(0, 4)),
        unmatched_km=round(float(rng.uniform(0.3, 10.0)), 2),
        priority_km=round(float(rng.uniform(0.0, 10.0)), 2),
        same_street=bool(rng.random() < 0.3),
        same_gender=bool(rng.random() < 0.3),
        forbidden_pairs=forbidden,
        resolution_km=float(rng.choice([0.001, 0.01])),
    )
    return kids, mentors, cfg


@pytest.mark.parametrize("seed", range(100))
def test_optimum_matches_independent_oracle(seed):
    kids, mentors, cfg = random_instance(seed)
    model = Model(kids, mentors, cfg)
    best, fewest, most = model.optimum()
    for method in ("sparse", "dense"):
        result = match(kids, mentors, cfg, method=method)
        check_result(result, kids, mentors)
        assert result.metrics["objective_units"] == best, method
        if cfg.objective == "max_pairs":
            assert fewest == most == model.max_cardinality()
            assert result.metrics["n_pairs"] == most, method
        else:
            assert fewest <= result.metrics["n_pairs"] <= most, method


def test_oracle_instances_cover_both_objectives_and_every_rule():
    """Guard that the random instances above exercise what they claim to."""
    cfgs = [random_instance(s)[2] for s in range(100)]
    assert {c.objective for c in cfgs} == {"max_pairs", "min_cost"}
    assert any(c.same_street for c in cfgs)
    assert any(c.same_gender for c in cfgs)
    assert any(c.forbidden_pairs for c in cfgs)
    assert {c.resolution_km for c in cfgs} == {0.001, 0.01}


# ---------------------------------------------------------------------------
# 3. max-pairs semantics


@pytest.mark.parametrize(
    ("seed", "n", "m", "area", "kwargs"),
    [
        (31, 300, 60, 300.0, {"max_distance_km": 2.0}),
        (32, 400, 120, 200.0, {"max_distance_km": 1.5, "same_street": True}),
        (33, 250, 80, 100.0, {"max_distance_km": 3.0, "uncovered_need_km": 6.0}),
        (34, 800, 320, 20.0, {"max_distance_km": 0.8}),
    ],
)
def test_max_pairs_reaches_maximum_cardinality(seed, n, m, area, kwargs):
    kids, mentors = district(n, m, seed=seed, area_km2=area, priority_share=0.2)
    cfg = MatchConfig(**kwargs)
    result = match(kids, mentors, cfg)
    model = check_result(result, kids, mentors)
    best = model.max_cardinality()
    assert result.metrics["n_pairs"] == best
    # min_cost with a tiny unmatched price pairs fewer children, never more
    cheap = match(kids, mentors, MatchConfig(**kwargs, objective="min_cost", unmatched_km=0.5))
    check_result(cheap, kids, mentors)
    assert cheap.metrics["n_pairs"] < best


def test_max_pairs_takes_the_longer_route_to_pair_everyone():
    # A reaches M1 (0.2 km) and M2 (1.5 km); B reaches only M1 (0.4 km).
    kids = kids_frame([{"id": "A", "x": 0.0, "y": 0.0}, {"id": "B", "x": -0.4, "y": 0.0}])
    # M2 travels up to 1.6 km on its own limit: enough for A (1.5 km), not for B (1.9 km).
    mentors = mentors_frame(
        [
            {"id": "M1", "x": 0.0, "y": 0.2},
            {"id": "M2", "x": 1.5, "y": 0.0, "max_distance_km": 1.6},
        ]
    )
    cfg = MatchConfig(max_distance_km=1.0, unmatched_km=0.1)
    result = match(kids, mentors, cfg)
    assert pair_set(result) == {("A", "M2"), ("B", "M1")}
    # min_cost with a tiny unmatched price leaves both out instead
    lazy = match(
        kids, mentors, MatchConfig(max_distance_km=1.0, unmatched_km=0.1, objective="min_cost")
    )
    assert pair_set(lazy) == set()


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_priority_child_is_paired_before_a_normal_child(method):
    # One mentor; the normal child is nearer, the priority child farther.
    kids = kids_frame(
        [
            {"id": "N", "x": 0.5, "y": 0.0, "priority": 0},
            {"id": "P", "x": -1.5, "y": 0.0, "priority": 1},
        ]
    )
    mentors = mentors_frame([{"id": "M", "x": 0.0, "y": 0.0}])
    result = match(kids, mentors, MatchConfig(), method=method)
    assert pair_set(result) == {("P", "M")}
    assert result.unmatched["child_id"].tolist() == ["N"]
    assert result.unmatched["reason"].tolist() == ["mentors_taken"]
    assert result.metrics["priority_pairing_rate"] == 1.0
    # without a priority premium the nearer child wins
    flat = match(kids, mentors, MatchConfig(priority_km=0.0), method=method)
    assert pair_set(flat) == {("N", "M")}
    assert flat.metrics["priority_pairing_rate"] == 0.0


# ---------------------------------------------------------------------------
# 5. unmatched reasons


def _reason(result: MatchResult, child: str) -> tuple[str, str, int, int]:
    row = result.unmatched.set_index("child_id").loc[child]
    return row["reason"], row["detail"], int(row["mentors_in_reach"]), int(row["mentors_allowed"])


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_reason_no_mentor_in_reach(method):
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}, {"id": "C2", "x": 20.0, "y": 0.0}])
    mentors = mentors_frame(
        [
            {"id": "M1", "x": 0.3, "y": 0.0},
            {"id": "M2", "x": 20.1, "y": 0.0, "active": False},  # inactive: not in reach
            {"id": "M3", "x": 23.0, "y": 0.0, "max_distance_km": 10.0},  # too far for C1
            {"id": "M4", "x": 19.0, "y": 0.0, "max_distance_km": 0.5},  # own limit too short
        ]
    )
    result = match(kids, mentors, MatchConfig(), method=method)
    check_result(result, kids, mentors)
    # C2 is in reach of M3 only thanks to M3's own, longer limit
    assert pair_set(result) == {("C1", "M1"), ("C2", "M3")}
    mentors.loc[2, ["lat", "lon"]] = at(40.0, 0.0)  # push M3 out of reach
    result = match(kids, mentors, MatchConfig(), method=method)
    check_result(result, kids, mentors)
    reason, detail, in_reach, allowed = _reason(result, "C2")
    assert reason == "no_mentor_in_reach"
    assert (in_reach, allowed) == (0, 0)
    assert "distance" in detail
    assert result.metrics["unmatched_by_reason"] == {"no_mentor_in_reach": 1}


@pytest.mark.parametrize(
    ("cfg", "rule"),
    [
        (MatchConfig(same_street=True), "same_street"),
        (MatchConfig(same_gender=True), "same_gender"),
        (MatchConfig(forbidden_pairs=(("C1", "M1"), ("C1", "M2"))), "forbidden_pairs"),
    ],
)
def test_reason_forbidden_by_rule_names_the_rule(cfg, rule):
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0, "street": "east", "gender": "male"}])
    mentors = mentors_frame(
        [
            {"id": "M1", "x": 0.5, "y": 0.0, "street": "west", "gender": "female"},
            {"id": "M2", "x": 0.0, "y": 0.9, "street": "north", "gender": "female"},
            {"id": "M3", "x": 0.0, "y": 0.4, "active": False, "street": "east"},
        ]
    )
    for method in ("sparse", "dense"):
        result = match(kids, mentors, cfg, method=method)
        check_result(result, kids, mentors)
        assert len(result.pairs) == 0
        reason, detail, in_reach, allowed = _reason(result, "C1")
        assert reason == "forbidden_by_rule"
        assert rule in detail
        assert (in_reach, allowed) == (2, 0)
    # the same roster without the rule pairs the child
    assert len(match(kids, mentors).pairs) == 1


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_reason_mentors_taken(method):
    kids = kids_frame(
        [
            {"id": "C1", "x": 0.0, "y": 0.0},
            {"id": "C2", "x": 0.1, "y": 0.0},
            {"id": "C3", "x": 0.2, "y": 0.0},
            {"id": "C4", "x": 3.0, "y": 0.0},
        ]
    )
    mentors = mentors_frame(
        [{"id": "M1", "x": 0.0, "y": 0.1, "capacity": 2}, {"id": "M2", "x": 4.5, "y": 0.0}]
    )
    cfg = MatchConfig(max_distance_km=1.0)
    result = match(kids, mentors, cfg, method=method)
    check_result(result, kids, mentors)
    assert len(result.pairs) == 2
    assert result.pairs["mentor_id"].tolist() == ["M1", "M1"]
    taken = result.unmatched[result.unmatched["reason"] == "mentors_taken"]
    assert len(taken) == 1
    _, detail, in_reach, allowed = _reason(result, taken["child_id"].iloc[0])
    assert (in_reach, allowed) == (1, 1)
    assert "capacity" in detail
    # C4 has no mentor within 1 km (M2 is 1.5 km away)
    assert _reason(result, "C4")[0] == "no_mentor_in_reach"
    assert result.metrics["unmatched_by_reason"] == {"mentors_taken": 1, "no_mentor_in_reach": 1}


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_reason_cheaper_unmatched(method):
    kids = kids_frame(
        [
            {"id": "C1", "x": 0.0, "y": 0.0},
            {"id": "C2", "x": 5.0, "y": 0.0, "priority": 1},
        ]
    )
    mentors = mentors_frame([{"id": "M1", "x": 1.0, "y": 0.0}, {"id": "M2", "x": 6.0, "y": 0.0}])
    cfg = MatchConfig(objective="min_cost", unmatched_km=0.2, priority_km=5.0)
    result = match(kids, mentors, cfg, method=method)
    check_result(result, kids, mentors)
    # C1: 1 km away costs more than 0.2 km-eq; C2 (priority) is worth 5.2 km-eq
    assert pair_set(result) == {("C2", "M2")}
    reason, detail, in_reach, allowed = _reason(result, "C1")
    assert reason == "cheaper_unmatched"
    assert (in_reach, allowed) == (1, 1)
    assert "0.2" in detail
    # the same roster under max_pairs pairs both
    assert len(match(kids, mentors, MatchConfig(unmatched_km=0.2), method=method).pairs) == 2


# ---------------------------------------------------------------------------
# 6. determinism


def _shuffled(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    return df.sample(frac=1.0, random_state=seed)


def _assert_same(a: MatchResult, b: MatchResult) -> None:
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    pd.testing.assert_frame_equal(a.unmatched, b.unmatched)
    assert a.metrics == b.metrics


@pytest.mark.parametrize(
    ("seed", "n", "m", "area", "kwargs"),
    [
        (41, 300, 200, 150.0, {"max_distance_km": 2.0}),
        (42, 250, 120, 300.0, {"objective": "min_cost", "same_street": True}),
        (43, 700, 450, 15.0, {"max_distance_km": 1.5}),
    ],
)
def test_row_order_does_not_matter(seed, n, m, area, kwargs):
    kids, mentors = district(n, m, seed=seed, area_km2=area)
    cfg = MatchConfig(**kwargs)
    base = match(kids, mentors, cfg)
    assert len(base.pairs) > 0
    for s in (1, 2, 3):
        other = match(_shuffled(kids, s), _shuffled(mentors, s + 100), cfg)
        _assert_same(base, other)
    dense = match(kids, mentors, cfg, method="dense")
    other = match(_shuffled(kids, 7), _shuffled(mentors, 8), cfg, method="dense")
    _assert_same(dense, other)


def test_integer_ids_behave_like_their_text():
    kids, mentors = district(150, 90, seed=44, area_km2=150.0)
    kids_int = kids.assign(id=np.arange(1, len(kids) + 1) * 7)
    mentors_int = mentors.assign(id=np.arange(1, len(mentors) + 1) * 3 + 1000)
    kids_str = kids_int.assign(id=kids_int["id"].astype(str))
    mentors_str = mentors_int.assign(id=mentors_int["id"].astype(str))
    first = match(kids_int, mentors_int, MatchConfig(max_distance_km=2.0))
    assert len(first.pairs) > 2
    c, x = first.pairs["child_id"].iloc[0], first.pairs["mentor_id"].iloc[0]
    forb_int = MatchConfig(max_distance_km=2.0, forbidden_pairs=((int(c), int(x)),))
    forb_str = MatchConfig(max_distance_km=2.0, forbidden_pairs=((c, x),))
    a = match(kids_int, mentors_int, forb_int)
    b = match(kids_str, mentors_str, forb_str)
    _assert_same(a, b)
    assert (c, x) not in pair_set(a)
    assert all(isinstance(v, str) for v in a.pairs["child_id"])
    assert all(isinstance(v, str) for v in a.pairs["mentor_id"])


# ---------------------------------------------------------------------------
# 7. bad input


def test_roster_error_lists_every_problem():
    kids = pd.DataFrame(
        {
            "id": ["C1", "C2", "C3", "C3", None],
            "lat": [95.0, 31.8, 31.8, 31.8, 31.8],
            "lon": [119.9, "east", 119.9, 119.9, 119.9],
            "needs": [("life_care",), ("flying",), (), (), ()],
            "priority": [0, 0, -1, 0, 0],
        }
    )
    mentors = mentors_frame([{"id": "M1", "x": 0.0, "y": 0.0}])
    with pytest.raises(RosterError) as info:
        match(kids, mentors)
    err = info.value
    found = {(p.row_id, p.column) for p in err.problems}
    expected = {
        ("C1", "lat"),
        # lon holds text: the row looks shifted and is named by its row, not its id cell
        ("row 2", "lon"),
        ("row 2", "needs"),
        ("C3", "priority"),
        ("C3", "id"),
        ("row 5", "id"),
    }
    assert expected <= found
    text = str(err)
    for row_id, column in expected:
        assert f"{row_id}: column {column!r}" in text
    assert isinstance(err, InputError)


def test_roster_error_for_mentors():
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = pd.DataFrame(
        {
            "id": ["M1", "M2", "M3"],
            "lat": [31.8, 31.8, 31.8],
            "lon": [119.9, 119.9, 119.9],
            "capacity": [0, 1, 1],
            "active": ["yes", "maybe", "no"],
            "max_distance_km": [np.nan, np.nan, -2.0],
        }
    )
    with pytest.raises(RosterError) as info:
        match(kids, mentors)
    found = {(p.row_id, p.column) for p in info.value.problems}
    assert {("M1", "capacity"), ("M2", "active"), ("M3", "max_distance_km")} <= found
    assert info.value.roster == "mentors"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_distance_km": 0}, "max_distance_km"),
        ({"max_distance_km": -1.0}, "max_distance_km"),
        ({"max_distance_km": float("nan")}, "max_distance_km"),
        ({"max_distance_km": "5"}, "max_distance_km"),
        ({"uncovered_need_km": -0.1}, "uncovered_need_km"),
        ({"shared_interest_km": float("inf")}, "shared_interest_km"),
        ({"unmatched_km": -1}, "unmatched_km"),
        ({"priority_km": True}, "priority_km"),
        ({"resolution_km": 0.0}, "resolution_km"),
        ({"max_shared_interests": 1.5}, "max_shared_interests"),
        ({"max_shared_interests": -1}, "max_shared_interests"),
        ({"k_nearest": 0}, "k_nearest"),
        ({"objective": "max"}, "objective"),
        ({"same_street": "yes"}, "same_street"),
        ({"same_gender": 1}, "same_gender"),
        ({"forbidden_pairs": ("C1", "M1")}, "forbidden_pairs"),
        ({"forbidden_pairs": (("C1",),)}, "forbidden_pairs"),
    ],
)
def test_bad_config_value_names_the_parameter(kwargs, name):
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = mentors_frame([{"id": "M1", "x": 0.1, "y": 0.0}])
    with pytest.raises(ConfigError, match=repr(name)):
        match(kids, mentors, MatchConfig(**kwargs))


def test_config_must_be_a_match_config():
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = mentors_frame([{"id": "M1", "x": 0.1, "y": 0.0}])
    with pytest.raises(ConfigError, match="config"):
        match(kids, mentors, {"max_distance_km": 3.0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pair", "bad"),
    [(("C9", "M1"), "C9"), (("C1", "M9"), "M9"), (("M1", "C1"), "M1")],
)
def test_forbidden_pair_with_unknown_id(pair, bad):
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = mentors_frame([{"id": "M1", "x": 0.1, "y": 0.0}])
    with pytest.raises(InputError, match=bad):
        match(kids, mentors, MatchConfig(forbidden_pairs=(pair,)))


def test_forbidden_pair_with_an_inactive_mentor_is_accepted():
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = mentors_frame(
        [{"id": "M1", "x": 0.1, "y": 0.0}, {"id": "M2", "x": 0.2, "y": 0.0, "active": False}]
    )
    result = match(kids, mentors, MatchConfig(forbidden_pairs=(("C1", "M2"),)))
    assert pair_set(result) == {("C1", "M1")}


@pytest.mark.parametrize("method", ["bogus", "Sparse", None])
def test_unknown_method_raises(method):
    kids = kids_frame([{"id": "C1", "x": 0.0, "y": 0.0}])
    mentors = mentors_frame([{"id": "M1", "x": 0.1, "y": 0.0}])
    with pytest.raises(InputError, match="method"):
        match(kids, mentors, method=method)  # type: ignore[arg-type]


def _empty_rosters():
    kids, mentors = district(6, 4, seed=5)
    return [
        ("no children", kids.iloc[:0], mentors),
        ("no mentors", kids, mentors.iloc[:0]),
        ("neither", kids.iloc[:0], mentors.iloc[:0]),
        ("bare frames", pd.DataFrame(), pd.DataFrame()),
        ("no active mentor", kids, mentors.assign(active=False)),
    ]


@pytest.mark.parametrize("method", ["sparse", "dense"])
@pytest.mark.parametrize("objective", ["max_pairs", "min_cost"])
def test_empty_rosters(method, objective):
    cfg = MatchConfig(objective=objective)
    for label, kids, mentors in _empty_rosters():
        result = match(kids, mentors, cfg, method=method)
        met = result.metrics
        assert len(result.pairs) == 0, label
        assert list(result.pairs.columns) == PAIR_COLUMNS
        assert list(result.unmatched.columns) == UNMATCHED_COLUMNS
        assert len(result.unmatched) == len(kids), label
        assert set(result.unmatched["reason"]) <= {"no_mentor_in_reach"}
        assert met["n_pairs"] == 0
        assert met["n_children"] == len(kids)
        assert met["pairing_rate"] == 0.0
        assert met["mentor_utilisation"] == 0.0
        assert met["distance_km_mean"] == 0.0
        assert met["distance_km_median"] == 0.0
        assert met["distance_km_p90"] == 0.0
        assert met["objective_units"] == round(
            float(np.sum(np.rint(result.unmatched["unmatched_price_km"] / cfg.resolution_km)))
        )
        assert isinstance(result.summary(), str)


# ---------------------------------------------------------------------------
# 8. metrics


@pytest.mark.parametrize(
    ("seed", "n", "m", "kwargs"),
    [
        (51, 300, 150, {"max_distance_km": 2.0}),
        (52, 200, 250, {"same_street": True, "objective": "min_cost", "unmatched_km": 2.0}),
        (53, 400, 100, {"max_distance_km": 3.0, "same_gender": True}),
    ],
)
def test_metrics_agree_with_the_frames(seed, n, m, kwargs):
    kids, mentors = district(n, m, seed=seed, priority_share=0.15)
    result = match(kids, mentors, MatchConfig(**kwargs))
    check_result(result, kids, mentors)
    pairs, unm, met = result.pairs, result.unmatched, result.metrics
    n_pairs = len(pairs)
    assert 0 < n_pairs < n
    assert met["n_children"] == n
    assert met["n_mentors"] == m
    active = mentors["active"].to_numpy(bool)
    assert met["n_mentors_active"] == int(active.sum())
    capacity = int(mentors.loc[active, "capacity"].sum())
    assert met["mentor_capacity"] == capacity
    assert met["pairing_rate"] == pytest.approx(n_pairs / n, abs=1e-6)
    assert met["mentor_utilisation"] == pytest.approx(n_pairs / capacity, abs=1e-6)
    assert met["mentors_used"] == pairs["mentor_id"].nunique()
    # per street
    by_street = met["pairing_rate_by_street"]
    assert set(by_street) == set(kids["street"])
    assert sum(v["children"] for v in by_street.values()) == n
    assert sum(v["paired"] for v in by_street.values()) == n_pairs
    street_of = dict(zip(kids["id"], kids["street"], strict=True))
    paired_by_street = pd.Series([street_of[c] for c in pairs["child_id"]]).value_counts()
    for street, v in by_street.items():
        assert v["children"] == int((kids["street"] == street).sum())
        assert v["paired"] == int(paired_by_street.get(street, 0))
        assert v["pairing_rate"] == pytest.approx(v["paired"] / v["children"], abs=1e-6)
    # distances
    d = pairs["distance_km"].to_numpy(float)
    assert met["distance_km_mean"] == pytest.approx(d.mean(), abs=1e-6)
    assert met["distance_km_median"] == pytest.approx(np.median(d), abs=1e-6)
    assert met["distance_km_p90"] == pytest.approx(np.quantile(d, 0.9), abs=1e-6)
    # priority
    prio_ids = set(kids.loc[kids["priority"] > 0, "id"])
    assert met["priority_children"] == len(prio_ids)
    paired_prio = len(prio_ids & set(pairs["child_id"]))
    assert met["priority_pairing_rate"] == pytest.approx(paired_prio / len(prio_ids), abs=1e-6)
    # needs and reasons
    covered = sum(len(t) for t in pairs["needs_covered"])
    total = covered + sum(len(t) for t in pairs["needs_uncovered"])
    assert met["needs_covered_share"] == pytest.approx(covered / total, abs=1e-6)
    all_needs = sum(len(t) for t in kids["needs"])
    assert met["needs_covered_share_all_children"] == pytest.approx(covered / all_needs, abs=1e-6)
    assert met["unmatched_by_reason"] == unm["reason"].value_counts().to_dict()
    assert sum(met["unmatched_by_reason"].values()) == n - n_pairs
    assert met["objective_km"] == pytest.approx(
        met["objective_units"] * result.config.resolution_km, abs=1e-6
    )
    assert str(n_pairs) in result.summary()


def test_k_nearest_limits_each_child_to_its_nearest_mentors():
    kids, mentors = district(200, 150, seed=61, area_km2=150.0)
    cfg = MatchConfig(max_distance_km=3.0, k_nearest=2)
    result = match(kids, mentors, cfg)
    dense = match(kids, mentors, cfg, method="dense")
    assert result.metrics["objective_units"] == dense.metrics["objective_units"]
    check_result(result, kids, mentors)
    model = Model(kids, mentors, cfg)
    ci = {c: i for i, c in enumerate(model.cid)}
    mi = {c: j for j, c in enumerate(model.mid)}
    for c, x in pair_set(result):
        i, j = ci[c], mi[x]
        nearer = model.allowed[i] & (model.dist[i] < model.dist[i, j] - 1e-9)
        assert nearer.sum() < 2
    assert (result.unmatched["mentors_allowed"] <= 2).all()


def test_shared_interests_beyond_64_common_tags():
    # 150 tags common to both sides: the bitsets take three words, and each
    # pair's shared tags must still come out complete and sorted
    tags = [f"t{k:03d}" for k in range(150)]
    rng = np.random.default_rng(5)
    kid_rows, mom_rows = [], []
    for i in range(12):
        kid_tags = tuple(rng.choice(tags, size=40, replace=False))
        kid_rows.append({"id": f"C{i:02d}", "x": 0.3 * i, "y": 0.0, "interests": kid_tags})
        mom_tags = tuple(rng.choice(tags, size=60, replace=False))
        mom_rows.append({"id": f"M{i:02d}", "x": 0.3 * i, "y": 0.1, "interests": mom_tags})
    kids, moms = kids_frame(kid_rows), mentors_frame(mom_rows)
    res = match(kids, moms)
    assert len(res.pairs) == 12
    kid_tags = dict(zip(kids["id"], kids["interests"], strict=True))
    mom_tags = dict(zip(moms["id"], moms["interests"], strict=True))
    seen: set[str] = set()
    for row in res.pairs.itertuples(index=False):
        expected = sorted(set(kid_tags[row.child_id]) & set(mom_tags[row.mentor_id]))
        assert list(row.shared_interests) == expected
        seen.update(expected)
    common = set().union(*kids["interests"]) & set().union(*moms["interests"])
    assert len(common) > 128
    assert seen & set(sorted(common)[128:])  # bits from the third word too


# -- threads and tuning ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threads", 0, "threads must be >= 1"),
        ("threads", True, "threads must be an integer"),
        ("best_k", 2.5, "best_k must be an integer"),
        ("tiers", 0, "tiers must be >= 1"),
        ("fresh_share", -0.1, "fresh_share must be >= 0"),
        ("rough_units", math.nan, "rough_units must be >= 0"),
        ("suspect_extra_km", "0.3", "suspect_extra_km must be a number"),
    ],
)
def test_solver_tuning_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SolverTuning(**{field: value})  # type: ignore[arg-type]


def test_solver_tuning_is_frozen_and_threads_default_to_the_cores() -> None:
    tuning = SolverTuning(best_k=0, rough_units=0.0)
    with pytest.raises(AttributeError):
        tuning.best_k = 3  # type: ignore[misc]
    assert tuning.search_threads >= 1 and SolverTuning(threads=3).search_threads == 3
    assert tuning.with_threads(None) is tuning
    assert tuning.with_threads(2) == SolverTuning(best_k=0, rough_units=0.0, threads=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "'threads' parameter of match"),
        ({"threads": 1.5}, "'threads' parameter of match"),
        ({"tuning": {"best_k": 3}}, "'tuning' parameter of match"),
    ],
)
def test_match_rejects_bad_threads_and_tuning(kwargs: dict, message: str) -> None:
    kids, mentors = district(20, 16, seed=1)
    with pytest.raises(ConfigError, match=message):
        match(kids, mentors, **kwargs)


def test_one_thread_and_two_give_the_same_result() -> None:
    # large enough for the priced path, the searches on two threads (the
    # k-d tree lanes and the split grid scans) and unmatched children
    kids, mentors = district(1500, 1000, seed=7)
    one = match(kids, mentors, threads=1)
    two = match(kids, mentors, threads=2)
    assert one.metrics["solver"]["rounds"] >= 2 and len(one.unmatched) > 0
    pd.testing.assert_frame_equal(one.pairs, two.pairs)
    pd.testing.assert_frame_equal(one.unmatched, two.unmatched)
    assert one.metrics == two.metrics


@pytest.mark.parametrize("rules", [{}, {"same_street": True}])
def test_other_tuning_gives_the_same_optimum(rules: dict) -> None:
    # every crossover constant moved: other searches and solves, the same
    # proven optimum (equal optima may pair differently on ties)
    kids, mentors = district(1500, 1200, seed=8)
    config = MatchConfig(**rules)
    tuned = SolverTuning(
        pricing_k=3, pricing_km=4, pricing_kc=2, pricing_add=2, tiers=2, hot_k=3,
        grid_cells_per_radius=3, best_k=4, rescan_share=0.9, suspect_extra_km=0.05,
        fresh_share=0.5, rough_units=0.0, margin_units=50, tag_split_min=0,
        query_split_min=0, grid_reach_pairs=0,
    )  # fmt: skip
    plain = match(kids, mentors, config)
    other = match(kids, mentors, config, tuning=tuned)
    assert other.metrics["solver"]["proven"] is True
    assert other.metrics["solver"] != plain.metrics["solver"]  # another route
    assert other.metrics["objective_units"] == plain.metrics["objective_units"]
    assert other.metrics["n_pairs"] == plain.metrics["n_pairs"]
    reasons = ["child_id", "reason", "mentors_in_reach", "mentors_allowed"]
    if other.pairs.equals(plain.pairs):
        pd.testing.assert_frame_equal(other.unmatched[reasons], plain.unmatched[reasons])
