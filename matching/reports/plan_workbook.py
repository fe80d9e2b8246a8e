"""A workbook of sentences and tables: the nightly plan staff act on (``plan.xlsx``).

:func:`sheets_workbook_bytes` renders, in memory, a summary sheet of plain
sentences followed by one sheet per table, each with a bold, frozen header
row.  The texts come from the caller, already in the staff's language
(:mod:`matching.programme.plan_text` for the nightly plan).

Safety: every cell goes through :func:`matching.reports.excel.cell_value`,
so no cell is ever a formula, whatever the rosters hold.  Nothing touches the disk: the
caller writes the bytes with the rest of its folder.

Requires openpyxl: ``pip install "mentor-matching[excel]"``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence

import pandas as pd

from matching.reports.excel import add_sheet, cell_value

__all__ = ["sheets_workbook_bytes"]

_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def _title(name: str, used: set[str]) -> str:
    """A valid, unique sheet name (at most 31 characters, none of ``[]:*?/\\``)."""
    base = _SHEET_NAME_BAD.sub("_", name)[:31] or "sheet"
    title, k = base, 2
    while title.lower() in used:
        suffix = f" ({k})"
        title, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(title.lower())
    return title


def sheets_workbook_bytes(
    *,
    summary_sheet: str,
    summary_header: str,
    summary_lines: Sequence[str],
    sheets: Sequence[tuple[str, pd.DataFrame]],
    date: str = "2000-01-01",
) -> bytes:
    """An ``.xlsx`` file: a sheet of sentences, then one sheet per table.

    Parameters
    ----------
    summary_sheet : str
        The first sheet's name.
    summary_header : str
        The header of its one column.
    summary_lines : sequence of str
        Its rows, one sentence each.
    sheets : sequence of (name, DataFrame)
        The other sheets, in order: the frame's columns are the headers,
        its rows the rows (numbers stay numbers, rounded to 4 decimals).
    date : str, default "2000-01-01"
        ISO date written as the file's creation and modification time.

    Returns
    -------
    bytes
        The workbook, the same bytes for the same input: the file's times
        are ``date``, not the clock's.

    Examples
    --------
    >>> import io, openpyxl, pandas as pd
    >>> data = sheets_workbook_bytes(summary_sheet="summary", summary_header="what",
    ...     summary_lines=["2 new pairs."], sheets=[("new", pd.DataFrame({"id": ["=1"]}))])
    >>> wb = openpyxl.load_workbook(io.BytesIO(data))
    >>> wb.sheetnames, wb["new"]["A2"].value
    (['summary', 'new'], "'=1")
    """
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "writing Excel workbooks needs openpyxl: pip install 'mentor-matching[excel]'"
        ) from None
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    used: set[str] = set()
    ws = wb.create_sheet(title=_title(summary_sheet, used))
    ws.append([cell_value(summary_header)])
    for line in summary_lines:
        ws.append([cell_value(line)])
    ws["A1"].font = bold
    ws.column_dimensions["A"].width = 100
    for row in ws.iter_rows(min_row=2):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for name, frame in sheets:
        columns = [str(c) for c in frame.columns]
        add_sheet(wb, _title(name, used), columns, frame.itertuples(index=False, name=None))
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_times(buffer.getvalue(), date)


_CORE_TIME = re.compile(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _fixed_times(data: bytes, date: str) -> bytes:
    """The workbook with ``date`` as its properties' times and every zip entry dated 1980-01-01
    (openpyxl writes the clock's time into both)."""
    stamp = f"{date[:10]}T00:00:00Z"
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = _CORE_TIME.sub(lambda m: m[1] + stamp + m[3], body.decode("utf-8"))
                body = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, body)
    return out.getvalue()
