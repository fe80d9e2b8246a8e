"""Property tests of :func:`matching.match` on random small districts (Hypothesis).

Each example is a district of up to 30 children and 25 mentors in a 4 km
square, with random needs, skills, interest tags, capacities, mentors' own
distance limits, streets, genders, priorities and inactive mentors, and a
random configuration (objective, street and gender rules, forbidden pairs,
``k_nearest``, weights).  Both methods run on it, and each result is checked
against :class:`District`, the documented model computed here from the
validated rosters alone:

- each child is paired at most once, no mentor beyond its capacity, no
  inactive mentor at all;
- every pair is within its distance limit (the mentor's own, else the
  configured one) and allowed by every rule (street, gender, forbidden pairs,
  the child's ``k_nearest`` nearest allowed mentors);
- every other child is listed as unmatched, with the reason and the counts
  the model gives;
- the pairs' reported costs are the model's, and the objective is the optimum
  of the model (scipy's ``linear_sum_assignment`` on the expanded matrix,
  :func:`oracle.scipy_optimum`), for both objectives;
- ``method="sparse"`` and ``method="dense"`` reach the same objective with a
  number of pairs that some optimal pairing has (pairs may differ on ties).

People sit on a 50 m grid plus a small offset of their own (an irrational
multiple of their number), so no two distances are equal and no distance
sits on a limit: the model's haversine distances and the library's chord
distances (equal to ~1e-12 km) then decide every limit, order and rounding
alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from builders import at
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import scipy_optimum

from matching import MatchConfig, MatchResult, match
from matching.geo.distance import haversine_km
from matching.rosters import NEED_LABELS_ZH, NEEDS, validate_children, validate_mentors

STREETS = ("东街", "西街", "南街")
TAGS = ("chess", "Chess", "art", "music", "football", "书法")
GENDERS = ("female", "male", "", "女", "M")
GRID_KM = 0.05  # people sit on this grid across the 4 km square...
CELLS = 80
JITTER_KM = 0.02  # ... plus an offset of their own, below this


def _place(number: int, cell_x: int, cell_y: int) -> tuple[float, float]:
    """(lat, lon) of grid cell (x, y) plus the person's own offset (golden-ratio multiples)."""
    fx = math.fmod(number * 0.6180339887498949, 1.0)
    fy = math.fmod(number * 0.4142135623730951, 1.0)
    return at(cell_x * GRID_KM + fx * JITTER_KM, cell_y * GRID_KM + fy * JITTER_KM)


def _needs_cell(draw: st.DrawFn) -> object:
    """Need codes or their Chinese labels, as a list or as delimited text."""
    codes = draw(st.lists(st.sampled_from(NEEDS), unique=True, max_size=len(NEEDS)))
    words = [NEED_LABELS_ZH[c] if draw(st.booleans()) else c for c in codes]
    return words if draw(st.booleans()) else ";".join(words)


@st.composite
def districts(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, MatchConfig]:
    """Raw rosters (as a user's frames hold them) and a configuration."""
    n = draw(st.integers(0, 30) | st.integers(12, 30))  # Hypothesis favours small sizes
    m = draw(st.integers(0, 25) | st.integers(8, 25))
    cell = st.integers(0, CELLS)
    kids = []
    for i in range(n):
        lat, lon = _place(i + 1, draw(cell), draw(cell))
        kids.append(
            {
                "id": f"C{i:02d}",
                "lat": lat,
                "lon": lon,
                "street": draw(st.sampled_from(STREETS)),
                "needs": _needs_cell(draw),
                "interests": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
                "priority": draw(st.integers(0, 3)),
                "gender": draw(st.sampled_from(GENDERS)),
            }
        )
    mentors = []
    for j in range(m):
        lat, lon = _place(101 + j, draw(cell), draw(cell))
        own_limit = draw(st.none() | st.sampled_from([0.3, 0.8, 1.5, 2.5, 6.0]))
        mentors.append(
            {
                "id": f"M{j:02d}",
                "lat": lat,
                "lon": lon,
                "street": draw(st.sampled_from(STREETS)),
                "skills": _needs_cell(draw),
                "interests": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
                "capacity": draw(st.integers(1, 3)),
                "max_distance_km": math.nan if own_limit is None else own_limit,
                "active": draw(st.booleans() | st.just(True)),
                "gender": draw(st.sampled_from(GENDERS)),
            }
        )
    forbidden: list[tuple[str, str]] = []
    if n and m:
        chosen = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), max_size=8))
        forbidden = [(kids[i]["id"], mentors[j]["id"]) for i, j in dict.fromkeys(chosen)]
    config = MatchConfig(
        objective=draw(st.sampled_from(["max_pairs", "min_cost"])),
        max_distance_km=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0])),
        uncovered_need_km=draw(st.sampled_from([0.0, 0.7, 2.0])),
        shared_interest_km=draw(st.sampled_from([0.0, 0.5, 1.3])),
        max_shared_interests=draw(st.integers(0, 2)),
        unmatched_km=draw(st.sampled_from([0.0, 1.0, 3.0, 10.0])),
        priority_km=draw(st.sampled_from([0.0, 0.5, 10.0])),
        same_street=draw(st.booleans()),
        same_gender=draw(st.booleans()),
        forbidden_pairs=tuple(forbidden),
        k_nearest=draw(st.none() | st.integers(1, 4)),
    )
    columns_k = ["id", "lat", "lon", "street", "needs", "interests", "priority", "gender"]
    columns_m = ["id", "lat", "lon", "street", "skills", "interests", "capacity"]
    columns_m += ["max_distance_km", "active", "gender"]
    # rows in a random order: match sorts by id itself
    kids_frame = pd.DataFrame(draw(st.permutations(kids)), columns=columns_k)
    mentors_frame = pd.DataFrame(draw(st.permutations(mentors)), columns=columns_m)
    return kids_frame, mentors_frame, config


# ---------------------------------------------------------------------------
# the model


@dataclass
class District:
    """The documented model of a district, from the validated rosters (sorted by id).

    ``candidate[i, j]``: mentor ``j`` may be paired with child ``i``: active,
    within the mentor's limit, allowed by every rule and, with ``k_nearest``,
    one of the child's k nearest such mentors.  ``units``: each pair's cost in
    integer units of ``resolution_km``; ``unm``: each child's unmatched price.
    """

    kids: pd.DataFrame
    mentors: pd.DataFrame
    cfg: MatchConfig
    km: np.ndarray
    limit: np.ndarray
    reach: np.ndarray
    allowed: np.ndarray
    candidate: np.ndarray
    cost_km: np.ndarray
    units: np.ndarray
    price_km: np.ndarray
    unm: np.ndarray

    @classmethod
    def of(cls, kids_raw: pd.DataFrame, mentors_raw: pd.DataFrame, cfg: MatchConfig) -> District:
        kids = validate_children(kids_raw).sort_values("id").reset_index(drop=True)
        mentors = validate_mentors(mentors_raw).sort_values("id").reset_index(drop=True)
        n, m = len(kids), len(mentors)
        km = np.asarray(
            haversine_km(
                kids["lat"].to_numpy(float)[:, None],
                kids["lon"].to_numpy(float)[:, None],
                mentors["lat"].to_numpy(float)[None, :],
                mentors["lon"].to_numpy(float)[None, :],
            ),
            dtype=float,
        ).reshape(n, m)
        own = mentors["max_distance_km"].to_numpy(dtype=float, na_value=np.nan)
        limit = np.where(np.isnan(own), cfg.max_distance_km, own)
        active = mentors["active"].to_numpy(dtype=bool)
        reach = (km <= limit[None, :]) & active[None, :]
        allowed = reach & ~_excluded(kids, mentors, cfg)
        candidate = allowed.copy()
        if cfg.k_nearest is not None:
            for i in range(n):
                js = np.flatnonzero(allowed[i])
                nearest = js[np.argsort(km[i, js], kind="stable")[: cfg.k_nearest]]
                candidate[i] = False
                candidate[i, nearest] = True
        cover = [[set(x) for x in kids["needs"]], [set(x) for x in mentors["skills"]]]
        tags = [[set(x) for x in kids["interests"]], [set(x) for x in mentors["interests"]]]
        uncovered = np.array([[len(c - s) for s in cover[1]] for c in cover[0]], float)
        shared = np.array([[len(c & s) for s in tags[1]] for c in tags[0]], float)
        cost_km = (
            km
            + cfg.uncovered_need_km * uncovered.reshape(n, m)
            - cfg.shared_interest_km * np.minimum(shared.reshape(n, m), cfg.max_shared_interests)
        )
        price_km = cfg.unmatched_km + cfg.priority_km * kids["priority"].to_numpy(float)
        return cls(
            kids=kids,
            mentors=mentors,
            cfg=cfg,
            km=km,
            limit=limit,
            reach=reach,
            allowed=allowed,
            candidate=candidate,
            cost_km=cost_km,
            units=np.rint(cost_km / cfg.resolution_km),
            price_km=price_km,
            unm=np.rint(price_km / cfg.resolution_km),
        )

    def optimum(self) -> tuple[int, int, int]:
        """(the optimal objective in units, the fewest and the most pairs of an optimum).

        Solved on the expanded matrix by :func:`oracle.scipy_optimum`, in exact
        integers: the costs times ``k = n + 1`` plus a tie-break of +-1 on each
        unmatched child, so the optimum with the most (or fewest) pairs wins.
        For ``"max_pairs"`` every pair also gains ``big``, more than any total
        of costs, so the number of pairs comes first.
        """
        n = len(self.kids)
        if n == 0:
            return 0, 0, 0
        big = 0
        if self.cfg.objective == "max_pairs":
            big = 1 + 2 * int(np.abs(self.units[self.candidate]).sum() + self.unm.sum())
        k = n + 1
        caps = np.where(self.mentors["active"], self.mentors["capacity"], 0)
        cost = np.where(self.candidate, k * (self.units - big), np.inf)
        out = []
        for eps in (1, -1):  # +1: the fewest pairs among the optima, -1: the most
            total = scipy_optimum(cost, caps, k * self.unm + eps)
            assert total is not None and total == round(total)
            # total = k * (objective - big * pairs) + eps * (n - pairs), |eps * (n - pairs)| < k
            q = math.floor(total / k) if eps == 1 else math.ceil(total / k)
            pairs = n - eps * (round(total) - k * q)
            out.append((q + big * pairs, pairs))
        assert out[0][0] == out[1][0]
        return out[0][0], out[0][1], out[1][1]


def _excluded(kids: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig) -> np.ndarray:
    """Pairs a rule excludes: forbidden pairs, other streets, other (known) genders."""
    out = np.zeros((len(kids), len(mentors)), dtype=bool)
    if cfg.same_street:
        out |= kids["street"].to_numpy(object)[:, None] != mentors["street"].to_numpy(object)
    if cfg.same_gender:
        kg = kids["gender"].to_numpy(object)[:, None]
        mg = mentors["gender"].to_numpy(object)[None, :]
        out |= (kg != "") & (mg != "") & (kg != mg)
    row = {c: i for i, c in enumerate(kids["id"])}
    col = {x: j for j, x in enumerate(mentors["id"])}
    for c, x in cfg.forbidden_pairs:
        out[row[c], col[x]] = True
    return out


# ---------------------------------------------------------------------------
# the checks


def check(result: MatchResult, d: District) -> None:
    """Assert every invariant of the module docstring but optimality."""
    row = {c: i for i, c in enumerate(d.kids["id"])}
    col = {x: j for j, x in enumerate(d.mentors["id"])}
    pairs = result.pairs
    ci = np.array([row[c] for c in pairs["child_id"]], dtype=np.int64)
    mj = np.array([col[x] for x in pairs["mentor_id"]], dtype=np.int64)
    assert len(set(ci.tolist())) == ci.size, "a child is paired twice"
    load = np.bincount(mj, minlength=len(d.mentors))
    assert np.all(load <= d.mentors["capacity"].to_numpy()), "a mentor beyond capacity"
    assert d.mentors["active"].to_numpy(bool)[mj].all(), "an inactive mentor is paired"
    assert np.all(d.km[ci, mj] <= d.limit[mj]), "a pair beyond its distance limit"
    assert np.all(d.allowed[ci, mj]), "a pair a rule excludes"
    assert np.all(d.candidate[ci, mj]), "a pair beyond the child's k nearest"
    assert np.allclose(pairs["distance_km"].to_numpy(float), d.km[ci, mj], atol=1e-9)
    assert np.allclose(pairs["cost_km"].to_numpy(float), d.cost_km[ci, mj], atol=1e-9)

    unmatched = result.unmatched
    left = sorted(set(row) - set(pairs["child_id"]))
    assert unmatched["child_id"].tolist() == left, "not every other child is listed"
    for c, reason, in_reach, allowed in zip(
        unmatched["child_id"],
        unmatched["reason"],
        unmatched["mentors_in_reach"],
        unmatched["mentors_allowed"],
        strict=True,
    ):
        i = row[c]
        assert in_reach == d.reach[i].sum()
        assert allowed == d.candidate[i].sum()
        spare = d.candidate[i] & (load < d.mentors["capacity"].to_numpy())
        want = (
            "no_mentor_in_reach"
            if in_reach == 0
            else "forbidden_by_rule"
            if allowed == 0
            else "cheaper_unmatched"
            if spare.any()
            else "mentors_taken"
        )
        assert reason == want, (c, reason, want)
        if reason == "cheaper_unmatched":  # a free mentor would lower the total otherwise
            assert d.cfg.objective == "min_cost"
            assert np.all(d.units[i, spare] >= d.unm[i])
    objective = d.units[ci, mj].sum() + d.unm[[row[c] for c in left]].sum()
    assert result.metrics["objective_units"] == objective
    assert result.metrics["n_pairs"] == len(pairs)


@settings(max_examples=100)
@given(districts())
def test_match_keeps_every_rule_and_is_optimal(case) -> None:
    kids, mentors, cfg = case
    d = District.of(kids, mentors, cfg)
    best, fewest, most = d.optimum()
    sparse = match(kids, mentors, cfg, method="sparse")
    dense = match(kids, mentors, cfg, method="dense")
    for result in (sparse, dense):
        check(result, d)
        assert result.metrics["objective_units"] == best
        assert fewest <= len(result.pairs) <= most
    if cfg.objective == "max_pairs":
        assert fewest == most
    assert sparse.metrics["objective_units"] == dense.metrics["objective_units"]
