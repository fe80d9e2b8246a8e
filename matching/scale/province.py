"""Province-wide runs: many districts at once, serially or on a Dask cluster.

A province holds about a hundred districts.  Each partition (a district, or a
group of connected components of the candidate graph) is solved by one pure
call of :func:`matching.match` (:func:`match_partition`); an executor
(:mod:`matching.scale.executors`) runs the calls on this machine or on Dask, and the
results are the same pair for pair whatever the executor, because each call
is pure and the results are put back together sorted by id.

Boundaries
----------
By default (``cross_boundary=False``) districts are independent: each
federation matches its own children with its own mentors, and a mentor never
serves a child of another district.

With ``cross_boundary=True`` a pair may cross a district boundary when it is
within the distance limit, and the result equals one :func:`~matching.match`
over the whole province.  The method is exact by construction: the
*candidate graph* joins a child and an active mentor whenever the pair is
within the mentor's distance limit (``max_distance_km``, or the mentor's own
limit); its connected components share no allowed pair, so the optimum over
the province is the union of the optima of the components (the objective --
pairs first, then cost -- is a sum over components).  Any coarser partition
(a union of components) is exact too, which is what
:func:`candidate_components` computes cheaply: it bins children and mentors
into cells of ``cell_km`` and joins a child cell and a mentor cell when they
could hold an allowed pair (k-d tree pairs of cell centres, then
``scipy.sparse.csgraph.connected_components``), instead of listing the
thousands of allowed pairs each child has in a dense district.  Street, gender
and forbidden-pair rules are applied later, inside :func:`~matching.match`.
The parts are then packed into balanced tasks, largest first, each solved by
one :func:`~matching.match` over its parts.  Caveat: districts touch, so in a
dense province the parts merge into a few large ones (often one per cluster
of neighbouring districts) and leave little parallelism; the single large
match is then the bottleneck.  ``metrics["components"]`` reports the sizes.

Failures
--------
Each district's input is checked on its own.  A district whose roster is
invalid (or whose task fails) is reported in :attr:`ProvinceResult.districts`
with status ``"failed"`` and the error message (record ids only); every other
district is still matched.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from matching.config import MatchConfig, validate_config
from matching.errors import InputError, Problem, RosterError
from matching.geo.distance import chord, unit_vectors
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS, MatchResult, match
from matching.programme.events import Event
from matching.rosters.schema import _read_table, validate_children, validate_mentors
from matching.scale.executors import Executor, Outcome, SerialExecutor, match_threads

__all__ = [
    "DistrictNight",
    "ProvinceNightlyReport",
    "ProvinceResult",
    "candidate_components",
    "match_partition",
    "match_province",
    "run_province_nightly",
]

log = logging.getLogger("matching")

_DISTRICT_COLUMNS = [
    "district",
    "status",
    "error",
    "n_children",
    "n_mentors",
    "n_pairs",
    "n_unmatched",
    "pairing_rate",
    "cross_boundary_pairs",
    "objective_km",
]


# ----------------------------------------------------------------------------------------------
# the pure per-partition function


def match_partition(
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    config: MatchConfig | None = None,
    *,
    threads: int | None = None,
) -> MatchResult:
    """Solve one partition: exactly :func:`matching.match`, a pure function
    (``threads`` as there).

    Examples
    --------
    >>> import pandas as pd
    >>> from matching.scale.province import match_partition
    >>> kids = pd.DataFrame({"id": ["C1"], "lat": [31.78], "lon": [119.95]})
    >>> moms = pd.DataFrame({"id": ["M1"], "lat": [31.781], "lon": [119.951]})
    >>> match_partition(kids, moms).pairs["mentor_id"].tolist()
    ['M1']
    """
    return match(children, mentors, config, threads=threads)


@dataclass(frozen=True)
class _Task:
    children: pd.DataFrame
    mentors: pd.DataFrame
    config: MatchConfig
    threads: int | None = None  # the executor's threads per match (match_threads)


def _run_task(task: _Task) -> MatchResult:
    return match_partition(task.children, task.mentors, task.config, threads=task.threads)


@dataclass(frozen=True)
class _Rosters:
    children: pd.DataFrame
    mentors: pd.DataFrame


def _validate_task(task: _Rosters) -> _Rosters:
    return _Rosters(validate_children(task.children), validate_mentors(task.mentors))


# ----------------------------------------------------------------------------------------------
# result


class _DistrictStatus:
    """``failed`` / ``ok`` of a result with a ``districts`` table (a status column)."""

    districts: pd.DataFrame

    @property
    def failed(self) -> list[str]:
        """Names of the districts that failed, sorted."""
        return sorted(self.districts.loc[self.districts["status"] != "ok", "district"])

    @property
    def ok(self) -> bool:
        """Whether every district succeeded."""
        return not self.failed


@dataclass(frozen=True)
class ProvinceResult(_DistrictStatus):
    """The outcome of :func:`match_province`.

    Attributes
    ----------
    pairs : DataFrame
        The columns of :attr:`matching.MatchResult.pairs` plus ``district``
        (the child's) and ``mentor_district``, sorted by ``child_id``.
    unmatched : DataFrame
        The columns of :attr:`matching.MatchResult.unmatched` plus
        ``district``, sorted by ``child_id``.
    districts : DataFrame
        One row per district, sorted by name: ``status`` (``"ok"`` or
        ``"failed"``), ``error`` (the message, record ids only; ``""`` when
        ok), children and active mentors, pairs, unmatched, pairing rate,
        pairs whose mentor is from another district, and the district's part
        of the objective (its pair costs plus its unmatched prices).
    district_metrics : dict
        For each district that succeeded, its metrics: with
        ``cross_boundary=False`` the full :attr:`matching.MatchResult.metrics`
        of its own match; otherwise its row of ``districts`` as a dict.
    metrics : dict
        Overall: counts, pairing rate, mean distance, ``needs_covered_share``
        (the share of the paired children's needs their mentors cover, as in
        :attr:`matching.MatchResult.metrics`), ``objective_units`` / ``objective_km``
        (the sum over partitions; with ``cross_boundary=True`` equal to one
        match over the province), tasks, and with ``cross_boundary=True``
        ``components`` (count, sizes of the largest, singletons).
    config : MatchConfig
    """

    pairs: pd.DataFrame
    unmatched: pd.DataFrame
    districts: pd.DataFrame
    district_metrics: dict[str, dict[str, Any]]
    metrics: dict[str, Any]
    config: MatchConfig = field(repr=False)


# ----------------------------------------------------------------------------------------------
# input checks shared by match_province and run_province_nightly


def _labels(df: pd.DataFrame, by: str, roster: str) -> np.ndarray:
    if by not in df.columns:
        raise InputError(f"{roster} roster has no {by!r} column to split the province by")
    values = df[by].to_numpy(dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])
    labels = np.array(["" if m else str(v).strip() for v, m in zip(values, missing, strict=True)])
    bad = np.flatnonzero(labels == "") if len(labels) else np.empty(0, np.int64)
    if bad.size:
        ids = df["id"].to_numpy(dtype=object) if "id" in df.columns else None
        problems = [
            Problem(
                str(ids[i]) if ids is not None and not pd.isna(ids[i]) else f"row {i + 1}",
                by,
                "missing district",
            )
            for i in bad
        ]
        raise RosterError(roster, problems)
    return labels.astype(object)


def _split(
    children: pd.DataFrame, mentors: pd.DataFrame, by: str
) -> tuple[list[str], dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, str]]:
    """Districts (sorted), each district's rows, and a cross-district id clash per district."""
    cl = _labels(children, by, "children")
    ml = _labels(mentors, by, "mentors")
    names = sorted(set(cl) | set(ml))
    kids, moms = _groups(children, cl, names), _groups(mentors, ml, names)
    clash: dict[str, str] = {}
    for roster, df, lab in (("children", children, cl), ("mentors", mentors, ml)):
        if "id" not in df.columns or not len(df):
            continue
        ids = df["id"].astype(str).str.strip().to_numpy(dtype=object)
        frame = pd.DataFrame({"id": ids, "d": lab}).drop_duplicates()
        dup = frame[frame["id"].duplicated(keep=False)].sort_values(["id", "d"])
        for rid, grp in dup.groupby("id", sort=True):
            ds = sorted(grp["d"])
            for d in ds:
                others = ", ".join(x for x in ds if x != d)
                clash.setdefault(d, f"{roster} id {rid!r} also appears in district(s) {others}")
    return names, kids, moms, clash


def _groups(df: pd.DataFrame, labels: np.ndarray, names: list[str]) -> dict[str, pd.DataFrame]:
    """The rows of each name (row order kept; an empty frame for a name without rows)."""
    order = np.argsort(labels.astype(str), kind="stable")
    ordered = labels[order].astype(str)
    out: dict[str, pd.DataFrame] = {}
    for d in names:
        lo = int(np.searchsorted(ordered, d, side="left"))
        hi = int(np.searchsorted(ordered, d, side="right"))
        out[d] = df.iloc[order[lo:hi]]
    return out


def _config_for(cfg: MatchConfig, kids: pd.DataFrame, moms: pd.DataFrame) -> MatchConfig:
    """The configuration with only the forbidden pairs that concern this partition."""
    if not cfg.forbidden_pairs:
        return cfg
    cids = set(kids["id"].astype(str)) if len(kids) else set()
    mids = set(moms["id"].astype(str)) if len(moms) else set()
    keep = tuple(p for p in cfg.forbidden_pairs if p[0] in cids and p[1] in mids)
    return replace(cfg, forbidden_pairs=keep)


def _check_forbidden(cfg: MatchConfig, children: pd.DataFrame, mentors: pd.DataFrame) -> None:
    if not cfg.forbidden_pairs:
        return
    cids = set(children["id"].astype(str).str.strip())
    mids = set(mentors["id"].astype(str).str.strip())
    for c, m in cfg.forbidden_pairs:
        if c not in cids:
            raise InputError(f"forbidden_pairs names child id {c!r}, which is not in the roster")
        if m not in mids:
            raise InputError(f"forbidden_pairs names mentor id {m!r}, which is not in the roster")


def _first_lines(message: str | None, n: int = 6) -> str:
    lines = (message or "").splitlines()
    text = "\n".join(lines[:n])
    return text + (f"\n... ({len(lines) - n} more lines)" if len(lines) > n else "")


# ----------------------------------------------------------------------------------------------
# the candidate graph


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
    >>> from matching.scale.province import candidate_components
    >>> from matching.rosters.schema import validate_children, validate_mentors
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
    rows = np.empty(0, np.int64)
    cols = np.empty(0, np.int64)
    if nb_c and nb_m:
        r = float(reach.max() + c_rho.max() + m_rho.max()) * (1 + 1e-9) + 1e-12
        res = cKDTree(c_centre).sparse_distance_matrix(cKDTree(m_centre), r, output_type="ndarray")
        a, b = res["i"].astype(np.int64), res["j"].astype(np.int64)
        ok = res["v"] <= (reach[b] + c_rho[a] + m_rho[b]) * (1 + 1e-9) + 1e-12
        rows, cols = a[ok], b[ok] + nb_c
    size = nb_c + nb_m
    graph = coo_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    # renumber by first appearance (children in row order, then mentors)
    seq = np.concatenate([labels[c_bin], labels[nb_c + m_bin]]).astype(np.int64)
    _, first, inverse = np.unique(seq, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    seq = rank[inverse]
    mentor_labels = np.full(m_all, -1, np.int64)
    mentor_labels[act] = seq[n:]
    return seq[:n], mentor_labels, int(first.size)


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


def _pack(weights: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each item: largest first into the lightest bin (ties by index)."""
    bins = np.zeros(weights.size, np.int64)
    heap = [(0, b) for b in range(max(1, min(n_bins, weights.size)))]
    for i in np.lexsort((np.arange(weights.size), -weights)):
        load, b = heapq.heappop(heap)
        bins[i] = b
        heapq.heappush(heap, (load + int(weights[i]), b))
    return bins


# ----------------------------------------------------------------------------------------------
# match_province


def match_province(
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    config: MatchConfig | None = None,
    *,
    by: str = "district",
    cross_boundary: bool = False,
    executor: Executor | None = None,
    n_tasks: int | None = None,
) -> ProvinceResult:
    """Match a province, district by district or across boundaries.

    Parameters
    ----------
    children, mentors : DataFrame
        Province rosters (the columns of :mod:`matching.rosters.schema`) with a
        district column ``by``.
    config : MatchConfig, optional
        As for :func:`matching.match`; forbidden pairs are passed to the
        partitions they concern.
    by : str, default "district"
        The column naming each record's district.
    cross_boundary : bool, default False
        ``False``: districts are independent (a mentor serves only children
        of their own district); one task per district.  ``True``: pairs may
        cross a district boundary within the distance limit, and the result
        equals one :func:`~matching.match` over every valid district (exact:
        the province is split into parts that share no allowed pair, see
        :func:`candidate_components` and the module docstring).  A district
        whose roster is invalid is left out whole, its mentors too.
    executor : Executor, optional
        Where the partitions run: :class:`~matching.scale.executors.SerialExecutor`
        (default) or :class:`~matching.scale.executors.DaskExecutor`.  The result
        is the same pair for pair whatever the executor.
    n_tasks : int, optional
        With ``cross_boundary=True``: how many balanced tasks to pack the
        components into (default: the number of districts).

    Returns
    -------
    ProvinceResult

    Raises
    ------
    InputError
        ``by`` is not a column, a record has no district (a
        :class:`~matching.errors.RosterError` naming the ids), a forbidden
        pair names an unknown id, or a parameter is invalid.  An invalid
        district roster is *not* raised: that district is reported failed.

    Examples
    --------
    >>> from matching.scale.province import match_province
    >>> from matching.datasets.synth import city
    >>> kids, moms = city(n_districts=2, children_per_district=50, mentors_per_district=40)
    >>> r = match_province(kids, moms)
    >>> r.districts[["status", "n_children"]].values.tolist()
    [['ok', 50], ['ok', 50]]
    >>> bool((r.pairs["district"] == r.pairs["mentor_district"]).all())
    True
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    ex: Executor = SerialExecutor() if executor is None else executor
    if not isinstance(by, str):
        raise InputError(f"The 'by' parameter of match_province must be a str, got {by!r}")
    if n_tasks is not None and (isinstance(n_tasks, bool) or not isinstance(n_tasks, int)
                                or n_tasks < 1):  # fmt: skip
        raise InputError(
            f"The 'n_tasks' parameter of match_province must be an integer >= 1, got {n_tasks!r}"
        )
    names, kids, moms, clash = _split(children, mentors, by)
    _check_forbidden(cfg, children, mentors)
    errors: dict[str, str] = dict(clash)
    if not cross_boundary:
        todo = [d for d in names if d not in errors]
        threads = match_threads(ex)
        tasks = [_Task(kids[d], moms[d], _config_for(cfg, kids[d], moms[d]), threads) for d in todo]
        pair_parts: list[pd.DataFrame] = []
        unmatched_parts: list[pd.DataFrame] = []
        dm: dict[str, dict[str, Any]] = {}
        n_active: dict[str, int] = {}
        for d, out in zip(todo, ex.map(_run_task, tasks), strict=True):
            if out.ok:
                r: MatchResult = out.value
                pair_parts.append(r.pairs.assign(district=d, mentor_district=d))
                unmatched_parts.append(r.unmatched.assign(district=d))
                dm[d] = r.metrics
                n_active[d] = int(r.metrics["n_mentors_active"])
            else:
                errors[d] = f"{out.error_type}: {_first_lines(out.error)}"
        extra = {"mode": "districts", "n_tasks": len(tasks)}
        return _assemble(names, kids, pair_parts, unmatched_parts, errors, n_active, dm, cfg, extra)

    # cross-boundary: validate each district on its own, then split on components
    todo = [d for d in names if d not in errors]
    checked = ex.map(_validate_task, [_Rosters(kids[d], moms[d]) for d in todo])
    good: list[str] = []
    for d, out in zip(todo, checked, strict=True):
        if out.ok:
            good.append(d)
        else:
            errors[d] = f"{out.error_type}: {_first_lines(out.error)}"
    vk = [checked[todo.index(d)].value.children for d in good]
    vm = [checked[todo.index(d)].value.mentors for d in good]
    all_kids = pd.concat(vk, ignore_index=True) if vk else validate_children(children.iloc[:0])
    all_moms = pd.concat(vm, ignore_index=True) if vm else validate_mentors(mentors.iloc[:0])
    all_kids = all_kids.iloc[np.argsort(all_kids["id"].to_numpy(dtype=str), kind="stable")]
    all_moms = all_moms.iloc[np.argsort(all_moms["id"].to_numpy(dtype=str), kind="stable")]
    all_kids, all_moms = all_kids.reset_index(drop=True), all_moms.reset_index(drop=True)
    cl, ml, _ = candidate_components(all_kids, all_moms, cfg)
    kid_comps, kid_sizes = np.unique(cl, return_counts=True)
    mom_sizes = np.bincount(ml[ml >= 0], minlength=int(cl.max()) + 1 if cl.size else 0)
    mom_of = mom_sizes[kid_comps] if kid_comps.size else np.zeros(0, np.int64)
    weights = kid_sizes + mom_of
    bins = _pack(weights, n_tasks or max(1, len(good)))
    bin_of = np.full(max(int(cl.max()) + 1 if cl.size else 0, int(ml.max()) + 1 if ml.size else 0),
                     -1, np.int64)  # fmt: skip
    bin_of[kid_comps] = bins
    child_bin = bin_of[cl] if cl.size else np.zeros(0, np.int64)
    mentor_bin = np.where(ml >= 0, bin_of[np.maximum(ml, 0)], -1) if ml.size else ml
    n_bins = int(bins.max()) + 1 if bins.size else 0
    tasks = []
    for b in range(n_bins):
        tk, tm = all_kids[child_bin == b], all_moms[mentor_bin == b]
        tasks.append(_Task(tk, tm, _config_for(cfg, tk, tm), match_threads(ex)))
    cmap = pd.Series(_labels(all_kids, by, "children"), index=all_kids["id"].to_numpy(object))
    mmap = pd.Series(_labels(all_moms, by, "mentors"), index=all_moms["id"].to_numpy(object))
    active = all_moms["active"].to_numpy(bool)
    n_active = {str(k): int(v) for k, v in mmap[active].value_counts().items()}
    pair_parts, unmatched_parts = [], []
    for t, out in zip(tasks, ex.map(_run_task, tasks), strict=True):
        if out.ok:
            r = out.value
            pair_parts.append(
                r.pairs.assign(
                    district=r.pairs["child_id"].map(cmap),
                    mentor_district=r.pairs["mentor_id"].map(mmap),
                )
            )
            unmatched_parts.append(r.unmatched.assign(district=r.unmatched["child_id"].map(cmap)))
        else:
            for d in sorted(set(cmap[t.children["id"].to_numpy(object)])):
                errors.setdefault(d, f"{out.error_type}: {_first_lines(out.error)}")
    order = np.argsort(-kid_sizes, kind="stable")
    extra = {
        "mode": "cross_boundary",
        "n_tasks": len(tasks),
        "components": {
            "count": int(kid_comps.size),
            "largest_children": [int(x) for x in kid_sizes[order[:10]]],
            "largest_mentors": [int(x) for x in mom_of[order[:10]]],
            "singletons_without_mentor": int(((kid_sizes == 1) & (mom_of == 0)).sum()),
        },
    }
    return _assemble(names, kids, pair_parts, unmatched_parts, errors, n_active, None, cfg, extra)


def _assemble(
    names: list[str],
    kids: Mapping[str, pd.DataFrame],
    pair_parts: list[pd.DataFrame],
    unmatched_parts: list[pd.DataFrame],
    errors: dict[str, str],
    n_active: Mapping[str, int],
    dm: dict[str, dict[str, Any]] | None,
    cfg: MatchConfig,
    extra: dict[str, Any],
) -> ProvinceResult:
    pairs = (
        pd.concat(pair_parts, ignore_index=True)
        if pair_parts
        else pd.DataFrame(columns=[*PAIR_COLUMNS, "district", "mentor_district"])
    )
    unmatched = (
        pd.concat(unmatched_parts, ignore_index=True)
        if unmatched_parts
        else pd.DataFrame(columns=[*UNMATCHED_COLUMNS, "district"])
    )
    # a failed district has no pairs (with cross_boundary=True another task may hold some)
    pairs = pairs[~pairs["district"].isin(list(errors))]
    unmatched = unmatched[~unmatched["district"].isin(list(errors))]
    pairs = pairs.sort_values("child_id", kind="stable").reset_index(drop=True)
    unmatched = unmatched.sort_values("child_id", kind="stable").reset_index(drop=True)
    res = cfg.resolution_km
    p_units = np.rint(pairs["cost_km"].to_numpy(np.float64) / res).astype(np.int64)
    u_units = np.rint(unmatched["unmatched_price_km"].to_numpy(np.float64) / res).astype(np.int64)
    p_by = pd.DataFrame(
        {"d": pairs["district"], "u": p_units, "x": pairs["district"] != pairs["mentor_district"]}
    ).groupby("d")
    u_by = pd.DataFrame({"d": unmatched["district"], "u": u_units}).groupby("d")
    np_, pu, px = p_by.size(), p_by["u"].sum(), p_by["x"].sum()
    nu, uu = u_by.size(), u_by["u"].sum()
    rows = []
    for d in names:
        failed = d in errors
        n_k = len(kids[d])
        n_p = int(np_.get(d, 0))
        units = int(pu.get(d, 0)) + int(uu.get(d, 0))
        rows.append(
            {
                "district": d,
                "status": "failed" if failed else "ok",
                "error": errors.get(d, ""),
                "n_children": n_k,
                "n_mentors": int(n_active.get(d, 0)),
                "n_pairs": n_p,
                "n_unmatched": int(nu.get(d, 0)),
                "pairing_rate": round(n_p / n_k, 6) if n_k and not failed else 0.0,
                "cross_boundary_pairs": int(px.get(d, 0)),
                "objective_km": round(units * res, 6),
            }
        )
    districts = pd.DataFrame(rows, columns=_DISTRICT_COLUMNS)
    if dm is None:
        dm = {str(r["district"]): dict(r) for r in rows if r["status"] == "ok"}
    n_ok_children = int(districts.loc[districts["status"] == "ok", "n_children"].sum())
    units_total = int(p_units.sum()) + int(u_units.sum())
    d_km = pairs["distance_km"].to_numpy(np.float64)
    # the paired children's needs, covered or not (a need code is one item of a tuple)
    n_cov = sum(map(len, pairs["needs_covered"]))
    n_need = n_cov + sum(map(len, pairs["needs_uncovered"]))
    metrics: dict[str, Any] = {
        "n_districts": len(names),
        "n_failed": len(errors),
        "failed": sorted(errors),
        "n_children": n_ok_children,
        "n_pairs": len(pairs),
        "n_unmatched": len(unmatched),
        "pairing_rate": round(len(pairs) / n_ok_children, 6) if n_ok_children else 0.0,
        "cross_boundary_pairs": int(districts["cross_boundary_pairs"].sum()),
        "distance_km_mean": round(float(d_km.mean()), 6) if d_km.size else 0.0,
        "needs_covered_share": round(n_cov / n_need, 6) if n_need else 0.0,
        "objective_units": units_total,
        "objective_km": round(units_total * res, 6),
        **extra,
    }
    if errors:
        log.info("province: %d district(s) failed: %s", len(errors), ", ".join(sorted(errors)))
    return ProvinceResult(pairs, unmatched, districts, dm, metrics, cfg)


# ----------------------------------------------------------------------------------------------
# the province nightly job


@dataclass(frozen=True)
class DistrictNight:
    """What one district's nightly run did (a compact, picklable summary)."""

    district: str
    db: Path
    run_id: int | None
    counts: dict[str, int]
    files: dict[str, Path]
    already_committed: bool


@dataclass(frozen=True)
class ProvinceNightlyReport(_DistrictStatus):
    """The outcome of :func:`run_province_nightly`.

    Attributes
    ----------
    districts : DataFrame
        One row per district, sorted: ``district``, ``status`` (``"ok"`` or
        ``"failed"``), ``error`` (record ids only), ``run_id`` and the counts
        of :attr:`matching.programme.nightly.NightlyReport.counts`.
    reports : dict
        :class:`DistrictNight` of each district that succeeded.
    """

    districts: pd.DataFrame
    reports: dict[str, DistrictNight]


@dataclass(frozen=True)
class _NightTask:
    district: str
    db: Path
    out_dir: Path | None
    children: pd.DataFrame | None
    mentors: pd.DataFrame | None
    events: str | Path | Sequence[Event] | None
    options: dict[str, Any]


def _run_night(task: _NightTask) -> DistrictNight:
    from matching.programme.nightly import run_nightly

    # check the rosters first, so a broken district never creates or opens its store
    if task.children is not None:
        validate_children(task.children)
    if task.mentors is not None:
        validate_mentors(task.mentors)
    task.db.parent.mkdir(parents=True, exist_ok=True)
    report = run_nightly(
        task.db,
        out_dir=task.out_dir,
        children=task.children,
        mentors=task.mentors,
        events=task.events,
        **task.options,
    )
    return DistrictNight(
        task.district, task.db, report.run_id, dict(report.counts), dict(report.files),
        report.already_committed,
    )  # fmt: skip


def _safe_name(name: str) -> str | None:
    """Why a district name cannot be a folder name, or None if it can."""
    if name in ("", ".", "..") or any(ch in name for ch in "/\\\0"):
        return f"district name {name!r} cannot be used as a folder name"
    return None


def _raw(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    return _read_table(source, None)


def run_province_nightly(
    root_dir: str | Path,
    children: str | Path | pd.DataFrame,
    mentors: str | Path | pd.DataFrame,
    events: Mapping[str, str | Path | Sequence[Event]] | None = None,
    *,
    date: str,
    executor: Executor | None = None,
    by: str = "district",
    config: MatchConfig | None = None,
    write_plans: bool = True,
    dry_run: bool = False,
    allow_moves: bool = False,
    switching_cost_km: float = 5.0,
    max_moves: int | None = None,
    price_of_stability: bool = True,
) -> ProvinceNightlyReport:
    """Run the nightly job of every district of a province, in parallel.

    The province rosters are split by ``by``; each district runs
    :func:`matching.programme.nightly.run_nightly` against its own state store
    ``root_dir/<district>/state.db`` (its plan goes to
    ``root_dir/<district>/plan/``).  Districts are independent: one whose
    input is broken fails on its own (its store is left untouched, as
    ``run_nightly`` validates before touching it) and every other district's
    run is committed.  Districts with a store under ``root_dir`` but no rows
    tonight run too (their events still apply).

    Parameters
    ----------
    root_dir : path
        Folder holding one sub-folder per district.
    children, mentors : path or DataFrame
        Province rosters (``.csv``/``.xlsx`` or frames) with a ``by`` column.
    events : mapping of district to path or sequence of Event, optional
        Each district's events for the night.
    date : str
        ISO date the run stands for.
    executor : Executor, optional
        :class:`~matching.scale.executors.SerialExecutor` (default) or
        :class:`~matching.scale.executors.DaskExecutor`.  With Dask the workers
        must see ``root_dir`` (a shared file system on a real cluster).
    by : str, default "district"
    config, dry_run, allow_moves, switching_cost_km, max_moves, price_of_stability
        As for :func:`matching.programme.nightly.run_nightly`.
    write_plans : bool, default True
        Write each district's plan files.

    Returns
    -------
    ProvinceNightlyReport
        Per-district status, run ids and counts.

    Raises
    ------
    InputError
        ``by`` is not a column, a record has no district, or ``events``
        names a district that has no rows and no store.
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    ex: Executor = SerialExecutor() if executor is None else executor
    root = Path(root_dir)
    kids_raw, moms_raw = _raw(children), _raw(mentors)
    names, kids, moms, clash = _split(kids_raw, moms_raw, by)
    stored = (
        sorted(p.parent.name for p in root.glob("*/state.db") if p.is_file())
        if root.is_dir()
        else []
    )
    events = dict(events or {})
    unknown = sorted(set(events) - set(names) - set(stored))
    if unknown:
        raise InputError(
            f"events name district(s) with no rows and no state store: {', '.join(unknown)}"
        )
    all_names = sorted(set(names) | set(stored) | set(events))
    errors = dict(clash)
    for d in all_names:
        why = _safe_name(d)
        if why:
            errors[d] = f"InputError: {why}"
    options = {
        "date": date,
        "config": cfg,
        "dry_run": dry_run,
        "allow_moves": allow_moves,
        "switching_cost_km": switching_cost_km,
        "max_moves": max_moves,
        "price_of_stability": price_of_stability,
    }
    todo = [d for d in all_names if d not in errors]
    tasks = [
        _NightTask(
            d,
            root / d / "state.db",
            (root / d / "plan") if write_plans else None,
            kids.get(d),
            moms.get(d),
            events.get(d),
            options,
        )
        for d in todo
    ]
    reports: dict[str, DistrictNight] = {}
    outcomes: list[Outcome] = ex.map(_run_night, tasks)
    for d, out in zip(todo, outcomes, strict=True):
        if out.ok:
            reports[d] = out.value
        else:
            errors[d] = f"{out.error_type}: {_first_lines(out.error)}"
    keys = [
        "children_joined", "children_updated", "mentors_joined", "mentors_updated",
        "events_applied", "pairs_started", "pairs_ended", "pairs_moved", "children_waiting",
        "changes",
    ]  # fmt: skip
    rows = []
    for d in all_names:
        r = reports.get(d)
        row: dict[str, Any] = {
            "district": d,
            "status": "ok" if r is not None else "failed",
            "error": errors.get(d, ""),
            "run_id": r.run_id if r is not None else None,
        }
        row.update({k: (r.counts.get(k, 0) if r is not None else 0) for k in keys})
        rows.append(row)
    table = pd.DataFrame(rows, columns=["district", "status", "error", "run_id", *keys])
    if errors:
        log.info(
            "province nightly %s: %d district(s) failed: %s",
            date,
            len(errors),
            ", ".join(sorted(errors)),
        )
    log.info("province nightly %s: %d district(s) ok", date, len(reports))
    return ProvinceNightlyReport(table, reports)
