"""Test helpers: roster frames with the state columns a :class:`~matching.state.State` holds."""

from __future__ import annotations

import pandas as pd


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
