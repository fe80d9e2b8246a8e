"""Rosters: columns and need categories, cell parsing, validation, reading files.

- :mod:`~matching.rosters.columns`: the columns of each roster, the need
  vocabulary, a raw table's column finder and need masks;
- :mod:`~matching.rosters.cells`: each cell to its canonical value (internal
  building blocks of validation, not re-exported here);
- :mod:`~matching.rosters.validate`: a table checked and normalised, and the
  :class:`ValidRoster` marker that lets a roster be validated once;
- :mod:`~matching.rosters.files`: ``.csv`` / ``.xlsx`` files, raw or validated.
"""

from matching.rosters.columns import (
    ACCEPTED_NEEDS,
    CHILD_COLUMNS,
    CRS_HEADERS,
    MENTOR_COLUMNS,
    NEED_LABELS_ZH,
    NEED_ORDER,
    NEEDS,
    Column,
    find_column,
    needs_mask,
)
from matching.rosters.files import (
    load_children,
    load_mentors,
    read_children,
    read_mentors,
    read_table,
)
from matching.rosters.validate import (
    RosterKind,
    RosterSource,
    ValidRoster,
    assume_valid,
    valid_children,
    valid_mentors,
    validate_children,
    validate_mentors,
    validate_roster,
)

__all__ = [
    "ACCEPTED_NEEDS",
    "CHILD_COLUMNS",
    "CRS_HEADERS",
    "MENTOR_COLUMNS",
    "NEEDS",
    "NEED_LABELS_ZH",
    "NEED_ORDER",
    "Column",
    "RosterKind",
    "RosterSource",
    "ValidRoster",
    "assume_valid",
    "find_column",
    "load_children",
    "load_mentors",
    "needs_mask",
    "read_children",
    "read_mentors",
    "read_table",
    "valid_children",
    "valid_mentors",
    "validate_children",
    "validate_mentors",
    "validate_roster",
]
