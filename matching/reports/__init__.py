"""Outputs: result files and folders, Excel workbooks, plots and web maps.

The result files and folders, and the words of the tables staff read (headers,
reasons, details; :mod:`matching.reports.tables`), are re-exported here;
``matching.reports.excel``, ``.plots`` and ``.webmap`` need the ``excel``, ``plot``
and ``map`` extras."""

from matching._engine.explain import REASONS, detail_text, reason_text, unmatched_details
from matching.reports.carry import carried_by_roster, carried_columns, with_carried
from matching.reports.files import (
    FILES,
    OUTPUT_FILES,
    RESULT_DECIMALS,
    STREET_COLUMNS,
    neutralise,
    plain_scalar,
    result_csv_bytes,
    street_metrics,
    summary_lines,
    to_csv_bytes,
    write_csv,
    write_result,
)
from matching.reports.folders import Owned, StagedFolder, staged_folder, write_bytes_atomic
from matching.reports.tables import COST_UNIT, HEADER_TEXT, header, localise, staff_tables

__all__ = [
    "COST_UNIT",
    "FILES",
    "HEADER_TEXT",
    "OUTPUT_FILES",
    "REASONS",
    "RESULT_DECIMALS",
    "STREET_COLUMNS",
    "Owned",
    "StagedFolder",
    "carried_by_roster",
    "carried_columns",
    "detail_text",
    "header",
    "localise",
    "neutralise",
    "plain_scalar",
    "reason_text",
    "result_csv_bytes",
    "staff_tables",
    "staged_folder",
    "street_metrics",
    "summary_lines",
    "to_csv_bytes",
    "unmatched_details",
    "with_carried",
    "write_bytes_atomic",
    "write_csv",
    "write_result",
]
