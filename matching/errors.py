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

from matching.i18n import N_
from matching.i18n import gettext as _

__all__ = [
    "ConfigError",
    "EventError",
    "InfeasibleError",
    "InputError",
    "InputErrors",
    "MatchingError",
    "Problem",
    "RosterError",
    "RosterErrors",
    "StoreConflictError",
    "StoreError",
    "StoreLockedError",
    "combine_errors",
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
        These labels stay English (they identify); ``str(problem)`` words
        them in the current language.
    column : str
        The column at fault, by the header the table had (``"优先级"`` for a
        column headed so, ``"priority"`` for one headed ``priority``; a
        missing required column by its canonical name, or its Chinese header
        in Chinese); ``""`` for a problem with a whole line, such as a wrong
        number of fields.
    message : str
        What is wrong and what is accepted, in a fixed phrase that tests can
        match, in the language current when the problem was found.  Never the
        value found.
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
        # the labels of row_id are English: compared in English, worded in the language
        if self.line is not None:
            label, where = f"line {self.line}", _("line {line}").format(line=self.line)
        elif self.row is not None:
            label, where = f"row {self.row}", _("row {row}").format(row=self.row)
        else:
            label = self.row_id
            where = _(_LABELS[label]) if label in _LABELS else label
        if self.row_id == label:
            who = where
        else:
            who = _("{where}, id {id}").format(where=where, id=self.row_id)
        column = _("column {column!r}: ").format(column=self.column) if self.column else ""
        return who + _(": ") + column + self.message


_LABELS = {"(header)": N_("(header)")}
_ROSTERS = {"children": N_("children"), "mentors": N_("mentors"), "input": N_("input")}


def _summary(roster: str, n: int, source: str | None) -> str:
    """The first line of a :class:`RosterError`, in the current language."""
    name = _(_ROSTERS[roster]) if roster in _ROSTERS else roster
    if source is not None:
        text = _("{roster} roster is invalid: {n} problem(s) in file {source!r}")
    else:
        text = _("{roster} roster is invalid: {n} problem(s)")
    return text.format(roster=name, n=n, source=source)


def _listed(problems: Sequence[Problem]) -> str:
    """One line per problem (at most 50), then how many more."""
    shown = "\n".join(f"  - {p}" for p in problems[:50])
    more = len(problems) - 50
    if more > 0:
        shown += "\n" + _("  ... and {n} more").format(n=more)
    return shown


class RosterError(InputError):
    """A roster failed validation; ``problems`` lists every problem found.

    The message is one summary line (naming the file, for a roster read from
    one) followed by one line per problem (at most 50 in the message; all of
    them are in ``problems``), in the language current when the error was
    made (:func:`matching.i18n.current_language`).  ``source`` is the file's
    path, or None.

    To report the problems of several rosters at once (both rosters of a
    run), catch each one's error and raise :meth:`combine` of them.
    """

    def __init__(self, roster: str, problems: list[Problem], *, source: str | None = None) -> None:
        self.roster = roster
        self.source = source
        self.problems = list(problems)
        super().__init__(
            f"{_summary(roster, len(self.problems), source)}\n{_listed(self.problems)}"
        )

    @staticmethod
    def combine(errors: Sequence[RosterError]) -> RosterError:
        """One error reporting every problem of ``errors`` (each roster's summary line,
        then its problems): the error itself if there is one, else a :class:`RosterErrors`.

        Examples
        --------
        >>> kids = RosterError("children", [Problem("C1", "优先级", "out of range")])
        >>> mentors = RosterError("mentors", [Problem("M1", "lat", "missing value")])
        >>> both = RosterError.combine([kids, mentors])
        >>> [len(e.problems) for e in both.errors], len(both.problems)
        ([1, 1], 2)
        """
        errors = list(errors)
        if not errors:
            raise ValueError("RosterError.combine needs at least one error")
        if len(errors) == 1:
            return errors[0]
        return RosterErrors(errors)


class RosterErrors(RosterError):
    """The errors of several rosters, reported at once (see :meth:`RosterError.combine`).

    ``errors`` lists each roster's :class:`RosterError`; ``problems`` holds
    all their problems, in order; ``roster`` and ``source`` join theirs with
    ``", "`` (``source`` is None when no roster came from a file).  The
    message is each error's message, one after the other.
    """

    def __init__(self, errors: Sequence[RosterError]) -> None:
        self.errors: list[RosterError] = list(errors)
        self.roster = ", ".join(e.roster for e in self.errors)
        sources = [e.source for e in self.errors if e.source is not None]
        self.source = ", ".join(sources) if sources else None
        self.problems = [p for e in self.errors for p in e.problems]
        InputError.__init__(self, "\n".join(str(e) for e in self.errors))


class EventError(InputError):
    """Events (or an events file) are not acceptable; ``problems`` lists every problem.

    The message is one summary line followed by one line per problem (at most
    50 in the message; all of them are in ``problems``).
    """

    def __init__(self, summary: str, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        shown = "".join(f"\n  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = "\n" + _("  ... and {n} more").format(n=more) if more > 0 else ""
        super().__init__(f"{summary}{shown}{tail}")


class InputErrors(InputError):
    """The errors of several inputs of one run (both rosters and the events), reported at once.

    ``errors`` lists each input's error; the message is each one's message,
    one after the other, so staff fix every input in one round.  Made by
    :func:`combine_errors`.
    """

    def __init__(self, errors: Sequence[InputError]) -> None:
        self.errors: list[InputError] = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def combine_errors(errors: Sequence[InputError]) -> InputError:
    """One error reporting every error of ``errors``: the error itself if there is one,
    :meth:`RosterError.combine` if all are roster errors, else an :class:`InputErrors`.

    Examples
    --------
    >>> kids = RosterError("children", [Problem("C1", "priority", "out of range")])
    >>> events = EventError("events file is invalid", ["line 2: unknown kind"])
    >>> both = combine_errors([kids, events])
    >>> type(both).__name__, str(both).splitlines()[0]
    ('InputErrors', 'children roster is invalid: 1 problem(s)')
    """
    errors = list(errors)
    if not errors:
        raise ValueError("combine_errors needs at least one error")
    if len(errors) == 1:
        return errors[0]
    if all(isinstance(e, RosterError) for e in errors):
        return RosterError.combine(errors)  # type: ignore[arg-type]
    return InputErrors(errors)


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
