"""Outputs: result files and folders, Excel workbooks, plots and web maps.

The result files and folders are re-exported here; ``matching.reports.excel``,
``.plots`` and ``.webmap`` need the ``excel``, ``plot`` and ``map`` extras."""

from matching.reports.carry import carried_columns, with_carried
from matching.reports.files import (
    FILES,
    OUTPUT_FILES,
    RESULT_DECIMALS,
    STREET_COLUMNS,
    neutralise,
    plain_scalar,
    street_metrics,
    summary_lines,
    to_csv_bytes,
    write_csv,
    write_result,
)
from matching.reports.folders import Owned, StagedFolder, staged_folder, write_bytes_atomic

__all__ = [
    "FILES",
    "OUTPUT_FILES",
    "RESULT_DECIMALS",
    "STREET_COLUMNS",
    "Owned",
    "StagedFolder",
    "carried_columns",
    "neutralise",
    "plain_scalar",
    "staged_folder",
    "street_metrics",
    "summary_lines",
    "to_csv_bytes",
    "with_carried",
    "write_bytes_atomic",
    "write_csv",
    "write_result",
]
