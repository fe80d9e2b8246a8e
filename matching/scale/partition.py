"""Partitioning a province into parts that share no allowed pair, and packing them into tasks.

The *candidate graph* joins a child and an active mentor whenever the pair is within the
mentor's distance limit (``max_distance_km``, or the mentor's own limit).  Its connected
components share no allowed pair, so the optimum over the province is the union of the
optima of the components (the objective -- pairs first, then cost -- is a sum over
components).  Any coarser partition (a union of components) is exact too, which is what
:func:`candidate_components` computes cheaply from bins of nearby records, and
:func:`pack_parts` groups the parts into balanced tasks.
"""

from __future__ import annotations

import heapq
from numbers import Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from matching.config import MatchConfig, validate_config
from matching.errors import InputError
from matching.geo.distance import chord, unit_vectors

__all__ = ["Packing", "candidate_components", "pack_parts"]

# relative and absolute slack on the bin-joining bound, so rounding never drops an allowed pair
_REL_SLACK = 1 + 1e-9
_ABS_SLACK = 1e-12


def candidate_components(
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    config: MatchConfig | None = None,
    *,
    cell_km: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Independent parts of validated rosters: no allowed pair joins two of them.

    The *candidate graph* joins a child and an active mentor when their
    great-circle distance is within the mentor's limit (its
    ``max_distance_km``, or the configured one).  Listing those pairs costs
    time in proportion to their number (thousands per child in a dense
    district), so the graph is coarsened first: children and active mentors
    are binned into cubes of side ``cell_km`` (on the unit sphere), each bin is
    one node, and a child bin and a mentor bin are joined when their centres
    are within the bins' largest mentor limit plus both bins' radii (the
    triangle inequality: every allowed pair joins its two bins).  The
    components of this coarser graph are unions of the candidate graph's
    components, so they too share no allowed pair (exact), found with
    ``scipy.sparse.csgraph.connected_components`` over k-d tree pairs of bin
    centres.  Coarsening can only merge components that come within
    about ``limit + 2 * cell_km`` of each other.

    Returns
    -------
    child_labels, mentor_labels : ndarray of int64
        The part of each row (inactive mentors get ``-1``).  Labels are
        deterministic for the same rows in the same order.
    n_components : int

    Examples
    --------
    >>> import pandas as pd
    >>> from matching.scale.partition import candidate_components
    >>> from matching.rosters import validate_children, validate_mentors
    >>> kids = validate_children(pd.DataFrame(
    ...     {"id": ["A", "B"], "lat": [31.0, 32.0], "lon": [120.0, 120.0]}))
    >>> moms = validate_mentors(pd.DataFrame(
    ...     {"id": ["M", "N"], "lat": [31.01, 32.01], "lon": [120.0, 120.0]}))
    >>> c, m, k = candidate_components(kids, moms)
    >>> c.tolist(), m.tolist(), k
    ([0, 1], [0, 1], 2)
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    if isinstance(cell_km, bool) or not isinstance(cell_km, Real) or not 0 < cell_km < 1000:
        raise InputError(f"cell_km must be a number in (0, 1000), got {cell_km!r}")
    n, m_all = len(children), len(mentors)
    active = mentors["active"].to_numpy(dtype=bool) if m_all else np.zeros(0, bool)
    act = np.flatnonzero(active)
    lim = mentors["max_distance_km"].to_numpy(dtype=np.float64, na_value=np.nan)[act]
    lim = np.where(np.isnan(lim), cfg.max_distance_km, lim)
    vc = unit_vectors(children["lat"].to_numpy(np.float64), children["lon"].to_numpy(np.float64))
    vm = unit_vectors(
        mentors["lat"].to_numpy(np.float64)[act], mentors["lon"].to_numpy(np.float64)[act]
    )
    side = float(chord(float(cell_km)))
    c_bin, c_centre, c_rho = _bins(vc, side)
    m_bin, m_centre, m_rho = _bins(vm, side)
    nb_c, nb_m = len(c_centre), len(m_centre)
    reach = np.zeros(nb_m)
    if nb_m:
        np.maximum.at(reach, m_bin, np.asarray(chord(lim), dtype=np.float64))
    rows, cols = _bin_edges(c_centre, c_rho, m_centre, m_rho, reach)
    size = nb_c + nb_m
    graph = coo_matrix((np.ones(rows.size, np.int8), (rows, cols + nb_c)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    seq, n_parts = _by_first_appearance(
        np.concatenate([labels[c_bin], labels[nb_c + m_bin]]).astype(np.int64)
    )
    mentor_labels = np.full(m_all, -1, np.int64)
    mentor_labels[act] = seq[n:]
    return seq[:n], mentor_labels, n_parts


def _bins(v: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cube bin of each unit vector, each bin's centre and radius (chord units)."""
    if not len(v):
        return np.empty(0, np.int64), np.empty((0, 3)), np.empty(0)
    cell = np.floor(v / side).astype(np.int64)
    keys, b = np.unique(cell, axis=0, return_inverse=True)
    b = b.ravel().astype(np.int64)
    centre = (keys + 0.5) * side
    d = np.sqrt(((v - centre[b]) ** 2).sum(axis=1))
    rho = np.zeros(len(keys))
    np.maximum.at(rho, b, d)
    return b, centre, rho


def _bin_edges(
    c_centre: np.ndarray,
    c_rho: np.ndarray,
    m_centre: np.ndarray,
    m_rho: np.ndarray,
    reach: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Child bin and mentor bin of every pair of bins that could hold an allowed pair."""
    if not (len(c_centre) and len(m_centre)):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    r = float(reach.max() + c_rho.max() + m_rho.max()) * _REL_SLACK + _ABS_SLACK
    res = cKDTree(c_centre).sparse_distance_matrix(cKDTree(m_centre), r, output_type="ndarray")
    a, b = res["i"].astype(np.int64), res["j"].astype(np.int64)
    ok = res["v"] <= (reach[b] + c_rho[a] + m_rho[b]) * _REL_SLACK + _ABS_SLACK
    return a[ok], b[ok]


def _by_first_appearance(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered 0, 1, ... in order of first appearance, and how many there are."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse], int(first.size)


class Packing(NamedTuple):
    """Parts of a province packed into tasks (see :func:`pack_parts`).

    Attributes
    ----------
    child_task, mentor_task : ndarray of int64
        The task of each child and mentor row; ``-1`` for a mentor that is
        inactive or in a part without children.
    n_tasks : int
    part_children, part_mentors : ndarray of int64
        The children and active mentors of each part that has children, in label order.
    """

    child_task: np.ndarray
    mentor_task: np.ndarray
    n_tasks: int
    part_children: np.ndarray
    part_mentors: np.ndarray


def pack_parts(child_labels: np.ndarray, mentor_labels: np.ndarray, n_tasks: int) -> Packing:
    """Pack the parts of :func:`candidate_components` into at most ``n_tasks`` balanced tasks.

    A part weighs its children plus its active mentors; parts go largest first into the
    lightest task (ties by label), so the tasks are deterministic.
    """
    cl, ml = child_labels, mentor_labels
    kid_comps, kid_sizes = np.unique(cl, return_counts=True)
    mom_sizes = np.bincount(ml[ml >= 0], minlength=int(cl.max()) + 1 if cl.size else 0)
    mom_of = mom_sizes[kid_comps] if kid_comps.size else np.zeros(0, np.int64)
    bins = _pack(kid_sizes + mom_of, n_tasks)
    n_labels = max(int(cl.max()) + 1 if cl.size else 0, int(ml.max()) + 1 if ml.size else 0)
    bin_of = np.full(n_labels, -1, np.int64)
    bin_of[kid_comps] = bins
    child_bin = bin_of[cl] if cl.size else np.zeros(0, np.int64)
    mentor_bin = np.where(ml >= 0, bin_of[np.maximum(ml, 0)], -1) if ml.size else ml
    n_bins = int(bins.max()) + 1 if bins.size else 0
    return Packing(child_bin, mentor_bin, n_bins, kid_sizes, mom_of)


def _pack(weights: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each item: largest first into the lightest bin (ties by index)."""
    bins = np.zeros(weights.size, np.int64)
    heap = [(0, b) for b in range(max(1, min(n_bins, weights.size)))]
    for i in np.lexsort((np.arange(weights.size), -weights)):
        load, b = heapq.heappop(heap)
        bins[i] = b
        heapq.heappush(heap, (load + int(weights[i]), b))
    return bins
