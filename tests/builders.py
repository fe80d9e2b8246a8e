"""Roster builders shared by the tests (plain functions; ``tests/conftest.py`` holds the fixtures).

A module of its own, not ``conftest.py``: test modules and the subprocess
drivers import these functions by name (``from builders import ...``), and a
``conftest`` module is loaded by pytest's plugin machinery, not for importing.

- :func:`at`, :func:`kids_frame` and :func:`mentors_frame` place people on a
  plane in km around a reference point (for hand-made rosters);
- :func:`write_rosters` writes a pair of rosters as CSV files;
- :func:`child_rows` and :func:`mentor_rows` give validated rosters the state
  columns a :class:`~matching.programme.State` holds;
- :func:`frame_text`, :func:`store_snapshot` and :func:`differences` compare
  frames and whole state stores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from matching.programme.store import StateStore
from matching.reports.files import write_csv

LAT0, LON0 = 31.80, 119.97
"""The reference point of :func:`at` (a district of Changzhou)."""
KM_PER_DEG = 111.195
"""Kilometres per degree of latitude (the mean Earth radius)."""


def at(x_km: float, y_km: float) -> tuple[float, float]:
    """(lat, lon) of a point ``x_km`` east and ``y_km`` north of (LAT0, LON0)."""
    lat = LAT0 + y_km / KM_PER_DEG
    lon = LON0 + x_km / (KM_PER_DEG * math.cos(math.radians(LAT0)))
    return lat, lon


def _frame(rows: list[dict], defaults: dict[str, object]) -> pd.DataFrame:
    """A roster from dicts with ``id``, ``x``, ``y`` (km); other columns from ``defaults``."""
    out = []
    for r in rows:
        lat, lon = at(r["x"], r["y"])
        out.append(
            {"id": r["id"], "lat": lat, "lon": lon} | {k: r.get(k, v) for k, v in defaults.items()}
        )
    return pd.DataFrame(out)


def kids_frame(rows: list[dict]) -> pd.DataFrame:
    """Children roster from dicts with ``id``, ``x``, ``y`` (km) and optional fields."""
    defaults = {"street": "s1", "needs": (), "interests": (), "priority": 0, "gender": ""}
    return _frame(rows, defaults)


def mentors_frame(rows: list[dict]) -> pd.DataFrame:
    """Mentor roster from dicts with ``id``, ``x``, ``y`` (km) and optional fields."""
    defaults = {
        "street": "s1",
        "skills": (),
        "interests": (),
        "capacity": 1,
        "max_distance_km": np.nan,
        "active": True,
        "gender": "",
    }
    return _frame(rows, defaults)


def write_rosters(folder: Path, children: pd.DataFrame, mentors: pd.DataFrame) -> tuple[Path, Path]:
    """``children.csv`` and ``mentors.csv`` in ``folder``, written by the library's writer
    (tuple cells as ``;``-joined text, as a user's spreadsheet holds them)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_csv(children, folder / "children.csv"), write_csv(mentors, folder / "mentors.csv")


def text_column(n: int, value: str) -> pd.Series:
    """``n`` copies of ``value`` as an object column."""
    return pd.Series([value] * n, dtype=object)


def child_rows(kids: pd.DataFrame, joined_on: str = "2026-01-01") -> pd.DataFrame:
    """Validated children as enrolled state rows: no exit, waiting, joined on ``joined_on``."""
    out = kids.reset_index(drop=True).copy()
    n = len(out)
    for name in ("exit_state", "exit_approved_by"):
        if name not in out.columns:
            out[name] = text_column(n, "")
    out["status"] = text_column(n, "waiting")
    out["joined_on"] = text_column(n, joined_on)
    out["left_on"] = text_column(n, "")
    out["left_reason"] = text_column(n, "")
    return out


def mentor_rows(mentors: pd.DataFrame, joined_on: str = "2026-01-01") -> pd.DataFrame:
    """Validated mentors as state rows: their ``status`` column if any, else active."""
    out = mentors.reset_index(drop=True).copy()
    n = len(out)
    if "status" not in out.columns:
        out["status"] = text_column(n, "active")
    out["joined_on"] = text_column(n, joined_on)
    out["left_on"] = text_column(n, "")
    out["left_reason"] = text_column(n, "")
    return out


def frame_text(frame: pd.DataFrame) -> str:
    """A frame as comparable text: dtypes and values."""
    dtypes = [str(t) for t in frame.dtypes]
    return json.dumps(dtypes) + frame.to_json(orient="split", double_precision=15)


def store_snapshot(db: Path) -> dict[str, object]:
    """What the store at ``db`` holds, as comparable values (``committed_at`` left out);
    ``run_files N`` holds the files of run N."""
    with StateStore.open(db, readonly=True) as store:
        state = store.load()
        runs = store.runs()
        snapshot: dict[str, object] = {
            "children": frame_text(state.children),
            "mentors": frame_text(state.mentors),
            "pairs": frame_text(state.pairs),
            "forbidden": state.forbidden,
            "first_in_line": state.first_in_line,
            "history": frame_text(store.history()),
            "enrolments": frame_text(store.enrolments()),
            "events": frame_text(store.events()),
            "runs": frame_text(runs.drop(columns=["committed_at"])),
        }
        for run_id in runs["run_id"].tolist():
            snapshot[f"run_files {run_id}"] = store.run_files(run_id)
    return snapshot


def differences(got: dict[str, object], want: dict[str, object]) -> list[str]:
    """The keys of two snapshots whose values differ, sorted."""
    return sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
