"""One matching problem as arrays: people, limits, hard rules and flow costs.

:class:`MatchProblem` holds the children and the active mentors (both sorted
by id), their positions as unit vectors, the mentors' distance limits and
capacities, the needs, skills and interests, and the integer costs of the
flow model.  The hard rules (distance limits, forbidden pairs, street and
gender rules) decide which pairs are arcs at all: :meth:`MatchProblem.within`
and :meth:`MatchProblem.allowed` list only pairs that keep every rule.

The flow model's arc cost, an integer >= 0 in ``"max_pairs"`` mode, is::

    arc = rint(cost_km / resolution_km) + arc_offset[child]
    arc_offset = max_unmatched_units - unmatched_units[child] - cost_floor

where ``cost_floor`` bounds the rounded cost from below.  Folding the
child's unmatched price into its arcs changes the total of any pairing with
a fixed number of pairs by a constant; ``cardinality_price``, the price of
each child's unmatched arc, exceeds any sum of arc costs, so the number of
pairs is maximised first.  In ``"min_cost"`` mode the arc is the rounded
cost and the unmatched arc costs the child's unmatched price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from matching._engine.costs import InterestCodes, pair_costs, unmatched_price
from matching._engine.tuning import DEFAULT_TUNING, SolverTuning
from matching.config import MatchConfig
from matching.errors import InputError
from matching.geo.distance import pairs_within_vectors, unit_vectors, vectors_km
from matching.rosters import NEEDS, needs_mask
from matching.solve import integer_costs

if TYPE_CHECKING:  # imported where used: numba is slow to import
    from matching._engine.scan import Grid

__all__ = [
    "Arcs",
    "MatchProblem",
    "check_forbidden",
    "check_keep",
    "join_arcs",
    "sort_by_id",
]

Arcs = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Arcs as three aligned arrays: child index, mentor index, km."""

# the flow's costs times its nodes must stay clear of int64 overflow
_INT64_GUARD = 2**61


def sort_by_id(df: pd.DataFrame) -> pd.DataFrame:
    """A validated roster by id (the frame itself where it is in order)."""
    ids = df["id"].to_numpy(dtype=object)
    if pd.Index(ids, dtype=object).is_monotonic_increasing:  # distinct ids: in order
        return df
    order = np.argsort(ids.astype(str), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def check_forbidden(cfg: MatchConfig, kids: pd.DataFrame, mentors: pd.DataFrame) -> None:
    """Raise InputError where a forbidden pair names an id not in the rosters."""
    if not cfg.forbidden_pairs:
        return
    cids = set(kids["id"])
    mids = set(mentors["id"])
    for c, m in cfg.forbidden_pairs:
        if c not in cids:
            raise InputError(f"forbidden_pairs names child id {c!r}, which is not in the roster")
        if m not in mids:
            raise InputError(f"forbidden_pairs names mentor id {m!r}, which is not in the roster")


def check_keep(
    keep: Mapping[tuple[str, str], float] | None, kids: pd.DataFrame, mentors: pd.DataFrame
) -> dict[tuple[str, str], float]:
    """The pairs to keep as ``{(child_id, mentor_id): bonus_km}``, checked."""
    if not keep:
        return {}
    cids, mids = set(kids["id"]), set(mentors["id"])
    out: dict[tuple[str, str], float] = {}
    for pair, bonus in keep.items():
        try:
            c, m = (str(pair[0]), str(pair[1]))
        except (TypeError, IndexError):
            raise InputError(f"keep: expected (child_id, mentor_id) keys, got {pair!r}") from None
        if c not in cids:
            raise InputError(f"keep names child id {c!r}, which is not in the roster")
        if m not in mids:
            raise InputError(f"keep names mentor id {m!r}, which is not an active mentor")
        b = float(bonus)
        if not (np.isfinite(b) and b >= 0):
            raise InputError(f"keep: the bonus of pair ({c!r}, {m!r}) must be >= 0, got {bonus!r}")
        out[(c, m)] = b
    return out


def join_arcs(parts: list[Arcs]) -> Arcs:
    """Concatenate ``(child, mentor, km)`` arc lists (empty int64/float64 arrays if none)."""
    if not parts:
        e = np.empty(0, np.int64)
        return e, e.copy(), np.empty(0, np.float64)
    ci = np.concatenate([part[0] for part in parts])
    mj = np.concatenate([part[1] for part in parts])
    return ci, mj, np.concatenate([part[2] for part in parts])


def _pair_keys(
    pairs: list[tuple[str, str]], kids: pd.DataFrame, mentors: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Child and mentor positions of ``(child_id, mentor_id)`` pairs (-1: absent)."""
    cpos = pd.Index(kids["id"]).get_indexer([c for c, _ in pairs])
    mpos = pd.Index(mentors["id"]).get_indexer([x for _, x in pairs])
    return cpos.astype(np.int64), mpos


class MatchProblem:
    """Arrays of one matching problem; children and (active) mentors sorted by id.

    ``n`` children and ``m`` mentors; arc keys are ``child * m + mentor``.
    ``tuning`` holds the engine's crossover constants and ``threads`` the
    searches' thread count (``tuning.search_threads``).
    """

    def __init__(
        self,
        kids: pd.DataFrame,
        mentors: pd.DataFrame,
        cfg: MatchConfig,
        keep: Mapping[tuple[str, str], float] | None = None,
        tuning: SolverTuning = DEFAULT_TUNING,
    ) -> None:
        self.children, self.mentors, self.config = kids, mentors, cfg
        self.tuning = tuning
        self.threads = tuning.search_threads
        self.n, self.m = n, m = len(kids), len(mentors)
        self.child_lat = kids["lat"].to_numpy(np.float64)
        self.child_lon = kids["lon"].to_numpy(np.float64)
        self.mentor_lat = mentors["lat"].to_numpy(np.float64)
        self.mentor_lon = mentors["lon"].to_numpy(np.float64)
        self.child_vec = unit_vectors(self.child_lat, self.child_lon)
        self.mentor_vec = unit_vectors(self.mentor_lat, self.mentor_lon)
        self.mentor_tree = cKDTree(self.mentor_vec)
        lim = mentors["max_distance_km"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.limit_km = np.where(np.isnan(lim), cfg.max_distance_km, lim)
        self.radius_km = float(self.limit_km.max()) if m else 0.0
        self.capacity = mentors["capacity"].to_numpy(dtype=np.int64)
        self.child_needs = needs_mask(kids["needs"]) if n else np.zeros(0, np.uint8)
        self.mentor_skills = needs_mask(mentors["skills"]) if m else np.zeros(0, np.uint8)
        self.interests = InterestCodes(list(kids["interests"]), list(mentors["interests"]))
        self.unmatched_km = unmatched_price(kids["priority"].to_numpy(), cfg)
        self.resolution_km = cfg.resolution_km
        self.unmatched_units, _ = integer_costs(
            self.unmatched_km / cfg.resolution_km, n_nodes=n + m + 2, scale=1.0
        )
        # the lowest sum of cost terms a pair can have (every shared tag counted)
        self.lowest_terms_km = -cfg.shared_interest_km * cfg.max_shared_interests
        self.child_street = kids["street"].to_numpy(dtype=object)
        self.mentor_street = mentors["street"].to_numpy(dtype=object)
        self.child_gender = kids["gender"].to_numpy(dtype=object)
        self.mentor_gender = mentors["gender"].to_numpy(dtype=object)
        self._set_keep_bonuses(keep or {})
        self._set_forbidden_keys()
        self._set_flow_costs(max(keep.values()) if keep else 0.0)
        self._grid: Grid | None = None
        self._grid_built = False
        self._rule_codes: tuple[np.ndarray, ...] | None = None
        self._allowed_share: float | None = None

    def _set_keep_bonuses(self, keep: Mapping[tuple[str, str], float]) -> None:
        """Bonuses (integer units) for keeping existing pairs, sorted by arc key."""
        self.keep_keys = np.empty(0, np.int64)
        self.keep_bonus = np.empty(0, np.int64)
        if keep:
            cpos, mpos = _pair_keys(list(keep), self.children, self.mentors)
            keys = cpos * max(self.m, 1) + mpos
            bonus_km = np.array(list(keep.values()), dtype=np.float64)
            vals = np.rint(bonus_km / self.resolution_km).astype(np.int64)
            order = np.argsort(keys)
            self.keep_keys, self.keep_bonus = keys[order], vals[order]

    def _set_forbidden_keys(self) -> None:
        """The arc keys of the forbidden pairs, sorted and distinct."""
        self.forbidden_keys = np.empty(0, np.int64)
        if self.config.forbidden_pairs:
            pairs = list(self.config.forbidden_pairs)
            cpos, mpos = _pair_keys(pairs, self.children, self.mentors)
            ok = mpos >= 0  # a forbidden pair of an inactive mentor has no arc anyway
            self.forbidden_keys = np.unique(cpos[ok] * max(self.m, 1) + mpos[ok])

    def _set_flow_costs(self, max_bonus_km: float) -> None:
        """The flow model's integer costs (see the module docstring)."""
        cfg, n, res, iu = self.config, self.n, self.resolution_km, self.unmatched_units
        top = int(np.rint((self.radius_km + len(NEEDS) * cfg.uncovered_need_km) / res))
        if cfg.objective == "max_pairs":
            self.max_unmatched_units = int(iu.max()) if n else 0
            self.cost_floor = int(np.rint((self.lowest_terms_km - max_bonus_km) / res))
            top += self.max_unmatched_units - (int(iu.min()) if n else 0) - self.cost_floor
            most_pairs = min(n, int(self.capacity.sum()))
            self.cardinality_price = (most_pairs + 1) * (top + 1)
            self.unmatched_arc = np.full(n, self.cardinality_price, dtype=np.int64)
            self.arc_offset = self.max_unmatched_units - iu - self.cost_floor
        else:
            self.max_unmatched_units = self.cost_floor = self.cardinality_price = 0
            self.unmatched_arc = iu
            self.arc_offset = np.zeros(n, dtype=np.int64)
        peak = max(self.cardinality_price, top, int(np.abs(iu).max()) if n else 0)
        if peak * (n + self.m + 2) * 4 >= _INT64_GUARD:
            raise InputError(
                "costs too large for exact integer flow at this resolution: raise "
                "'resolution_km' or lower the weights"
            )

    def planar_grid(self) -> Grid | None:
        """The mentors on a planar grid (:mod:`matching._engine.scan`), built once;
        None where the projection would distort (see :meth:`Grid.build`)."""
        if not self._grid_built:
            from matching._engine.scan import Grid

            cell_km = self.radius_km / self.tuning.grid_cells_per_radius
            self._grid = Grid.build(
                self.child_lat,
                self.child_lon,
                self.mentor_lat,
                self.mentor_lon,
                cell_km,
                tuning=self.tuning,
            )
            self._grid_built = True
        return self._grid

    def within(
        self,
        child_idx: np.ndarray,
        radius_km: float | np.ndarray,
        mentor_idx: np.ndarray | None = None,
    ) -> Arcs:
        """Pairs (child, mentor, km) within the radius and the mentor's limit.

        ``radius_km`` is one radius or one per child; ``mentor_idx`` limits
        the search to those mentors (default: all).
        """
        r = np.broadcast_to(np.asarray(radius_km, dtype=np.float64), child_idx.shape)
        r = np.minimum(r, self.radius_km)
        if mentor_idx is None:
            mentor_idx = np.arange(self.m)
            tree = self.mentor_tree
        else:
            tree = cKDTree(self.mentor_vec[mentor_idx])
        out: list[Arcs] = []
        if mentor_idx.size and child_idx.size:
            # group children by radius (powers of two below the largest limit)
            # so each k-d tree search uses one radius, then filter exactly.
            level = np.floor(np.log2(np.maximum(self.radius_km / np.maximum(r, 1e-12), 1.0)))
            level = np.minimum(level, 3)
            for lv in np.unique(level[r >= 0]):
                sel = child_idx[(level == lv) & (r >= 0)]
                found = pairs_within_vectors(self.child_vec[sel], tree, self.radius_km / 2.0**lv)
                out.append((sel[found[0]], mentor_idx[found[1]], found[2]))
        ci, mj, km = join_arcs(out)
        if len(out) == 1 and float(r.min()) >= self.radius_km:
            keep = km <= self.limit_km[mj]
        else:
            rfull = np.zeros(self.n)
            rfull[child_idx] = r
            keep = (km <= self.limit_km[mj]) & (km <= rfull[ci])
        return ci[keep], mj[keep], km[keep]

    def rule_hits(self, ci: np.ndarray, mj: np.ndarray) -> dict[str, np.ndarray]:
        """For each active rule, which arcs it excludes."""
        cfg = self.config
        hits: dict[str, np.ndarray] = {}
        kst, mst, kgd, mgd, _, _ = self.rule_codes()  # integer codes: no string compares
        if self.forbidden_keys.size:
            hits["forbidden_pairs"] = np.isin(ci * max(self.m, 1) + mj, self.forbidden_keys)
        if cfg.same_street:
            hits["same_street"] = kst[ci] != mst[mj]
        if cfg.same_gender:
            a, b = kgd[ci], mgd[mj]  # 0: not given
            hits["same_gender"] = (a != 0) & (b != 0) & (a != b)
        return hits

    def rule_codes(self) -> tuple[np.ndarray, ...]:
        """The hard rules as integer arrays for the compiled scan (see
        :meth:`matching._engine.scan.Grid.scan`, ``rules``)."""
        if self._rule_codes is None:
            cfg, n, m = self.config, self.n, self.m
            empty = np.empty(0, dtype=np.int64)
            kst = mst = kgd = mgd = empty
            if cfg.same_street:
                codes, _ = pd.factorize(np.r_[self.child_street, self.mentor_street])
                kst, mst = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
            if cfg.same_gender:
                both = np.r_[self.child_gender, self.mentor_gender]
                codes, _ = pd.factorize(both)
                codes = np.where(both == "", 0, codes.astype(np.int64) + 1)
                kgd, mgd = codes[:n], codes[n:]
            frow = empty
            fkeys = self.forbidden_keys
            if fkeys.size:
                frow = np.searchsorted(fkeys, np.arange(n + 1) * max(m, 1)).astype(np.int64)
            self._rule_codes = (kst, mst, kgd, mgd, fkeys.astype(np.int64), frow)
        return self._rule_codes

    def allowed_share(self) -> float:
        """About what share of (child, mentor) pairs the street and gender
        rules allow (1.0 without them): from a fixed sample of 4,096 pairs,
        for choosing between searches, not a bound."""
        if self._allowed_share is None:
            share = 1.0
            if (self.config.same_street or self.config.same_gender) and self.n and self.m:
                rng = np.random.default_rng(0)
                ci = rng.integers(0, self.n, 4096)
                mj = rng.integers(0, self.m, 4096)
                hits = [h for r, h in self.rule_hits(ci, mj).items() if r != "forbidden_pairs"]
                share = max(float((~np.logical_or.reduce(hits)).mean()), 1 / 4096)
            self._allowed_share = share
        return self._allowed_share

    def allowed(self, ci: np.ndarray, mj: np.ndarray, km: np.ndarray) -> Arcs:
        """The arcs that no hard rule excludes."""
        hits = self.rule_hits(ci, mj)
        if not hits:
            return ci, mj, km
        bad = np.logical_or.reduce(list(hits.values()))
        return ci[~bad], mj[~bad], km[~bad]

    def arc_cost(self, ci: np.ndarray, mj: np.ndarray, km: np.ndarray) -> np.ndarray:
        """Integer flow-model cost of each arc (see the module docstring)."""
        terms = pair_costs(
            ci, mj, km, self.child_needs, self.mentor_skills, self.interests, self.config
        )
        icost = np.rint(terms.total_km / self.resolution_km).astype(np.int64)
        if self.keep_keys.size and ci.size:
            keys = ci * max(self.m, 1) + mj
            pos = np.minimum(np.searchsorted(self.keep_keys, keys), self.keep_keys.size - 1)
            hit = self.keep_keys[pos] == keys
            icost = icost - np.where(hit, self.keep_bonus[pos], 0)
        if self.config.objective == "max_pairs":
            icost = icost + (self.max_unmatched_units - self.unmatched_units[ci]) - self.cost_floor
        return icost

    def km(self, ci: np.ndarray, mj: np.ndarray) -> np.ndarray:
        """Great-circle km of pairs (child ``ci[k]``, mentor ``mj[k]``): as
        :func:`matching.geo.distance.great_circle_km`, bit for bit, from the unit
        vectors already computed (no trigonometry per pair)."""
        return vectors_km(self.child_vec[ci], self.mentor_vec[mj])
