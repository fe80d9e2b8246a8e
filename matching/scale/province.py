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
over the whole province.  The method is exact by construction: the province
is split into parts that share no allowed pair
(:func:`~matching.scale.partition.candidate_components`), so the optimum over
the province is the union of the optima of the parts.  Street, gender and
forbidden-pair rules are applied later, inside :func:`~matching.match`.  The
parts are then packed into balanced tasks, largest first, each solved by one
:func:`~matching.match` over its parts.  Caveat: districts touch, so in a
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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._engine.problem import sort_by_id
from matching.config import MatchConfig, validate_config
from matching.errors import InputError
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS, MatchResult, match
from matching.rosters import read_table, validate_children, validate_mentors
from matching.scale.districts import (
    DistrictSplit,
    DistrictStatus,
    district_labels,
    failure_text,
    split_by_district,
)
from matching.scale.executors import Executor, Outcome, SerialExecutor, match_threads
from matching.scale.partition import Packing, candidate_components, pack_parts

__all__ = [
    "ProvinceResult",
    "match_partition",
    "match_province",
    "read_raw_table",
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


def read_raw_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A province roster as given: a frame unchanged, or a ``.csv``/``.xlsx`` file read as is.

    Nothing is validated here: each district's rows are validated on their own, so one
    broken district fails alone.
    """
    if isinstance(source, pd.DataFrame):
        return source
    return read_table(source, None)


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


@dataclass(frozen=True)
class ProvinceResult(DistrictStatus):
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


@dataclass
class _Parts:
    """What the tasks of a province returned, gathered before the result is assembled.

    ``district_metrics`` is None when the districts' metrics come from their table rows
    (cross-boundary tasks mix districts).
    """

    errors: dict[str, str]
    district_metrics: dict[str, dict[str, Any]] | None
    pairs: list[pd.DataFrame] = field(default_factory=list)
    unmatched: list[pd.DataFrame] = field(default_factory=list)
    n_active: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# input checks


def _check_parameters(by: object, n_tasks: object) -> None:
    if not isinstance(by, str):
        raise InputError(f"The 'by' parameter of match_province must be a str, got {by!r}")
    if n_tasks is not None and (
        isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1
    ):
        raise InputError(
            f"The 'n_tasks' parameter of match_province must be an integer >= 1, got {n_tasks!r}"
        )


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
    known = {
        "child": set(children["id"].astype(str).str.strip()),
        "mentor": set(mentors["id"].astype(str).str.strip()),
    }
    for pair in cfg.forbidden_pairs:
        for role, rid in zip(("child", "mentor"), pair, strict=True):
            if rid not in known[role]:
                raise InputError(
                    f"forbidden_pairs names {role} id {rid!r}, which is not in the roster"
                )


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
        Province rosters (the columns of :mod:`matching.rosters`) with a
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
        :func:`~matching.scale.partition.candidate_components` and the module
        docstring).  A district whose roster is invalid is left out whole, its
        mentors too.
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
    _check_parameters(by, n_tasks)
    split = split_by_district(children, mentors, by)
    _check_forbidden(cfg, children, mentors)
    if cross_boundary:
        parts, extra = _match_across(split, children, mentors, cfg, ex, by, n_tasks)
    else:
        parts, extra = _match_districts(split, cfg, ex)
    return _assemble(split, parts, cfg, extra)


def _match_districts(
    split: DistrictSplit, cfg: MatchConfig, ex: Executor
) -> tuple[_Parts, dict[str, Any]]:
    """One task per district (a mentor serves only their own district's children)."""
    metrics: dict[str, dict[str, Any]] = {}
    parts = _Parts(errors=dict(split.clash), district_metrics=metrics)
    kids, moms = split.children, split.mentors
    todo = [d for d in split.names if d not in parts.errors]
    threads = match_threads(ex)
    tasks = [_Task(kids[d], moms[d], _config_for(cfg, kids[d], moms[d]), threads) for d in todo]
    for d, out in zip(todo, ex.map(_run_task, tasks), strict=True):
        if out.ok:
            r: MatchResult = out.value
            parts.pairs.append(r.pairs.assign(district=d, mentor_district=d))
            parts.unmatched.append(r.unmatched.assign(district=d))
            metrics[d] = r.metrics
            parts.n_active[d] = int(r.metrics["n_mentors_active"])
        else:
            parts.errors[d] = failure_text(out)
    return parts, {"mode": "districts", "n_tasks": len(tasks)}


def _match_across(
    split: DistrictSplit,
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    cfg: MatchConfig,
    ex: Executor,
    by: str,
    n_tasks: int | None,
) -> tuple[_Parts, dict[str, Any]]:
    """Validate each district on its own, then match the valid ones split on components."""
    parts = _Parts(errors=dict(split.clash), district_metrics=None)
    all_kids, all_moms, n_good = _validated(split, children, mentors, ex, parts.errors)
    cl, ml, _ = candidate_components(all_kids, all_moms, cfg)
    packing = pack_parts(cl, ml, n_tasks or max(1, n_good))
    tasks = []
    for b in range(packing.n_tasks):
        tk, tm = all_kids[packing.child_task == b], all_moms[packing.mentor_task == b]
        tasks.append(_Task(tk, tm, _config_for(cfg, tk, tm), match_threads(ex)))
    _collect_across(tasks, ex.map(_run_task, tasks), all_kids, all_moms, by, parts)
    extra = {"mode": "cross_boundary", "n_tasks": len(tasks), "components": _components(packing)}
    return parts, extra


def _validated(
    split: DistrictSplit,
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    ex: Executor,
    errors: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The valid districts' rosters as one, sorted by id, and how many districts are valid.

    A district whose roster is invalid gets its message in ``errors`` and is left out whole.
    """
    todo = [d for d in split.names if d not in errors]
    rosters = [_Rosters(split.children[d], split.mentors[d]) for d in todo]
    good: list[_Rosters] = []
    for d, out in zip(todo, ex.map(_validate_task, rosters), strict=True):
        if out.ok:
            good.append(out.value)
        else:
            errors[d] = failure_text(out)
    vk, vm = [r.children for r in good], [r.mentors for r in good]
    all_kids = pd.concat(vk, ignore_index=True) if vk else validate_children(children.iloc[:0])
    all_moms = pd.concat(vm, ignore_index=True) if vm else validate_mentors(mentors.iloc[:0])
    return sort_by_id(all_kids), sort_by_id(all_moms), len(good)


def _collect_across(
    tasks: Sequence[_Task],
    outcomes: Sequence[Outcome],
    all_kids: pd.DataFrame,
    all_moms: pd.DataFrame,
    by: str,
    parts: _Parts,
) -> None:
    """Label each task's pairs with the districts of child and mentor; fail a failed task's."""
    cmap = pd.Series(
        district_labels(all_kids, by, "children"), index=all_kids["id"].to_numpy(object)
    )
    mmap = pd.Series(
        district_labels(all_moms, by, "mentors"), index=all_moms["id"].to_numpy(object)
    )
    active = all_moms["active"].to_numpy(bool)
    parts.n_active = {str(k): int(v) for k, v in mmap[active].value_counts().items()}
    for t, out in zip(tasks, outcomes, strict=True):
        if out.ok:
            r = out.value
            parts.pairs.append(
                r.pairs.assign(
                    district=r.pairs["child_id"].map(cmap),
                    mentor_district=r.pairs["mentor_id"].map(mmap),
                )
            )
            parts.unmatched.append(r.unmatched.assign(district=r.unmatched["child_id"].map(cmap)))
        else:
            for d in sorted(set(cmap[t.children["id"].to_numpy(object)])):
                parts.errors.setdefault(d, failure_text(out))


def _components(packing: Packing) -> dict[str, Any]:
    """Count and largest sizes of the parts, for ``metrics["components"]``."""
    kid_sizes, mom_of = packing.part_children, packing.part_mentors
    order = np.argsort(-kid_sizes, kind="stable")
    return {
        "count": int(kid_sizes.size),
        "largest_children": [int(x) for x in kid_sizes[order[:10]]],
        "largest_mentors": [int(x) for x in mom_of[order[:10]]],
        "singletons_without_mentor": int(((kid_sizes == 1) & (mom_of == 0)).sum()),
    }


# ----------------------------------------------------------------------------------------------
# assembling the result


def _assemble(
    split: DistrictSplit, parts: _Parts, cfg: MatchConfig, extra: dict[str, Any]
) -> ProvinceResult:
    pairs, unmatched = _joined(parts)
    res = cfg.resolution_km
    p_units = np.rint(pairs["cost_km"].to_numpy(np.float64) / res).astype(np.int64)
    u_units = np.rint(unmatched["unmatched_price_km"].to_numpy(np.float64) / res).astype(np.int64)
    rows = _district_rows(split, parts, pairs, unmatched, p_units, u_units, res)
    districts = pd.DataFrame(rows, columns=_DISTRICT_COLUMNS)
    dm = parts.district_metrics
    if dm is None:
        dm = {str(r["district"]): dict(r) for r in rows if r["status"] == "ok"}
    n_ok_children = int(districts.loc[districts["status"] == "ok", "n_children"].sum())
    units_total = int(p_units.sum()) + int(u_units.sum())
    d_km = pairs["distance_km"].to_numpy(np.float64)
    # the paired children's needs, covered or not (a need code is one item of a tuple)
    n_cov = sum(map(len, pairs["needs_covered"]))
    n_need = n_cov + sum(map(len, pairs["needs_uncovered"]))
    errors = parts.errors
    metrics: dict[str, Any] = {
        "n_districts": len(split.names),
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


def _joined(parts: _Parts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All pairs and unmatched children sorted by child id, without the failed districts'."""
    pairs = (
        pd.concat(parts.pairs, ignore_index=True)
        if parts.pairs
        else pd.DataFrame(columns=[*PAIR_COLUMNS, "district", "mentor_district"])
    )
    unmatched = (
        pd.concat(parts.unmatched, ignore_index=True)
        if parts.unmatched
        else pd.DataFrame(columns=[*UNMATCHED_COLUMNS, "district"])
    )
    # a failed district has no pairs (with cross_boundary=True another task may hold some)
    failed = list(parts.errors)
    pairs = pairs[~pairs["district"].isin(failed)]
    unmatched = unmatched[~unmatched["district"].isin(failed)]
    pairs = pairs.sort_values("child_id", kind="stable").reset_index(drop=True)
    unmatched = unmatched.sort_values("child_id", kind="stable").reset_index(drop=True)
    return pairs, unmatched


def _district_rows(
    split: DistrictSplit,
    parts: _Parts,
    pairs: pd.DataFrame,
    unmatched: pd.DataFrame,
    p_units: np.ndarray,
    u_units: np.ndarray,
    res: float,
) -> list[dict[str, Any]]:
    """One row of the ``districts`` table per district, in name order."""
    p_by = pd.DataFrame(
        {"d": pairs["district"], "u": p_units, "x": pairs["district"] != pairs["mentor_district"]}
    ).groupby("d")
    u_by = pd.DataFrame({"d": unmatched["district"], "u": u_units}).groupby("d")
    np_, pu, px = p_by.size(), p_by["u"].sum(), p_by["x"].sum()
    nu, uu = u_by.size(), u_by["u"].sum()
    rows = []
    for d in split.names:
        failed = d in parts.errors
        n_k = len(split.children[d])
        n_p = int(np_.get(d, 0))
        units = int(pu.get(d, 0)) + int(uu.get(d, 0))
        rows.append(
            {
                "district": d,
                "status": "failed" if failed else "ok",
                "error": parts.errors.get(d, ""),
                "n_children": n_k,
                "n_mentors": int(parts.n_active.get(d, 0)),
                "n_pairs": n_p,
                "n_unmatched": int(nu.get(d, 0)),
                "pairing_rate": round(n_p / n_k, 6) if n_k and not failed else 0.0,
                "cross_boundary_pairs": int(px.get(d, 0)),
                "objective_km": round(units * res, 6),
            }
        )
    return rows
