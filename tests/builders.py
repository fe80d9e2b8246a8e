"""Test helpers: roster frames with the state columns a :class:`~matching.programme.State` holds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from matching.programme.store import StateStore


def _text(n: int, value: str) -> pd.Series:
    return pd.Series([value] * n, dtype=object)


def child_rows(kids: pd.DataFrame, joined_on: str = "2026-01-01") -> pd.DataFrame:
    """Validated children as enrolled state rows: no exit, waiting, joined on ``joined_on``."""
    out = kids.reset_index(drop=True).copy()
    n = len(out)
    for name in ("exit_state", "exit_approved_by"):
        if name not in out.columns:
            out[name] = _text(n, "")
    out["status"] = _text(n, "waiting")
    out["joined_on"] = _text(n, joined_on)
    out["left_on"] = _text(n, "")
    out["left_reason"] = _text(n, "")
    return out


def mentor_rows(mentors: pd.DataFrame, joined_on: str = "2026-01-01") -> pd.DataFrame:
    """Validated mentors as state rows: their ``status`` column if any, else active."""
    out = mentors.reset_index(drop=True).copy()
    n = len(out)
    if "status" not in out.columns:
        out["status"] = _text(n, "active")
    out["joined_on"] = _text(n, joined_on)
    out["left_on"] = _text(n, "")
    out["left_reason"] = _text(n, "")
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
