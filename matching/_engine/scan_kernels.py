"""The compiled kernels of the grid searches (:mod:`matching._engine.scan`).

:func:`scan_cells` lists the suspect arcs of the pricing loop (the bound
and the grid are described in :mod:`matching._engine.scan`),
:func:`count_reach` counts each unmatched child's mentors in reach by rule,
and :func:`distinct_pairs` and :func:`smallest_in_groups` serve the first
model and the pricing loop's choice of arcs (the nearest-first walk is in
:mod:`matching._engine.walk`).  The kernels take their arrays grouped in
named tuples (:class:`Plane`, :class:`Points`, :class:`ScanKids`,
:class:`ScanMentors`, :class:`CellSegments`, :class:`Bound`,
:class:`Rules`, :class:`Keep`); numba compiles them with
``cache=CACHE`` (:mod:`matching._engine.kernel_cache`) and without the GIL,
so the callers run them on several threads.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from matching._engine.kernel_cache import CACHE

__all__ = [
    "Bound",
    "CellSegments",
    "Keep",
    "Plane",
    "Points",
    "Rules",
    "ScanKids",
    "ScanMentors",
    "count_reach",
    "distinct_pairs",
    "in_model",
    "popcount",
    "scan_cells",
    "smallest_in_groups",
]


class Plane(NamedTuple):
    """A grid on the local plane: cells of side ``h`` km from ``(x0, y0)``,
    ``nx`` across and ``ny`` up (cell ``gx * ny + gy``); ``kappa`` bounds how
    much the projection overstates a distance."""

    x0: float
    y0: float
    h: float
    nx: int
    ny: int
    kappa: float


class Points(NamedTuple):
    """Points of one side by id: planar position (km) and unit vectors."""

    x: np.ndarray
    y: np.ndarray
    v: np.ndarray


class ScanKids(NamedTuple):
    """The children's side of a scan, by child id: each child's reach (km;
    negative: none), ``base`` and largest interest bonus (km) in the bound,
    planar position, unit vector, need bits and interest bitset rows."""

    reach: np.ndarray
    base: np.ndarray
    bonus_hi: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    vc: np.ndarray
    kneed: np.ndarray
    kbits: np.ndarray


class ScanMentors(NamedTuple):
    """The mentors' side of a scan, in the walk's order (see
    :class:`CellSegments`): ``top`` in the bound, unit vectors, interest
    bitset rows and distance limits (km)."""

    top: np.ndarray
    vm: np.ndarray
    mbits: np.ndarray
    limit: np.ndarray


class CellSegments(NamedTuple):
    """The mentors by cell, skill set and ``top`` (highest first): cell
    ``c``'s segments are ``cell_seg[c]`` to ``cell_seg[c + 1]``, segment
    ``s`` holds walk positions ``seg_ptr[s]`` to ``seg_ptr[s + 1]`` of skill
    set ``seg_group[s]``; ``seg_mentor`` is each position's mentor id;
    ``cell_top`` each cell's highest ``top`` (-inf: empty) and ``top_max``
    the highest of all.  ``ring`` and ``ring_km`` (may be empty) are cell
    offsets nearest first and a lower bound on the km to each."""

    cell_seg: np.ndarray
    seg_ptr: np.ndarray
    seg_group: np.ndarray
    seg_mentor: np.ndarray
    cell_top: np.ndarray
    top_max: float
    ring: np.ndarray
    ring_km: np.ndarray


class Bound(NamedTuple):
    """The model's terms in the bound: km per uncovered need, km per shared
    interest (at most ``max_shared``), the slack, and the earth's radius."""

    need_km: float
    int_km: float
    max_shared: int
    slack: float
    radius_earth: float


class Rules(NamedTuple):
    """The hard rules: street and gender codes of children (by id) and
    mentors (indexed as the kernel's mentor arrays; empty: no rule; gender 0
    matches any), and forbidden pairs as sorted keys ``i * stride + j`` with
    each child's start in them (empty: none)."""

    kst: np.ndarray
    mst: np.ndarray
    kgd: np.ndarray
    mgd: np.ndarray
    fkeys: np.ndarray
    frow: np.ndarray
    stride: int


class Keep(NamedTuple):
    """Which pairs a scan keeps: with ``keep_k``, each child's ``keep_k``
    nearest of each ``bucket`` (per mentor id); with ``best_k``, each
    child's ``best_k`` with the most room, pairs of the model (sorted keys
    ``mkeys``, each child's start ``mrow``, same stride as the rules) left
    out, and the room of the ``best_k``-th into ``drop``."""

    bucket: np.ndarray
    keep_k: int
    best_k: int
    mkeys: np.ndarray
    mrow: np.ndarray
    drop: np.ndarray


@nb.njit(cache=CACHE, nogil=True)
def popcount(x: np.uint64) -> int:
    """The number of bits set in ``x``."""
    c = 0
    while x:
        x &= x - np.uint64(1)
        c += 1
    return c


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _chord(vc: np.ndarray, vm: np.ndarray, i: int, j: int | np.uint64) -> float:
    """Chord between child i and mentor j on the unit sphere (unit vectors;
    ``j`` may be unsigned, see :func:`scan_cells`)."""
    d0 = vc[i, 0] - vm[j, 0]
    d1 = vc[i, 1] - vm[j, 1]
    d2 = vc[i, 2] - vm[j, 2]
    return math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _arc_km(chord: float, radius_earth: float) -> float:
    """Great-circle km for a chord on the unit sphere."""
    return 2.0 * radius_earth * math.asin(min(chord / 2.0, 1.0))


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _km(vc: np.ndarray, vm: np.ndarray, i: int, j: int, radius_earth: float) -> float:
    """Great-circle km between child i and mentor j (unit vectors)."""
    return _arc_km(_chord(vc, vm, i, j), radius_earth)


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _box(plane: Plane, x: float, y: float, rr: float) -> tuple[int, int, int, int]:
    """The cells within ``rr`` km of ``(x, y)`` on each axis, clipped to the
    grid: first and last column, first and last row."""
    x0, y0, h, nx, ny, _ = plane
    xa = math.floor((x - rr - x0) / h)
    xb = math.floor((x + rr - x0) / h)
    ya = math.floor((y - rr - y0) / h)
    yb = math.floor((y + rr - y0) / h)
    return max(xa, 0), min(xb, nx - 1), max(ya, 0), min(yb, ny - 1)


@nb.njit(cache=CACHE, nogil=True)
def distinct_pairs(
    n: int,
    ci: np.ndarray,
    mj: np.ndarray,
    vc: np.ndarray,
    vm: np.ndarray,
    limit: np.ndarray,
    radius_earth: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs ``(ci[a], mj[a])`` within the mentor's ``limit``,
    by child then mentor, with their km: a counting sort by child, repeats
    dropped by a stamp per mentor, each child's few mentors sorted in place."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for a in range(ci.size):
        ptr[ci[a] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    by_child = np.empty(ci.size, dtype=np.int64)
    for a in range(ci.size):
        by_child[fill[ci[a]]] = mj[a]
        fill[ci[a]] += 1
    stamp = np.full(vm.shape[0], -1, dtype=np.int64)
    oi = np.empty(ci.size, dtype=np.int64)
    oj = np.empty(ci.size, dtype=np.int64)
    ok = np.empty(ci.size, dtype=np.float64)
    cnt = 0
    for i in range(n):
        start = cnt
        for a in range(ptr[i], ptr[i + 1]):
            j = by_child[a]
            if stamp[j] == i:
                continue
            stamp[j] = i
            km = _km(vc, vm, i, j, radius_earth)
            if km > limit[j]:
                continue
            b = cnt
            while b > start and oj[b - 1] > j:
                oj[b] = oj[b - 1]
                ok[b] = ok[b - 1]
                b -= 1
            oi[cnt] = i
            oj[b] = j
            ok[b] = km
            cnt += 1
    return oi[:cnt].copy(), oj[:cnt].copy(), ok[:cnt].copy()


@nb.njit(cache=CACHE, nogil=True)
def _enlarge(
    oi: np.ndarray, oj: np.ndarray, ok: np.ndarray, cnt: int, more: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The output lists with room for ``more`` after their first ``cnt``
    (at least twice as long)."""
    cap = max(2 * oi.size, cnt + more)
    ni = np.empty(cap, dtype=np.int64)
    nj = np.empty(cap, dtype=np.int64)
    nk = np.empty(cap, dtype=np.float64)
    ni[:cnt] = oi[:cnt]
    nj[:cnt] = oj[:cnt]
    nk[:cnt] = ok[:cnt]
    return ni, nj, nk


@nb.njit(cache=CACHE, nogil=True)
def scan_cells(
    kids: np.ndarray,
    kid: ScanKids,
    men: ScanMentors,
    plane: Plane,
    segs: CellSegments,
    terms: Bound,
    rules: Rules,
    keep: Keep,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs (child in ``kids``, mentor id, km) that pass the bound of
    :mod:`matching._engine.scan` and the rules, kept as ``keep`` says; see
    :meth:`matching._engine.scan.Grid.scan`.  The mentor arrays are read at
    the walk's position (unsigned: numba then skips its negative-index
    check), the id only where a pair is listed."""
    reach, base, bonus_hi, cx, cy, vc, kneed, kbits = kid
    top, vm, mbits, limit = men
    x0, y0, h, _, ny, kappa = plane
    cell_seg, seg_ptr, seg_group, seg_mentor, cell_top, top_max, ring, ring_km = segs
    need_km, int_km, max_shared, slack, radius_earth = terms
    kst, mst, kgd, mgd, fkeys, frow, stride = rules
    bucket, keep_k, best_k, mkeys, mrow, drop = keep
    cap = 1024
    # best_k > 0: each child's best_k pairs with the most room under the
    # bound (the lowest reduced cost), pairs in the model (mkeys) left out;
    # drop[i] gets the room of the best_k-th (-inf while fewer pass)
    hr = np.empty(max(best_k, 1), dtype=np.float64)
    hj = np.empty(max(best_k, 1), dtype=np.int64)
    hkm = np.empty(max(best_k, 1), dtype=np.float64)
    oi = np.empty(cap, dtype=np.int64)
    oj = np.empty(cap, dtype=np.int64)
    ok = np.empty(cap, dtype=np.float64)
    cnt = 0
    words = kbits.shape[1]
    # the mentors of the child's arcs in the model, marked with the child
    # (a look-up per pair instead of a binary search)
    mark = np.full(vm.shape[0] if best_k > 0 and mrow.size else 0, -1, dtype=np.int64)
    for q in range(kids.size):
        i = kids[q]
        r = reach[i]
        if best_k > 0:
            drop[i] = -np.inf
        if r < 0.0:
            continue
        if mark.size:
            for e in range(mrow[i], mrow[i + 1]):
                mark[mkeys[e] - i * stride] = i
        rr = r * kappa * (1.0 + 1e-6) + 1e-6
        xa, xb, ya, yb = _box(plane, cx[i], cy[i], rr)
        lift = bonus_hi[i] + slack - base[i]
        first = cnt
        fill = 0
        lim = 0.0  # a pair needs more room than this
        # with a ring (offsets from the child's cell, nearest first: see
        # Grid.scan's nearest_first), a best list fills with near pairs and
        # stops once no farther cell can beat its worst; otherwise the box
        # is visited column by column
        gx0 = math.floor((cx[i] - x0) / h)
        gy0 = math.floor((cy[i] - y0) / h)
        ys = max(yb - ya + 1, 0)
        by_ring = best_k > 0 and ring_km.size > 0
        total = ring_km.size if by_ring else max(xb - xa + 1, 0) * ys
        gx = xa
        gy = ya - 1
        for t in range(total):
            if by_ring:
                if ring_km[t] > r or top_max + lift - ring_km[t] < lim:
                    break  # every cell from here on is farther
                gx = gx0 + ring[t, 0]
                gy = gy0 + ring[t, 1]
                if gx < xa or gx > xb or gy < ya or gy > yb:
                    continue
            else:  # the next cell of the box, column by column
                gy += 1
                if gy > yb:
                    gy = ya
                    gx += 1
            c = gx * ny + gy
            ctop = cell_top[np.uint64(c)]
            if ctop + lift + 1e-6 < lim:
                continue  # empty, or nothing passes even at no distance (cheap first)
            lo = x0 + gx * h
            dx = max(0.0, lo - cx[i], cx[i] - (lo + h))
            lo_y = y0 + gy * h
            dy = max(0.0, lo_y - cy[i], cy[i] - (lo_y + h))
            near = math.sqrt(dx * dx + dy * dy)
            if near > rr:
                continue
            # a lower bound on the great-circle km to anything in the cell
            floor_km = near / (kappa * (1.0 + 1e-6)) - 1e-6
            if ctop + lift - floor_km < lim:
                continue  # no mentor of the cell can pass (need penalties only lower it)
            for sg in range(cell_seg[c], cell_seg[c + 1]):
                # one skill set: its exact need penalty, then by top
                unc = popcount(np.uint64(kneed[i] & ~seg_group[sg] & 0xFF))
                lift_g = lift - need_km * unc
                for a0 in range(seg_ptr[sg], seg_ptr[sg + 1]):
                    # the mentor arrays (top, vm, mbits, limit, mst, mgd)
                    # are in the walk's order, read at a (unsigned: numba
                    # then skips its negative-index check); j is the id
                    a = np.uint64(a0)
                    j = seg_mentor[a]
                    if top[a] + lift_g - floor_km < lim:
                        break  # sorted by top, highest first
                    # the street and gender rules, where given, before
                    # anything is measured
                    if kst.size and kst[i] != mst[a]:
                        continue
                    if kgd.size and kgd[i] != 0 and mgd[a] != 0 and kgd[i] != mgd[a]:
                        continue
                    cut = min(limit[a], r, top[a] + lift_g - lim)
                    ch = _chord(vc, vm, i, a)
                    # the chord is never longer than the arc: a pair
                    # beyond the cut by its chord needs no arcsine
                    if radius_earth * ch * (1.0 - 1e-12) > cut:
                        continue
                    km = _arc_km(ch, radius_earth)
                    if km > cut:
                        continue
                    shared = 0
                    for w in range(words):
                        shared += popcount(kbits[i, w] & mbits[a, w])
                    bound = lift_g - bonus_hi[i] + int_km * min(shared, max_shared) + top[a]
                    if km > bound * (1.0 + 1e-9) + 1e-9:
                        continue
                    if in_model(fkeys, frow, stride, i, j):
                        continue  # a forbidden pair, where given
                    if best_k > 0:
                        room = bound - km
                        if fill == best_k and room <= lim:
                            continue
                        if mark.size and mark[j] == i:
                            continue
                        lim = _offer(hr, hj, hkm, fill, best_k, room, j, km)
                        fill = min(fill + 1, best_k)
                        continue
                    if cnt == oi.size:
                        oi, oj, ok = _enlarge(oi, oj, ok, cnt, 1)
                    oi[cnt] = i
                    oj[cnt] = j
                    ok[cnt] = km
                    cnt += 1
        if keep_k > 0 and cnt - first > keep_k:
            cnt = _nearest_per_bucket(oj, ok, first, cnt, bucket, keep_k)
        if best_k > 0:
            if fill == best_k:
                drop[i] = hr[0]
            if cnt + fill > oi.size:
                oi, oj, ok = _enlarge(oi, oj, ok, cnt, fill)
            for e in range(fill):
                oi[cnt] = i
                oj[cnt] = hj[e]
                ok[cnt] = hkm[e]
                cnt += 1
    return oi[:cnt].copy(), oj[:cnt].copy(), ok[:cnt].copy()


@nb.njit(cache=CACHE, nogil=True, inline="always")
def in_model(mkeys: np.ndarray, mrow: np.ndarray, stride: int, i: int, j: int) -> bool:
    """Whether arc (i, j) is among ``mkeys`` (``i * stride + j``, sorted;
    ``mrow`` each row's start): a binary search within row i's run."""
    if mrow.size == 0:
        return False
    key = i * stride + j
    lo = mrow[i]
    hi = mrow[i + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if mkeys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return bool(lo < mrow[i + 1] and mkeys[lo] == key)


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _offer(
    hr: np.ndarray,
    hj: np.ndarray,
    hkm: np.ndarray,
    fill: int,
    k: int,
    room: float,
    j: int,
    km: float,
) -> float:
    """Keep the k largest rooms in ``hr[:k]``, smallest first (a sorted
    list; ties keep the earlier pair); returns the room a pair must now
    exceed (0 until the list is full)."""
    if fill == k:
        c = 0  # drop the smallest, shift the rest down while smaller
        while c + 1 < k and hr[c + 1] < room:
            hr[c] = hr[c + 1]
            hj[c] = hj[c + 1]
            hkm[c] = hkm[c + 1]
            c += 1
    else:
        c = fill  # insert, shifting larger ones up
        while c > 0 and hr[c - 1] > room:
            hr[c] = hr[c - 1]
            hj[c] = hj[c - 1]
            hkm[c] = hkm[c - 1]
            c -= 1
        fill += 1
    hr[c] = room
    hj[c] = j
    hkm[c] = km
    return hr[0] if fill == k else 0.0


@nb.njit(cache=CACHE, nogil=True)
def _nearest_per_bucket(
    oj: np.ndarray, ok: np.ndarray, first: int, cnt: int, bucket: np.ndarray, keep_k: int
) -> int:
    """Keep, of one child's pairs ``[first, cnt)``, the ``keep_k`` nearest
    mentors of each bucket (ties by listing order); returns the new end."""
    seg = np.argsort(ok[first:cnt], kind="mergesort")
    taken = np.zeros(int(bucket.max()) + 1, dtype=np.int64)
    keep = np.zeros(seg.size, dtype=np.bool_)
    for e in range(seg.size):
        b = bucket[oj[first + seg[e]]]
        if taken[b] < keep_k:
            taken[b] += 1
            keep[seg[e]] = True
    w = first
    for e in range(cnt - first):
        if keep[e]:
            oj[w] = oj[first + e]
            ok[w] = ok[first + e]
            w += 1
    return w


@nb.njit(cache=CACHE, nogil=True)
def count_reach(
    kids: np.ndarray,
    at: Points,
    vm: np.ndarray,
    limit: np.ndarray,
    spare: np.ndarray,
    radius: float,
    plane: Plane,
    cell_ptr: np.ndarray,
    by_cell: np.ndarray,
    rules: Rules,
    radius_earth: float,
) -> np.ndarray:
    """Per child in ``kids`` (positions ``at``): mentors in reach (unit
    vectors ``vm``, within ``radius`` and their own ``limit``), of those how
    many each rule excludes (forbidden pair, other street, other gender),
    how many no rule excludes, and how many of those have room (``spare``).
    The mentors of cell ``c`` are ``by_cell[cell_ptr[c]]`` to
    ``by_cell[cell_ptr[c + 1] - 1]``; the rules are by mentor id."""
    cx, cy, vc = at
    ny, kappa = plane.ny, plane.kappa
    kst, mst, kgd, mgd, fkeys, frow, stride = rules
    out = np.zeros((kids.size, 6), dtype=np.int64)
    rr = radius * kappa * (1.0 + 1e-6) + 1e-6
    for q in range(kids.size):
        i = kids[q]
        xa, xb, ya, yb = _box(plane, cx[i], cy[i], rr)
        for gx in range(xa, xb + 1):
            for gy in range(ya, yb + 1):
                c = gx * ny + gy
                for a in range(cell_ptr[c], cell_ptr[c + 1]):
                    j = by_cell[a]
                    km = _km(vc, vm, i, j, radius_earth)
                    if km > limit[j] or km > radius:
                        continue
                    out[q, 0] += 1
                    bad = False
                    if in_model(fkeys, frow, stride, i, j):
                        out[q, 1] += 1
                        bad = True
                    if kst.size and kst[i] != mst[j]:
                        out[q, 2] += 1
                        bad = True
                    if kgd.size and kgd[i] != 0 and mgd[j] != 0 and kgd[i] != mgd[j]:
                        out[q, 3] += 1
                        bad = True
                    if not bad:
                        out[q, 4] += 1
                        if spare[j]:
                            out[q, 5] += 1
    return out


@nb.njit(cache=CACHE, nogil=True)
def smallest_in_groups(
    group: np.ndarray, value: np.ndarray, k: int, n_groups: int, keep: np.ndarray
) -> None:
    """Mark in ``keep`` the ``k`` smallest values of each group (ties: the
    earlier position wins), one pass with a small sorted list per group."""
    vals = np.empty((n_groups, k), dtype=np.int64)
    pos = np.empty((n_groups, k), dtype=np.int64)
    fill = np.zeros(n_groups, dtype=np.int64)
    for e in range(group.size):
        g = group[e]
        v = value[e]
        c = fill[g]
        if c == k:
            if v >= vals[g, k - 1]:
                continue
            keep[pos[g, k - 1]] = False
            c -= 1
        else:
            fill[g] = c + 1
        # insert after every kept value <= v (earlier positions first)
        while c > 0 and vals[g, c - 1] > v:
            vals[g, c] = vals[g, c - 1]
            pos[g, c] = pos[g, c - 1]
            c -= 1
        vals[g, c] = v
        pos[g, c] = e
        keep[e] = True
