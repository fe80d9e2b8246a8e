"""The nightly job of a whole province: one state store per district, run in parallel.

The province rosters are split by district (:mod:`matching.scale.districts`) and each
district runs :func:`matching.programme.nightly.run_nightly` against its own store on an
executor (:mod:`matching.scale.executors`).  Districts are independent: one whose input is
broken fails on its own and every other district's run is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from matching.config import MatchConfig, RematchPolicy, validate_config, validate_policy
from matching.errors import InputError
from matching.programme.events import Event
from matching.programme.nightly import COUNT_KEYS, run_nightly
from matching.rosters import validate_children, validate_mentors
from matching.scale.districts import (
    DistrictSplit,
    DistrictStatus,
    failure_text,
    folder_name_problem,
    split_by_district,
)
from matching.scale.executors import Executor, SerialExecutor
from matching.scale.province import read_raw_table

__all__ = ["DistrictNight", "ProvinceNightlyReport", "run_province_nightly"]

log = logging.getLogger("matching")

# the counts of each district's run in the report's table (the two row-level counts are
# left to the district's own plan)
_COUNT_KEYS = (
    *(k for k in COUNT_KEYS if k not in ("roster_rows_ignored", "events_duplicate")),
    "changes",
)

_Events: TypeAlias = str | Path | Sequence[Event]


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
class ProvinceNightlyReport(DistrictStatus):
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
    events: _Events | None
    options: dict[str, Any]


def _run_night(task: _NightTask) -> DistrictNight:
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
    counts, files = dict(report.counts), dict(report.files)
    return DistrictNight(
        task.district, task.db, report.run_id, counts, files, report.already_committed
    )


def run_province_nightly(
    root_dir: str | Path,
    children: str | Path | pd.DataFrame,
    mentors: str | Path | pd.DataFrame,
    events: Mapping[str, _Events] | None = None,
    *,
    date: str,
    executor: Executor | None = None,
    by: str = "district",
    config: MatchConfig | None = None,
    write_plans: bool = True,
    dry_run: bool = False,
    policy: RematchPolicy | None = None,
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
    config, dry_run, policy
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
    rules = validate_policy(policy)
    ex: Executor = SerialExecutor() if executor is None else executor
    root = Path(root_dir)
    split = split_by_district(read_raw_table(children), read_raw_table(mentors), by)
    events = dict(events or {})
    all_names = _district_names(root, split.names, events)
    errors = dict(split.clash)
    errors.update({d: f"InputError: {why}" for d in all_names if (why := folder_name_problem(d))})
    options = dict(date=date, config=cfg, dry_run=dry_run, policy=rules)
    todo = [d for d in all_names if d not in errors]
    tasks = _night_tasks(root, todo, split, events, options, write_plans)
    reports: dict[str, DistrictNight] = {}
    for d, out in zip(todo, ex.map(_run_night, tasks), strict=True):
        if out.ok:
            reports[d] = out.value
        else:
            errors[d] = failure_text(out)
    if errors:
        failed = ", ".join(sorted(errors))
        log.info("province nightly %s: %d district(s) failed: %s", date, len(errors), failed)
    log.info("province nightly %s: %d district(s) ok", date, len(reports))
    return ProvinceNightlyReport(_district_table(all_names, reports, errors), reports)


def _district_names(root: Path, names: list[str], events: Mapping[str, Any]) -> list[str]:
    """Every district to run tonight: with rows, with a store under ``root``, or with events.

    Raises
    ------
    InputError
        ``events`` names a district with no rows and no store.
    """
    stored = (
        sorted(p.parent.name for p in root.glob("*/state.db") if p.is_file())
        if root.is_dir()
        else []
    )
    unknown = sorted(set(events) - set(names) - set(stored))
    if unknown:
        raise InputError(
            f"events name district(s) with no rows and no state store: {', '.join(unknown)}"
        )
    return sorted(set(names) | set(stored) | set(events))


def _night_tasks(
    root: Path,
    todo: list[str],
    split: DistrictSplit,
    events: Mapping[str, _Events],
    options: dict[str, Any],
    write_plans: bool,
) -> list[_NightTask]:
    """One task per district: its store and plan folder under ``root``, its rows and events."""
    return [
        _NightTask(
            d,
            root / d / "state.db",
            (root / d / "plan") if write_plans else None,
            split.children.get(d),
            split.mentors.get(d),
            events.get(d),
            options,
        )
        for d in todo
    ]


def _district_table(
    names: list[str], reports: Mapping[str, DistrictNight], errors: Mapping[str, str]
) -> pd.DataFrame:
    """The ``districts`` table of the report: status, error, run id and counts per district."""
    rows = []
    for d in names:
        r = reports.get(d)
        row: dict[str, Any] = {
            "district": d,
            "status": "ok" if r is not None else "failed",
            "error": errors.get(d, ""),
            "run_id": r.run_id if r is not None else None,
        }
        row.update({k: (r.counts.get(k, 0) if r is not None else 0) for k in _COUNT_KEYS})
        rows.append(row)
    return pd.DataFrame(rows, columns=["district", "status", "error", "run_id", *_COUNT_KEYS])
