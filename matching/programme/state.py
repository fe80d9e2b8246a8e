"""The programme's state in memory: who is enrolled, who is paired, and the rules.

:class:`State` is what the state store (:mod:`matching.programme.store`) loads and what
events (:mod:`matching.programme.events`) and re-matching (:mod:`matching.programme.rematch`)
work on.  It is an immutable value: every change makes a new ``State``.

Nobody is ever removed: a child who exits and a mentor who leaves stay in the
rosters with their status and dates, so that a roster row naming them later
changes nothing, and the store can say who was enrolled when.

Children
    The validated children roster (the columns of
    :data:`matching.rosters.CHILD_COLUMNS`) plus

    - ``exit_state``: ``""`` (no exit in progress), ``"requested"``,
      ``"investigated"`` or ``"approved"``.  Only an *effective* exit ends
      the child's enrolment; a rejected exit returns the state to ``""``.  A
      child's pair is untouched until the exit is effective.
    - ``exit_approved_by``: who approved the exit in progress.
    - ``status``: ``"waiting"``, ``"paired"`` or ``"exited"``
      (:data:`CHILD_STATUSES`).  ``"exited"`` is permanent until a
      ``child_rejoin`` event; ``"waiting"`` and ``"paired"`` follow the pairs
      (:func:`settle`).
    - ``joined_on``: ISO date the current enrolment began; ``left_on`` and
      ``left_reason``: when and why it ended (``""`` while enrolled).
Mentors
    The validated mentors roster (:data:`matching.rosters.MENTOR_COLUMNS`)
    plus ``status``: ``"active"``, ``"paused"`` (keeps current pairs, takes
    no new child) or ``"left"`` (permanent until a ``mentor_rejoin`` event;
    their pairs have ended), and ``joined_on``, ``left_on``, ``left_reason``
    as for children.
Pairs
    The current pairs: ``child_id``, ``mentor_id``, ``started_on`` (ISO
    date), ``start_reason`` and ``pinned`` (bool: never moved by the
    optimiser).
Forbidden
    Pairs staff have forbidden, as a sorted tuple of ``(child_id, mentor_id)``.
Queue
    ``first_in_line``: ids of children whose pair ended through no choice of
    theirs (their mentor left or was forbidden); re-matching serves them
    before others, as priority children.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from matching.rosters import CHILD_COLUMNS, MENTOR_COLUMNS

__all__ = [
    "CHILD_STATE_COLUMNS",
    "CHILD_STATUSES",
    "DEPARTED_STATUSES",
    "EXIT_STATES",
    "LIFECYCLE_COLUMNS",
    "MENTOR_STATE_COLUMNS",
    "MENTOR_STATUSES",
    "PAIR_COLUMNS",
    "State",
    "empty_state",
    "iso_date",
    "settle",
]

EXIT_STATES = ("", "requested", "investigated", "approved")
CHILD_STATUSES = ("waiting", "paired", "exited")
MENTOR_STATUSES = ("active", "paused", "left")
DEPARTED_STATUSES = ("exited", "left")
"""The statuses of people who left the programme (a child's and a mentor's)."""
LIFECYCLE_COLUMNS = ("status", "joined_on", "left_on", "left_reason")
"""The lifecycle columns every child and mentor carries (see the module docstring)."""
PAIR_COLUMNS = ("child_id", "mentor_id", "started_on", "start_reason", "pinned")


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": pd.Series([], dtype=object),
            "mentor_id": pd.Series([], dtype=object),
            "started_on": pd.Series([], dtype=object),
            "start_reason": pd.Series([], dtype=object),
            "pinned": pd.Series([], dtype=bool),
        }
    )


@dataclass(frozen=True)
class State:
    """The programme at one moment (see the module docstring for the columns)."""

    children: pd.DataFrame
    mentors: pd.DataFrame
    pairs: pd.DataFrame = field(default_factory=_empty_pairs)
    forbidden: tuple[tuple[str, str], ...] = ()
    first_in_line: tuple[str, ...] = ()

    def mentor_load(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.pairs["mentor_id"].value_counts().items()}

    def enrolled_children(self) -> pd.DataFrame:
        """The children whose enrolment has not ended (status other than ``"exited"``)."""
        return self.children[self.children["status"] != "exited"]

    def present_mentors(self) -> pd.DataFrame:
        """The mentors who have not left (``"active"`` or ``"paused"``)."""
        return self.mentors[self.mentors["status"] != "left"]

    def with_(self, **changes: object) -> State:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def iso_date(text: str) -> str | None:
    """``text`` as an ISO date (``YYYY-MM-DD``), or None if it is not a date."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        return None


def empty_state() -> State:
    """A programme with nobody enrolled."""
    from matching.rosters import validate_children, validate_mentors

    kids = validate_children(pd.DataFrame())
    for name in ("exit_state", "exit_approved_by", *LIFECYCLE_COLUMNS):
        kids[name] = pd.Series([], dtype=object)
    mentors = validate_mentors(pd.DataFrame())
    for name in LIFECYCLE_COLUMNS:
        mentors[name] = pd.Series([], dtype=object)
    return State(children=kids, mentors=mentors)


def settle(state: State) -> State:
    """``state`` with each enrolled child's status ``"paired"`` or ``"waiting"`` as its pairs say.

    Exited children keep ``"exited"``.  Returns ``state`` itself when nothing changes.
    """
    kids = state.children
    if len(kids) == 0:
        return state
    paired = kids["id"].isin(set(state.pairs["child_id"])).to_numpy(dtype=bool)
    exited = (kids["status"] == "exited").to_numpy(dtype=bool)
    status = np.where(exited, "exited", np.where(paired, "paired", "waiting")).astype(object)
    if np.array_equal(status, kids["status"].to_numpy(dtype=object)):
        return state
    column = pd.Series(status, index=kids.index, dtype=object)
    return state.with_(children=kids.assign(status=column))


CHILD_STATE_COLUMNS = (
    *tuple(c.name for c in CHILD_COLUMNS),
    "exit_state",
    "exit_approved_by",
    *LIFECYCLE_COLUMNS,
)
MENTOR_STATE_COLUMNS = (*tuple(c.name for c in MENTOR_COLUMNS), *LIFECYCLE_COLUMNS)
