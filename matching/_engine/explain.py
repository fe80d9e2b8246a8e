"""Explanations of a solution: the pairs and unmatched frames, each
unmatched child's reason, and the result's metrics.

An unmatched child's reason comes from every mentor within its reach: none
in reach, every one excluded by a rule, every allowed one paired to
capacity, or every free one dearer than the child's unmatched price.

A result is data and does not depend on the language: its ``reason`` is a
code and its ``detail`` the English sentence :func:`detail_text` writes from
the code and the counts.  The files staff read put these into words in
their language when they are written (:func:`reason_text`,
:func:`unmatched_details`).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matching._engine.arcs import in_reach, nearest_per_child
from matching._engine.costs import CostTerms, InterestCodes, pair_costs
from matching._engine.problem import MatchProblem
from matching.i18n import N_, ngettext, use_language
from matching.i18n import gettext as _
from matching.rosters import NEEDS

if TYPE_CHECKING:
    from matching._engine.scan import Grid
    from matching.config import MatchConfig

__all__ = [
    "PAIR_COLUMNS",
    "REASONS",
    "RULES",
    "UNMATCHED_COLUMNS",
    "detail_text",
    "explain",
    "reason_text",
    "unmatched_details",
    "unmatched_frame",
]

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

# each unmatched reason in words (English; translated where used, see reason_text)
REASONS = {
    "no_mentor_in_reach": N_("no active mentor within the distance limit"),
    "forbidden_by_rule": N_("every mentor within reach is excluded by a rule"),
    "mentors_taken": N_("every allowed mentor within reach is paired to capacity"),
    "cheaper_unmatched": N_("every free mentor within reach costs more than the unmatched price"),
}

# each pairing rule that can exclude a mentor, by its configuration name (which is also
# its English text in a detail)
RULES = {
    "forbidden_pairs": N_("forbidden_pairs"),
    "same_street": N_("same_street"),
    "same_gender": N_("same_gender"),
}

_LIST_SEP = {"zh": "、", "en": ", "}
_RULE_COUNT = re.compile(r"(\w+) \((\d+)\)")


def reason_text(code: str, *, language: str | None = None) -> str:
    """An unmatched reason code in words, in ``language`` (None: the current language).

    A code this module does not define (such as a nightly plan's own) is
    looked up in the catalogue as it is, and stays itself if absent.

    Examples
    --------
    >>> reason_text("mentors_taken", language="zh")
    '范围内可选的爱心妈妈名额已满'
    >>> reason_text("mentors_taken", language="en")
    'every allowed mentor within reach is paired to capacity'
    """
    with use_language(language):
        return _(REASONS.get(code, code))


def detail_text(
    code: str,
    *,
    mentors_in_reach: int,
    mentors_allowed: int,
    unmatched_price_km: float,
    max_distance_km: float,
    k_nearest: int | None = None,
    excluded: Mapping[str, int] | None = None,
    language: str | None = None,
) -> str:
    """The detail of an unmatched child: its reason with the counts, in ``language``.

    Parameters
    ----------
    code : str
        The reason code (a key of :data:`REASONS`).
    mentors_in_reach, mentors_allowed : int
        Active mentors within reach, and those of them the rules allow.
    unmatched_price_km : float
        The child's price of staying unmatched.
    max_distance_km, k_nearest
        The configuration's distance limit and ``k_nearest``.
    excluded : mapping, optional
        Mentors excluded by each rule (rule name -> count), in order.
    language : {"zh", "en"}, optional
        The language (None: the current language).  The English text is the
        ``detail`` column of :attr:`MatchResult.unmatched`.

    Examples
    --------
    >>> detail_text("mentors_taken", mentors_in_reach=25, mentors_allowed=20,
    ...             unmatched_price_km=5.0, max_distance_km=5.0, language="en")
    'all 20 allowed mentor(s) within reach are paired to capacity'
    >>> detail_text("mentors_taken", mentors_in_reach=25, mentors_allowed=20,
    ...             unmatched_price_km=5.0, max_distance_km=5.0, language="zh")
    '范围内可选的 20 位爱心妈妈名额均已满'
    """
    with use_language(language) as lang:
        if code == "no_mentor_in_reach":
            return _(
                "no active mentor within the distance limit ({km:g} km or the mentor's own limit)"
            ).format(km=max_distance_km)
        if code == "forbidden_by_rule":
            rules = _LIST_SEP[lang].join(
                _("{rule} ({count})").format(rule=_(RULES.get(r, r)), count=int(c))
                for r, c in (excluded or {}).items()
                if c > 0
            )
            n = int(mentors_in_reach)
            return ngettext(
                "all {n} mentor(s) within reach excluded by rule: {rules}",
                "all {n} mentor(s) within reach excluded by rule: {rules}",
                n,
            ).format(n=n, rules=rules)
        if code == "mentors_taken":
            n = int(mentors_allowed)
            if k_nearest is not None:
                return ngettext(
                    "all {n} allowed mentor(s) within reach (of the {k} nearest) "
                    "are paired to capacity",
                    "all {n} allowed mentor(s) within reach (of the {k} nearest) "
                    "are paired to capacity",
                    n,
                ).format(n=n, k=k_nearest)
            return ngettext(
                "all {n} allowed mentor(s) within reach are paired to capacity",
                "all {n} allowed mentor(s) within reach are paired to capacity",
                n,
            ).format(n=n)
        if code == "cheaper_unmatched":
            return _(
                "every free mentor within reach costs more than the unmatched price ({km:g} km-eq)"
            ).format(km=unmatched_price_km)
        return reason_text(code)


def unmatched_details(
    unmatched: pd.DataFrame, config: MatchConfig | None = None, *, language: str | None = None
) -> list[str]:
    """The ``detail`` of each row of an unmatched table, in ``language``.

    English gives the stored details unchanged.  Another language renders
    each detail again from the row's reason code and counts
    (``mentors_in_reach``, ``mentors_allowed``, ``unmatched_price_km``, the
    counts per rule listed in the stored detail) and ``config`` (the
    :class:`~matching.config.MatchConfig` of the result; None: the
    defaults), after checking that the English rendering is the stored one.
    A detail this module did not write (a nightly plan's, say) becomes its
    catalogue text, or the reason in words.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> result = match(*district(60, 20, seed=1))
    >>> unmatched_details(result.unmatched, result.config, language="zh")[0]
    '范围内可选的 8 位爱心妈妈名额均已满'
    """
    from matching.config import MatchConfig

    cfg = MatchConfig() if config is None else config
    if "detail" in unmatched.columns:
        stored = [str(d) for d in unmatched["detail"].to_numpy(dtype=object)]
    else:
        stored = [""] * len(unmatched)
    with use_language(language) as lang:
        if lang == "en":
            return stored
        columns = [c for c in unmatched.columns if c != "detail"]
        rows = unmatched[columns].to_dict("records")
        return [_row_detail(row, text, cfg) for row, text in zip(rows, stored, strict=True)]


def _row_detail(row: Mapping[str, Any], stored: str, config: MatchConfig) -> str:
    """One row's detail in the current language, rendered again from its code and counts."""
    code = str(row.get("reason", ""))
    excluded = None
    if code == "forbidden_by_rule":  # the counts per rule are listed in the stored detail
        excluded = {r: int(c) for r, c in _RULE_COUNT.findall(stored.partition(": ")[2])}
    counts: dict[str, Any] = {
        "mentors_in_reach": int(row.get("mentors_in_reach", 0)),
        "mentors_allowed": int(row.get("mentors_allowed", 0)),
        "unmatched_price_km": float(row.get("unmatched_price_km", 0.0)),
        "max_distance_km": float(config.max_distance_km),
        "k_nearest": config.k_nearest,
        "excluded": excluded,
    }
    if code in REASONS and detail_text(code, language="en", **counts) == stored:
        return detail_text(code, **counts)
    # a detail written elsewhere (a re-match, a nightly plan): its catalogue text, if any
    translated = _(stored) if stored else stored
    return translated if translated != stored else reason_text(code)


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
            code = "no_mentor_in_reach"
        elif allowed[i] == 0:
            code = "forbidden_by_rule"
        elif not has_spare[i]:
            code = "mentors_taken"
        else:
            code = "cheaper_unmatched"
        reasons.append(code)
        # the result holds the English detail whatever the language (results are data)
        details.append(
            detail_text(
                code,
                mentors_in_reach=int(n_reach[i]),
                mentors_allowed=int(allowed[i]),
                unmatched_price_km=float(p.unmatched_km[i]),
                max_distance_km=cfg.max_distance_km,
                k_nearest=cfg.k_nearest,
                excluded={r: int(c[i]) for r, c in excluded.items()},
                language="en",
            )
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
