"""One binary min-heap of (key, value) pairs for the compiled kernels.

The flow's shortest-path searches (:mod:`matching._engine.flow`) and the
auction's price heaps (:mod:`matching._engine.auction`) share it.  The heap
is two int64 arrays, ``keys`` and ``values``, holding ``size`` entries in
heap order; ties on the key go to the smaller value, so every search is
deterministic.  The caller allocates the arrays with room for every push.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from matching._engine.kernel_cache import CACHE

__all__ = ["INF", "heap_pop", "heap_push"]

INF = np.int64(2**62)
"""An int64 "infinity" for distances and prices: far above any path cost
the engine allows, with room to add a cost to it without overflow."""


@nb.njit(cache=CACHE, nogil=True)
def heap_push(keys: np.ndarray, values: np.ndarray, size: int, key: int, value: int) -> int:
    """Add ``(key, value)`` to the heap of ``size`` entries; returns the new size."""
    i = size
    keys[i] = key
    values[i] = value
    while i > 0:
        p = (i - 1) >> 1
        if keys[p] < keys[i] or (keys[p] == keys[i] and values[p] <= values[i]):
            break
        keys[p], keys[i] = keys[i], keys[p]
        values[p], values[i] = values[i], values[p]
        i = p
    return size + 1


@nb.njit(cache=CACHE, nogil=True)
def heap_pop(keys: np.ndarray, values: np.ndarray, size: int) -> int:
    """Remove the root, the smallest ``(key, value)`` (read ``keys[0]`` and
    ``values[0]`` before calling); returns the new size."""
    size -= 1
    keys[0] = keys[size]
    values[0] = values[size]
    i = 0
    while True:
        a = 2 * i + 1
        if a >= size:
            break
        b = a + 1
        c = a
        if b < size and (keys[b] < keys[a] or (keys[b] == keys[a] and values[b] < values[a])):
            c = b
        if keys[i] < keys[c] or (keys[i] == keys[c] and values[i] <= values[c]):
            break
        keys[c], keys[i] = keys[i], keys[c]
        values[c], values[i] = values[i], values[c]
        i = c
    return size
