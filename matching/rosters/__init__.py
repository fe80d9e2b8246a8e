"""Rosters: columns and need categories, cell parsing, validation, reading files."""

from matching.rosters.schema import (
    CHILD_COLUMNS,
    MENTOR_COLUMNS,
    NEED_LABELS_ZH,
    NEEDS,
    Column,
    needs_mask,
    read_children,
    read_mentors,
    validate_children,
    validate_mentors,
)

__all__ = [
    "CHILD_COLUMNS",
    "MENTOR_COLUMNS",
    "NEEDS",
    "NEED_LABELS_ZH",
    "Column",
    "needs_mask",
    "read_children",
    "read_mentors",
    "validate_children",
    "validate_mentors",
]
