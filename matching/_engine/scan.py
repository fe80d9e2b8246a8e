"""The suspect-arc search of the pricing loop, on a planar grid, compiled.

:func:`matching.match._suspects` lists every allowed arc ``(i, j)`` whose
reduced cost might be negative under node potentials ``d``; with
``arc = rint((km + need - bonus) / res) + off[i]`` that is

    km <= top[j] - base[i] - need(i, j) + bonus(i, j) + slack,

where ``top[j] = res * d[mentor j]`` and ``base[i] = res * (d[i] + off[i])``.
This module answers it in one compiled pass: mentors sit in square grid
cells of a local planar projection, sorted within each cell by ``top``
(highest first), so the scan of a cell stops at the first mentor whose
bound, even with the child's largest possible bonus and no need penalty,
cannot reach the cell's nearest point.  Every pair that passes is checked
exactly (great-circle km through unit vectors, the exact need and interest
terms), so the list is complete, not approximate.

The projection ``x = R cos(lat_ref) lon, y = R lat`` with ``lat_ref`` the
latitude nearest the equator overstates east-west distances by at most
``kappa = cos(lat_ref) / cos(lat_far)``; cells are visited out to ``kappa``
times the search radius (plus a hair), so no pair within the radius is
missed.  :meth:`Grid.build` returns None where that factor would be large
(rosters spanning many degrees or near a pole); the caller then uses the
k-d tree search.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba as nb
import numpy as np

from matching._arrays import unique_ints
from matching._engine.kernel_cache import CACHE
from matching.geo.distance import EARTH_RADIUS_KM, chord

__all__ = ["Grid"]

# no grid where the projection overstates distances by more than this
_MAX_KAPPA = 1.25
_MAX_CELLS = 4_000_000
# children, at least, for a scan on more than one thread (2,000 children's
# settling round, 1,053 and 947 children in two scans: 20-22 ms on two
# threads against 37-40 ms on one)
_SPLIT_MIN = 256
# the worker threads of the scans, started once (see _pool)
_POOL: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
# cell offsets, at most, for a nearest-first walk (16 MiB; a 5 km reach on
# the default grid takes 529)
_RING_MAX = 1_000_000
# Grid.nearest walks cells finer than the grid's, by a whole factor (at
# most _NEAREST_SPLIT_MAX) that leaves about _NEAREST_PER_CELL mentors to
# an occupied cell (2,000 children: factor 2, 12.5 mentors to a grid cell;
# whole matches 0.93 of the time against factor 1's 1.0)
_NEAREST_PER_CELL = 3.0
_NEAREST_SPLIT_MAX = 8
# entries, at most, of its cell pointer arrays (one per need set and side:
# 64 MiB); beyond, the k-d trees search instead
_NEAREST_MAX_INDEX = 8_000_000


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` worker threads, started on first use and kept
    (starting two threads per scan cost 0.4-1 ms); its tasks are leaves
    (compiled kernels, k-d tree searches), so callers on several threads
    can share it."""
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


@nb.njit(cache=CACHE, nogil=True)
def _popcount(x: np.uint64) -> int:
    c = 0
    while x:
        x &= x - np.uint64(1)
        c += 1
    return c


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _chord(vc: np.ndarray, vm: np.ndarray, i: int, j: int | np.uint64) -> float:
    """Chord between child i and mentor j on the unit sphere (unit vectors;
    ``j`` may be unsigned, see :func:`_scan`)."""
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


@nb.njit(cache=CACHE, nogil=True)
def _pairs_by_child(
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


def pairs_by_child(
    n: int, ci: np.ndarray, mj: np.ndarray, vc: np.ndarray, vm: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs (child ``ci[a]``, mentor ``mj[a]``) no farther
    apart than the mentor's ``limit`` km, sorted by child then mentor, and
    their great-circle km (unit vectors ``vc``, ``vm``)."""
    return _pairs_by_child(
        n,
        np.ascontiguousarray(ci, dtype=np.int64),
        np.ascontiguousarray(mj, dtype=np.int64),
        vc, vm, limit, EARTH_RADIUS_KM,
    )  # fmt: skip


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
def _scan(
    kids: np.ndarray,
    reach: np.ndarray,
    base: np.ndarray,
    bonus_hi: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    vc: np.ndarray,
    kneed: np.ndarray,
    kbits: np.ndarray,
    cell_seg: np.ndarray,
    seg_ptr: np.ndarray,
    seg_group: np.ndarray,
    seg_mentor: np.ndarray,
    top: np.ndarray,
    vm: np.ndarray,
    mskill: np.ndarray,
    mbits: np.ndarray,
    limit: np.ndarray,
    x0: float,
    y0: float,
    h: float,
    nx: int,
    ny: int,
    kappa: float,
    need_km: float,
    int_km: float,
    max_shared: int,
    slack: float,
    radius_earth: float,
    bucket: np.ndarray,
    keep_k: int,
    best_k: int,
    mkeys: np.ndarray,
    mrow: np.ndarray,
    stride: int,
    drop: np.ndarray,
    kst: np.ndarray,
    mst: np.ndarray,
    kgd: np.ndarray,
    mgd: np.ndarray,
    fkeys: np.ndarray,
    frow: np.ndarray,
    ring: np.ndarray,
    ring_km: np.ndarray,
    top_max: float,
    cell_top: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        xa = math.floor((cx[i] - rr - x0) / h)
        xb = math.floor((cx[i] + rr - x0) / h)
        ya = math.floor((cy[i] - rr - y0) / h)
        yb = math.floor((cy[i] + rr - y0) / h)
        xa, xb = max(xa, 0), min(xb, nx - 1)
        ya, yb = max(ya, 0), min(yb, ny - 1)
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
                unc = _popcount(np.uint64(kneed[i] & ~seg_group[sg] & 0xFF))
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
                        shared += _popcount(kbits[i, w] & mbits[a, w])
                    bound = lift_g - bonus_hi[i] + int_km * min(shared, max_shared) + top[a]
                    if km > bound * (1.0 + 1e-9) + 1e-9:
                        continue
                    if _in_model(fkeys, frow, stride, i, j):
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
def _in_model(mkeys: np.ndarray, mrow: np.ndarray, stride: int, i: int, j: int) -> bool:
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
    return lo < mrow[i + 1] and mkeys[lo] == key


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
def _reach_counts(
    kids: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    vc: np.ndarray,
    vm: np.ndarray,
    limit: np.ndarray,
    radius: float,
    cell_ptr: np.ndarray,
    by_cell: np.ndarray,
    x0: float,
    y0: float,
    h: float,
    nx: int,
    ny: int,
    kappa: float,
    radius_earth: float,
    spare: np.ndarray,
    kst: np.ndarray,
    mst: np.ndarray,
    kgd: np.ndarray,
    mgd: np.ndarray,
    fkeys: np.ndarray,
    frow: np.ndarray,
    stride: int,
) -> np.ndarray:
    """Per child: mentors in reach (within ``radius`` and their own
    ``limit``), of those how many each rule excludes (forbidden pair, other
    street, other gender), how many no rule excludes, and how many of those
    have room (``spare``)."""
    out = np.zeros((kids.size, 6), dtype=np.int64)
    rr = radius * kappa * (1.0 + 1e-6) + 1e-6
    for q in range(kids.size):
        i = kids[q]
        xa = max(math.floor((cx[i] - rr - x0) / h), 0)
        xb = min(math.floor((cx[i] + rr - x0) / h), nx - 1)
        ya = max(math.floor((cy[i] - rr - y0) / h), 0)
        yb = min(math.floor((cy[i] + rr - y0) / h), ny - 1)
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
                    if _in_model(fkeys, frow, stride, i, j):
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
def _nearest(
    qs: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    vq: np.ndarray,
    qset: np.ndarray,
    cell_ptr: np.ndarray,
    t_id: np.ndarray,
    vt: np.ndarray,
    x0: float,
    y0: float,
    h: float,
    nx: int,
    ny: int,
    ring: np.ndarray,
    ring_lb: np.ndarray,
    radius2: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query point ``i = qs[t]``: its ``k`` nearest targets of set
    ``qset[i]`` (-1: none) within a chord of ``sqrt(radius2)`` (squared
    chords on the unit sphere, monotone in km).  The targets of set ``s``
    in cell ``c`` are ``cell_ptr[s * cells + c]`` to the next entry (their
    ids ``t_id``, unit vectors ``vt``, in that order).  Cells are walked
    nearest first (``ring``; ``ring_lb``, a lower bound on the squared chord
    to each, in ascending order) until no farther cell can beat the list.
    Returns the (query, target) pairs; ties go to the target met first."""
    out_q = np.empty(qs.size * k, dtype=np.int64)
    out_t = np.empty(qs.size * k, dtype=np.int64)
    dist = np.empty(max(k, 1), dtype=np.float64)
    ids = np.empty(max(k, 1), dtype=np.int64)
    cells = nx * ny
    cnt = 0
    for t in range(qs.size):
        i = qs[t]
        if qset[i] < 0 or k == 0:
            continue
        base = qset[i] * cells
        fill = 0
        gx0 = min(max(int((qx[i] - x0) // h), 0), nx - 1)
        gy0 = min(max(int((qy[i] - y0) // h), 0), ny - 1)
        for o in range(ring_lb.size):
            lb = ring_lb[o]
            if lb > radius2 or (fill == k and lb > dist[k - 1]):
                break  # no farther cell is in reach or can beat the list
            gx = gx0 + ring[o, 0]
            gy = gy0 + ring[o, 1]
            if gx < 0 or gx >= nx or gy < 0 or gy >= ny:
                continue
            c = np.uint64(base + gx * ny + gy)
            first = cell_ptr[c]
            last = cell_ptr[c + np.uint64(1)]
            if first == last:
                continue
            for a0 in range(first, last):
                a = np.uint64(a0)  # unsigned: no negative-index check
                d0 = vq[i, 0] - vt[a, 0]
                d1 = vq[i, 1] - vt[a, 1]
                d2 = vq[i, 2] - vt[a, 2]
                d = d0 * d0 + d1 * d1 + d2 * d2
                if d > radius2 or (fill == k and d >= dist[k - 1]):
                    continue
                # insert after every kept distance <= d
                e = fill if fill < k else k - 1
                fill = min(fill + 1, k)
                while e > 0 and dist[e - 1] > d:
                    dist[e] = dist[e - 1]
                    ids[e] = ids[e - 1]
                    e -= 1
                dist[e] = d
                ids[e] = a0
        for e in range(fill):
            out_q[cnt] = i
            out_t[cnt] = t_id[ids[e]]
            cnt += 1
    return out_q[:cnt].copy(), out_t[:cnt].copy()


@nb.njit(cache=CACHE, nogil=True)
def _by_set_and_cell(
    sets: np.ndarray, cell: np.ndarray, n_sets: int, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points by (set, cell), a stable counting sort: each (set, cell)'s
    start in the order (``n_sets * n_cells + 1`` entries), and the order."""
    ptr = np.zeros(n_sets * n_cells + 1, dtype=np.int64)
    for p in range(cell.size):
        ptr[sets[p] * n_cells + cell[p] + 1] += 1
    for e in range(n_sets * n_cells):
        ptr[e + 1] += ptr[e]
    fill = ptr[:-1].copy()
    order = np.empty(cell.size, dtype=np.int64)
    for p in range(cell.size):
        key = sets[p] * n_cells + cell[p]
        order[fill[key]] = p
        fill[key] += 1
    return ptr, order


def _by_cell(cell: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Points by cell (stable): each cell's start in the order, and the order."""
    return _by_set_and_cell(np.zeros(cell.size, np.int64), cell, 1, n_cells)


def _ring_offsets(
    reach_km: float, h: float, kappa: float, span: int
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Grid._ring` for cells of side ``h`` km, at most ``span`` cells
    out."""
    rings = min(math.ceil(reach_km * kappa * (1 + 1e-6) / h) + 1, span)
    if (2 * rings + 1) ** 2 > _RING_MAX:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    steps = np.arange(-rings, rings + 1)
    ox, oy = (a.ravel() for a in np.meshgrid(steps, steps, indexing="ij"))
    lb = h * np.hypot(np.maximum(np.abs(ox) - 1, 0), np.maximum(np.abs(oy) - 1, 0))
    order = np.lexsort((oy, ox, lb))
    ring = np.ascontiguousarray(np.column_stack([ox[order], oy[order]]), dtype=np.int64)
    return ring, lb[order] / (kappa * (1.0 + 1e-6)) - 1e-6


class Grid:
    """Mentors in square cells of a local planar projection (see module)."""

    def __init__(
        self,
        cx: np.ndarray,
        cy: np.ndarray,
        mx: np.ndarray,
        my: np.ndarray,
        kappa: float,
        cell_km: float,
    ) -> None:
        self.cx, self.cy, self.kappa = cx, cy, kappa
        self.mx, self.my = mx, my
        self.x0 = float(min(cx.min(), mx.min()))
        self.y0 = float(min(cy.min(), my.min()))
        span = max(float(max(cx.max(), mx.max())) - self.x0, 1e-9)
        span_y = max(float(max(cy.max(), my.max())) - self.y0, 1e-9)
        h = max(cell_km, math.sqrt(span * span_y / _MAX_CELLS))
        self.h = h
        self.nx = int(span // h) + 1
        self.ny = int(span_y // h) + 1
        self.cell = self._cells(mx, my, h, self.nx, self.ny)

    @classmethod
    def build(
        cls,
        clat: np.ndarray,
        clon: np.ndarray,
        mlat: np.ndarray,
        mlon: np.ndarray,
        cell_km: float,
    ) -> Grid | None:
        """A grid for these points, or None where the projection would
        overstate distances by more than a quarter (or cross the antimeridian)."""
        if clat.size == 0 or mlat.size == 0:
            return None
        lats = np.abs(np.r_[clat, mlat])
        lons = np.r_[clon, mlon]
        if float(lons.max() - lons.min()) > 90.0 or float(lats.max()) > 75.0:
            return None
        near_eq, far = float(lats.min()), float(lats.max())
        kappa = math.cos(math.radians(near_eq)) / math.cos(math.radians(far))
        if kappa > _MAX_KAPPA:
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
        fewer pass.  Pairs the bound cuts off
        early are never measured, so this is much cheaper than the list.
        ``rules`` leaves out the pairs the hard rules exclude:
        street codes of children and mentors (empty: no rule), gender codes
        (0 matches any; empty: no rule), and forbidden pairs as sorted keys
        with each child's start (keys with the same ``stride``).

        ``nearest_first`` (with ``best_k``) visits each child's cells
        nearest first and stops once no farther cell can beat the worst of
        a full best list: the same list but for ties, and much faster where
        the lists fill (hot children; at 20,000 children 121 ms against
        302 ms), slower where they seldom do (10-20 % on the others).

        Runs on ``threads`` threads from :data:`_SPLIT_MIN` children on; the
        list is the same."""
        # mentors by cell, skill set and top (highest first); one segment
        # per (cell, skill set)
        order = np.lexsort((-top, mskill, self.cell))
        key = self.cell[order] * 256 + mskill[order].astype(np.int64)
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        seg_ptr = np.r_[starts, order.size].astype(np.int64)
        seg_cell = self.cell[order[starts]]
        cell_seg = np.searchsorted(seg_cell, np.arange(self.nx * self.ny + 1)).astype(np.int64)
        # each cell's highest top (-inf where empty): the scan skips a cell
        # whose highest cannot pass, without looking at its skill sets
        # (2,000 children: of 109 cells in reach per child, 31 are looked
        # at; the searches take 9-11 % less time, same lists)
        cell_top = np.full(self.nx * self.ny, -np.inf)
        if starts.size:
            np.maximum.at(cell_top, seg_cell, top[order[starts]])
        # the mentors' arrays in that order: the kernel reads a mentor's
        # data where its walk is, not through the mentor's id (fewer cache
        # misses; the same arithmetic in the same order)
        if rules is not None:
            kst, mst, kgd, mgd, fkeys, frow = rules
            rules = (kst, mst[order] if mst.size else mst, kgd,
                     mgd[order] if mgd.size else mgd, fkeys, frow)  # fmt: skip
        rest = (
            reach, base, bonus_hi,
            self.cx, self.cy, vc, kneed, kbits,
            cell_seg, seg_ptr, mskill[order[starts]], order.astype(np.int64), top[order],
            np.ascontiguousarray(vm[order]), mskill, np.ascontiguousarray(mbits[order]),
            limit[order],
            self.x0, self.y0, self.h, self.nx, self.ny, self.kappa,
            need_km, int_km, max_shared, slack, EARTH_RADIUS_KM,
            np.zeros(1, np.int64) if bucket is None else bucket, keep_k, best_k,
            *(model or (np.empty(0, np.int64), np.empty(0, np.int64), max(limit.size, 1))),
            drop if drop is not None else np.empty(0, np.float64),
            *(rules if rules is not None else (np.empty(0, np.int64),) * 6),
            *(self._ring(float(reach[kids].max())) if nearest_first and best_k > 0 and kids.size
              else (np.empty((0, 2), np.int64), np.empty(0, np.float64))),
            float(top.max()) if top.size else 0.0,
            cell_top,
        )  # fmt: skip
        if best_k > 0 and (drop is None or drop.size < reach.size):
            raise ValueError("best_k needs a 'drop' array as long as 'reach'")
        kids = np.ascontiguousarray(kids, dtype=np.int64)
        if kids.size < _SPLIT_MIN or threads < 2:
            return _scan(kids, *rest)
        # the kernel releases the GIL: consecutive slices of the children on
        # threads, joined in order (the same list as one pass)
        parts = np.array_split(kids, threads)
        outs = list(_pool(threads).map(lambda part: _scan(part, *rest), parts))
        xi, xj, xk = (np.concatenate([o[k] for o in outs]) for k in range(3))
        return xi, xj, xk

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
        would take more than :data:`_RING_MAX` cells or its index more than
        :data:`_NEAREST_MAX_INDEX` entries."""
        n, m = self.cx.size, self.cell.size
        # the need sets children have: the covering mentors of each are
        # indexed as a set of their own (a cell pointer array per set)
        needs = np.unique(need[need != 0]).astype(np.int64)
        # cells of their own, finer where the mentors crowd the scans'
        # cells: about _NEAREST_PER_CELL mentors to an occupied cell (a
        # nearest-first walk then stops after a few cells), as long as the
        # pointer arrays stay within _NEAREST_MAX_INDEX entries
        crowd = m / max(unique_ints(self.cell).size, 1)
        split = min(max(round(math.sqrt(crowd / _NEAREST_PER_CELL)), 1), _NEAREST_SPLIT_MAX)
        while True:
            h = self.h / split
            nx = int((self.nx * self.h) // h) + 1
            ny = int((self.ny * self.h) // h) + 1
            cells = nx * ny
            if (needs.size + 2) * cells <= _NEAREST_MAX_INDEX:
                break
            if split == 1:
                return None
            split -= 1
        ring, ring_km = _ring_offsets(radius, h, self.kappa, max(nx, ny))
        if ring_km.size == 0:
            return None

        # the walk compares squared chords (monotone in km, no arcsine)
        lb2 = np.where(ring_km > 0, chord(np.maximum(ring_km, 0.0)) ** 2 * (1.0 - 1e-9), -1.0)
        walk = (self.x0, self.y0, h, nx, ny, ring, lb2, float(chord(radius)) ** 2 * (1.0 + 1e-9))
        kid_cell = self._cells(self.cx, self.cy, h, nx, ny)
        m_cell = self._cells(self.mx, self.my, h, nx, ny)
        mptr, morder = _by_cell(m_cell, cells)
        kptr, korder = _by_cell(kid_cell, cells)
        sk = skill.astype(np.int64)
        cset, cmentor = np.nonzero((sk[None, :] & needs[:, None]) == needs[:, None])
        cptr, corder = _by_set_and_cell(cset, m_cell[cmentor], max(needs.size, 1), cells)
        kid_set = np.searchsorted(needs, need).astype(np.int64)
        kid_set[need == 0] = -1
        vm_o, vc_o = np.ascontiguousarray(vm[morder]), np.ascontiguousarray(vc[korder])
        cover_id = cmentor[corder]
        vcov = np.ascontiguousarray(vm[cover_id])
        zero_c, zero_m = np.zeros(n, np.int64), np.zeros(m, np.int64)

        def lane(kids: np.ndarray, mentors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # the kernels release the GIL
            a_i, a_j = _nearest(kids, self.cx, self.cy, vc, zero_c, mptr, morder, vm_o,
                                *walk, min(k, m))  # fmt: skip
            b_i, b_j = _nearest(kids, self.cx, self.cy, vc, kid_set, cptr, cover_id, vcov,
                                *walk, k_cover)  # fmt: skip
            c_j, c_i = _nearest(mentors, self.mx, self.my, vm, zero_m, kptr, korder, vc_o,
                                *walk, min(k_mentor, n))  # fmt: skip
            return np.concatenate([a_i, b_i, c_i]), np.concatenate([a_j, b_j, c_j])

        lanes = 1 if threads < 2 or n < _SPLIT_MIN else threads
        parts = zip(np.array_split(np.arange(n, dtype=np.int64), lanes),
                    np.array_split(np.arange(m, dtype=np.int64), lanes), strict=True)  # fmt: skip
        if lanes > 1:
            outs = list(_pool(threads).map(lambda part: lane(*part), parts))
        else:
            outs = [lane(*part) for part in parts]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def _cells(self, x: np.ndarray, y: np.ndarray, h: float, nx: int, ny: int) -> np.ndarray:
        """Each point's cell on a grid of ``nx`` x ``ny`` cells of side ``h``."""
        gx = np.minimum(((x - self.x0) // h).astype(np.int64), nx - 1)
        return gx * ny + np.minimum(((y - self.y0) // h).astype(np.int64), ny - 1)

    def _ring(self, reach_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Cell offsets ``(dx, dy)`` within ``reach_km`` of a cell, nearest
        first (ties in a fixed order), and for each a lower bound on the
        great-circle km from a point of that cell to anything in the offset
        cell (as the scan bounds a cell's km from its planar distance).
        Empty (the scan then walks the box) beyond :data:`_RING_MAX`
        offsets."""
        return _ring_offsets(reach_km, self.h, self.kappa, max(self.nx, self.ny))

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
        rest: tuple[Any, ...] = (
            self.cx, self.cy, vc, vm, limit, float(radius),
            cell_ptr, order,
            self.x0, self.y0, self.h, self.nx, self.ny, self.kappa, EARTH_RADIUS_KM,
            np.ascontiguousarray(spare, dtype=np.bool_), *rules, stride,
        )  # fmt: skip
        kids = np.ascontiguousarray(kids, dtype=np.int64)
        if kids.size < _SPLIT_MIN or threads < 2:
            return _reach_counts(kids, *rest)
        parts = np.array_split(kids, threads)  # the kernel releases the GIL
        outs = _pool(threads).map(lambda part: _reach_counts(part, *rest), parts)
        return np.concatenate(list(outs))

    def mentors_in_reach(self, km: float) -> float:
        """About how many mentors lie within ``km`` of a child (uniform density
        over the grid's extent; for choosing between searches, not a bound)."""
        area = max(self.nx * self.ny * self.h * self.h, 1e-9)
        return min(1.0, math.pi * km * km / area) * float(self.cell.size)


@nb.njit(cache=CACHE, nogil=True)
def _smallest_per_group(
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
        _smallest_per_group(
            g, np.ascontiguousarray(value, dtype=np.int64), k, int(g.max()) + 1, mine
        )
        out |= mine
    return out
