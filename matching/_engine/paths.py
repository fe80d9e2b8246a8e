"""Shortest augmenting paths on the assignment flow, compiled.

The model (the circulation of :func:`matching.solve.circulation`): rows
(children) ``0..n-1``, columns (mentors) ``n..n+m-1`` and the sink ``n+m``.
Each row sends one unit, either over one of its arcs to a column or over its
own "unmatched" arc to the sink at cost ``unm[i]``; column ``j`` passes at
most ``caps[j]`` units on to the sink at cost 0.  Potentials ``pi`` satisfy
``c + pi[u] - pi[v] >= 0`` on every residual arc ``u -> v``, with equality on
arcs that carry flow, which proves the flow optimal on the arcs given.

Successive shortest paths with several sources and sinks (:func:`route`): a
row that has lost its arc (or has none yet) has an *excess*; a column that
has lost a row but still passes the unit on, or the sink while rows are
unrouted, has a *deficit*.  Each excess row is routed, in index order, along
a shortest path to the nearest deficit; the potentials of the nodes the
search finalised then move by their distance, which keeps every reduced cost
non-negative.  A search reaches many nodes over tight arcs (reduced cost 0:
every row's own arc back from its column, and whole regions of mentors
priced at zero behind the sink), so a node offered at the distance being
finalised goes on a stack, not the binary heap
(:mod:`matching._engine.heap`).  Everything is integer, so results are exact
and deterministic.

The kernels take the model as a :class:`FlowArcs` and the flow as a
:class:`FlowState` (named tuples of arrays, changed in place).  They serve
:class:`matching._engine.flow.IncrementalAssignment` and the exact finish of
:func:`matching._engine.auction.auction_assign`.  Compiled with numba
(``cache=CACHE``, :mod:`matching._engine.kernel_cache`), without the GIL.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from matching._engine.heap import INF, heap_pop, heap_push
from matching._engine.kernel_cache import CACHE

__all__ = [
    "FlowArcs",
    "FlowState",
    "greedy_start",
    "release_rows",
    "residual_potentials",
    "route",
]


class FlowArcs(NamedTuple):
    """The model the kernels solve: ``n`` rows, ``m`` columns, the sink ``n + m``.

    Row ``i``'s arcs are ``rp[i]`` to ``rp[i + 1]`` in ``col`` (columns) and
    ``cst`` (costs); ``unm[i]`` is its unmatched cost; column ``j`` takes at
    most ``caps[j]`` rows, in its slots ``slot_ptr[j]`` to ``slot_ptr[j + 1]``.
    """

    n: int
    m: int
    rp: np.ndarray
    col: np.ndarray
    cst: np.ndarray
    unm: np.ndarray
    caps: np.ndarray
    slot_ptr: np.ndarray


class FlowState(NamedTuple):
    """The flow and its potentials, changed in place by the kernels.

    ``slot_child`` each slot's row (-1: empty); ``amentor`` each row's column
    (-1: unmatched, -2: an excess, not routed); ``acost`` the cost of the
    row's arc; ``load`` the rows on each column; ``out`` the units each
    column passes to the sink (more than ``load``: a deficit); ``pi`` the
    potentials of rows, columns and the sink.
    """

    slot_child: np.ndarray
    amentor: np.ndarray
    acost: np.ndarray
    load: np.ndarray
    out: np.ndarray
    pi: np.ndarray


class _Search(NamedTuple):
    """One shortest-path search's arrays (see :func:`route`)."""

    stamp: np.ndarray
    dist: np.ndarray
    pred: np.ndarray
    predc: np.ndarray
    hk: np.ndarray
    hv: np.ndarray
    ties: np.ndarray


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _relax(
    sr: _Search, v: int, nd: int, u: int, c: int, it: int, size: int, dk: int, nties: int
) -> tuple[int, int]:
    """Offer distance ``nd`` to node ``v``, reached from ``u`` over an arc of
    cost ``c``, in search ``it``; returns the heap size and the number of
    ties.  A node at the distance being finalised (``dk``: a tight arc) goes
    on the ``ties`` stack, not the heap: it is among the nearest already.
    The caller has checked ``nd`` against the nearest deficit found so far
    (``best_def``): nothing at or beyond it can lie on a shorter path."""
    if sr.stamp[v] == it and nd >= sr.dist[v]:
        return size, nties
    sr.stamp[v] = it
    sr.dist[v] = nd
    sr.pred[v] = u
    sr.predc[v] = c
    if nd == dk:
        sr.ties[nties] = v
        return size, nties + 1
    return heap_push(sr.hk, sr.hv, size, nd, v), nties


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _seat(slot_child: np.ndarray, slot_ptr: np.ndarray, j: int, row: int) -> None:
    """Put ``row`` in column ``j``'s first empty slot (the caller knows one is)."""
    for sl in range(slot_ptr[j], slot_ptr[j + 1]):
        if slot_child[sl] < 0:
            slot_child[sl] = row
            break


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _unseat(slot_child: np.ndarray, slot_ptr: np.ndarray, j: int, row: int) -> None:
    """Empty the slot of column ``j`` that holds ``row``."""
    for sl in range(slot_ptr[j], slot_ptr[j + 1]):
        if slot_child[sl] == row:
            slot_child[sl] = -1
            break


@nb.njit(cache=CACHE, nogil=True)
def greedy_start(arcs: FlowArcs, fs: FlowState) -> int:
    """Start: pi = 0 on columns and sink; each row priced at its cheapest
    option and routed there when that column has room.  Returns how many
    rows are routed (the sink's deficit is n minus that)."""
    _, _, rp, col, cst, unm, caps, slot_ptr = arcs
    slot_child, amentor, acost, load, out, pi = fs
    routed = 0
    for i in range(arcs.n):
        best = unm[i]
        bj = -1
        for a in range(rp[i], rp[i + 1]):
            c = cst[a]
            if c < best or (c == best and bj >= 0 and col[a] < col[bj]):
                best = c
                bj = a
        pi[i] = -best
        amentor[i] = -2
        if bj < 0:
            amentor[i] = -1
            routed += 1
            continue
        j = col[bj]
        if out[j] < caps[j]:
            _seat(slot_child, slot_ptr, j, i)
            amentor[i] = j
            acost[i] = best
            load[j] += 1
            out[j] += 1
            routed += 1
    return routed


@nb.njit(cache=CACHE, nogil=True)
def route(arcs: FlowArcs, fs: FlowState, tdef: int, queue: np.ndarray, work: np.ndarray) -> int:
    """Route every excess row in ``queue`` (``amentor`` -2) along a shortest
    path to a deficit, moving the potentials so that every reduced cost
    stays non-negative (the flow stays optimal on ``arcs``).

    ``tdef`` is the sink's deficit (rows not yet routed that the sink may
    take).  Returns the sink deficit left (-1: no path, which cannot
    happen); adds the nodes finalised and the searches to ``work[0]`` and
    ``work[1]``.  Compiled (numba, no GIL)."""
    n, m, rp, col, cst, unm, caps, slot_ptr = arcs
    slot_child, amentor, acost, load, out, pi = fs
    t = n + m
    nn = n + m + 1
    done = np.zeros(nn, dtype=np.int64)
    popped = np.empty(nn, dtype=np.int64)
    cap_heap = rp[n] + slot_ptr[m] + 2 * nn + 16
    sr = _Search(
        np.zeros(nn, dtype=np.int64),
        np.empty(nn, dtype=np.int64),
        np.empty(nn, dtype=np.int64),
        np.empty(nn, dtype=np.int64),
        np.empty(cap_heap, dtype=np.int64),
        np.empty(cap_heap, dtype=np.int64),
        np.empty(nn, dtype=np.int64),
    )
    stamp, dist, pred, predc, hk, hv, ties = sr
    scanned = 0
    it = 0
    for q in range(queue.size):
        s = queue[q]
        if amentor[s] != -2:
            continue
        it += 1
        dist[s] = 0
        stamp[s] = it
        pred[s] = -1
        size = 0
        ties[0] = s
        nties = 1
        npop = 0
        best_def = INF
        target = -1
        while nties > 0 or size > 0:
            if nties > 0:  # (a node enters the stack once: offers after it are no nearer)
                nties -= 1
                u = ties[nties]
                dk = dist[u]
            else:
                dk = hk[0]
                u = hv[0]
                size = heap_pop(hk, hv, size)
                if done[u] == it or dk > dist[u]:
                    continue
            done[u] = it
            popped[npop] = u
            npop += 1
            if u == t:
                if tdef > 0:
                    target = u
                    break
            elif u >= n:
                if out[u - n] > load[u - n]:
                    target = u
                    break
            pu = pi[u]
            if u < n:
                for a0 in range(rp[u], rp[u + 1]):
                    a = np.uint64(a0)  # unsigned: no negative-index check
                    j = col[a]
                    if j == amentor[u]:
                        continue
                    nd = dk + cst[a] + pu - pi[np.uint64(n + j)]
                    if nd < best_def:
                        size, nties = _relax(sr, n + j, nd, u, cst[a], it, size, dk, nties)
                        if out[j] > load[j]:
                            best_def = nd
                if amentor[u] != -1:
                    nd = dk + unm[u] + pu - pi[t]
                    if nd < best_def:
                        size, nties = _relax(sr, t, nd, u, 0, it, size, dk, nties)
                        if tdef > 0:
                            best_def = nd
            elif u < t:
                j = u - n
                for sl in range(slot_ptr[j], slot_ptr[j + 1]):
                    v = slot_child[sl]
                    if v >= 0:
                        nd = dk - acost[v] + pu - pi[v]
                        if nd < best_def:
                            size, nties = _relax(sr, v, nd, u, 0, it, size, dk, nties)
                if out[j] < caps[j]:
                    nd = dk + pu - pi[t]
                    if nd < best_def:
                        size, nties = _relax(sr, t, nd, u, 0, it, size, dk, nties)
                        if tdef > 0:
                            best_def = nd
            else:
                # the sink: back into unmatched rows and into loaded columns
                for v in range(n):
                    if amentor[v] == -1:
                        nd = dk - unm[v] + pu - pi[v]
                        if nd < best_def:
                            size, nties = _relax(sr, v, nd, u, 0, it, size, dk, nties)
                for j in range(m):
                    if out[j] > 0:
                        nd = dk + pu - pi[n + j]
                        if nd < best_def:
                            size, nties = _relax(sr, n + j, nd, u, 0, it, size, dk, nties)
                            if out[j] > load[j]:
                                best_def = nd
        if target < 0:  # pragma: no cover - the sink is always reachable
            return -1
        scanned += npop
        # potentials of the finalised nodes move by their distance
        dt = dist[target]
        for k in range(npop):
            v = popped[k]
            pi[v] += dist[v] - dt
        if target == t:
            tdef -= 1
        _augment(arcs, fs, pred, predc, s, target)
    work[0] += scanned
    work[1] += it
    return tdef


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _augment(
    arcs: FlowArcs, fs: FlowState, pred: np.ndarray, predc: np.ndarray, s: int, target: int
) -> None:
    """Move one unit along the path found, from ``target`` back to ``s``."""
    n, t, slot_ptr = arcs.n, arcs.n + arcs.m, arcs.slot_ptr
    slot_child, amentor, acost, load, out, _ = fs
    v = target
    while v != s:
        u = pred[v]
        if u < n:
            if v == t:
                amentor[u] = -1
            else:
                j = v - n
                _seat(slot_child, slot_ptr, j, u)
                amentor[u] = j
                acost[u] = predc[v]
                load[j] += 1
        elif u < t:
            j = u - n
            if v == t:
                out[j] += 1
            else:
                _unseat(slot_child, slot_ptr, j, v)
                load[j] -= 1
        elif v >= n:
            out[v - n] -= 1
        v = u


@nb.njit(cache=CACHE, nogil=True)
def release_rows(arcs: FlowArcs, fs: FlowState, rows: np.ndarray, tdef: int) -> int:
    """Take each row in ``rows`` off its arc (it becomes an excess; its
    column, or the sink, a deficit) and raise its potential until every arc
    out of it has a non-negative reduced cost.  Returns the sink deficit."""
    n, m, rp, col, cst, unm, _, slot_ptr = arcs
    slot_child, amentor, _, load, _, pi = fs
    t = n + m
    for r in range(rows.size):
        i = rows[r]
        j = amentor[i]
        if j == -2:
            continue
        if j == -1:
            tdef += 1
        else:
            _unseat(slot_child, slot_ptr, j, i)
            load[j] -= 1
        amentor[i] = -2
        top = pi[t] - unm[i]
        for a in range(rp[i], rp[i + 1]):
            x = pi[n + col[a]] - cst[a]
            if x > top:
                top = x
        if top > pi[i]:
            pi[i] = top
    return tdef


@nb.njit(cache=CACHE, nogil=True)
def residual_potentials(arcs: FlowArcs, fs: FlowState) -> bool:
    """Shortest distances on the residual graph from a virtual root joined
    to every node at cost 0 (queue-based Bellman-Ford), into ``pi``: then
    ``c + pi[u] - pi[v] >= 0`` on every residual arc.  False if some node
    improves more often than there are nodes: a negative cycle, i.e. the
    flow was not optimal."""
    n, m, rp, col, cst, unm, caps, slot_ptr = arcs
    t = n + m
    nn = n + m + 1
    inq = np.ones(nn, dtype=np.bool_)
    queue = np.arange(nn, dtype=np.int64)
    times = np.zeros(nn, dtype=np.int64)
    slot_child, amentor, acost, _, out, pi = fs
    head = 0
    count = nn
    pi[:] = 0
    while count > 0:
        u = queue[head]
        head = head + 1 if head + 1 < nn else 0
        count -= 1
        inq[u] = False
        du = pi[u]
        # the residual arcs out of u: (head node, cost), relaxed below
        if u < n:
            k = rp[u + 1] - rp[u] + 1
        elif u < t:
            k = slot_ptr[u - n + 1] - slot_ptr[u - n] + 1
        else:
            k = n + m
        for e in range(k):
            v = -1
            c = 0
            if u < n:
                if e < k - 1:
                    a = rp[u] + e
                    if col[a] != amentor[u]:
                        v = n + col[a]
                        c = cst[a]
                elif amentor[u] != -1:
                    v = t
                    c = unm[u]
            elif u < t:
                j = u - n
                if e < k - 1:
                    w = slot_child[slot_ptr[j] + e]
                    if w >= 0:
                        v = w
                        c = -acost[w]
                elif out[j] < caps[j]:
                    v = t
            elif e < n:
                if amentor[e] == -1:
                    v = e
                    c = -unm[e]
            elif out[e - n] > 0:
                v = e
            if v < 0 or du + c >= pi[v]:
                continue
            pi[v] = du + c
            if not inq[v]:
                times[v] += 1
                if times[v] > nn:
                    return False
                inq[v] = True
                tail = head + count
                queue[tail - nn if tail >= nn else tail] = v
                count += 1
    return True
