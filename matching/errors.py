"""The exception tree of mentor-matching.

``MatchingError`` is the base of every error the library raises on purpose.

- ``InputError`` (also a ``ValueError``): a parameter or a roster is not
  acceptable.  ``RosterError`` carries every problem found in a roster at once,
  each naming the record id and the column.
- ``InfeasibleError`` (also a ``ValueError``): the constraints admit no
  assignment of the requested kind (scipy's "cost matrix is infeasible").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "InfeasibleError",
    "InputError",
    "MatchingError",
    "Problem",
    "RosterError",
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
        The record's id, or ``"row N"`` (1-based data row) when the id itself
        is missing.  Never a name or an address.
    column : str
        The column at fault.
    message : str
        What is wrong, in a fixed phrase that tests can match.
    """

    row_id: str
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.row_id}: column {self.column!r}: {self.message}"


class RosterError(InputError):
    """A roster failed validation; ``problems`` lists every problem found.

    The message is one summary line followed by one line per problem (at most
    50 in the message; all of them are in ``problems``).
    """

    def __init__(self, roster: str, problems: list[Problem]) -> None:
        self.roster = roster
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{roster} roster is invalid: {len(self.problems)} problem(s)\n{shown}{tail}"
        )
