"""The suspect-arc search of the pricing loop, on a planar grid.

The pricing loop lists every allowed arc ``(i, j)`` whose reduced cost might
be negative under node potentials ``d``; with
``arc = rint((km + need - bonus) / res) + off[i]`` that is

    km <= top[j] - base[i] - need(i, j) + bonus(i, j) + slack,

where ``top[j] = res * d[mentor j]`` and ``base[i] = res * (d[i] + off[i])``.
:meth:`Grid.scan` answers it in one compiled pass
(:mod:`matching._engine.scan_kernels`): mentors sit in square grid cells of a
local planar projection, sorted within each cell by ``top`` (highest first),
so the scan of a cell stops at the first mentor whose bound, even with the
child's largest possible bonus and no need penalty, cannot reach the cell's
nearest point.  Every pair that passes is checked exactly (great-circle km
through unit vectors, the exact need and interest terms), so the list is
complete, not approximate.

The projection ``x = R cos(lat_ref) lon, y = R lat`` with ``lat_ref`` the
latitude nearest the equator overstates east-west distances by at most
``kappa = cos(lat_ref) / cos(lat_far)``; cells are visited out to ``kappa``
times the search radius (plus a hair), so no pair within the radius is
missed.  :meth:`Grid.build` returns None where that factor would be large
(rosters spanning many degrees or near a pole); the caller then uses the
k-d tree search.

The grid's sizes (cells, walks, threads) come from a
:class:`~matching._engine.tuning.SolverTuning`; they change the running
time, never the lists.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from matching._arrays import unique_ints
from matching._engine.scan_kernels import (
    Bound,
    CellSegments,
    Keep,
    Plane,
    Points,
    Rules,
    ScanKids,
    ScanMentors,
    count_reach,
    distinct_pairs,
    scan_cells,
    smallest_in_groups,
)
from matching._engine.tuning import DEFAULT_TUNING, SolverTuning
from matching._engine.walk import CellMembers, Walk, by_set_and_cell, walk_nearest
from matching.geo.distance import EARTH_RADIUS_KM, chord

__all__ = ["Grid", "pairs_by_child", "smallest_per_group", "thread_pool"]

_T = TypeVar("_T")

# the worker threads of the searches, started once (see thread_pool)
_POOL: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def thread_pool(threads: int) -> ThreadPoolExecutor:
    """A shared pool of ``threads`` worker threads for the engine's searches.

    Started on first use and kept for the process (a fork starts afresh).
    Its tasks must be leaves, work that never waits on the pool itself
    (compiled kernels that release the GIL, k-d tree queries), so callers on
    several threads can share it without deadlock."""
    pool = _POOL.get(threads)
    if pool is None:
        with _POOL_LOCK:
            pool = _POOL.get(threads)
            if pool is None:
                pool = _POOL[threads] = ThreadPoolExecutor(
                    max_workers=threads, thread_name_prefix="matching-scan"
                )
    return pool


def _forget_pools() -> None:
    """After a fork: the parent's threads are not in the child."""
    global _POOL_LOCK
    _POOL.clear()
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def pairs_by_child(
    n: int, ci: np.ndarray, mj: np.ndarray, vc: np.ndarray, vm: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs (child ``ci[a]``, mentor ``mj[a]``) no farther
    apart than the mentor's ``limit`` km, sorted by child then mentor, and
    their great-circle km (unit vectors ``vc``, ``vm``)."""
    return distinct_pairs(
        n,
        np.ascontiguousarray(ci, dtype=np.int64),
        np.ascontiguousarray(mj, dtype=np.int64),
        vc, vm, limit, EARTH_RADIUS_KM,
    )  # fmt: skip


def smallest_per_group(
    group: np.ndarray, value: np.ndarray, k: int, *, keep: np.ndarray | None = None
) -> np.ndarray:
    """Which entries are among the ``k`` smallest ``value`` of their
    ``group`` (non-negative integers; ties: the earlier entry); a boolean
    mask, or'ed into ``keep`` when given."""
    out = np.zeros(group.size, dtype=np.bool_) if keep is None else keep
    if group.size and k > 0:
        mine = np.zeros(group.size, dtype=np.bool_)
        g = np.ascontiguousarray(group, dtype=np.int64)
        smallest_in_groups(
            g, np.ascontiguousarray(value, dtype=np.int64), k, int(g.max()) + 1, mine
        )
        out |= mine
    return out


def _walk_rules(rules: tuple[np.ndarray, ...] | None, order: np.ndarray, stride: int) -> Rules:
    """The hard rules of :meth:`Grid.scan` with the mentors' codes in the
    walk's ``order``, as the kernel reads every mentor array: where its walk
    is, not through the mentor's id (fewer cache misses; the same arithmetic
    in the same order).  None: no rule."""
    if rules is None:
        empty = np.empty(0, np.int64)
        return Rules(empty, empty, empty, empty, empty, empty, stride)
    kst, mst, kgd, mgd, fkeys, frow = rules
    return Rules(kst, mst[order] if mst.size else mst, kgd,
                 mgd[order] if mgd.size else mgd, fkeys, frow, stride)  # fmt: skip


def _by_cell(cell: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Points by cell (stable): each cell's start in the order, and the order."""
    return by_set_and_cell(np.zeros(cell.size, np.int64), cell, 1, n_cells)


def _ring_offsets(
    reach_km: float, h: float, kappa: float, span: int, ring_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Grid.ring` for cells of side ``h`` km, at most ``span`` cells
    out and ``ring_max`` offsets (none beyond)."""
    rings = min(math.ceil(reach_km * kappa * (1 + 1e-6) / h) + 1, span)
    if (2 * rings + 1) ** 2 > ring_max:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    steps = np.arange(-rings, rings + 1)
    ox, oy = (a.ravel() for a in np.meshgrid(steps, steps, indexing="ij"))
    lb = h * np.hypot(np.maximum(np.abs(ox) - 1, 0), np.maximum(np.abs(oy) - 1, 0))
    order = np.lexsort((oy, ox, lb))
    ring = np.ascontiguousarray(np.column_stack([ox[order], oy[order]]), dtype=np.int64)
    return ring, lb[order] / (kappa * (1.0 + 1e-6)) - 1e-6


class Grid:
    """Mentors in square cells of a local planar projection (see module).

    ``tuning`` sets the grid's sizes: at most ``grid_max_cells`` cells, the
    nearest-first walks' limits and the children per thread of the scans."""

    def __init__(
        self,
        cx: np.ndarray,
        cy: np.ndarray,
        mx: np.ndarray,
        my: np.ndarray,
        kappa: float,
        cell_km: float,
        *,
        tuning: SolverTuning = DEFAULT_TUNING,
    ) -> None:
        self.cx, self.cy, self.kappa = cx, cy, kappa
        self.mx, self.my = mx, my
        self.tuning = tuning
        self.x0 = float(min(cx.min(), mx.min()))
        self.y0 = float(min(cy.min(), my.min()))
        span = max(float(max(cx.max(), mx.max())) - self.x0, 1e-9)
        span_y = max(float(max(cy.max(), my.max())) - self.y0, 1e-9)
        h = max(cell_km, math.sqrt(span * span_y / tuning.grid_max_cells))
        self.h = h
        self.nx = int(span // h) + 1
        self.ny = int(span_y // h) + 1
        self.cell = self._cells(mx, my, h, self.nx, self.ny)
        self.plane = Plane(self.x0, self.y0, self.h, self.nx, self.ny, self.kappa)

    @classmethod
    def build(
        cls,
        clat: np.ndarray,
        clon: np.ndarray,
        mlat: np.ndarray,
        mlon: np.ndarray,
        cell_km: float,
        *,
        tuning: SolverTuning = DEFAULT_TUNING,
    ) -> Grid | None:
        """A grid for these points, or None where the projection would
        overstate distances by more than ``tuning.grid_max_kappa`` (or cross
        the antimeridian, or reach past 75 degrees of latitude)."""
        if clat.size == 0 or mlat.size == 0:
            return None
        lats = np.abs(np.r_[clat, mlat])
        lons = np.r_[clon, mlon]
        if float(lons.max() - lons.min()) > 90.0 or float(lats.max()) > 75.0:
            return None
        near_eq, far = float(lats.min()), float(lats.max())
        kappa = math.cos(math.radians(near_eq)) / math.cos(math.radians(far))
        if kappa > tuning.grid_max_kappa:
            return None
        lon0, lat0 = float(lons.min()), float(np.r_[clat, mlat].min())
        sx = EARTH_RADIUS_KM * math.cos(math.radians(near_eq)) * math.pi / 180.0
        sy = EARTH_RADIUS_KM * math.pi / 180.0
        return cls(
            (clon - lon0) * sx,
            (clat - lat0) * sy,
            (mlon - lon0) * sx,
            (mlat - lat0) * sy,
            kappa,
            cell_km,
            tuning=tuning,
        )

    def scan(
        self,
        kids: np.ndarray,
        reach: np.ndarray,
        base: np.ndarray,
        bonus_hi: np.ndarray,
        top: np.ndarray,
        *,
        vc: np.ndarray,
        vm: np.ndarray,
        kneed: np.ndarray,
        kbits: np.ndarray,
        mskill: np.ndarray,
        mbits: np.ndarray,
        limit: np.ndarray,
        need_km: float,
        int_km: float,
        max_shared: int,
        slack: float,
        bucket: np.ndarray | None = None,
        keep_k: int = 0,
        best_k: int = 0,
        model: tuple[np.ndarray, np.ndarray, int] | None = None,
        drop: np.ndarray | None = None,
        rules: tuple[np.ndarray, ...] | None = None,
        threads: int = 2,
        nearest_first: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (child in ``kids``, mentor) within the child's
        ``reach`` km and the mentor's ``limit`` that satisfies the bound in
        the module docstring; with ``keep_k``, only each child's ``keep_k``
        nearest such mentors of each ``bucket`` (an integer per mentor).

        With ``best_k``, only each child's ``best_k`` pairs with the most
        room under the bound (``bound - km``, the most negative reduced
        cost), leaving out the pairs of ``model`` (sorted keys
        ``child * stride + mentor``, each child's start in them, and
        ``stride``, the number of mentors or 1 if none); ``drop[i]`` (an
        array of the children's length) is set to the room of child i's
        ``best_k``-th pair, which no pair left out exceeds, or to -inf where
        fewer pass (much cheaper than the list: pairs the bound cuts off
        early are never measured).  ``rules`` leaves out the pairs the hard
        rules exclude: street codes of children and mentors, gender codes (0
        matches any; empty: no rule), and forbidden pairs as sorted keys
        with each child's start (keys with the same ``stride``).

        ``nearest_first`` (with ``best_k``) visits each child's cells
        nearest first and stops once no farther cell can beat the worst of
        a full best list: the same list but for ties, much faster where the
        lists fill (hot children), slower where they seldom do.  Runs on
        ``threads`` threads from ``tuning.scan_split_min`` children on."""
        if best_k > 0 and (drop is None or drop.size < reach.size):
            raise ValueError("best_k needs a 'drop' array as long as 'reach'")
        order, segs = self._segments(top, mskill)
        if nearest_first and best_k > 0 and kids.size:
            ring, ring_km = self.ring(float(reach[kids].max()))
            segs = segs._replace(ring=ring, ring_km=ring_km)
        men = ScanMentors(
            top[order], np.ascontiguousarray(vm[order]), np.ascontiguousarray(mbits[order]),
            limit[order],
        )  # fmt: skip
        stride = model[2] if model is not None else max(limit.size, 1)
        rule = _walk_rules(rules, order, stride)
        empty = np.empty(0, np.int64)
        mkeys, mrow = (model[0], model[1]) if model is not None else (empty, empty)
        keep = Keep(
            np.zeros(1, np.int64) if bucket is None else bucket, keep_k, best_k, mkeys, mrow,
            drop if drop is not None else np.empty(0, np.float64),
        )  # fmt: skip
        kid = ScanKids(reach, base, bonus_hi, self.cx, self.cy, vc, kneed, kbits)
        bound = Bound(need_km, int_km, max_shared, slack, EARTH_RADIUS_KM)
        outs = self._on_threads(
            np.ascontiguousarray(kids, dtype=np.int64), threads,
            lambda part: scan_cells(part, kid, men, self.plane, segs, bound, rule, keep),
        )  # fmt: skip
        if len(outs) == 1:
            return outs[0]
        xi, xj, xk = (np.concatenate([o[k] for o in outs]) for k in range(3))
        return xi, xj, xk

    def _segments(self, top: np.ndarray, mskill: np.ndarray) -> tuple[np.ndarray, CellSegments]:
        """The mentors by cell, skill set and ``top`` (highest first): the
        order, and the scan's index over it (no ring), one segment per
        (cell, skill set)."""
        order = np.lexsort((-top, mskill, self.cell))
        key = self.cell[order] * 256 + mskill[order].astype(np.int64)
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        seg_ptr = np.r_[starts, order.size].astype(np.int64)
        seg_cell = self.cell[order[starts]]
        cell_seg = np.searchsorted(seg_cell, np.arange(self.nx * self.ny + 1)).astype(np.int64)
        # each cell's highest top (-inf where empty): the scan skips a cell
        # whose highest cannot pass, without looking at its skill sets
        cell_top = np.full(self.nx * self.ny, -np.inf)
        if starts.size:
            np.maximum.at(cell_top, seg_cell, top[order[starts]])
        segs = CellSegments(
            cell_seg, seg_ptr, mskill[order[starts]], order.astype(np.int64), cell_top,
            float(top.max()) if top.size else 0.0,
            np.empty((0, 2), np.int64), np.empty(0, np.float64),
        )  # fmt: skip
        return order, segs

    def _on_threads(
        self, kids: np.ndarray, threads: int, run: Callable[[np.ndarray], _T]
    ) -> list[_T]:
        """``run`` on consecutive slices of ``kids``, on ``threads`` threads
        from ``tuning.scan_split_min`` children on (the kernels release the
        GIL), its results in order."""
        if kids.size < self.tuning.scan_split_min or threads < 2:
            return [run(kids)]
        return list(thread_pool(threads).map(run, np.array_split(kids, threads)))

    def nearest(
        self,
        radius: float,
        k: int,
        k_mentor: int,
        k_cover: int,
        *,
        vc: np.ndarray,
        vm: np.ndarray,
        need: np.ndarray,
        skill: np.ndarray,
        threads: int = 2,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Pairs (child, mentor) no more than ``radius`` km apart: each
        child's ``k`` nearest mentors and its ``k_cover`` nearest mentors
        whose ``skill`` covers all its ``need`` (none where it needs
        nothing), and each mentor's ``k_mentor`` nearest children, as
        :meth:`scipy.spatial.cKDTree.query` finds them but for ties and the
        radius; a pair may be listed more than once.  None where the walk
        would take more than ``tuning.ring_max`` cells or its index more
        than ``tuning.nearest_max_index`` entries (see :meth:`walk_plane`)."""
        n, m = self.cx.size, self.cell.size
        # the need sets children have: the covering mentors of each are
        # indexed as a set of their own (a cell pointer array per set)
        needs = np.unique(need[need != 0]).astype(np.int64)
        plane = self.walk_plane(needs.size)
        if plane is None:
            return None
        h, nx, ny = plane.h, plane.nx, plane.ny
        ring, ring_km = _ring_offsets(radius, h, self.kappa, max(nx, ny), self.tuning.ring_max)
        if ring_km.size == 0:
            return None
        # the walk compares squared chords (monotone in km, no arcsine)
        lb2 = np.where(ring_km > 0, chord(np.maximum(ring_km, 0.0)) ** 2 * (1.0 - 1e-9), -1.0)
        walk = Walk(plane, ring, lb2, float(chord(radius)) ** 2 * (1.0 + 1e-9))
        cells = nx * ny
        kid_cell = self._cells(self.cx, self.cy, h, nx, ny)
        m_cell = self._cells(self.mx, self.my, h, nx, ny)
        mptr, morder = _by_cell(m_cell, cells)
        kptr, korder = _by_cell(kid_cell, cells)
        sk = skill.astype(np.int64)
        cset, cmentor = np.nonzero((sk[None, :] & needs[:, None]) == needs[:, None])
        cptr, corder = by_set_and_cell(cset, m_cell[cmentor], max(needs.size, 1), cells)
        kid_set = np.searchsorted(needs, need).astype(np.int64)
        kid_set[need == 0] = -1
        vm_o, vc_o = np.ascontiguousarray(vm[morder]), np.ascontiguousarray(vc[korder])
        cover_id = cmentor[corder]
        vcov = np.ascontiguousarray(vm[cover_id])
        zero_c, zero_m = np.zeros(n, np.int64), np.zeros(m, np.int64)
        kids_at, mentors_at = Points(self.cx, self.cy, vc), Points(self.mx, self.my, vm)
        mentors = CellMembers(mptr, morder, vm_o)
        covering = CellMembers(cptr, cover_id, vcov)
        children = CellMembers(kptr, korder, vc_o)

        def lane(ks: np.ndarray, ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # the kernels release the GIL
            a_i, a_j = walk_nearest(ks, kids_at, zero_c, mentors, walk, min(k, m))
            b_i, b_j = walk_nearest(ks, kids_at, kid_set, covering, walk, k_cover)
            c_j, c_i = walk_nearest(ms, mentors_at, zero_m, children, walk, min(k_mentor, n))
            return np.concatenate([a_i, b_i, c_i]), np.concatenate([a_j, b_j, c_j])

        lanes = 1 if threads < 2 or n < self.tuning.scan_split_min else threads
        parts = zip(np.array_split(np.arange(n, dtype=np.int64), lanes),
                    np.array_split(np.arange(m, dtype=np.int64), lanes), strict=True)  # fmt: skip
        if lanes > 1:
            outs = list(thread_pool(threads).map(lambda part: lane(*part), parts))
        else:
            outs = [lane(*part) for part in parts]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def walk_plane(self, n_sets: int) -> Plane | None:
        """The cells of :meth:`nearest`'s walk for ``n_sets`` need sets:
        finer than the grid's by a whole factor (at most
        ``tuning.nearest_split_max``) where the mentors crowd its cells,
        about ``tuning.nearest_per_cell`` mentors to an occupied cell (a
        nearest-first walk then stops after a few cells), as long as the
        pointer arrays, one per need set and side, stay within
        ``tuning.nearest_max_index`` entries; None where even the grid's own
        cells would exceed it."""
        tuning = self.tuning
        crowd = self.cell.size / max(unique_ints(self.cell).size, 1)
        split = min(
            max(round(math.sqrt(crowd / tuning.nearest_per_cell)), 1), tuning.nearest_split_max
        )
        while True:
            h = self.h / split
            nx = int((self.nx * self.h) // h) + 1
            ny = int((self.ny * self.h) // h) + 1
            if (n_sets + 2) * nx * ny <= tuning.nearest_max_index:
                return Plane(self.x0, self.y0, h, nx, ny, self.kappa)
            if split == 1:
                return None
            split -= 1

    def _cells(self, x: np.ndarray, y: np.ndarray, h: float, nx: int, ny: int) -> np.ndarray:
        """Each point's cell on a grid of ``nx`` x ``ny`` cells of side ``h``."""
        gx = np.minimum(((x - self.x0) // h).astype(np.int64), nx - 1)
        return gx * ny + np.minimum(((y - self.y0) // h).astype(np.int64), ny - 1)

    def ring(self, reach_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Cell offsets ``(dx, dy)`` within ``reach_km`` of a cell, nearest
        first (ties in a fixed order), and for each a lower bound on the
        great-circle km from a point of that cell to anything in the offset
        cell (as the scan bounds a cell's km from its planar distance).
        Empty (the scan then walks the box) beyond ``tuning.ring_max``
        offsets."""
        return _ring_offsets(
            reach_km, self.h, self.kappa, max(self.nx, self.ny), self.tuning.ring_max
        )

    def reach_counts(
        self,
        kids: np.ndarray,
        radius: float,
        *,
        vc: np.ndarray,
        vm: np.ndarray,
        limit: np.ndarray,
        spare: np.ndarray,
        rules: tuple[np.ndarray, ...],
        stride: int,
        threads: int = 2,
    ) -> np.ndarray:
        """For each child in ``kids``, counts over the mentors within
        ``radius`` km and their own ``limit`` (one row per child): in reach,
        excluded as a forbidden pair, by street, by gender (``rules`` as in
        :meth:`scan`), allowed, and allowed with room (``spare``).  Nothing
        is listed, so this stays cheap where thousands of children each have
        thousands of mentors in reach."""
        cell_ptr, order = _by_cell(self.cell, self.nx * self.ny)
        kst, mst, kgd, mgd, fkeys, frow = rules
        rule = Rules(kst, mst, kgd, mgd, fkeys, frow, stride)
        spare = np.ascontiguousarray(spare, dtype=np.bool_)
        outs = self._on_threads(
            np.ascontiguousarray(kids, dtype=np.int64), threads,
            lambda part: count_reach(part, Points(self.cx, self.cy, vc), vm, limit, spare,
                                     float(radius), self.plane, cell_ptr, order, rule,
                                     EARTH_RADIUS_KM),
        )  # fmt: skip
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def mentors_in_reach(self, km: float) -> float:
        """About how many mentors lie within ``km`` of a child (uniform density
        over the grid's extent; for choosing between searches, not a bound)."""
        area = max(self.nx * self.ny * self.h * self.h, 1e-9)
        return min(1.0, math.pi * km * km / area) * float(self.cell.size)
