"""Explanations of a solution: the pairs and unmatched frames, each
unmatched child's reason, and the result's metrics.

An unmatched child's reason comes from every mentor within its reach: none
in reach, every one excluded by a rule, every allowed one paired to
capacity, or every free one dearer than the child's unmatched price.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matching._engine.arcs import in_reach, nearest_per_child
from matching._engine.costs import CostTerms, InterestCodes, pair_costs
from matching._engine.problem import MatchProblem
from matching.rosters import NEEDS

if TYPE_CHECKING:
    from matching._engine.scan import Grid

__all__ = ["PAIR_COLUMNS", "REASONS", "UNMATCHED_COLUMNS", "explain", "unmatched_frame"]

# the columns of MatchResult.pairs and MatchResult.unmatched, in order
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

# each unmatched reason in words
REASONS = {
    "no_mentor_in_reach": "no active mentor within the distance limit",
    "forbidden_by_rule": "every mentor within reach is excluded by a rule",
    "mentors_taken": "every allowed mentor within reach is paired to capacity",
    "cheaper_unmatched": "every free mentor within reach costs more than the unmatched price",
}


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


def _pairs_frame(p: MatchProblem, pc: np.ndarray, pm: np.ndarray, terms: CostTerms) -> pd.DataFrame:
    covered = p.child_needs[pc] & ~terms.uncovered
    shared = _shared_tags(p.interests, pc, pm)
    return pd.DataFrame(
        {
            "child_id": p.children["id"].to_numpy(dtype=object)[pc],
            "mentor_id": p.mentors["id"].to_numpy(dtype=object)[pm],
            "distance_km": terms.distance_km,
            "need_penalty_km": terms.need_km,
            "interest_bonus_km": terms.interest_km,
            "cost_km": terms.total_km,
            "needs_covered": pd.Series(_codes(covered), dtype=object),
            "needs_uncovered": pd.Series(_codes(terms.uncovered), dtype=object),
            "shared_interests": pd.Series(shared, dtype=object),
            "child_street": p.child_street[pc],
            "mentor_street": p.mentor_street[pm],
            "child_priority": p.children["priority"].to_numpy(dtype=np.int64)[pc],
        },
        columns=PAIR_COLUMNS,
    )


def unmatched_frame(p: MatchProblem, unmatched: np.ndarray, load: np.ndarray) -> pd.DataFrame:
    """Why each unmatched child is unmatched, from every mentor within reach
    (``load``: each mentor's pairs)."""
    idx = np.flatnonzero(unmatched)
    use_grid = p.config.k_nearest is None and idx.size and p.radius_km > 0
    grid = p.planar_grid() if use_grid else None
    if grid is not None:
        counts = _counted(p, grid, idx, load)
    else:
        counts = _listed(p, idx, load)
    return _unmatched_table(p, idx, *counts)


_Counts = tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]


def _counted(p: MatchProblem, grid: Grid, idx: np.ndarray, load: np.ndarray) -> _Counts:
    """Per child: mentors in reach, excluded by each rule, allowed, and
    whether one has room; counted in one compiled pass, nothing listed
    (thousands of unmatched children can have millions of pairs in reach)."""
    n = p.n
    counts = grid.reach_counts(
        idx, p.radius_km, vc=p.child_vec, vm=p.mentor_vec, limit=p.limit_km,
        spare=load < p.capacity, rules=p.rule_codes(), stride=max(p.m, 1), threads=p.threads,
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
    return n_reach, excluded, allowed, has_spare


def _listed(p: MatchProblem, idx: np.ndarray, load: np.ndarray) -> _Counts:
    """:func:`_counted` from a listing of the pairs in reach (and, with
    ``k_nearest``, each child's k nearest allowed mentors only)."""
    cfg, n = p.config, p.n
    ci, mj, km = in_reach(p, idx)
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
            keep = nearest_per_child(ci, mj, km, n, cfg.k_nearest)
            ci, mj = ci[keep], mj[keep]
    spare = load < p.capacity
    has_spare = np.bincount(ci[spare[mj]], minlength=n) > 0
    return n_reach, excluded, allowed, has_spare


def _unmatched_table(
    p: MatchProblem,
    idx: np.ndarray,
    n_reach: np.ndarray,
    excluded: dict[str, np.ndarray],
    allowed: np.ndarray,
    has_spare: np.ndarray,
) -> pd.DataFrame:
    """The unmatched frame from per-child counts (indexed by child)."""
    cfg = p.config
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
                f"({p.unmatched_km[i]:g} km-eq)"
            )
    return pd.DataFrame(
        {
            "child_id": p.children["id"].to_numpy(dtype=object)[idx],
            "street": p.child_street[idx],
            "priority": p.children["priority"].to_numpy(dtype=np.int64)[idx],
            "reason": pd.Series(reasons, dtype=object),
            "detail": pd.Series(details, dtype=object),
            "mentors_in_reach": n_reach[idx].astype(np.int64),
            "mentors_allowed": allowed[idx].astype(np.int64),
            "unmatched_price_km": p.unmatched_km[idx],
        },
        columns=UNMATCHED_COLUMNS,
    )


def _rate(num: int, den: int) -> float:
    return float(num / den) if den else 0.0


def _metrics(
    p: MatchProblem,
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
    need_total = int(np.bitwise_count(p.child_needs[~unmatched]).sum())
    need_cov = need_total - int(np.bitwise_count(terms.uncovered).sum())
    all_needs = int(np.bitwise_count(p.child_needs).sum())
    is_paired = ~unmatched
    codes, streets = pd.factorize(p.child_street, use_na_sentinel=False)
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
    prio = p.children["priority"].to_numpy(dtype=np.int64) > 0
    capacity = int(p.capacity.sum())

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


def explain(
    p: MatchProblem,
    solution: tuple[np.ndarray, np.ndarray, np.ndarray],
    stats: dict[str, Any],
    n_mentors_total: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The pairs frame, the unmatched frame and the metrics of a solution
    (paired children, their mentors, the unmatched mask); ``stats`` become
    the metrics' ``solver`` entry."""
    pc, pm, unmatched = solution
    order = np.argsort(pc, kind="stable")
    pc, pm = pc[order], pm[order]
    terms = pair_costs(pc, pm, p.km(pc, pm), p.child_needs, p.mentor_skills, p.interests, p.config)
    icost = np.rint(terms.total_km / p.resolution_km).astype(np.int64)
    objective_units = int(icost.sum()) + int(p.unmatched_units[unmatched].sum())
    pairs = _pairs_frame(p, pc, pm, terms)
    unmatched_df = unmatched_frame(p, unmatched, np.bincount(pm, minlength=p.m))
    metrics = _metrics(p, pm, unmatched, terms, unmatched_df, n_mentors_total)
    metrics["objective_units"] = objective_units
    metrics["objective_km"] = round(objective_units * p.resolution_km, 6)
    metrics["solver"] = stats
    return pairs, unmatched_df, metrics
