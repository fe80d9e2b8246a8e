"""Candidate arcs: every allowed arc, the first model's nearest arcs, and the
suspect searches of the pricing proof.

A suspect is an allowed arc that might have a negative reduced cost under
the model's potentials ``d``.  With ``arc = rint((km + need - bonus) / res)
+ arc_offset[child]``, a negative reduced cost ``arc + d[i] - d[j]`` needs

    km < res * (d[j] - d[i] - arc_offset[i] + 0.5) - need(i, j) + bonus(i, j),

so each child's suspects lie within a radius the potentials bound.
:func:`suspects` searches those radii with k-d trees, :func:`suspects_grid`
with a compiled scan over a planar grid (:mod:`matching._engine.scan`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from scipy.spatial import cKDTree

from matching._engine.problem import Arcs, MatchProblem, join_arcs
from matching.geo.distance import chord

if TYPE_CHECKING:
    from matching._engine.scan import Grid

__all__ = [
    "all_arcs",
    "in_reach",
    "nearest_arcs",
    "nearest_per_child",
    "on_threads",
    "skill_tiers",
    "suspects",
    "suspects_grid",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

# (mentors, need km per child, children or None for all, tag or -1)
_Job = tuple[np.ndarray, np.ndarray, np.ndarray | None, int]


def on_threads(fn: Callable[[_T], _R], jobs: Iterable[_T], threads: int) -> list[_R]:
    """``fn`` over ``jobs`` on the scans' shared worker threads, results in job order."""
    from matching._engine.scan import thread_pool

    return list(thread_pool(threads).map(fn, jobs))


def skill_tiers(p: MatchProblem, top: np.ndarray) -> list[tuple[int, np.ndarray, list[np.ndarray]]]:
    """The mentors by skill set, highest ``top`` first, and split into
    ``tuning.tiers`` potential tiers: ``(skill set, its mentors, tiers)``."""
    out = []
    for g in np.unique(p.mentor_skills):
        members = np.flatnonzero(p.mentor_skills == g)
        order = members[np.argsort(-top[members], kind="stable")]
        out.append((int(g), order, np.array_split(order, min(p.tuning.tiers, order.size))))
    return out


def nearest_per_child(ci: np.ndarray, mj: np.ndarray, km: np.ndarray, n: int, k: int) -> np.ndarray:
    """Positions of each child's ``k`` nearest arcs (ties by mentor), by
    child, then km, then mentor."""
    order = np.lexsort((mj, km, ci))
    start = np.searchsorted(ci[order], np.arange(n))
    kept: np.ndarray = order[(np.arange(ci.size) - start[ci[order]]) < k]
    return kept


def all_arcs(p: MatchProblem) -> Arcs:
    """Every allowed arc (and, with ``k_nearest``, only each child's k nearest)."""
    ci, mj, km = p.allowed(*p.within(np.arange(p.n), p.radius_km))
    k = p.config.k_nearest
    if k is not None and ci.size:
        keep = nearest_per_child(ci, mj, km, p.n, k)
        ci, mj, km = ci[keep], mj[keep], km[keep]
        order = np.lexsort((mj, ci))
        ci, mj, km = ci[order], mj[order], km[order]
    return ci, mj, km


def in_reach(p: MatchProblem, child_idx: np.ndarray) -> Arcs:
    """Every pair (child, mentor, km) within the largest limit and the
    mentor's own, for these children (in no particular order): as
    :meth:`MatchProblem.within`, by the compiled grid scan where many pairs
    are expected."""
    grid = None
    if child_idx.size * p.m >= p.tuning.grid_reach_pairs and p.radius_km > 0:
        grid = p.planar_grid()
    if grid is None:
        return p.within(child_idx, p.radius_km)
    zero = np.zeros(p.n, dtype=np.float64)
    return grid.scan(
        child_idx, np.full(p.n, p.radius_km), zero, zero,
        np.full(p.m, 2.0 * p.radius_km + 1.0),  # no bound but the km
        vc=p.child_vec, vm=p.mentor_vec, kneed=p.child_needs, kbits=p.interests.child,
        mskill=p.mentor_skills, mbits=p.interests.mentor, limit=p.limit_km,
        need_km=0.0, int_km=0.0, max_shared=0, slack=0.0, threads=p.threads,
    )  # fmt: skip


def _nearest_lanes(
    p: MatchProblem, k: int, k_mentor: int, k_cover: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`nearest_arcs`' pairs by k-d trees, on two lanes of about equal
    work (the searches release the GIL): the nearest mentors and children,
    and each child's nearest covering mentors."""
    vc, vm, need, skill = p.child_vec, p.mentor_vec, p.child_needs, p.mentor_skills

    def nearest() -> tuple[list[np.ndarray], list[np.ndarray]]:
        _, jm = p.mentor_tree.query(vc, k=k)
        _, ic = cKDTree(vc).query(vm, k=k_mentor)
        jm = np.asarray(jm).reshape(p.n, k)
        ic = np.asarray(ic).reshape(p.m, k_mentor)
        parts_c = [np.repeat(np.arange(p.n), k), ic.ravel()]
        return parts_c, [jm.ravel(), np.repeat(np.arange(p.m), k_mentor)]

    def covering() -> tuple[list[np.ndarray], list[np.ndarray]]:
        parts_c, parts_m = [], []
        for q in np.unique(need):
            kids_q = np.flatnonzero(need == q)
            cover = np.flatnonzero((skill & q) == q)
            kq = min(k_cover, cover.size)
            if kq == 0 or q == 0:
                continue
            _, jq = cKDTree(vm[cover]).query(vc[kids_q], k=kq)
            jq = np.asarray(jq).reshape(kids_q.size, kq)
            parts_c.append(np.repeat(kids_q, kq))
            parts_m.append(cover[jq.ravel()])
        return parts_c, parts_m

    jobs = (nearest, covering)
    if p.n + p.m >= p.tuning.query_split_min and p.threads > 1:
        lanes = on_threads(lambda job: job(), jobs, p.threads)
    else:
        lanes = [job() for job in jobs]
    return [a for lane in lanes for a in lane[0]], [a for lane in lanes for a in lane[1]]


def nearest_arcs(
    p: MatchProblem, k: int, k_mentor: int | None = None, k_cover: int | None = None
) -> Arcs:
    """Each child's k nearest mentors and its ``k_cover`` (default k)
    nearest mentors covering all its needs, and each mentor's
    ``k_mentor`` (default k) nearest children: allowed arcs, each once, by
    child then mentor."""
    kc, km_ = min(k, p.m), min(k if k_mentor is None else k_mentor, p.n)
    k_cover = k if k_cover is None else k_cover
    # a nearest-first walk over the planar grid, compiled; the k-d trees
    # where there is no grid or the walk would be too long
    grid = p.planar_grid() if p.radius_km > 0 else None
    walked = None
    if grid is not None:
        walked = grid.nearest(
            p.radius_km, kc, km_, k_cover, vc=p.child_vec, vm=p.mentor_vec,
            need=p.child_needs, skill=p.mentor_skills, threads=p.threads,
        )  # fmt: skip
    if walked is not None:
        parts_c, parts_m = [walked[0]], [walked[1]]
    else:
        parts_c, parts_m = _nearest_lanes(p, kc, km_, k_cover)
    if p.keep_keys.size:  # existing pairs always start in the model
        parts_c.append(p.keep_keys // p.m)
        parts_m.append(p.keep_keys % p.m)
    # each pair once, by child then mentor, within the mentor's limit, in
    # one compiled pass
    from matching._engine.scan import pairs_by_child

    ci, mj, km = pairs_by_child(
        p.n, np.concatenate(parts_c), np.concatenate(parts_m), p.child_vec, p.mentor_vec,
        p.limit_km,
    )  # fmt: skip
    return p.allowed(ci, mj, km)


class _TreeSearch:
    """The k-d tree suspect search of :func:`suspects` under potentials ``d``."""

    def __init__(
        self,
        p: MatchProblem,
        d: np.ndarray,
        extra_km: float,
        hot: np.ndarray | None,
        only: np.ndarray | None,
    ) -> None:
        n, m, res = p.n, p.m, p.resolution_km
        self.p, self.hot, self.only = p, hot, only
        self.dm = d[n : n + m].astype(np.float64)
        self.base = res * (d[:n] + p.arc_offset).astype(np.float64)
        self.bonus_max = -p.lowest_terms_km
        self.slack = res * 1.0 + extra_km  # 0.5 unit of rounding, doubled for float safety
        codes = p.interests
        self.by_tag = (
            codes.child.shape[1] == 1 and self.bonus_max > 0 and n >= p.tuning.tag_split_min
        )
        self.kbits, self.mbits = codes.child[:, 0], codes.mentor[:, 0]
        self.ktags = np.bitwise_count(self.kbits).astype(np.float64)
        self.mtags = np.bitwise_count(self.mbits)

    def jobs(self) -> list[_Job]:
        """One search per (skill set, potential tier), and with ``by_tag``
        one per (skill set, shared tag) over the mentors and children with it."""
        p = self.p
        jobs: list[_Job] = []
        tags = range(len(p.interests.tags)) if self.by_tag else range(0)
        for g, order, tiers in skill_tiers(p, self.dm):
            missed = np.bitwise_count(p.child_needs & ~np.uint8(g)).astype(np.float64)
            need_km = p.config.uncovered_need_km * missed
            jobs += [(t, need_km, None, -1) for t in tiers]
            for tag in tags:
                bit = np.uint64(1) << np.uint64(tag)
                tm = order[(self.mbits[order] & bit) != 0]
                tk = np.flatnonzero((self.kbits & bit) != 0)
                if tm.size and tk.size:
                    jobs.append((tm, need_km, tk, tag))
        return jobs

    def _lowest_tag(self, xi: np.ndarray, xj: np.ndarray) -> np.ndarray:
        x = self.kbits[xi] & self.mbits[xj]
        low = x & (~x + np.uint64(1))
        return np.where(x == 0, -1, np.bitwise_count(low - np.uint64(1)).astype(np.int64))

    def _hot_nearest(self, kids: np.ndarray, r: np.ndarray, tier: np.ndarray) -> Arcs:
        """Each hot child's ``hot_k`` nearest mentors of the tier within its radius."""
        p = self.p
        kk = min(p.tuning.hot_k, tier.size)
        reach = float(chord(min(float(r[kids].max()), p.radius_km))) * (1 + 1e-9)
        _, jj = cKDTree(p.mentor_vec[tier]).query(
            p.child_vec[kids], k=kk, distance_upper_bound=reach
        )
        jj = np.asarray(jj).reshape(kids.size, kk)
        ok = jj < tier.size
        hi, hj = np.repeat(kids, kk)[ok.ravel()], tier[jj[ok]]
        hkm = p.km(hi, hj)
        fit = (hkm <= p.limit_km[hj]) & (hkm <= r[hi])
        return hi[fit], hj[fit], hkm[fit]

    def _found(self, r: np.ndarray, pool: np.ndarray, tier: np.ndarray) -> Arcs:
        """The pairs within each child's radius: all of them, or for hot
        children only their nearest few."""
        p, hot = self.p, self.hot
        if hot is None:
            return p.within(pool, r[pool], tier)
        cool, warm = pool[~hot[pool]], pool[hot[pool]]
        xi, xj, xk = p.within(cool, r[cool], tier)
        if warm.size:
            hi, hj, hkm = self._hot_nearest(warm, r, tier)
            xi, xj, xk = np.r_[xi, hi], np.r_[xj, hj], np.r_[xk, hkm]
        return xi, xj, xk

    def __call__(self, job: _Job) -> Arcs:
        p, cfg = self.p, self.p.config
        tier, need_km, kids, tag = job
        top = p.resolution_km * float(self.dm[tier].max())
        bonus: float | np.ndarray
        if tag >= 0:  # at most as many shared tags as either side has
            most = min(int(self.mtags[tier].max()), cfg.max_shared_interests)
            bonus = cfg.shared_interest_km * np.minimum(self.ktags, most)
        else:
            bonus = 0.0 if self.by_tag else self.bonus_max
        r = (top - self.base - need_km + bonus + self.slack) * (1 + 1e-9) + 1e-9
        pool = np.arange(p.n) if kids is None else kids
        pool = pool[r[pool] >= 0]
        if self.only is not None:
            pool = pool[self.only[pool]]
        xi, xj, xk = self._found(r, pool, tier)
        bonus_x: float | np.ndarray = self.bonus_max
        if self.by_tag:
            # each pair under its lowest shared tag only (-1: none shared)
            first = self._lowest_tag(xi, xj) == tag
            xi, xj, xk = xi[first], xj[first], xk[first]
            shared = np.minimum(p.interests.shared_count(xi, xj), cfg.max_shared_interests)
            bonus_x = cfg.shared_interest_km * shared
        # the same bound with each mentor's own potential
        exact = p.resolution_km * self.dm[xj] - self.base[xi] - need_km[xi] + bonus_x
        keep = xk <= (exact + self.slack) * (1 + 1e-9) + 1e-9
        return xi[keep], xj[keep], xk[keep]


def suspects(
    p: MatchProblem,
    d: np.ndarray,
    extra_km: float = 0.0,
    hot: np.ndarray | None = None,
    only: np.ndarray | None = None,
) -> Arcs:
    """Every allowed arc that might have a negative reduced cost under ``d``.

    Mentors are grouped by skill set (the need term is then exact per child)
    and, within a group, into tiers by potential; each (group, tier) is
    searched with a per-child radius from the tier's highest potential.  On
    large problems (``tuning.tag_split_min`` children) that search carries
    no bonus, which is exact for pairs that share no interest, and pairs
    that share one are searched per (tag, group) with the bonus and kept
    only under their lowest shared tag, so no arc is listed twice; on small
    ones every search carries the largest bonus.  ``extra_km`` widens every
    radius, so that the list stays complete while the potentials move by
    less than that.

    ``hot`` (a mask of children) makes the list incomplete on purpose: each
    hot child gets only its ``tuning.hot_k`` nearest mentors within the
    bound in each search, not every one.  ``only`` (a mask of children)
    limits the search to those children.
    """
    search = _TreeSearch(p, d, extra_km, hot, only)
    return p.allowed(*join_arcs(on_threads(search, search.jobs(), p.threads)))


def _grid_terms(
    p: MatchProblem, d: np.ndarray, extra_km: float
) -> tuple[tuple[np.ndarray, ...], dict[str, Any]]:
    """The grid scan's bound under ``d``: ``(reach, base, bonus_hi, top)``
    per child and mentor, and the scan's keyword terms."""
    n, m, res, cfg = p.n, p.m, p.resolution_km, p.config
    top = res * d[n : n + m].astype(np.float64)
    base = res * (d[:n] + p.arc_offset).astype(np.float64)
    slack = res * 1.0 + extra_km  # 0.5 unit of rounding, doubled for float safety
    tags = np.zeros(n, dtype=np.int64)
    for w in range(p.interests.child.shape[1]):
        tags += np.bitwise_count(p.interests.child[:, w])
    bonus_hi = cfg.shared_interest_km * np.minimum(tags, cfg.max_shared_interests)
    reach = (float(top.max()) - base + bonus_hi + slack) * (1 + 1e-9) + 1e-9
    reach = np.minimum(reach, p.radius_km)
    terms: dict[str, Any] = {
        "vc": p.child_vec, "vm": p.mentor_vec, "kneed": p.child_needs,
        "kbits": p.interests.child, "mskill": p.mentor_skills, "mbits": p.interests.mentor,
        "limit": p.limit_km, "need_km": cfg.uncovered_need_km,
        "int_km": cfg.shared_interest_km, "max_shared": cfg.max_shared_interests,
        "slack": slack,
        "rules": p.rule_codes(),  # disallowed pairs are never measured
        "threads": p.threads,
    }  # fmt: skip
    return (reach, base, bonus_hi.astype(np.float64), top), terms


def _hot_buckets(p: MatchProblem, top: np.ndarray) -> np.ndarray:
    """Each mentor's (skill set, potential tier) as one number, for the scan's
    ``bucket``: the hot children's nearest few are kept per bucket."""
    bucket = np.zeros(p.m, dtype=np.int64)
    for g, _, tiers in skill_tiers(p, top):
        for t, part in enumerate(tiers):
            bucket[part] = g * p.tuning.tiers + t
    return bucket


def suspects_grid(
    p: MatchProblem,
    grid: Grid,
    d: np.ndarray,
    extra_km: float = 0.0,
    hot: np.ndarray | None = None,
    best: tuple[tuple[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
    only: np.ndarray | None = None,
) -> Arcs:
    """:func:`suspects` in one compiled pass over a planar grid for every
    child that is not hot.  Hot children (whose bound reaches nearly every
    mentor in range, so a scan measures them all) are scanned too while
    their estimated pairs in reach stay under ``tuning.hot_best_pairs``
    when ``best`` is given (their best lists), else under
    ``tuning.hot_scan_pairs`` (their nearest few per skill set and
    potential tier); beyond that they get the k-d tree search of
    :func:`suspects`.

    ``best`` (the model's key index and a ``drop`` array, see
    :meth:`Grid.scan`): only each child's ``tuning.best_k`` suspects with
    the lowest reduced cost that are not in the model yet.  ``only`` (a
    mask of children) limits the search to those children."""
    tuning = p.tuning
    bounds, terms = _grid_terms(p, d, extra_km)
    cool = np.arange(p.n) if hot is None else np.flatnonzero(~hot)
    if only is not None:
        cool = cool[only[cool]]
        if hot is not None:
            hot = hot & only
    if best is not None:
        model, drop = best
        terms.update(best_k=tuning.best_k, model=model, drop=drop)
    found = p.allowed(*grid.scan(cool, *bounds, **terms))
    if hot is None or not hot.any():
        return found
    warm = np.flatnonzero(hot)
    # the scan checks the street and gender rules before it measures a
    # pair, so only the allowed share of the pairs in reach counts
    pairs = warm.size * grid.mentors_in_reach(p.radius_km) * p.allowed_share()
    if best is not None and pairs <= tuning.hot_best_pairs:
        # each hot child's best suspects too, its cells nearest first (its
        # list fills at once)
        hot_arcs = grid.scan(warm, *bounds, **terms, nearest_first=True)
    elif pairs <= tuning.hot_scan_pairs:
        # few enough pairs to measure them all: the scan keeps each hot
        # child's nearest few per (skill set, potential tier), as the k-d
        # tree search does
        bucket = _hot_buckets(p, bounds[3])
        hot_arcs = grid.scan(warm, *bounds, **terms, bucket=bucket, keep_k=tuning.hot_k)
    else:
        hot_arcs = suspects(p, d, extra_km, hot=hot, only=hot)
    return join_arcs([found, p.allowed(*hot_arcs)])
