"""The exception tree of mentor-matching.

``MatchingError`` is the base of every error the library raises on purpose.

- ``InputError`` (also a ``ValueError``): a parameter or a roster is not
  acceptable.  ``RosterError`` carries every problem found in a roster at once,
  each naming the record id, its row (and line, for a file) and the column,
  never a cell's content.
- ``InfeasibleError`` (also a ``ValueError``): the constraints admit no
  assignment of the requested kind (scipy's "cost matrix is infeasible").
- ``EventError`` (an ``InputError``): events, or an events file, are not
  acceptable; ``problems`` lists every problem.
- ``StoreError``: the state store cannot be opened, read or written as asked;
  ``StoreLockedError`` when another writer holds it, and its subclass
  ``StoreConflictError`` when another writer committed since this one read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "EventError",
    "InfeasibleError",
    "InputError",
    "MatchingError",
    "Problem",
    "RosterError",
    "StoreConflictError",
    "StoreError",
    "StoreLockedError",
]


class MatchingError(Exception):
    """Base class of every error raised on purpose by mentor-matching."""


class InputError(MatchingError, ValueError):
    """A parameter, a file or a roster is not acceptable."""


class ConfigError(InputError):
    """A configuration value or a configuration file is not acceptable."""


class InfeasibleError(MatchingError, ValueError):
    """The constraints admit no assignment of the requested kind."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a roster.

    Attributes
    ----------
    row_id : str
        The record's id; ``"row N"`` (1-based data row) or, for a roster read
        from a file, ``"line N"`` when the id is missing or cannot be trusted
        (a malformed id, a row that looks shifted); ``"(header)"`` for a
        problem with the header.  Never a name, an address or any other cell.
    column : str
        The column at fault (``""`` for a problem with a whole line, such as
        a wrong number of fields).
    message : str
        What is wrong and what is accepted, in a fixed phrase that tests can
        match.  Never the value found.
    row : int or None
        The record's 1-based data row, when the problem is about a record.
    line : int or None
        The record's line in the file it was read from (1-based, the header
        is line 1; for ``.xlsx`` the sheet's row number), when known.
    """

    row_id: str
    column: str
    message: str
    row: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            where = f"line {self.line}"
        elif self.row is not None:
            where = f"row {self.row}"
        else:
            where = self.row_id
        who = where if self.row_id == where else f"{where}, id {self.row_id}"
        column = f"column {self.column!r}: " if self.column else ""
        return f"{who}: {column}{self.message}"


class RosterError(InputError):
    """A roster failed validation; ``problems`` lists every problem found.

    The message is one summary line (naming the file, for a roster read from
    one) followed by one line per problem (at most 50 in the message; all of
    them are in ``problems``).  ``source`` is the file's path, or None.
    """

    def __init__(self, roster: str, problems: list[Problem], *, source: str | None = None) -> None:
        self.roster = roster
        self.source = source
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        where = f" in file {source!r}" if source is not None else ""
        super().__init__(
            f"{roster} roster is invalid: {len(self.problems)} problem(s){where}\n{shown}{tail}"
        )


class EventError(InputError):
    """Events (or an events file) are not acceptable; ``problems`` lists every problem.

    The message is one summary line followed by one line per problem (at most
    50 in the message; all of them are in ``problems``).
    """

    def __init__(self, summary: str, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        shown = "".join(f"\n  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{summary}{shown}{tail}")


class StoreError(MatchingError):
    """The state store cannot be opened, read or written as asked.

    ``problems`` lists every problem found when a commit is refused (empty
    for other errors).  Messages name record ids, never other data.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class StoreLockedError(StoreError):
    """Another writer holds the store."""


class StoreConflictError(StoreLockedError):
    """Another writer committed a run since this writer loaded the state: nothing was committed."""
