"""The programme's state in memory: who is enrolled, who is paired, and the rules.

:class:`State` is what the state store (:mod:`matching.store`) loads and what
events (:mod:`matching.events`) and re-matching (:mod:`matching.rematch`)
work on.  It is an immutable value: every change makes a new ``State``.

Children
    The validated children roster (the columns of
    :data:`matching.schema.CHILD_COLUMNS`) plus ``exit_state``: ``""`` (no
    exit in progress), ``"requested"``, ``"investigated"`` or ``"approved"``.
    Only an *effective* exit removes a child; a rejected exit returns the
    state to ``""``.  A child's pair is untouched until the exit is effective.
Mentors
    The validated mentors roster (:data:`matching.schema.MENTOR_COLUMNS`)
    plus ``status``: ``"active"``, ``"paused"`` (keeps current pairs, takes no
    new child) or ``"left"`` (never stored: a mentor who leaves is removed and
    their pairs end).
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

from dataclasses import dataclass, field, replace

import pandas as pd

from .schema import CHILD_COLUMNS, MENTOR_COLUMNS

__all__ = [
    "CHILD_STATE_COLUMNS",
    "EXIT_STATES",
    "MENTOR_STATE_COLUMNS",
    "MENTOR_STATUSES",
    "PAIR_COLUMNS",
    "State",
    "empty_state",
]

EXIT_STATES = ("", "requested", "investigated", "approved")
MENTOR_STATUSES = ("active", "paused")
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

    def with_(self, **changes: object) -> State:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def empty_state() -> State:
    """A programme with nobody enrolled."""
    from .schema import validate_children, validate_mentors

    kids = validate_children(pd.DataFrame())
    kids["exit_state"] = pd.Series([], dtype=object)
    kids["exit_approved_by"] = pd.Series([], dtype=object)
    mentors = validate_mentors(pd.DataFrame())
    mentors["status"] = pd.Series([], dtype=object)
    return State(children=kids, mentors=mentors)


CHILD_STATE_COLUMNS = (*tuple(c.name for c in CHILD_COLUMNS), "exit_state", "exit_approved_by")
MENTOR_STATE_COLUMNS = (*tuple(c.name for c in MENTOR_COLUMNS), "status")
