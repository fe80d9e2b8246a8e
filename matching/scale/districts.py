"""Districts of a province: labelling and splitting rosters, and per-district status.

These helpers serve every province-wide job (:func:`matching.scale.province.match_province`
and :func:`matching.programme.province.run_province_nightly`): a record's district comes
from one column, the rosters are split into one frame per district (row order kept), an id
that appears in two districts marks both as failed, and a failed call is summarised in a
few lines that carry record ids only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from matching.errors import InputError, Problem, RosterError
from matching.scale.executors import Outcome

__all__ = [
    "DistrictSplit",
    "DistrictStatus",
    "district_labels",
    "failure_text",
    "folder_name_problem",
    "split_by_district",
]


class DistrictStatus:
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


class DistrictSplit(NamedTuple):
    """The rosters of a province split by district.

    Attributes
    ----------
    names : list of str
        Every district with a child or a mentor, sorted.
    children, mentors : dict of str to DataFrame
        Each district's rows in roster order (an empty frame when it has none).
    clash : dict of str to str
        For a district sharing a child or mentor id with another district, the
        message that fails it (the id and the other districts).
    """

    names: list[str]
    children: dict[str, pd.DataFrame]
    mentors: dict[str, pd.DataFrame]
    clash: dict[str, str]


def district_labels(df: pd.DataFrame, by: str, roster: str) -> np.ndarray:
    """The district of each row: column ``by`` as stripped text (object array).

    Raises
    ------
    InputError
        ``by`` is not a column.
    RosterError
        A row has no district (named by its id, or its row number without one).
    """
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


def split_by_district(children: pd.DataFrame, mentors: pd.DataFrame, by: str) -> DistrictSplit:
    """Split both rosters by column ``by`` and find ids shared across districts."""
    cl = district_labels(children, by, "children")
    ml = district_labels(mentors, by, "mentors")
    names = sorted(set(cl) | set(ml))
    clash: dict[str, str] = {}
    for roster, df, lab in (("children", children, cl), ("mentors", mentors, ml)):
        _find_clashes(roster, df, lab, clash)
    return DistrictSplit(names, _groups(children, cl, names), _groups(mentors, ml, names), clash)


def _find_clashes(roster: str, df: pd.DataFrame, labels: np.ndarray, clash: dict[str, str]) -> None:
    """Record in ``clash`` the first id of ``roster`` each district shares with another."""
    if "id" not in df.columns or not len(df):
        return
    ids = df["id"].astype(str).str.strip().to_numpy(dtype=object)
    frame = pd.DataFrame({"id": ids, "d": labels}).drop_duplicates()
    dup = frame[frame["id"].duplicated(keep=False)].sort_values(["id", "d"])
    for rid, grp in dup.groupby("id", sort=True):
        ds = sorted(grp["d"])
        for d in ds:
            others = ", ".join(x for x in ds if x != d)
            clash.setdefault(d, f"{roster} id {rid!r} also appears in district(s) {others}")


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


def folder_name_problem(name: str) -> str | None:
    """Why a district name cannot be a folder name, or None if it can."""
    if name in ("", ".", "..") or any(ch in name for ch in "/\\\0"):
        return f"district name {name!r} cannot be used as a folder name"
    return None


def failure_text(outcome: Outcome, n_lines: int = 6) -> str:
    """A failed call's error type and the first ``n_lines`` lines of its message."""
    lines = (outcome.error or "").splitlines()
    text = "\n".join(lines[:n_lines])
    if len(lines) > n_lines:
        text += f"\n... ({len(lines) - n_lines} more lines)"
    return f"{outcome.error_type}: {text}"
