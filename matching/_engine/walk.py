"""Nearest neighbours on the unit sphere by a nearest-first walk over grid cells.

:meth:`matching._engine.scan.Grid.nearest` builds the first model of the
pricing loop from each child's nearest mentors, nearest covering mentors and
each mentor's nearest children.  :func:`walk_nearest` finds them in one
compiled pass per side: targets sit in cells of a local planar grid
(:class:`CellMembers`, built by :func:`by_set_and_cell`), and each query
visits cells in order of a lower bound on their distance (:class:`Walk`),
stopping once no farther cell can beat its list.  Distances are exact
squared chords, so the lists are those of a k-d tree search but for ties.
Compiled with numba (``cache=CACHE``), without the GIL.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from matching._engine.kernel_cache import CACHE
from matching._engine.scan_kernels import Plane, Points

__all__ = ["CellMembers", "Walk", "by_set_and_cell", "walk_nearest"]


class Walk(NamedTuple):
    """A nearest-first walk on ``plane``: cell offsets ``ring`` (nearest
    first), a lower bound on the squared chord to each, ascending, and the
    squared chord of the radius."""

    plane: Plane
    ring: np.ndarray
    ring_lb: np.ndarray
    radius2: float


class CellMembers(NamedTuple):
    """Points by (set, cell): those of set ``s`` in cell ``c`` are entries
    ``cell_ptr[s * cells + c]`` to the next of ``ids`` (their ids) and ``v``
    (their unit vectors, in that order)."""

    cell_ptr: np.ndarray
    ids: np.ndarray
    v: np.ndarray


@nb.njit(cache=CACHE, nogil=True)
def walk_nearest(
    qs: np.ndarray, at: Points, qset: np.ndarray, targets: CellMembers, walk: Walk, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each query point ``i = qs[t]`` (positions ``at``): its ``k``
    nearest ``targets`` of set ``qset[i]`` (-1: none) within a chord of
    ``sqrt(walk.radius2)`` (squared chords on the unit sphere, monotone in
    km).  Cells are walked nearest first until no farther cell can beat the
    list.  Returns the (query, target id) pairs; ties go to the target met
    first."""
    qx, qy, vq = at
    cell_ptr, t_id, vt = targets
    x0, y0, h, nx, ny, _ = walk.plane
    ring, ring_lb, radius2 = walk.ring, walk.ring_lb, walk.radius2
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
def by_set_and_cell(
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
