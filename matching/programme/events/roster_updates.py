"""Folding the day's roster files into a :class:`~matching.programme.state.State`.

Internal to :mod:`matching.programme.events`, which exports :func:`apply_rosters`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from matching.programme.events.model import check_date
from matching.programme.state import (
    CHILD_STATE_COLUMNS,
    DEPARTED_STATUSES,
    LIFECYCLE_COLUMNS,
    MENTOR_STATE_COLUMNS,
    State,
    empty_state,
    settle,
)
from matching.rosters import (
    CHILD_COLUMNS,
    MENTOR_COLUMNS,
    ValidRoster,
    valid_children,
    valid_mentors,
)

__all__ = ["apply_rosters"]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float | np.floating) and isinstance(b, float | np.floating):
        if math.isnan(a) and math.isnan(b):
            return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _frame(records: dict[str, dict[str, Any]], reference: pd.DataFrame) -> pd.DataFrame:
    ordered = [records[key] for key in sorted(records)]
    return pd.DataFrame(
        {
            name: pd.Series([row[name] for row in ordered], dtype=reference[name].dtype)
            for name in reference.columns
        }
    )


def _merge(
    current: pd.DataFrame,
    roster: pd.DataFrame,
    reference: pd.DataFrame,
    roster_columns: list[str],
    status_of: Callable[[dict[str, Any], dict[str, Any] | None, str], dict[str, Any]],
    date: str,
) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    """(frame, joined, updated, ignored): the roster folded into ``current``."""
    records: dict[str, dict[str, Any]] = {
        str(row["id"]): row for row in current.loc[:, list(reference.columns)].to_dict("records")
    }
    joined: list[str] = []
    updated: list[str] = []
    ignored: list[str] = []
    for row in roster.loc[:, roster_columns].to_dict("records"):
        ident = str(row["id"])
        previous = records.get(ident)
        if previous is not None and previous["status"] in DEPARTED_STATUSES:
            ignored.append(ident)  # left the programme: only a rejoin event brings them back
            continue
        merged = {**row, **status_of(row, previous, date)}
        if previous is None:
            joined.append(ident)
        elif not all(_same(merged[name], previous[name]) for name in reference.columns):
            updated.append(ident)
        records[ident] = merged
    return _frame(records, reference), sorted(joined), sorted(updated), sorted(ignored)


def _life(previous: dict[str, Any] | None, status: str, date: str) -> dict[str, Any]:
    if previous is None:
        return {"status": status, "joined_on": date, "left_on": "", "left_reason": ""}
    return {name: previous[name] for name in LIFECYCLE_COLUMNS}


def _child_status(
    row: dict[str, Any], previous: dict[str, Any] | None, date: str
) -> dict[str, Any]:
    life = _life(previous, "waiting", date)
    if previous is None:
        return {"exit_state": "", "exit_approved_by": "", **life}
    exit_ = {"exit_state": previous["exit_state"], "exit_approved_by": previous["exit_approved_by"]}
    return {**exit_, **life}


def _mentor_status(
    row: dict[str, Any], previous: dict[str, Any] | None, date: str
) -> dict[str, Any]:
    life = _life(previous, "active", date)
    if not row["active"]:
        life["status"] = "paused"
    return life


def apply_rosters(
    state: State,
    children: pd.DataFrame | ValidRoster | None,
    mentors: pd.DataFrame | ValidRoster | None,
    *,
    date: str,
) -> tuple[State, dict[str, list[str]]]:
    """Fold the day's roster files into ``state``: new people join, known ones are updated.

    Parameters
    ----------
    state : State
        The programme before; not modified.
    children, mentors : pandas.DataFrame, ValidRoster or None
        Raw roster frames (as read from a file), validated here with
        :func:`~matching.rosters.validate_children` /
        :func:`~matching.rosters.validate_mentors`, or rosters validated already
        (used as they are); ``None`` leaves that side as it is.  Columns
        outside the schema (names, notes, ...) are not kept.
    date : str
        ISO date of the run: the ``joined_on`` of people who join.

    Returns
    -------
    (State, dict)
        The new state, and ``{"children_joined", "children_updated",
        "children_ignored", "mentors_joined", "mentors_updated",
        "mentors_ignored"}`` -> sorted ids.  A new child joins ``"waiting"``
        with no exit in progress, a new mentor as ``"active"`` (or
        ``"paused"`` if the roster says ``active`` is false), both on ``date``.
        A known id gets the roster's values; its exit state, status and dates
        are kept, except that a mentor whose roster row says ``active`` is
        false becomes ``"paused"``; it counts as updated only if something
        changed.  A row naming a child who exited or a mentor who left changes
        nothing and is listed as ignored: only a ``child_rejoin`` /
        ``mentor_rejoin`` event brings them back.  Ids absent from a roster
        are *not* removed: people leave only through events.  Frames are
        sorted by id, with exactly the columns of
        :data:`~matching.programme.state.CHILD_STATE_COLUMNS` /
        :data:`~matching.programme.state.MENTOR_STATE_COLUMNS`.  Pairs, forbidden pairs
        and the queue are unchanged.

    Raises
    ------
    RosterError
        If a roster is invalid.
    """
    day = check_date(date)
    kids_v = None if children is None else valid_children(children).frame
    mums_v = None if mentors is None else valid_mentors(mentors).frame
    reference = empty_state()
    changes: dict[str, list[str]] = {}
    frames: dict[str, pd.DataFrame] = {}
    for who, current, roster, state_columns, columns, status_of in (
        ("children", state.children, kids_v, CHILD_STATE_COLUMNS, CHILD_COLUMNS, _child_status),
        ("mentors", state.mentors, mums_v, MENTOR_STATE_COLUMNS, MENTOR_COLUMNS, _mentor_status),
    ):
        frames[who], joined, updated, ignored = (
            (current, [], [], [])
            if roster is None
            else _merge(
                current,
                roster,
                getattr(reference, who).loc[:, list(state_columns)],
                [c.name for c in columns],
                status_of,
                day,
            )
        )
        changes |= {f"{who}_joined": joined, f"{who}_updated": updated, f"{who}_ignored": ignored}
    return settle(state.with_(children=frames["children"], mentors=frames["mentors"])), changes
