"""An exact auction for the pricing loop's fresh solves.

The engine's pricing loop solves its model afresh in the rounds where most
children must be routed again.  This module does it with
Bertsekas' auction algorithm and epsilon-scaling, compiled (numba, no GIL).

Model: rows (children) ``0..n-1`` each take one *object*: a slot of a
column (a mentor of capacity 3 has three slots) over one of the row's arcs,
or the row's own *private* object, its "unmatched" option.  To make the
problem square (the auction's optimality proof needs every object taken),
``S`` identical *idle* persons, one per slot, may take any object at cost
0: an idle person on a slot leaves that mentor place free, and one on a
row's private object means the row is paired.  So ``n + S`` persons take
``S + n`` objects.  Idle persons bid for the cheapest object (a heap of
prices, which only rise); a floor under the objects they hold replaces
their bids against each other, most of the bids otherwise.

Costs are multiplied by ``n + S + 1``, so that an auction run down to
``eps = 1`` would end optimal (a complete assignment within ``eps`` of every
person's best, with ``eps`` below one unit over ``n + S`` persons, is
optimal for integer costs).  Each phase divides ``eps`` by ``theta``, keeps
the pairs still within it and re-bids for the rest.  After a phase nearly
every row that bid sits exactly ``eps`` from its next best, so each phase
frees about half the rows again, also in the last phases, which mostly
break ties.  So the auction stops at a few cost units (``stop_units``) and
shortest augmenting paths finish exactly: the prices, lowest at zero, are
rounded down to whole units, every row not on its cheapest option at those
prices is freed, and :func:`matching._engine.paths.route` routes the freed
rows (the slots are the flow's columns, of capacity one).

"Pairs first" (``objective="max_pairs"``) gives every row the same, huge,
unmatched cost, which would make the prices climb for a long time.  The
solver first uses a moderate one ``lam`` instead: an optimum for ``lam``
that leaves no augmenting path (an unmatched row that could reach a free
mentor place by alternating arcs) is also optimal for any larger uniform
cost, because every residual cycle whose cost differs between the two adds
a pair.  Otherwise ``lam`` grows fourfold and the auction runs again.

The caller proves the result again with exact integer potentials
(:meth:`matching._engine.flow.IncrementalAssignment.load_solution`, which refuses a
flow that is not optimal), so a fault here costs time, never a wrong
answer.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from matching._engine.heap import INF, heap_pop, heap_push
from matching._engine.kernel_cache import CACHE
from matching._engine.paths import FlowArcs, FlowState, route

__all__ = ["auction_assign"]


@nb.njit(cache=CACHE, nogil=True)
def _heaps(
    price: np.ndarray,
    holder: np.ndarray,
    idle: int,
    hk: np.ndarray,
    hv: np.ndarray,
    ik: np.ndarray,
    iv: np.ndarray,
) -> tuple[int, int]:
    """Two heaps of prices: objects held by idle persons, and the rest."""
    size = 0
    isize = 0
    for o in range(price.size):
        if holder[o] == idle:
            isize = heap_push(ik, iv, isize, price[o], o)
        else:
            size = heap_push(hk, hv, size, price[o], o)
    return size, isize


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _enqueue(queue: np.ndarray, head: int, count: int, row: int) -> int:
    """Append ``row`` to the ring ``queue`` (``count`` entries from
    ``head``); returns the new count."""
    tail = head + count
    queue[tail - queue.size if tail >= queue.size else tail] = row
    return count + 1


@nb.njit(cache=CACHE, nogil=True)
def _auction(
    slots: FlowArcs,
    price: np.ndarray,
    holder: np.ndarray,
    aobj: np.ndarray,
    eps_seq: np.ndarray,
    work: np.ndarray,
) -> None:
    """Auction phases, one per ``eps`` in ``eps_seq`` (decreasing; the last
    is where the auction stops).  Objects: slots ``0..n_slots-1``, then row
    ``i``'s private object ``n_slots + i``.  ``holder[o]``: -1 nobody, a
    row, or ``n`` (an idle person); ``aobj[i]``: the row's object or -1.
    The costs of ``slots`` (arcs ``cst``, unmatched ``unm``, here ``lu``)
    are scaled already; its capacities are not read.

    Idle persons never outbid each other one object at a time: when the
    cheapest object is held by an idle person, a free idle person's bids
    would only lift the idle persons' objects, one step each, until some
    other object is the cheapest.  A *floor* does that at once: an object
    an idle person holds is priced at least ``floor`` (its price is made
    real when a row takes it, and at the end of each phase)."""
    n, n_slots, rp, col, cst, lu, _, _ = slots
    idle = n
    n_obj = n_slots + n
    cap = 4 * n_obj + 16
    hk = np.empty(cap, dtype=np.int64)  # objects not held by idle persons
    hv = np.empty(cap, dtype=np.int64)
    ik = np.empty(cap, dtype=np.int64)  # objects held by idle persons
    iv = np.empty(cap, dtype=np.int64)
    queue = np.empty(max(n, 1), dtype=np.int64)
    for e in range(eps_seq.size):
        eps = eps_seq[e]
        floor = -INF
        # keep the pairs still within eps of their best, free the rest
        head = 0
        count = 0
        for i in range(n):
            best = lu[i] + price[n_slots + i]
            held = best if aobj[i] == n_slots + i else INF
            for a in range(rp[i], rp[i + 1]):
                ua = np.uint64(a)  # unsigned: see the bids below
                s = col[ua]
                v = cst[ua] + price[np.uint64(s)]
                if v < best:
                    best = v
                if s == aobj[i]:
                    held = v
            if aobj[i] >= 0 and held > best + eps:
                holder[aobj[i]] = -1
                aobj[i] = -1
            if aobj[i] < 0:
                queue[count] = i
                count += 1
        low = INF
        for o in range(n_obj):
            if price[o] < low:
                low = price[o]
        free_idle = n_slots
        for o in range(n_obj):
            if holder[o] == idle:
                if price[o] > low + eps:
                    holder[o] = -1
                else:
                    free_idle -= 1
        size, isize = _heaps(price, holder, idle, hk, hv, ik, iv)
        while count > 0 or free_idle > 0:
            work[0] += 1
            if count > 0:
                i = queue[head]
                head = head + 1 if head + 1 < n else 0
                count -= 1
                o1 = n_slots + i
                w1 = lu[i] + max(price[o1], floor) if holder[o1] == idle else lu[i] + price[o1]
                w2 = INF
                for a in range(rp[i], rp[i + 1]):
                    # indices as unsigned: numba then skips its check for
                    # a negative index on every access
                    ua = np.uint64(a)
                    s = col[ua]
                    us = np.uint64(s)
                    ps = price[us]
                    # the price first: the floor is rarely above it, and
                    # holder[s] is then not read
                    if ps < floor and holder[us] == idle:
                        ps = floor
                    v = cst[ua] + ps
                    if v < w1:
                        w2 = w1
                        w1 = v
                        o1 = s
                    elif v < w2:
                        w2 = v
                step = w2 - w1 + eps if w2 < INF else eps
                h = holder[o1]
                if h == idle and price[o1] < floor:
                    price[o1] = floor
                price[o1] += step
                holder[o1] = i
                aobj[i] = o1
                if h == idle:
                    free_idle += 1
                elif h >= 0:
                    aobj[h] = -1
                    count = _enqueue(queue, head, count, h)
                size = heap_push(hk, hv, size, price[o1], o1)
            else:
                # an idle person: the cheapest object no idle person holds
                # (the floor lifts theirs to its price), raised to the
                # second cheapest plus eps; stale heap entries are skipped
                while hk[0] != price[hv[0]] or holder[hv[0]] == idle:
                    size = heap_pop(hk, hv, size)
                o1 = hv[0]
                size = heap_pop(hk, hv, size)
                if price[o1] > floor:
                    floor = price[o1]
                while size > 0 and (hk[0] != price[hv[0]] or holder[hv[0]] == idle):
                    size = heap_pop(hk, hv, size)
                w2 = hk[0] if size > 0 else INF
                while isize > 0 and (ik[0] != price[iv[0]] or holder[iv[0]] != idle):
                    isize = heap_pop(ik, iv, isize)
                if isize > 0:
                    w2 = min(w2, max(ik[0], floor))
                if w2 == INF:
                    w2 = price[o1]
                price[o1] = w2 + eps
                h = holder[o1]
                holder[o1] = idle
                free_idle -= 1
                if h >= 0:
                    aobj[h] = -1
                    count = _enqueue(queue, head, count, h)
                isize = heap_push(ik, iv, isize, price[o1], o1)
            if size + 1 >= cap or isize + 1 >= cap:
                size, isize = _heaps(price, holder, idle, hk, hv, ik, iv)
        # the floor made real
        for o in range(n_obj):
            if holder[o] == idle and price[o] < floor:
                price[o] = floor


@nb.njit(cache=CACHE, nogil=True)
def _reach(
    cols: FlowArcs,
    amentor: np.ndarray,
    load: np.ndarray,
    slot_rows: np.ndarray,
    seen_r: np.ndarray,
    seen_c: np.ndarray,
) -> bool:
    """Rows and columns the unmatched rows reach by alternating arcs (any
    arc row -> column of ``cols``, then a row the column holds), into
    ``seen_r`` and ``seen_c``; True as soon as a column with room is reached
    (an augmenting path)."""
    n, _, rp, col, _, _, caps, slot_ptr = cols
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        if amentor[i] < 0:
            seen_r[i] = True
            stack[top] = i
            top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        for a in range(rp[i], rp[i + 1]):
            j = col[a]
            if seen_c[j] or j == amentor[i]:
                continue
            seen_c[j] = True
            if load[j] < caps[j]:
                return True
            for s in range(slot_ptr[j], slot_ptr[j + 1]):
                r = slot_rows[s]
                if r >= 0 and not seen_r[r]:
                    seen_r[r] = True
                    stack[top] = r
                    top += 1
    return False


@nb.njit(cache=CACHE, nogil=True)
def _row_potentials(
    slots: FlowArcs,
    price: np.ndarray,
    aslot: np.ndarray,
    pi: np.ndarray,
    acost: np.ndarray,
    release: bool,
) -> None:
    """pi[i] = -(row i's cheapest option at these slot prices); the cost
    of its slot into ``acost``.  With ``release``, a row whose option is no
    longer its cheapest is freed (aslot -2)."""
    n, _, rp, col, cst, unm, _, _ = slots
    for i in range(n):
        u = unm[i]
        held = unm[i] if aslot[i] == -1 else INF
        for a in range(rp[i], rp[i + 1]):
            s = col[a]
            v = cst[a] + price[s]
            if v < u:
                u = v
            if s == aslot[i]:
                held = v
                acost[i] = cst[a]
        pi[i] = -u
        if release and aslot[i] != -2 and held > u:
            aslot[i] = -2


@nb.njit(cache=CACHE, nogil=True)
def _slot_rows(
    n: int, ci: np.ndarray, mj: np.ndarray, cost: np.ndarray, caps: np.ndarray, slot_ptr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_slot_arcs`' work: a stable counting sort by row, each arc
    repeated once per slot of its column (none for a column without)."""
    rp = np.zeros(n + 1, dtype=np.int64)
    for a in range(ci.size):
        rp[ci[a] + 1] += caps[mj[a]]
    for i in range(n):
        rp[i + 1] += rp[i]
    fill = rp[:-1].copy()
    col = np.empty(rp[n], dtype=np.int64)
    cst = np.empty(rp[n], dtype=np.int64)
    for a in range(ci.size):
        i = ci[a]
        s0 = slot_ptr[mj[a]]
        for t in range(caps[mj[a]]):
            col[fill[i]] = s0 + t
            cst[fill[i]] = cost[a]
            fill[i] += 1
    return rp, col, cst


def _slot_arcs(
    ci: np.ndarray, mj: np.ndarray, cost: np.ndarray, caps: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arcs row -> slot as compressed rows (pointers, slots, costs; each
    row's arcs in the order given, a column's slots in order) and each
    column's first slot."""
    slot_ptr = np.r_[0, np.cumsum(caps)].astype(np.int64)
    rp, col, cst = _slot_rows(n, ci, mj, cost, caps, slot_ptr)
    return rp, col, cst, slot_ptr


def _finish(
    slots: FlowArcs, price: np.ndarray, aobj: np.ndarray, scale: int, exact: bool = True
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact slots for the rows from an auction stopped early (``slots``: the
    row -> slot model, unscaled): prices, lowest at zero, rounded down to
    units; rows no longer on their cheapest option at those prices are freed
    and routed by shortest paths (the coarser the stop, the more of them).
    Returns each row's slot (-1: unmatched), potentials proving it (rows,
    slots, the sink last, at zero) and the number of rows routed.

    ``exact`` False: no finish, each row's slot as the auction left it and
    potentials read off the prices (whole units, the moderate unmatched
    cost), a guide for the first search, not a proof (none routed)."""
    n, n_slots = slots.n, slots.m
    pr = (price[:n_slots] - price.min()) // scale
    aslot = np.where(aobj < n_slots, aobj, -1).astype(np.int64)
    if not exact:
        pi = np.zeros(n + n_slots + 1, dtype=np.int64)
        _row_potentials(slots, pr, aslot, pi, np.zeros(n, dtype=np.int64), False)
        pi[n : n + n_slots] = -pr
        return aslot, pi, 0
    owner = np.full(n_slots, -1, dtype=np.int64)
    on = np.flatnonzero(aslot >= 0)
    owner[aslot[on]] = on
    # a mentor place no row holds is priced at zero, as the flow's proof
    # needs (that can only move rows, which are then freed)
    pr[owner < 0] = 0
    pi = np.zeros(n + n_slots + 1, dtype=np.int64)
    acost = np.zeros(n, dtype=np.int64)
    before = aslot.copy()
    _row_potentials(slots, pr, aslot, pi, acost, True)
    gone = (aslot == -2) & (before >= 0)
    owner[before[gone]] = -1
    pi[n : n + n_slots] = -pr
    free = np.flatnonzero(aslot == -2).astype(np.int64)
    if free.size:
        load = (owner >= 0).astype(np.int64)
        out = load | (pr > 0)
        tdef = int(free.size - (out - load).sum())
        state = FlowState(owner, aslot, acost, load, out, pi)
        left = route(slots, state, tdef, free, np.zeros(2, dtype=np.int64))
        if left != 0:  # pragma: no cover - the sink is always reachable
            raise RuntimeError("no augmenting path (internal error)")
    return aslot, pi - pi[-1], int(free.size)


def _flow_potentials(
    pi: np.ndarray, n: int, m: int, caps: np.ndarray, slot_ptr: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Potentials over rows and slots (the sink last) in the flow's layout:
    rows, one per column, the sink at zero.  A column's is its slots'
    lowest (the slots of a column with a row on it are equal; see the
    tests); a column without slots gets one below every arc into it."""
    n_slots = int(slot_ptr[-1])
    pcol = np.full(m, int(pi[:n].min()) + min(int(cost.min()) if cost.size else 0, 0) - 1)
    has = caps > 0
    if has.any():
        pcol[has] = np.minimum.reduceat(pi[n : n + n_slots], slot_ptr[:-1][has])
    out: np.ndarray = np.r_[pi[:n], pcol, 0].astype(np.int64)
    return out


def auction_assign(
    n: int,
    m: int,
    caps: np.ndarray,
    unm: np.ndarray,
    ci: np.ndarray,
    mj: np.ndarray,
    cost: np.ndarray,
    *,
    theta: int = 4,
    stop_units: float = 4.0,
    exact: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]] | None:
    """Min-cost assignment: each row on one of its arcs ``(ci, mj, cost)``
    (no pair twice) or unmatched at cost ``unm``; column ``j`` takes at
    most ``caps[j]`` rows.

    Parameters
    ----------
    theta : int
        ``eps`` shrinks by this factor per phase.
    stop_units : float
        The last phase's ``eps`` in cost units (0: run to the exact end,
        ``eps`` = 1 on the scaled costs); the shortest paths finish.
    exact : bool
        False: no exact finish and no check of the moderate unmatched cost
        (see the module notes): each row on the object it holds, and
        potentials read off the prices, which leave every row within
        ``stop_units`` (plus a unit of rounding) of its best option.  A
        guide, not a proof.

    Returns
    -------
    (assigned, pi, stats) or None
        Each row's column (-1: unmatched); potentials for it in the layout
        of :class:`matching._engine.flow.IncrementalAssignment` (rows, columns,
        the sink at zero), which should prove it optimal (the caller
        checks: :meth:`~matching._engine.flow.IncrementalAssignment.residual_ok`);
        and counters (``bids``, ``phases``, ``runs`` of the auction, rows
        ``routed`` by shortest paths).  None if the scaled costs would not
        fit in int64 with room to spare (the caller solves another way).
    """
    caps = np.ascontiguousarray(caps, dtype=np.int64)
    unm = np.ascontiguousarray(unm, dtype=np.int64)
    stats = {"bids": 0, "phases": 0, "runs": 0, "routed": 0}
    if n == 0:
        return np.empty(0, dtype=np.int64), np.zeros(m + 1, dtype=np.int64), stats
    cost = np.asarray(cost, np.int64)
    rp, scol, scst, slot_ptr = _slot_arcs(
        np.asarray(ci, np.int64), np.asarray(mj, np.int64), cost, caps, n
    )
    n_slots = int(slot_ptr[-1])
    scale = n + n_slots + 1
    top = int(np.abs(scst).max()) if scst.size else 0
    uniform, lam = _first_unmatched_cost(unm, top)
    stop = max(1, int(scale * stop_units))
    slot_col = np.repeat(np.arange(m, dtype=np.int64), caps)
    col_c = np.ascontiguousarray(slot_col[scol])  # each slot arc's column
    # the slots as the flow's columns, each of capacity one
    one_each, own_slot = np.ones(n_slots, np.int64), np.arange(n_slots + 1, dtype=np.int64)
    work = np.zeros(1, dtype=np.int64)
    while True:
        lu = np.full(n, lam, dtype=np.int64) if uniform else unm
        slots = FlowArcs(n, n_slots, rp, scol, scst, lu, one_each, own_slot)
        bid = _bid(slots, scale, top, theta, stop, work, stats)
        if bid is None:
            return None
        price, aobj = bid
        aslot, pi, routed = _finish(slots, price, aobj, scale, exact)
        stats["routed"] += routed
        assigned = np.full(n, -1, dtype=np.int64)
        on = aslot >= 0
        assigned[on] = slot_col[aslot[on]]
        if not exact or not uniform or lam >= int(unm[0]):
            break
        cols = FlowArcs(n, m, rp, col_c, scst, lu, caps, slot_ptr)
        if _settled(cols, assigned, aslot, pi, int(unm[0]) - lam, slot_col):
            break
        lam = min(4 * lam, int(unm[0]))
    return assigned, _flow_potentials(pi, n, m, caps, slot_ptr, cost), stats


def _first_unmatched_cost(unm: np.ndarray, top: int) -> tuple[bool, int]:
    """Whether every row has the same unmatched cost, and the cost the
    auction starts with: a moderate one where that cost is huge (see the
    module notes), 0 where the costs differ (each row's own is used)."""
    uniform = bool((unm == unm[0]).all())
    lam = int(unm[0]) if uniform else 0
    if uniform and lam > 4 * top + 4:
        lam = 2 * top + 2
    return uniform, lam


def _bid(
    slots: FlowArcs,
    scale: int,
    top: int,
    theta: int,
    stop: int,
    work: np.ndarray,
    stats: dict[str, int],
) -> tuple[np.ndarray, np.ndarray] | None:
    """One auction on ``slots`` (costs scaled by ``scale`` here), ``eps``
    falling by ``theta`` from the largest cost down to ``stop``: the
    objects' prices and each row's object; the bids (counted in ``work``),
    phases and runs into ``stats``.  None if the scaled costs would not fit
    in int64 with room to spare."""
    n, n_slots = slots.n, slots.m
    big = max(int(np.abs(slots.unm).max()) if n else 0, top, 1)
    if big * scale >= 2**59:
        return None
    eps_seq = []
    e = big * scale
    while e > stop:
        e = max(stop, e // theta)
        eps_seq.append(e)
    price = np.zeros(n_slots + n, dtype=np.int64)
    holder = np.full(n_slots + n, -1, dtype=np.int64)
    aobj = np.full(n, -1, dtype=np.int64)
    scaled = slots._replace(cst=slots.cst * scale, unm=slots.unm * scale)
    _auction(scaled, price, holder, aobj, np.array(eps_seq or [stop], dtype=np.int64), work)
    stats["bids"] = int(work[0])
    stats["phases"] += max(len(eps_seq), 1)
    stats["runs"] += 1
    return price, aobj


def _settled(
    cols: FlowArcs,
    assigned: np.ndarray,
    aslot: np.ndarray,
    pi: np.ndarray,
    delta: int,
    slot_col: np.ndarray,
) -> bool:
    """Whether the optimum for the moderate unmatched cost of ``cols`` leaves
    no augmenting path, so that it is optimal for the real one, ``delta``
    higher (see the module notes); then ``pi`` (rows and slots) is moved to
    prove it: what the unmatched rows reach moves down by ``delta`` (every
    residual arc out of it ends at the sink, and gains that much room)."""
    n, m = cols.n, cols.m
    n_slots = slot_col.size
    on = aslot >= 0
    load = np.bincount(assigned[on], minlength=m).astype(np.int64)
    slot_rows = np.full(n_slots, -1, dtype=np.int64)
    slot_rows[aslot[on]] = np.flatnonzero(on)
    seen_r = np.zeros(n, dtype=np.bool_)
    seen_c = np.zeros(m, dtype=np.bool_)
    if _reach(cols, assigned, load, slot_rows, seen_r, seen_c):
        return False
    pi[:n][seen_r] -= delta
    pi[n : n + n_slots][seen_c[slot_col]] -= delta
    return True
