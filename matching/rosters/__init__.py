"""Rosters: columns and need categories, cell parsing, validation, reading files.

- :mod:`~matching.rosters.columns`: the columns of each roster, the need
  vocabulary, a raw table's column finder and need masks;
- :mod:`~matching.rosters.cells`: each cell to its canonical value (internal
  building blocks of validation, not re-exported here);
- :mod:`~matching.rosters.validate`: a table checked and normalised, and the
  :class:`ValidRoster` marker that lets a roster be validated once;
- :mod:`~matching.rosters.vocabulary`: the words staff write in cells (高,
  生活关爱服务, 暂停, 3公里 …), one table a TOML ``[vocabulary]`` extends;
- :mod:`~matching.rosters.reading`: how a roster was read (encoding, header
  line, notes below the table, cells read through the vocabulary);
- :mod:`~matching.rosters.files`: ``.csv`` / ``.xlsx`` files, raw or validated.
"""

from matching.rosters.columns import (
    ACCEPTED_NEEDS,
    ADDRESS_HEADERS,
    CHILD_COLUMNS,
    CRS_HEADERS,
    MENTOR_COLUMNS,
    NEED_LABELS_ZH,
    NEED_ORDER,
    NEEDS,
    Column,
    find_column,
    header_forms,
    needs_mask,
)
from matching.rosters.files import (
    load_children,
    load_mentors,
    load_rosters,
    read_children,
    read_mentors,
    read_table,
)
from matching.rosters.reading import ColumnReading, RosterReading
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
from matching.rosters.vocabulary import LIST_SEPARATORS, PRIORITY_WORDS, VOCABULARY, Vocabulary

__all__ = [
    "ACCEPTED_NEEDS",
    "ADDRESS_HEADERS",
    "CHILD_COLUMNS",
    "CRS_HEADERS",
    "LIST_SEPARATORS",
    "MENTOR_COLUMNS",
    "NEEDS",
    "NEED_LABELS_ZH",
    "NEED_ORDER",
    "PRIORITY_WORDS",
    "VOCABULARY",
    "Column",
    "ColumnReading",
    "RosterKind",
    "RosterReading",
    "RosterSource",
    "ValidRoster",
    "Vocabulary",
    "assume_valid",
    "find_column",
    "header_forms",
    "load_children",
    "load_mentors",
    "load_rosters",
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
