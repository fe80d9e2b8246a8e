"""``match(children, mentors, config) -> MatchResult``: the optimal pairing.

Data flows one way: rosters -> validated frames (sorted by id) -> candidate
arcs under the hard rules -> cost terms -> integer flow model -> solver ->
pairs, unmatched children with reasons, metrics.

The objective
-------------
By default (``objective="max_pairs"``) the result pairs as many children as
the rules allow and, among all such pairings, minimises the total cost: the
sum of the pair costs plus the unmatched price of every child left out
(``unmatched_km + priority_km * priority``), so a priority child is never
left out where a normal child could give way.  With ``objective="min_cost"``
the same total is minimised without the cardinality rule.

Exactness
---------
Only pairs that break a hard rule (distance limits, forbidden pairs, street
and gender rules) are left out of the model, so the sparse result is the
optimum over every allowed pair.  For speed, the solver first works on a
small subset of the allowed arcs and then proves, with node potentials
(linear-programming dual prices), that no arc outside the subset could lower
the total.  An arc can only do so within a radius of its child that the
potentials bound (:func:`_suspects`), so the proof searches those radii
(a compiled scan over a planar grid, :mod:`matching._engine.scan`, or k-d trees)
instead of listing every allowed pair; arcs that fail join the model and it
is solved again (:func:`_priced_lazy`).  The model's flow and potentials are
kept between rounds and re-optimised around the new arcs
(:mod:`matching._engine.flow`); an exact auction (:mod:`matching._engine.auction`) solves
afresh the rounds where that would be slow.  While the model still pairs
more children each round, the children whose potentials carry the unmatched
price get only their nearest few arcs per search (those rounds prove
nothing).  Once the count is settled, the grid scan keeps each child's few
suspects with the lowest reduced cost and bounds the reduced cost of every
pair it leaves out; the proof then needs no kept suspect below zero and no
child whose left-out pairs could be (otherwise that child's list is made
complete), so it is still complete.  A child's list is kept between rounds
while the potentials have moved too little to change it, so later searches
cover only the children whose lists went stale.  Small matches start with a
rough auction whose prices only guide the first search; only exact rounds
may end in a proof.
Costs are solved in
integer units of ``resolution_km`` (1 m by default); the total is optimal for
the rounded costs, i.e. within half a unit per pair of the real-valued
optimum.

Determinism
-----------
Both rosters are sorted by id before anything else, so the same records in
any row order give the same model and therefore the same pairs.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from matching._engine.costs import CostTerms, InterestCodes, pair_costs, unmatched_price
from matching.config import MatchConfig, validate_config
from matching.errors import InputError
from matching.geo.distance import chord, pairs_within_vectors, unit_vectors, vectors_km
from matching.rosters.schema import NEEDS, needs_mask, validate_children, validate_mentors
from matching.solve import (
    Circulation,
    circulation,
    integer_costs,
    max_pairs_circulation,
    solve_assignment,
)

if TYPE_CHECKING:  # imported where used: numba costs ~0.3 s and ~100 MiB to import
    from matching._engine.flow import IncrementalAssignment
    from matching._engine.scan import Grid

__all__ = ["MatchResult", "match"]

Method = Literal["sparse", "dense"]

_INT64_GUARD = 2**61
# Below this many (children x mentors) the whole model is solved at once.
_PRICING_MIN_PAIRS = 250_000
_MAX_PRICING_ROUNDS = 30
_PRICING_ADD = 4
_TIERS = 4
# While the model still pairs more children each round, "hot" children get
# only their _HOT_K nearest mentors per search (see _priced_lazy)
_HOT_K = 8
_GRID_CELLS_PER_RADIUS = 8
# the reasons of unmatched children list their pairs in reach by the grid
# scan from about this many (children x mentors) on, by k-d trees below
_GRID_REACH_PAIRS = 1_000_000
# hot children are scanned on the grid (not searched with k-d trees) while
# they have about this many allowed mentors in reach in all (the scan checks
# the street and gender rules before it measures a pair; the k-d trees list
# nearest mentors the rules then drop).  Measured, hot search alone: 5k
# (4.2 M pairs) k-d 0.17 s, grid 0.26 s; 10k (15.8 M) 0.85 s against 0.59 s;
# 20k (60 M) 1.1 s against 1.7-1.9 s; 20k with same_street and same_gender
# (8.7 M allowed of 111 M) 2.0 s against 0.4 s.
_HOT_SCAN_PAIRS = 10_000_000
# ... and in the settling round, where each hot child's best list is kept
# (at 20,000 children the estimate is 60-76 M; seeds 1-3, best of two runs:
# 14.2 s in all against 16.3 s with the k-d tree search)
_HOT_BEST_PAIRS = 100_000_000
# children, at least, for the searches by interest tag (see _suspects)
_TAG_SPLIT_MIN = 10_000
# threads for the searches of one match (k-d tree queries, grid scans); a
# worker of matching.scale.executors.ProcessExecutor sets its own
_SEARCH_THREADS = 2
# children and mentors, at least, for the first model's k-d tree searches
# on _SEARCH_THREADS threads (see _Problem.nearest_arcs)
_QUERY_SPLIT_MIN = 1_000
_MARGIN_UNITS = 300
# Each child starts with its _PRICING_K nearest mentors and its _PRICING_KC
# nearest mentors whose skills cover all its needs, each mentor with its
# _PRICING_KM nearest children (by distance, then proven or extended by
# pricing).  With 16 covering mentors (8 before) the first model pairs as
# many children as can be paired, so no settling round is needed (2,000
# children, seeds 1-3): interleaved, five 2k seeds 1.04 -> 0.91 s in all,
# two 20k seeds 9.9 -> 8.9 s; 16 nearest as well was no faster, with larger
# models.
_PRICING_K = 8
_PRICING_KM = 16
_PRICING_KC = 16
_SUSPECT_EXTRA_KM = 0.3
# a round whose new arcs take more than this share of the children off their
# arcs is solved afresh (the auction), not re-routed child by child
# (measured at 20,000 children: 15,931 rows re-routed in 2.4-3.7 s against
# 1.0-1.3 s afresh by OR-Tools; at 2,000, 608 rows warm in a few ms; with
# the auction, 0.4-0.6 s afresh, seeds 1-3 took 17.9 s in all at 0.2,
# 17.8 s at 0.1 and 19.3 s at 0.5, the best of two runs each; with the
# settling round's best lists, 17.6 s at 0.2, 17.1 s at 0.1, 18.4 s at 0.05)
_FRESH_SHARE = 0.1
# Up to _ROUGH_MAX_CHILDREN children the first round's auction stops at
# _ROUGH_UNITS cost units, without the exact finish: its prices only guide
# the first search, and the next round solves exactly (interleaved in one
# process, five seeds each: 2,000 children 0.83 -> 0.75 s in all, 5,000
# 1.54 -> 1.43 s; 10,000 even; 20,000 3.31 -> 3.57 s, hence the limit).
_ROUGH_UNITS = 36.0
_ROUGH_MAX_CHILDREN = 5_000
# where more than this share of the children's kept suspect lists have
# drifted too far, every child gets a fresh list (see _priced_lazy)
_RESCAN_SHARE = 0.25
# each child's this many suspects with the lowest reduced cost per search
# once the number of pairs is settled (see _priced_lazy; 8 and 16 measured
# at 20,000 children, six seeds: more fresh solves and slower re-routing)
_BEST_K = 32

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

REASONS = {
    "no_mentor_in_reach": "no active mentor within the distance limit",
    "forbidden_by_rule": "every mentor within reach is excluded by a rule",
    "mentors_taken": "every allowed mentor within reach is paired to capacity",
    "cheaper_unmatched": "every free mentor within reach costs more than the unmatched price",
}


@dataclass(frozen=True)
class MatchResult:
    """The outcome of :func:`match`.

    Attributes
    ----------
    pairs : DataFrame
        One row per pair, sorted by ``child_id``: ``child_id``, ``mentor_id``,
        ``distance_km``, the cost terms ``need_penalty_km`` (>= 0) and
        ``interest_bonus_km`` (<= 0), their sum ``cost_km``,
        ``needs_covered`` / ``needs_uncovered`` (tuples of need codes),
        ``shared_interests`` (tuple of tags), both streets and the child's
        priority.
    unmatched : DataFrame
        One row per child left without a mentor, sorted by ``child_id``:
        ``reason`` (one of ``no_mentor_in_reach``, ``forbidden_by_rule``,
        ``mentors_taken``, ``cheaper_unmatched``), ``detail`` in words (naming
        the rule where one applies), how many mentors were within reach and
        how many of those the rules allowed, and the unmatched price.
    metrics : dict
        Pairing rate overall, per street and for priority children;
        distance mean, median and 90th percentile; share of needs covered;
        mentor utilisation; the objective; solver statistics.
    config : MatchConfig
        The configuration used.
    """

    pairs: pd.DataFrame
    unmatched: pd.DataFrame
    metrics: dict[str, Any]
    config: MatchConfig = field(repr=False)

    def summary(self) -> str:
        """A few lines for a terminal: counts, rates and distances (ids only)."""
        m = self.metrics
        lines = [
            f"children: {m['n_children']}  mentors (active): {m['n_mentors_active']}  "
            f"capacity: {m['mentor_capacity']}",
            f"paired: {m['n_pairs']} ({m['pairing_rate']:.1%})  unmatched: {m['n_unmatched']}"
            f"  priority paired: {m['priority_pairing_rate']:.1%}",
            f"distance km: mean {m['distance_km_mean']:.2f}  median "
            f"{m['distance_km_median']:.2f}  p90 {m['distance_km_p90']:.2f}",
            f"needs covered: {m['needs_covered_share']:.1%}  mentor utilisation: "
            f"{m['mentor_utilisation']:.1%}  objective: {m['objective_km']:.3f} km-eq",
        ]
        if m["unmatched_by_reason"]:
            reasons = ", ".join(f"{k} {v}" for k, v in m["unmatched_by_reason"].items())
            lines.append(f"unmatched by reason: {reasons}")
        return "\n".join(lines)


def match(
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    config: MatchConfig | None = None,
    *,
    method: Method = "sparse",
    keep: Mapping[tuple[str, str], float] | None = None,
) -> MatchResult:
    """Pair children with mentors optimally under the configured rules.

    Parameters
    ----------
    children, mentors : DataFrame
        Rosters with the columns documented in :mod:`matching.rosters.schema`
        (validated here; every problem is reported at once).
    config : MatchConfig, optional
        Weights and rules; ``MatchConfig()`` by default.
    method : {"sparse", "dense"}, default "sparse"
        ``"sparse"`` builds only the allowed pairs with a spatial index and
        solves with pricing; ``"dense"`` builds the full children x mentors
        matrix (for checking, and small rosters).  Both give the same total.
    keep : mapping of (child_id, mentor_id) to float, optional
        Existing pairs and a bonus (km-eq, >= 0) for keeping each: the solver
        minimises the total cost minus the bonuses of the pairs it keeps, so
        a pair moves only when the move gains more than its bonus.  Used by
        :func:`matching.programme.rematch.rematch`; the reported costs and objective
        never include the bonuses.  A kept pair must still satisfy the rules.

    Returns
    -------
    MatchResult

    Raises
    ------
    RosterError
        A roster is invalid (every problem listed, naming id and column).
    ConfigError
        A configuration value is invalid.
    InputError
        A forbidden pair names an unknown id, or ``method`` is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from matching import match
    >>> kids = pd.DataFrame({"id": ["C1", "C2"], "lat": [31.78, 31.79],
    ...                      "lon": [119.95, 119.96], "needs": ["生活关爱", "family_education"]})
    >>> moms = pd.DataFrame({"id": ["M1", "M2"], "lat": [31.781, 31.80],
    ...                      "lon": [119.951, 119.96], "skills": ["life_care", "家庭教育"]})
    >>> r = match(kids, moms)
    >>> r.pairs[["child_id", "mentor_id"]].values.tolist()
    [['C1', 'M1'], ['C2', 'M2']]
    >>> r.metrics["pairing_rate"]
    1.0
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    if method not in ("sparse", "dense"):
        raise InputError(
            f"The 'method' parameter of match must be 'sparse' or 'dense', got {method!r} instead."
        )
    kids = _sorted(validate_children(children))
    all_mentors = _sorted(validate_mentors(mentors))
    mentors_v = all_mentors[all_mentors["active"].to_numpy(dtype=bool)].reset_index(drop=True)
    _check_forbidden(cfg, kids, all_mentors)
    problem = _Problem(kids, mentors_v, cfg, keep=_check_keep(keep, kids, mentors_v))
    return _solve_and_explain(problem, method, n_mentors_total=len(all_mentors))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """A validated roster by id (the frame itself where it is in order)."""
    ids = df["id"].to_numpy(dtype=object)
    if pd.Index(ids, dtype=object).is_monotonic_increasing:  # distinct ids: in order
        return df
    order = np.argsort(ids.astype(str), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def _check_forbidden(cfg: MatchConfig, kids: pd.DataFrame, mentors: pd.DataFrame) -> None:
    if not cfg.forbidden_pairs:
        return
    cids = set(kids["id"])
    mids = set(mentors["id"])
    for c, m in cfg.forbidden_pairs:
        if c not in cids:
            raise InputError(f"forbidden_pairs names child id {c!r}, which is not in the roster")
        if m not in mids:
            raise InputError(f"forbidden_pairs names mentor id {m!r}, which is not in the roster")


def _check_keep(
    keep: Mapping[tuple[str, str], float] | None, kids: pd.DataFrame, mentors: pd.DataFrame
) -> dict[tuple[str, str], float]:
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


def _join_arcs(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate ``(child, mentor, km)`` arc lists (empty int64/float64 arrays if none)."""
    if not parts:
        e = np.empty(0, np.int64)
        return e, e.copy(), np.empty(0, np.float64)
    ci = np.concatenate([part[0] for part in parts])
    mj = np.concatenate([part[1] for part in parts])
    return ci, mj, np.concatenate([part[2] for part in parts])


class _Problem:
    """Arrays of one matching problem; children and (active) mentors sorted by id.

    Arcs are produced on demand: :meth:`arcs_near` lists the pairs within a
    radius (per child) that satisfy every hard rule, with their costs.
    """

    def __init__(
        self,
        kids: pd.DataFrame,
        mentors: pd.DataFrame,
        cfg: MatchConfig,
        keep: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        self.kids, self.mentors, self.cfg = kids, mentors, cfg
        self.n, self.m = n, m = len(kids), len(mentors)
        self.clat = kids["lat"].to_numpy(np.float64)
        self.clon = kids["lon"].to_numpy(np.float64)
        self.mlat = mentors["lat"].to_numpy(np.float64)
        self.mlon = mentors["lon"].to_numpy(np.float64)
        self.vc = unit_vectors(self.clat, self.clon)
        self.vm = unit_vectors(self.mlat, self.mlon)
        self.mentor_tree = cKDTree(self.vm)
        lim = mentors["max_distance_km"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.limit = np.where(np.isnan(lim), cfg.max_distance_km, lim)
        self.radius = float(self.limit.max()) if m else 0.0
        self.caps = mentors["capacity"].to_numpy(dtype=np.int64)
        self.need = needs_mask(kids["needs"]) if n else np.zeros(0, np.uint8)
        self.skill = needs_mask(mentors["skills"]) if m else np.zeros(0, np.uint8)
        self.codes = InterestCodes(list(kids["interests"]), list(mentors["interests"]))
        self.price = unmatched_price(kids["priority"].to_numpy(), cfg)
        self.res = res = cfg.resolution_km
        guard = n + m + 2
        self.iu, _ = integer_costs(self.price / res, n_nodes=guard, scale=1.0)
        self.min_pen_km = -cfg.shared_interest_km * cfg.max_shared_interests
        # bonuses for keeping existing pairs, by arc key (child * m + mentor)
        self.bkeys = np.empty(0, np.int64)
        self.bval = np.empty(0, np.int64)
        max_bonus_km = 0.0
        if keep:
            cpos = pd.Index(kids["id"]).get_indexer([c for c, _ in keep])
            mpos = pd.Index(mentors["id"]).get_indexer([x for _, x in keep])
            keys = cpos.astype(np.int64) * max(m, 1) + mpos
            vals = np.rint(np.array(list(keep.values()), dtype=np.float64) / res).astype(np.int64)
            order = np.argsort(keys)
            self.bkeys, self.bval = keys[order], vals[order]
            max_bonus_km = float(max(keep.values()))
        self.fkeys = np.empty(0, np.int64)
        if cfg.forbidden_pairs:
            cpos = pd.Index(kids["id"]).get_indexer([c for c, _ in cfg.forbidden_pairs])
            mpos = pd.Index(mentors["id"]).get_indexer([x for _, x in cfg.forbidden_pairs])
            ok = mpos >= 0  # a forbidden pair of an inactive mentor has no arc anyway
            self.fkeys = np.unique(cpos[ok].astype(np.int64) * max(m, 1) + mpos[ok])
        self.cstreet = kids["street"].to_numpy(dtype=object)
        self.mstreet = mentors["street"].to_numpy(dtype=object)
        self.cgender = kids["gender"].to_numpy(dtype=object)
        self.mgender = mentors["gender"].to_numpy(dtype=object)
        # The flow model's arc cost, an integer >= 0 in "max_pairs" mode:
        #   arc = icost + (umax - iu[child]) - low
        # where low = rint(min_pen_km / res) bounds icost from below.  Folding
        # the child's unmatched price into its arcs changes the total of any
        # pairing with a fixed number of pairs by a constant; "big", the price
        # of the unmatched arc, exceeds any sum of arc costs, so the number of
        # pairs is maximised first.
        if cfg.objective == "max_pairs":
            self.umax = int(self.iu.max()) if n else 0
            self.low = int(np.rint((self.min_pen_km - max_bonus_km) / res))
            top = int(np.rint((self.radius + len(NEEDS) * cfg.uncovered_need_km) / res))
            top += self.umax - (int(self.iu.min()) if n else 0) - self.low
            self.big = (min(n, int(self.caps.sum())) + 1) * (top + 1)
            self.unm = np.full(n, self.big, dtype=np.int64)
        else:
            self.umax = self.low = self.big = 0
            self.unm = self.iu
            top = int(np.rint((self.radius + len(NEEDS) * cfg.uncovered_need_km) / res))
        self.off = (
            (self.umax - self.iu - self.low)
            if cfg.objective == "max_pairs"
            else np.zeros(n, dtype=np.int64)
        )
        peak = max(self.big, top, int(np.abs(self.iu).max()) if n else 0)
        if peak * (n + m + 2) * 4 >= _INT64_GUARD:
            raise InputError(
                "costs too large for exact integer flow at this resolution: raise "
                "'resolution_km' or lower the weights"
            )

    # -- arcs ---------------------------------------------------------------
    def planar_grid(self) -> Grid | None:
        """The mentors on a planar grid (:mod:`matching._engine.scan`), built once;
        None where the projection would distort (see :meth:`Grid.build`)."""
        if not hasattr(self, "_grid"):
            from matching._engine.scan import Grid

            cell_km = self.radius / _GRID_CELLS_PER_RADIUS
            self._grid = Grid.build(self.clat, self.clon, self.mlat, self.mlon, cell_km)
        return self._grid

    def in_reach(self, child_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (child, mentor, km) within the largest limit and the
        mentor's own, for these children (in no particular order): as
        :meth:`within`, by the compiled grid scan where many pairs are
        expected."""
        if child_idx.size * self.m >= _GRID_REACH_PAIRS and self.radius > 0:
            grid = self.planar_grid()
            if grid is not None:
                n, m = self.n, self.m
                zero = np.zeros(n, dtype=np.float64)
                return grid.scan(
                    child_idx,
                    np.full(n, self.radius),
                    zero,
                    zero,
                    np.full(m, 2.0 * self.radius + 1.0),  # no bound but the km
                    vc=self.vc,
                    vm=self.vm,
                    kneed=self.need,
                    kbits=self.codes.child,
                    mskill=self.skill,
                    mbits=self.codes.mentor,
                    limit=self.limit,
                    need_km=0.0,
                    int_km=0.0,
                    max_shared=0,
                    slack=0.0,
                    threads=_SEARCH_THREADS,
                )
        return self.within(child_idx, self.radius)

    def within(
        self,
        child_idx: np.ndarray,
        radius_km: float | np.ndarray,
        mentor_idx: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (child, mentor, km) within the radius and the mentor's limit.

        ``radius_km`` is one radius or one per child; ``mentor_idx`` limits
        the search to those mentors (default: all).
        """
        r = np.broadcast_to(np.asarray(radius_km, dtype=np.float64), child_idx.shape)
        r = np.minimum(r, self.radius)
        if mentor_idx is None:
            mentor_idx = np.arange(self.m)
            tree = self.mentor_tree
        else:
            tree = cKDTree(self.vm[mentor_idx])
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if mentor_idx.size and child_idx.size:
            # group children by radius (powers of two below the largest limit)
            # so each k-d tree search uses one radius, then filter exactly.
            level = np.floor(np.log2(np.maximum(self.radius / np.maximum(r, 1e-12), 1.0)))
            level = np.minimum(level, 3)
            for lv in np.unique(level[r >= 0]):
                sel = child_idx[(level == lv) & (r >= 0)]
                ia, jb, km = pairs_within_vectors(self.vc[sel], tree, self.radius / 2.0**lv)
                out.append((sel[ia], mentor_idx[jb], km))
        ci, mj, km = _join_arcs(out)
        if len(out) == 1 and float(r.min()) >= self.radius:
            keep = km <= self.limit[mj]
        else:
            rfull = np.zeros(self.n)
            rfull[child_idx] = r
            keep = (km <= self.limit[mj]) & (km <= rfull[ci])
        return ci[keep], mj[keep], km[keep]

    def rule_hits(self, ci: np.ndarray, mj: np.ndarray) -> dict[str, np.ndarray]:
        """For each active rule, which arcs it excludes."""
        cfg = self.cfg
        hits: dict[str, np.ndarray] = {}
        kst, mst, kgd, mgd, _, _ = self.rule_codes()  # integer codes: no string compares
        if self.fkeys.size:
            hits["forbidden_pairs"] = np.isin(ci * max(self.m, 1) + mj, self.fkeys)
        if cfg.same_street:
            hits["same_street"] = kst[ci] != mst[mj]
        if cfg.same_gender:
            a, b = kgd[ci], mgd[mj]  # 0: not given
            hits["same_gender"] = (a != 0) & (b != 0) & (a != b)
        return hits

    def rule_codes(self) -> tuple[np.ndarray, ...]:
        """The hard rules as integer arrays for the compiled scan (see
        :meth:`matching._engine.scan.Grid.scan`, ``rules``)."""
        if not hasattr(self, "_rule_codes"):
            cfg, n, m = self.cfg, self.n, self.m
            empty = np.empty(0, dtype=np.int64)
            kst = mst = kgd = mgd = empty
            if cfg.same_street:
                codes, _ = pd.factorize(np.r_[self.cstreet, self.mstreet])
                kst, mst = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
            if cfg.same_gender:
                both = np.r_[self.cgender, self.mgender]
                codes, _ = pd.factorize(both)
                codes = np.where(both == "", 0, codes.astype(np.int64) + 1)
                kgd, mgd = codes[:n], codes[n:]
            frow = empty
            if self.fkeys.size:
                frow = np.searchsorted(self.fkeys, np.arange(n + 1) * max(m, 1)).astype(np.int64)
            self._rule_codes = (kst, mst, kgd, mgd, self.fkeys.astype(np.int64), frow)
        return self._rule_codes

    def allowed_share(self) -> float:
        """About what share of (child, mentor) pairs the street and gender
        rules allow (1.0 without them): from a fixed sample of 4,096 pairs,
        for choosing between searches, not a bound."""
        if not hasattr(self, "_allowed_share"):
            share = 1.0
            if (self.cfg.same_street or self.cfg.same_gender) and self.n and self.m:
                rng = np.random.default_rng(0)
                ci = rng.integers(0, self.n, 4096)
                mj = rng.integers(0, self.m, 4096)
                hits = [h for r, h in self.rule_hits(ci, mj).items() if r != "forbidden_pairs"]
                share = max(float((~np.logical_or.reduce(hits)).mean()), 1 / 4096)
            self._allowed_share = share
        return self._allowed_share

    def allowed(
        self, ci: np.ndarray, mj: np.ndarray, km: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hits = self.rule_hits(ci, mj)
        if not hits:
            return ci, mj, km
        bad = np.logical_or.reduce(list(hits.values()))
        return ci[~bad], mj[~bad], km[~bad]

    def arc_cost(self, ci: np.ndarray, mj: np.ndarray, km: np.ndarray) -> np.ndarray:
        """Integer flow-model cost of each arc."""
        terms = pair_costs(ci, mj, km, self.need, self.skill, self.codes, self.cfg)
        icost = np.rint(terms.total_km / self.res).astype(np.int64)
        if self.bkeys.size and ci.size:
            keys = ci * max(self.m, 1) + mj
            pos = np.minimum(np.searchsorted(self.bkeys, keys), self.bkeys.size - 1)
            hit = self.bkeys[pos] == keys
            icost = icost - np.where(hit, self.bval[pos], 0)
        if self.cfg.objective == "max_pairs":
            return icost + (self.umax - self.iu[ci]) - self.low
        return icost

    def nearest_arcs(
        self, k: int, k_mentor: int | None = None, k_cover: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each child's k nearest mentors and its ``k_cover`` (default k)
        nearest mentors covering all its needs, and each mentor's
        ``k_mentor`` (default k) nearest children."""
        vc, vm = self.vc, self.vm
        kc, km_ = min(k, self.m), min(k if k_mentor is None else k_mentor, self.n)
        k_cover = k if k_cover is None else k_cover

        def nearest() -> tuple[list[np.ndarray], list[np.ndarray]]:
            _, jm = self.mentor_tree.query(vc, k=kc)
            _, ic = cKDTree(vc).query(vm, k=km_)
            jm = np.asarray(jm).reshape(self.n, kc)
            ic = np.asarray(ic).reshape(self.m, km_)
            parts_c = [np.repeat(np.arange(self.n), kc), ic.ravel()]
            return parts_c, [jm.ravel(), np.repeat(np.arange(self.m), km_)]

        def covering() -> tuple[list[np.ndarray], list[np.ndarray]]:
            # each child's k_cover nearest mentors whose skills cover all its needs
            parts_c, parts_m = [], []
            for q in np.unique(self.need):
                kids_q = np.flatnonzero(self.need == q)
                cover = np.flatnonzero((self.skill & q) == q)
                kq = min(k_cover, cover.size)
                if kq == 0 or q == 0:
                    continue
                _, jq = cKDTree(vm[cover]).query(vc[kids_q], k=kq)
                jq = np.asarray(jq).reshape(kids_q.size, kq)
                parts_c.append(np.repeat(kids_q, kq))
                parts_m.append(cover[jq.ravel()])
            return parts_c, parts_m

        # a nearest-first walk over the planar grid, compiled (both lanes'
        # three searches release the GIL); the k-d trees where there is no
        # grid or the walk would be too long
        grid = self.planar_grid() if self.radius > 0 else None
        walked = None
        if grid is not None:
            walked = grid.nearest(
                self.radius, kc, km_, k_cover, vc=vc, vm=vm, need=self.need,
                skill=self.skill, threads=_SEARCH_THREADS,
            )  # fmt: skip
        if walked is not None:
            parts_c, parts_m = [walked[0]], [walked[1]]
        else:
            # two lanes of about equal work, on the scans' worker threads (the
            # k-d tree searches release the GIL; 2,000 children: 7 ms against
            # 12 ms with two threads per query and the cover searches in turn)
            jobs = (nearest, covering)
            if self.n + self.m >= _QUERY_SPLIT_MIN and _SEARCH_THREADS > 1:
                from matching._engine.scan import thread_pool

                lanes = list(thread_pool(_SEARCH_THREADS).map(lambda job: job(), jobs))
            else:
                lanes = [job() for job in jobs]
            parts_c = [a for lane in lanes for a in lane[0]]
            parts_m = [a for lane in lanes for a in lane[1]]
        if self.bkeys.size:  # existing pairs always start in the model
            parts_c.append(self.bkeys // self.m)
            parts_m.append(self.bkeys % self.m)
        # each pair once, by child then mentor, within the mentor's limit;
        # km as the grid scan measures it (one compiled pass: 2,000
        # children, 110,000 listed pairs: 4 ms against 9-10 ms by sorting
        # keys and computing km in numpy)
        from matching._engine.scan import pairs_by_child

        ci, mj, km = pairs_by_child(
            self.n, np.concatenate(parts_c), np.concatenate(parts_m), self.vc, self.vm, self.limit
        )
        return self.allowed(ci, mj, km)

    def km(self, ci: np.ndarray, mj: np.ndarray) -> np.ndarray:
        """Great-circle km of pairs (child ``ci[k]``, mentor ``mj[k]``): as
        :func:`matching.geo.distance.great_circle_km`, bit for bit, from the unit
        vectors already computed (no trigonometry per pair)."""
        return vectors_km(self.vc[ci], self.vm[mj])


def _all_arcs(p: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed arc (and, with ``k_nearest``, only each child's k nearest)."""
    ci, mj, km = p.allowed(*p.within(np.arange(p.n), p.radius))
    k = p.cfg.k_nearest
    if k is not None and ci.size:
        order = np.lexsort((mj, km, ci))
        ci, mj, km = ci[order], mj[order], km[order]
        start = np.searchsorted(ci, np.arange(p.n))
        keep = (np.arange(ci.size) - start[ci]) < k
        ci, mj, km = ci[keep], mj[keep], km[keep]
        order = np.lexsort((mj, ci))
        ci, mj, km = ci[order], mj[order], km[order]
    return ci, mj, km


def _solve_all(p: _Problem, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One solve over every allowed arc (small problems, and the fallback)."""
    ci, mj, km = _all_arcs(p)
    arc = p.arc_cost(ci, mj, km)
    sol = _model_solve(p, ci, mj, arc)
    assert sol.arc_flow is not None
    on = sol.arc_flow > 0
    stats.update(candidate_arcs=int(ci.size), model_arcs=int(ci.size), proven=True)
    stats.setdefault("rounds", 1)
    return ci[on], mj[on], sol.unmatched


def _suspects(
    p: _Problem,
    d: np.ndarray,
    extra_km: float = 0.0,
    hot: np.ndarray | None = None,
    only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed arc that might have a negative reduced cost under ``d``.

    With ``arc = rint((km + need - bonus) / res) + off[child]``, a negative
    reduced cost ``arc + d[i] - d[j]`` needs

        km < res * (d[j] - d[i] - off[i] + 0.5) - need(i, j) + bonus(i, j).

    Mentors are grouped by skill set (the need term is then exact per child)
    and, within a group, into tiers by potential; each (group, tier) is
    searched with a per-child radius from the tier's highest potential.  On
    large problems (:data:`_TAG_SPLIT_MIN` children) that search carries no
    bonus, which is exact for pairs that share no interest, and pairs that
    share one are searched per (tag, group) with the bonus and kept only
    under their lowest shared tag, so no arc is listed twice; on small ones
    (where the many small searches cost more than they save) every search
    carries the largest bonus.  ``extra_km`` widens every radius, so that the
    list stays complete while the potentials move by less than that (see
    :func:`_priced_lazy`).

    ``hot`` (a mask of children) makes the list incomplete on purpose: each
    hot child gets only its :data:`_HOT_K` nearest mentors within the bound
    in each search, not every one (see :func:`_priced_lazy`).  ``only`` (a
    mask of children) limits the search to those children.
    """
    n, m, res, cfg = p.n, p.m, p.res, p.cfg
    dm = d[n : n + m].astype(np.float64)
    base = res * (d[:n] + p.off).astype(np.float64)
    bonus_max = -p.min_pen_km
    slack = res * 1.0 + extra_km  # 0.5 unit of rounding, doubled for float safety
    skills, codes = p.skill, p.codes
    by_tag = codes.child.shape[1] == 1 and bonus_max > 0 and n >= _TAG_SPLIT_MIN
    kbits, mbits = codes.child[:, 0], codes.mentor[:, 0]
    ktags = np.bitwise_count(kbits).astype(np.float64)
    mtags = np.bitwise_count(mbits)
    # (mentors, need km per child, children or None for all, tag or -1)
    jobs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, int]] = []
    for g in np.unique(skills):
        members = np.flatnonzero(skills == g)
        need_km = cfg.uncovered_need_km * np.bitwise_count(p.need & ~np.uint8(g)).astype(np.float64)
        order = members[np.argsort(-dm[members], kind="stable")]
        jobs += [(t, need_km, None, -1) for t in np.array_split(order, min(_TIERS, order.size))]
        for tag in range(len(codes.tags)) if by_tag else ():
            bit = np.uint64(1) << np.uint64(tag)
            tm = order[(mbits[order] & bit) != 0]
            tk = np.flatnonzero((kbits & bit) != 0)
            if tm.size and tk.size:
                jobs.append((tm, need_km, tk, tag))

    def lowest_tag(xi: np.ndarray, xj: np.ndarray) -> np.ndarray:
        x = kbits[xi] & mbits[xj]
        low = x & (~x + np.uint64(1))
        return np.where(x == 0, -1, np.bitwise_count(low - np.uint64(1)).astype(np.int64))

    def nearest(kids: np.ndarray, r: np.ndarray, tier: np.ndarray) -> tuple[np.ndarray, ...]:
        kk = min(_HOT_K, tier.size)
        reach = float(chord(min(float(r[kids].max()), p.radius))) * (1 + 1e-9)
        _, jj = cKDTree(p.vm[tier]).query(p.vc[kids], k=kk, distance_upper_bound=reach)
        jj = np.asarray(jj).reshape(kids.size, kk)
        ok = jj < tier.size
        hi, hj = np.repeat(kids, kk)[ok.ravel()], tier[jj[ok]]
        hkm = p.km(hi, hj)
        fit = (hkm <= p.limit[hj]) & (hkm <= r[hi])
        return hi[fit], hj[fit], hkm[fit]

    def search(
        job: tuple[np.ndarray, np.ndarray, np.ndarray | None, int],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tier, need_km, kids, tag = job
        top = res * float(dm[tier].max())
        bonus: float | np.ndarray
        if tag >= 0:  # at most as many shared tags as either side has
            most = min(int(mtags[tier].max()), cfg.max_shared_interests)
            bonus = cfg.shared_interest_km * np.minimum(ktags, most)
        else:
            bonus = 0.0 if by_tag else bonus_max
        r = (top - base - need_km + bonus + slack) * (1 + 1e-9) + 1e-9
        pool = np.arange(n) if kids is None else kids
        pool = pool[r[pool] >= 0]
        if only is not None:
            pool = pool[only[pool]]
        if hot is None:
            xi, xj, xk = p.within(pool, r[pool], tier)
        else:
            cool, warm = pool[~hot[pool]], pool[hot[pool]]
            xi, xj, xk = p.within(cool, r[cool], tier)
            if warm.size:
                hi, hj, hkm = nearest(warm, r, tier)
                xi, xj, xk = np.r_[xi, hi], np.r_[xj, hj], np.r_[xk, hkm]
        bonus_x: float | np.ndarray = bonus_max
        if by_tag:
            # each pair under its lowest shared tag only (-1: none shared)
            first = lowest_tag(xi, xj) == tag
            xi, xj, xk = xi[first], xj[first], xk[first]
            shared = np.minimum(codes.shared_count(xi, xj), cfg.max_shared_interests)
            bonus_x = cfg.shared_interest_km * shared
        # the same bound with each mentor's own potential
        exact = res * dm[xj] - base[xi] - need_km[xi] + bonus_x + slack
        keep = xk <= exact * (1 + 1e-9) + 1e-9
        return xi[keep], xj[keep], xk[keep]

    # the k-d tree searches release the GIL: two threads, results in job order
    from matching._engine.scan import thread_pool

    outs = list(thread_pool(_SEARCH_THREADS).map(search, jobs))
    return p.allowed(*_join_arcs(outs))


def _suspects_grid(
    p: _Problem,
    grid: Grid,
    d: np.ndarray,
    extra_km: float = 0.0,
    hot: np.ndarray | None = None,
    best: tuple[tuple[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
    only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_suspects` in one compiled pass over a planar grid
    (:mod:`matching._engine.scan`) for every child that is not hot.  Hot children
    (whose bound reaches nearly every mentor in range, so a scan measures
    them all) are scanned too while their estimated pairs in reach stay
    under :data:`_HOT_BEST_PAIRS` when ``best`` is given (their best lists),
    else under :data:`_HOT_SCAN_PAIRS` (their nearest few per skill set and
    potential tier); beyond that they get the k-d tree search of
    :func:`_suspects`.

    ``best`` (the model's key index and a ``drop`` array, see
    :meth:`Grid.scan`): only each child's :data:`_BEST_K` suspects with the
    lowest reduced cost that are not in the model yet.  ``only`` (a mask of
    children) limits the search to those children."""
    n, m, res, cfg = p.n, p.m, p.res, p.cfg
    top = res * d[n : n + m].astype(np.float64)
    base = res * (d[:n] + p.off).astype(np.float64)
    slack = res * 1.0 + extra_km  # 0.5 unit of rounding, doubled for float safety
    tags = np.zeros(n, dtype=np.int64)
    for w in range(p.codes.child.shape[1]):
        tags += np.bitwise_count(p.codes.child[:, w])
    bonus_hi = cfg.shared_interest_km * np.minimum(tags, cfg.max_shared_interests)
    reach = (float(top.max()) - base + bonus_hi + slack) * (1 + 1e-9) + 1e-9
    reach = np.minimum(reach, p.radius)
    terms: dict[str, Any] = {
        "vc": p.vc,
        "vm": p.vm,
        "kneed": p.need,
        "kbits": p.codes.child,
        "mskill": p.skill,
        "mbits": p.codes.mentor,
        "limit": p.limit,
        "need_km": cfg.uncovered_need_km,
        "int_km": cfg.shared_interest_km,
        "max_shared": cfg.max_shared_interests,
        "slack": slack,
        "rules": p.rule_codes(),  # disallowed pairs are never measured
        "threads": _SEARCH_THREADS,
    }
    bonus_f = bonus_hi.astype(np.float64)
    cool = np.arange(n) if hot is None else np.flatnonzero(~hot)
    if only is not None:
        cool = cool[only[cool]]
        if hot is not None:
            hot = hot & only
    if best is not None:
        model, drop = best
        terms.update(best_k=_BEST_K, model=model, drop=drop)
    xi, xj, xk = grid.scan(cool, reach, base, bonus_f, top, **terms)
    if hot is None or not hot.any():
        return p.allowed(xi, xj, xk)
    warm = np.flatnonzero(hot)
    # the scan checks the street and gender rules before it measures a
    # pair, so only the allowed share of the pairs in reach counts
    pairs = warm.size * grid.mentors_in_reach(p.radius) * p.allowed_share()
    if best is not None and pairs <= _HOT_BEST_PAIRS:
        # a best list asked for (the settling round): each hot child's best
        # suspects too, its cells nearest first (its list fills at once)
        hot_arcs = grid.scan(warm, reach, base, bonus_f, top, **terms, nearest_first=True)
        return _join_arcs([p.allowed(xi, xj, xk), p.allowed(*hot_arcs)])
    if pairs <= _HOT_SCAN_PAIRS:
        # few enough pairs to measure them all: the scan keeps each hot
        # child's _HOT_K nearest suspects per (skill set, potential tier),
        # as the k-d tree search below does
        bucket = np.zeros(m, dtype=np.int64)
        for g in np.unique(p.skill):
            members = np.flatnonzero(p.skill == g)
            order = members[np.argsort(-top[members], kind="stable")]
            for t, part in enumerate(np.array_split(order, min(_TIERS, order.size))):
                bucket[part] = int(g) * _TIERS + t
        hot_arcs = grid.scan(warm, reach, base, bonus_f, top, **terms, bucket=bucket, keep_k=_HOT_K)
    else:
        # the k-d tree search, for the hot children only
        hot_arcs = _suspects(p, d, extra_km, hot=hot, only=hot)
    return _join_arcs([p.allowed(xi, xj, xk), p.allowed(*hot_arcs)])


def _model_solve(p: _Problem, ci: np.ndarray, mj: np.ndarray, arc: np.ndarray) -> Circulation:
    if p.cfg.objective == "max_pairs":
        return max_pairs_circulation(ci, mj, arc, p.n, p.m, p.caps)
    return circulation(ci, mj, arc, p.n, p.m, p.caps, p.unm, np.ones(p.n, dtype=bool))


def _fresh_solve(
    p: _Problem, ci: np.ndarray, mj: np.ndarray, arc: np.ndarray, *, auction: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Solve the model from scratch: each child's mentor (-1: unmatched),
    and potentials that should prove it (None: the flow finds its own).

    By the auction (:mod:`matching._engine.auction`; measured at 20,000 children:
    0.42-0.60 s against OR-Tools' 0.90-1.19 s on the same three models),
    or by OR-Tools where the auction's scaled costs would not fit in int64
    or ``auction`` is False.  The flow that takes it over checks the proof
    (see :func:`_take_fresh`).
    """
    if auction:
        from matching._engine.auction import auction_assign

        got = auction_assign(p.n, p.m, p.caps, p.unm, ci, mj, arc)
        if got is not None:
            return got[0], got[1]
    sol = _model_solve(p, ci, mj, arc)
    assert sol.arc_flow is not None  # every child has its unmatched arc
    on = sol.arc_flow > 0
    assigned = np.full(p.n, -1, dtype=np.int64)
    assigned[ci[on]] = mj[on]
    return assigned, None


def _take_fresh(p: _Problem, flow: IncrementalAssignment) -> None:
    """Solve the flow's model afresh and hand the result to the flow with a
    checked proof of optimality: the solver's potentials if they pass
    :meth:`~matching._engine.flow.IncrementalAssignment.residual_ok`, else the
    flow's own (Bellman-Ford, which refuses a flow that is not optimal).
    A refused answer from the auction goes to OR-Tools, and one from
    OR-Tools (which would be a solver bug) to the flow's own solve."""
    for auction in (True, False):
        assigned, pi = _fresh_solve(p, *flow.arcs(), auction=auction)
        if pi is not None:
            flow.load_solution(assigned, pi)
            if flow.residual_ok():
                return
        try:
            flow.load_solution(assigned)
            return
        except ValueError:
            continue
    flow.solve()  # the flow was left empty: from scratch


def _grow(
    flow: IncrementalAssignment, xi: np.ndarray, xj: np.ndarray, xarc: np.ndarray, red: np.ndarray
) -> None:
    """Add priced arcs to the model: per child and per mentor, the few with
    the lowest reduced cost below the margin (the negative ones, which decide
    optimality, and nearly tight ones, which would likely turn negative after
    the next solve).  The arcs given are all outside the model."""
    from matching._engine.scan import smallest_per_group

    near = np.flatnonzero(red < _MARGIN_UNITS)
    pick = smallest_per_group(xi[near], red[near], _PRICING_ADD)
    smallest_per_group(xj[near], red[near], _PRICING_ADD, keep=pick)
    add = near[pick]
    flow.add_arcs(xi[add], xj[add], xarc[add])


def _search_again(
    p: _Problem,
    grid: Grid | None,
    flow: IncrementalAssignment,
    d: np.ndarray,
    stale: np.ndarray,
    want_complete: np.ndarray,
    drop: np.ndarray,
    suspects: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New suspect lists under ``d`` for the ``stale`` children (a mask):
    complete lists where ``want_complete``, best lists (on the grid) for the
    others; ``drop`` is updated for all of them (-inf: nothing left out)."""
    full = stale & want_complete
    part = stale & ~want_complete
    drop[stale] = -np.inf
    out = []
    if full.any():
        out.append(suspects(d, _SUSPECT_EXTRA_KM, only=full))
    if part.any():
        assert grid is not None  # best lists only on the grid
        fresh_drop = np.full(p.n, -np.inf)
        best = (flow.key_index(), fresh_drop)
        out.append(_suspects_grid(p, grid, d, _SUSPECT_EXTRA_KM, best=best, only=part))
        drop[part] = fresh_drop[part]
    return _join_arcs(out)


def _priced_lazy(p: _Problem, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pricing without listing every allowed arc: see :func:`_suspects`."""
    from matching._engine.flow import IncrementalAssignment

    n, m = p.n, p.m
    ci, mj, km = p.nearest_arcs(_PRICING_K, _PRICING_KM, _PRICING_KC)
    flow = IncrementalAssignment(n, m, p.caps, p.unm)
    flow.add_arcs(ci, mj, p.arc_cost(ci, mj, km))
    checked = searches = 0
    # the kept suspect lists (see the search below): every child's arcs
    # (child, mentor, km, cost), the potentials each list was made under
    # (snap[i] indexes snaps; -1: none) and each child's drop
    empty = np.empty(0, dtype=np.int64)
    kept: tuple[np.ndarray, ...] = (empty, empty, np.empty(0), empty)
    snaps: list[np.ndarray] = []
    snap = np.full(n, -1, dtype=np.int64)
    drop = np.full(n, -np.inf)
    prev_unmatched = n + 1
    settled = 0
    grid = p.planar_grid()
    most = min(n, int(p.caps.sum()))  # no model pairs more
    rough_used = False

    def suspects(
        d: np.ndarray,
        extra_km: float,
        hot: np.ndarray | None = None,
        only: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if grid is None:
            return _suspects(p, d, extra_km, hot=hot, only=only)
        return _suspects_grid(p, grid, d, extra_km, hot=hot, only=only)

    for rnd in range(1, _MAX_PRICING_ROUNDS + 1):
        # The flow and its potentials are kept between rounds and re-routed
        # around the arcs just added (matching._engine.flow), except right after a
        # settling round: its arcs join children left unmatched to crowded
        # mentors, and re-routing those one child at a time searches the
        # whole crowded area per child (measured: 2.6 s against 0.8 s at
        # 10,000 children), so that round is solved afresh by the auction
        # (which settles the number of pairs globally), and the flow takes
        # over from there with potentials of its own.  So is a round whose
        # new arcs would take most children off their arcs, and the first
        # round (every child is to be routed; measured at 2,000 children:
        # 0.29-0.31 s end to end against 0.33-0.35 s with the flow's own
        # start, no difference at 10,000 and 20,000).
        fresh = settled and settled == rnd - 1
        # the first round of a small match: a rough auction (see
        # _ROUGH_UNITS), whose prices guide the first search and prove
        # nothing; the flow stays empty, so the next round solves afresh
        rough = rnd == 1 and 0 < n <= _ROUGH_MAX_CHILDREN and _ROUGH_UNITS > 0
        got = None
        if rough:
            from matching._engine.auction import auction_assign

            got = auction_assign(
                n, m, p.caps, p.unm, *flow.arcs(), stop_units=_ROUGH_UNITS, exact=False
            )
        rough = got is not None
        if got is not None:
            d, unmatched = got[1], got[0] < 0
            rough_used = True
        else:
            if fresh or flow.disturbed() > _FRESH_SHARE * n:
                _take_fresh(p, flow)
            else:
                flow.solve()
            d = flow.pi.copy()  # the kept lists below keep it; the flow moves on
            unmatched = flow.unmatched
        # While the model still pairs more children each round (the number
        # of pairs comes first), a child it leaves unmatched -- and every
        # child joined to one by alternating paths -- has a potential that
        # carries the unmatched price, so nearly every arc in its reach looks
        # negative: listing them all was the costliest step of the search.
        # Such "hot" children get only their nearest few mentors per search
        # (the list is incomplete, so this round proves nothing), enough to
        # open the augmenting paths; once the count stops falling -- or
        # reaches its ceiling, every child or every mentor place paired, when
        # another settling round could not add a pair -- the complete search
        # runs and the proof follows as usual.
        n_unmatched = int(unmatched.sum())
        settling = p.big > 0 and 0 < n_unmatched < prev_unmatched and n - n_unmatched < most
        prev_unmatched = n_unmatched
        if settling:
            settled += 1
            hot = unmatched | (d[:n] <= d[n + m] - p.big // 2)
            if grid is None:
                xi, xj, xk = suspects(d, 0.0, hot=hot)
            else:
                # this round proves nothing, so the other children need
                # only their best few suspects too, not the complete list
                # (at 20,000 children, seeds 1-3, best of two runs: 17.2 s
                # in all against 19.4 s)
                best0 = (flow.key_index(), np.full(n, -np.inf))
                xi, xj, xk = _suspects_grid(p, grid, d, 0.0, hot=hot, best=best0)
            out = ~flow.contains(xi, xj)
            xi, xj, xk = xi[out], xj[out], xk[out]
            xarc = p.arc_cost(xi, xj, xk)
            red = xarc + d[xi] - d[n + xj]
            checked += int(xi.size)
            searches += 1
            _grow(flow, xi, xj, xarc, red)
            continue
        # Once the number of pairs is settled, a search on the grid keeps
        # only each child's _BEST_K suspects with the lowest reduced cost
        # outside the model: a round adds at most _PRICING_ADD per child
        # (and per mentor) anyway, and the bound, tightened as a child's
        # best list fills, skips most of the pairs a complete list would
        # measure (at 20,000 children the round after the settling round
        # listed 1.6-8.1 M suspects to add about 100,000).  A pair a child
        # left out has no more room under the bound than drop[i] (-inf: it
        # left none out); the proof needs no kept suspect below zero and no
        # child that may hide one, else that child's complete list decides.
        #
        # A child's list, made under potentials d0 with every bound widened
        # by E, stays usable under d while none of its bounds grows by more
        # than E: the bound of arc (i, j) moves by res * ((d - d0)[j] -
        # (d - d0)[i]), at most drift[i] = res * (max over mentors of
        # (d - d0) - (d - d0)[i]).  So each child's list is kept between
        # rounds until its own drift passes E, and only such children are
        # searched again (2,000 children: after the last re-route 150 of
        # them, where the drift of all of them together was 0.64 km).
        want_complete = np.full(n, grid is None or _BEST_K <= 0)
        while True:
            drift = np.full(n, np.inf)  # no list yet
            for s_id, d0 in enumerate(snaps):
                own = snap == s_id
                if own.any():
                    dd = d - d0
                    drift[own] = p.res * (float(dd[n : n + m].max()) - dd[:n][own])
            stale = drift > _SUSPECT_EXTRA_KM
            if stale.sum() > _RESCAN_SHARE * n:
                stale[:] = True  # fresh lists for all: better arcs to add
            if stale.any():
                snaps.append(d)
                snap[stale] = len(snaps) - 1
                drift[stale] = 0.0
                fresh_i, fresh_j, fresh_k = _search_again(
                    p, grid, flow, d, stale, want_complete, drop, suspects
                )
                keep = ~stale[kept[0]]
                kept = tuple(
                    np.concatenate([old[keep], new])
                    for old, new in zip(
                        kept,
                        (fresh_i, fresh_j, fresh_k, p.arc_cost(fresh_i, fresh_j, fresh_k)),
                        strict=True,
                    )
                )
                checked += int(fresh_i.size)
                searches += 1
            xi, xj, xk, xarc = kept
            # only arcs below the margin matter; of those, the ones already
            # in the model are set to the margin (their reduced cost says
            # nothing)
            near = np.flatnonzero(xarc + d[xi] - d[n + xj] < _MARGIN_UNITS)
            near = near[~flow.contains(xi[near], xj[near])]
            xi, xj, xk, xarc = xi[near], xj[near], xk[near], xarc[near]
            red = xarc + d[xi] - d[n + xj]
            if (red < 0).any():
                break
            # rounding: a negative pair has half a unit more room than the
            # bound's slack; half a unit more against float error
            hide = drop + drift > _SUSPECT_EXTRA_KM + p.res
            if rough:
                break  # rough potentials prove nothing: an exact solve next
            if hide.any():
                # these children may hide a negative pair: their best lists
                # under these potentials, or where that was it, their
                # complete lists
                want_complete |= hide & (drift == 0.0)
                snap[hide] = -1
                continue
            stats.update(
                rounds=rnd,
                model_arcs=int(flow.arcs()[0].size),
                checked_arcs=checked,
                suspect_searches=searches,
                settling_rounds=settled,
                grid_search=grid is not None,
                rough_first_round=rough_used,
                proven=True,
            )
            paired = np.flatnonzero(~unmatched)
            return paired, flow.amentor[paired], unmatched
        _grow(flow, xi, xj, xarc, red)
    # No proof within the budget: every allowed arc (exact anyway).
    stats["rounds"] = _MAX_PRICING_ROUNDS + 1
    return _solve_all(p, stats)


def _solve_and_explain(p: _Problem, method: str, *, n_mentors_total: int) -> MatchResult:
    n, m, cfg = p.n, p.m, p.cfg
    stats: dict[str, Any] = {"method": method}
    small = n * m <= _PRICING_MIN_PAIRS
    if method == "dense":
        # the full matrix, and the unmatched price carried as a cost (an
        # independent route to the same optimum as the sparse path)
        ci, mj, km = _all_arcs(p)
        dense = np.full((n, m), np.inf)
        dense[ci, mj] = p.arc_cost(ci, mj, km)
        r_ind, c_ind = solve_assignment(dense, capacities=p.caps, unmatched_cost=p.unm, scale=1)
        pc, pm = r_ind.astype(np.int64), c_ind.astype(np.int64)
        unmatched = np.ones(n, dtype=bool)
        unmatched[pc] = False
        stats.update(candidate_arcs=int(ci.size), rounds=1, model_arcs=n * m, proven=True)
    elif cfg.k_nearest is not None or small or n == 0 or m == 0:
        pc, pm, unmatched = _solve_all(p, stats)
    else:
        pc, pm, unmatched = _priced_lazy(p, stats)
    order = np.argsort(pc, kind="stable")
    pc, pm = pc[order], pm[order]
    pkm = p.km(pc, pm)
    terms = pair_costs(pc, pm, pkm, p.need, p.skill, p.codes, cfg)
    icost = np.rint(terms.total_km / p.res).astype(np.int64)
    objective_units = int(icost.sum()) + int(p.iu[unmatched].sum())
    pairs = _pairs_frame(p, pc, pm, terms)
    load = np.bincount(pm, minlength=m)
    unmatched_df = _unmatched_frame(p, unmatched, load)
    metrics = _metrics(p, pm, unmatched, terms, unmatched_df, n_mentors_total)
    metrics["objective_units"] = objective_units
    metrics["objective_km"] = round(objective_units * p.res, 6)
    metrics["solver"] = stats
    return MatchResult(pairs=pairs, unmatched=unmatched_df, metrics=metrics, config=cfg)


def _codes(mask: np.ndarray) -> np.ndarray:
    """The need codes of each bit mask, as an object array of tuples."""
    table = np.empty(1 << len(NEEDS), dtype=object)
    for v in range(table.size):
        table[v] = tuple(NEEDS[b] for b in range(len(NEEDS)) if v >> b & 1)
    return table[np.asarray(mask, dtype=np.intp)]


def _shared_tags(codes: InterestCodes, pc: np.ndarray, pm: np.ndarray) -> np.ndarray:
    """Each pair's shared interest tags (sorted), as an object array of
    tuples: from the bitsets of common tags, which are sorted, so each
    distinct pattern is spelled out once."""
    both = codes.child[pc] & codes.mentor[pm]
    out = np.empty(pc.size, dtype=object)
    if not pc.size:
        return out
    if both.shape[1] == 1:  # the usual case: one word, unique over a plain array
        patterns, inverse = np.unique(both[:, 0], return_inverse=True)
        patterns = patterns[:, None]
    else:
        patterns, inverse = np.unique(both, axis=0, return_inverse=True)
    table = np.empty(len(patterns), dtype=object)
    for row, words in enumerate(patterns.tolist()):
        tags = []
        for w, word in enumerate(words):
            while word:
                low = word & -word
                tags.append(codes.tags[64 * w + low.bit_length() - 1])
                word ^= low
        table[row] = tuple(tags)
    out[:] = table[inverse.ravel()]
    return out


def _pairs_frame(p: _Problem, pc: np.ndarray, pm: np.ndarray, terms: CostTerms) -> pd.DataFrame:
    covered = p.need[pc] & ~terms.uncovered
    shared = _shared_tags(p.codes, pc, pm)
    return pd.DataFrame(
        {
            "child_id": p.kids["id"].to_numpy(dtype=object)[pc],
            "mentor_id": p.mentors["id"].to_numpy(dtype=object)[pm],
            "distance_km": terms.distance_km,
            "need_penalty_km": terms.need_km,
            "interest_bonus_km": terms.interest_km,
            "cost_km": terms.total_km,
            "needs_covered": pd.Series(_codes(covered), dtype=object),
            "needs_uncovered": pd.Series(_codes(terms.uncovered), dtype=object),
            "shared_interests": pd.Series(shared, dtype=object),
            "child_street": p.cstreet[pc],
            "mentor_street": p.mstreet[pm],
            "child_priority": p.kids["priority"].to_numpy(dtype=np.int64)[pc],
        },
        columns=PAIR_COLUMNS,
    )


def _unmatched_frame(p: _Problem, unmatched: np.ndarray, load: np.ndarray) -> pd.DataFrame:
    """Why each unmatched child is unmatched, from every mentor within reach."""
    cfg, n = p.cfg, p.n
    idx = np.flatnonzero(unmatched)
    grid = p.planar_grid() if cfg.k_nearest is None and idx.size and p.radius > 0 else None
    if grid is not None:
        # counted in one compiled pass, nothing listed (thousands of
        # unmatched children can have tens of millions of pairs in reach)
        counts = grid.reach_counts(
            idx, p.radius, vc=p.vc, vm=p.vm, limit=p.limit, spare=load < p.caps,
            rules=p.rule_codes(), stride=max(p.m, 1), threads=_SEARCH_THREADS,
        )  # fmt: skip
        n_reach = np.zeros(n, dtype=np.int64)
        n_reach[idx] = counts[:, 0]
        excluded = {}
        none = np.empty(0, dtype=np.int64)
        column = {"forbidden_pairs": 1, "same_street": 2, "same_gender": 3}
        for rule in p.rule_hits(none, none):  # the active rules, in the listing's order
            excluded[rule] = np.zeros(n, dtype=np.int64)
            excluded[rule][idx] = counts[:, column[rule]]
        allowed = np.zeros(n, dtype=np.int64)
        allowed[idx] = counts[:, 4]
        has_spare = np.zeros(n, dtype=bool)
        has_spare[idx] = counts[:, 5] > 0
        return _unmatched_table(p, idx, n_reach, excluded, allowed, has_spare)
    ci, mj, km = p.in_reach(idx)
    n_reach = np.bincount(ci, minlength=n)
    hits = p.rule_hits(ci, mj)
    excluded = {rule: np.bincount(ci[h], minlength=n) for rule, h in hits.items()}
    if hits:
        ok = ~np.logical_or.reduce(list(hits.values()))
        ci, mj, km = ci[ok], mj[ok], km[ok]
    allowed = np.bincount(ci, minlength=n)
    if cfg.k_nearest is not None:
        allowed = np.minimum(allowed, cfg.k_nearest)
        if ci.size:
            order = np.lexsort((mj, km, ci))
            ci, mj = ci[order], mj[order]
            start = np.searchsorted(ci, np.arange(n))
            keep = (np.arange(ci.size) - start[ci]) < cfg.k_nearest
            ci, mj = ci[keep], mj[keep]
    spare = load < p.caps
    has_spare = np.bincount(ci[spare[mj]], minlength=n) > 0
    return _unmatched_table(p, idx, n_reach, excluded, allowed, has_spare)


def _unmatched_table(
    p: _Problem,
    idx: np.ndarray,
    n_reach: np.ndarray,
    excluded: dict[str, np.ndarray],
    allowed: np.ndarray,
    has_spare: np.ndarray,
) -> pd.DataFrame:
    """The unmatched frame from per-child counts (indexed by child)."""
    cfg = p.cfg
    reasons, details = [], []
    for i in idx:
        if n_reach[i] == 0:
            reasons.append("no_mentor_in_reach")
            details.append(
                f"no active mentor within the distance limit ({cfg.max_distance_km:g} km "
                "or the mentor's own limit)"
            )
        elif allowed[i] == 0:
            rules = [f"{r} ({int(c[i])})" for r, c in excluded.items() if c[i] > 0]
            reasons.append("forbidden_by_rule")
            details.append(
                f"all {int(n_reach[i])} mentor(s) within reach excluded by rule: "
                + ", ".join(rules)
            )
        elif not has_spare[i]:
            reasons.append("mentors_taken")
            scope = f" (of the {cfg.k_nearest} nearest)" if cfg.k_nearest is not None else ""
            details.append(
                f"all {int(allowed[i])} allowed mentor(s) within reach{scope} "
                "are paired to capacity"
            )
        else:
            reasons.append("cheaper_unmatched")
            details.append(
                "every free mentor within reach costs more than the unmatched price "
                f"({p.price[i]:g} km-eq)"
            )
    return pd.DataFrame(
        {
            "child_id": p.kids["id"].to_numpy(dtype=object)[idx],
            "street": p.cstreet[idx],
            "priority": p.kids["priority"].to_numpy(dtype=np.int64)[idx],
            "reason": pd.Series(reasons, dtype=object),
            "detail": pd.Series(details, dtype=object),
            "mentors_in_reach": n_reach[idx].astype(np.int64),
            "mentors_allowed": allowed[idx].astype(np.int64),
            "unmatched_price_km": p.price[idx],
        },
        columns=UNMATCHED_COLUMNS,
    )


def _rate(num: int, den: int) -> float:
    return float(num / den) if den else 0.0


def _metrics(
    p: _Problem,
    pm: np.ndarray,
    unmatched: np.ndarray,
    terms: CostTerms,
    unmatched_df: pd.DataFrame,
    n_mentors_total: int,
) -> dict[str, Any]:
    """The result's metrics, from the solver's arrays (``pm``: the mentor of
    each pair, ``terms``: their cost terms; ``unmatched``: a mask over the
    children) rather than from the frames built from them."""
    n = p.n
    n_pairs = pm.size
    d = terms.distance_km
    # a record's needs are distinct codes, one bit each
    need_total = int(np.bitwise_count(p.need[~unmatched]).sum())
    need_cov = need_total - int(np.bitwise_count(terms.uncovered).sum())
    all_needs = int(np.bitwise_count(p.need).sum())
    is_paired = ~unmatched
    codes, streets = pd.factorize(p.cstreet, use_na_sentinel=False)
    total = np.bincount(codes, minlength=len(streets))
    paired = np.bincount(codes[is_paired], minlength=len(streets))
    by_street: dict[str, dict[str, Any]] = {}
    for s in sorted(range(len(streets)), key=lambda k: streets[k]):
        c, k = int(total[s]), int(paired[s])
        by_street[str(streets[s])] = {
            "children": c,
            "paired": k,
            "pairing_rate": round(_rate(k, c), 6),
        }
    prio = p.kids["priority"].to_numpy(dtype=np.int64) > 0
    capacity = int(p.caps.sum())

    def q(x: float) -> float:
        return round(float(np.quantile(d, x)), 6) if d.size else 0.0

    return {
        "n_children": n,
        "n_mentors": n_mentors_total,
        "n_mentors_active": p.m,
        "mentor_capacity": capacity,
        "n_pairs": n_pairs,
        "n_unmatched": len(unmatched_df),
        "pairing_rate": round(_rate(n_pairs, n), 6),
        "priority_children": int(prio.sum()),
        "priority_pairing_rate": round(_rate(int(is_paired[prio].sum()), int(prio.sum())), 6),
        "pairing_rate_by_street": by_street,
        "distance_km_mean": round(float(d.mean()), 6) if d.size else 0.0,
        "distance_km_median": q(0.5),
        "distance_km_p90": q(0.9),
        "needs_covered_share": round(_rate(need_cov, need_total), 6),
        "needs_covered_share_all_children": round(_rate(need_cov, all_needs), 6),
        "mentors_used": int(np.count_nonzero(np.bincount(pm, minlength=p.m))),
        "mentor_utilisation": round(_rate(n_pairs, capacity), 6),
        "unmatched_by_reason": dict(sorted(collections.Counter(unmatched_df["reason"]).items())),
    }
