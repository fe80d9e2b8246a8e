"""Reading roster files: ``.csv`` and ``.xlsx`` tables, raw or validated.

- :func:`read_table` reads a file as a raw table (every cell as read), for
  callers that change it before validating (geocoding, splitting a province);
- :func:`read_children` / :func:`read_mentors` read and validate a roster,
  returning the validated ``DataFrame``;
- :func:`load_children` / :func:`load_mentors` do the same but return the
  :class:`~matching.rosters.validate.ValidRoster`, for callers that hand the
  roster on (it is then not validated again).

Files: a CSV line with more or fewer fields than the header, a quote never
closed, or a one-column header holding ``;`` is a problem named by its line.
In an ``.xlsx`` workbook every cell of a merged range takes the merged value.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import InputError, Problem, RosterError
from matching.rosters.validate import RosterKind, RosterSource, ValidRoster, validate_roster

__all__ = ["load_children", "load_mentors", "read_children", "read_mentors", "read_table"]

# A header of one column holding one of these was written with it as the delimiter.
_FOREIGN_DELIMITERS: dict[str, str] = {";": "';'", "\t": "tab", "|": "'|'", "；": "'；'"}
_UNTERMINATED = "unterminated quote: a quoted field starting on this line is never closed"


def _not_utf8(file: Path) -> InputError:
    return InputError(f'cannot read {str(file)!r}: not UTF-8 text (save it as "CSV UTF-8")')


@dataclass(frozen=True)
class _Layout:
    """The records of a CSV file as the csv grammar sees them, blank lines left
    out (as pandas leaves them out): how many fields each has and the line it
    starts on, the header first."""

    fields: np.ndarray
    lines: np.ndarray
    header: str  # the header's text when it is one field (for the delimiter hint), else ""
    unterminated: int | None  # the line of a record that never closes its quotes


def _csv_layout(data: bytes, *, parser_failed: bool) -> _Layout:
    """The layout of a UTF-8 CSV file's bytes (raises ``UnicodeDecodeError``)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if data.count(b"\r") != data.count(b"\r\n"):  # lines ended by a lone CR (old Macs)
        return _quoted_layout(data.decode("utf-8"), parser_failed=parser_failed)
    return _bulk_layout(data, parser_failed=parser_failed)


def _bulk_layout(data: bytes, *, parser_failed: bool) -> _Layout:
    """The layout in bulk, without a loop over the lines.

    A newline ends a record, and a comma separates two fields, unless it is
    inside quotes: between the quote characters 2k and 2k + 1 (a quote inside
    a quoted field is written twice, which keeps the pairs aligned).  UTF-8
    never puts a comma, a quote or a newline byte inside another character.
    """
    if parser_failed:
        data.decode("utf-8")  # the error pandas would have given first for a file not UTF-8
    octets = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(octets == ord('"'))
    newlines = np.flatnonzero(octets == ord("\n"))
    commas = np.flatnonzero(octets == ord(","))
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0] if quotes.size else newlines
    if len(data) and (ends.size == 0 or ends[-1] < len(data) - 1):
        ends = np.append(ends, len(data))  # the last record has no newline (or never closes)
    begins = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, begins) + 1
    if quotes.size:  # less the commas inside quotes, counted per quoted stretch
        opens, closes = quotes[0::2], quotes[1::2]
        if closes.size < opens.size:
            closes = np.append(closes, len(data))
        inside = np.searchsorted(commas, closes) - np.searchsorted(commas, opens)
        owner = np.searchsorted(ends, opens)
        fields -= np.bincount(owner, weights=inside, minlength=ends.size).astype(np.int64)
    keep = np.ones(ends.size, dtype=bool)
    for i in np.flatnonzero(fields == 1):  # blank lines (spaces only, too) are no records
        keep[i] = bool(data[begins[i] : ends[i]].strip())
    lines = np.searchsorted(newlines, begins[keep]) + 1
    fields = fields[keep]
    header = ""
    if fields.size and fields[0] == 1:
        first = int(np.flatnonzero(keep)[0])
        header = data[begins[first] : ends[first]].decode("utf-8").strip()
    unterminated = None
    if parser_failed and quotes.size % 2 == 1 and lines.size:
        unterminated, lines, fields = int(lines[-1]), lines[:-1], fields[:-1]
    return _Layout(fields, lines, header, unterminated)


def _quoted_layout(text: str, *, parser_failed: bool) -> _Layout:
    """A file with quotes: the csv module's records (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    fields: list[int] = []
    lines: list[int] = []
    header = ""
    unterminated = None
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a runaway quoted field beyond the csv module's field size limit
            unterminated = start
            break
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if not fields and len(record) == 1:
            header = record[0].strip()
        fields.append(len(record))
        lines.append(start)
    if unterminated is None and parser_failed and text.count('"') % 2 == 1 and lines:
        # quotes come in pairs ("" inside a quoted field is a pair too): an odd count leaves
        # the last record open to the end of the file
        unterminated = lines.pop()
        fields.pop()
    return _Layout(np.array(fields, dtype=np.int64), np.array(lines, dtype=np.int64), header,
                   unterminated)  # fmt: skip


def _layout_problems(layout: _Layout) -> list[Problem]:
    """Lines whose field count is not the header's, a quote never closed, or a
    header that shows the file was written with another delimiter."""
    if layout.fields.size == 0:
        return []
    expected = int(layout.fields[0])
    if expected == 1:
        for char, name in _FOREIGN_DELIMITERS.items():
            if char in layout.header:
                message = (
                    f"the header is one column holding {name}: the file looks "
                    f"{name}-delimited; save it as CSV with ',' delimiters"
                )
                return [Problem("(header)", "", message)]
    unit = "field" if expected == 1 else "fields"
    problems = [
        Problem(
            f"line {layout.lines[i]}",
            "",
            f"expected {expected} {unit} (as in the header), found {layout.fields[i]}",
            row=int(i),
            line=int(layout.lines[i]),
        )
        for i in np.flatnonzero(layout.fields != expected)
    ]
    if layout.unterminated is not None:
        line = layout.unterminated
        problems.append(Problem(f"line {line}", "", _UNTERMINATED, line=line))
    return problems


def _read_csv(file: Path, roster: str) -> tuple[pd.DataFrame, RosterSource | None]:
    name = str(file)
    layouts: list[_Layout] = []  # worked out once, only when needed

    def layout(parser_failed: bool = False) -> _Layout:
        if not layouts:
            try:
                layouts.append(_csv_layout(file.read_bytes(), parser_failed=parser_failed))
            except UnicodeDecodeError as exc:
                raise _not_utf8(file) from exc
            except OSError as exc:
                raise InputError(f"cannot read {name!r}: {exc}") from exc
        return layouts[0]

    df: pd.DataFrame | None
    try:
        df = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), None
    except UnicodeDecodeError as exc:
        raise _not_utf8(file) from exc
    except pd.errors.ParserError:  # its message is not shown: it may quote the line
        df = None
    except OSError as exc:
        raise InputError(f"cannot read {name!r}: {exc}") from exc
    # pandas pads a short line with empty fields (they end up in the last column), takes the
    # first column as the index when the first data line has a field too many, and reads a
    # ';'-delimited file as one column: then look at the file's lines
    if (
        df is None
        or len(df.columns) == 1
        or not isinstance(df.index, pd.RangeIndex)
        or (len(df) > 0 and bool((df.iloc[:, -1] == "").any()))
    ):
        problems = _layout_problems(layout(parser_failed=df is None))
        if problems:
            raise RosterError(roster, problems, source=name)
        if df is None:
            raise InputError(f"cannot read {name!r}: not a well-formed CSV file")

    def lines(n: int) -> np.ndarray | None:
        data_lines = layout().lines[1:]
        return data_lines if len(data_lines) == n else None

    return df, RosterSource(name, lines)


def _has_merged_cells(file: Path) -> bool:
    """Whether a worksheet of the workbook merges cells (read from the archive,
    without loading the workbook)."""
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if not (
                    info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
                ):
                    continue
                with archive.open(info) as stream:
                    tail = b""
                    while chunk := stream.read(1 << 20):
                        # (the tag may carry a namespace prefix: <x:mergeCell ...>)
                        if b"mergeCell" in chunk or b"mergeCell" in tail + chunk[:16]:
                            return True
                        tail = chunk[-16:]
    except (OSError, zipfile.BadZipFile):
        return False  # pandas reports the file
    return False


def _unmerged_workbook(file: Path) -> Any:
    """The workbook with every cell of a merged range holding the range's value
    (openpyxl gives it to the top-left cell only, the others read as blank)."""
    import openpyxl

    book = openpyxl.load_workbook(file, data_only=True, keep_links=False)
    for sheet in book.worksheets:
        for cells in list(sheet.merged_cells.ranges):
            value = sheet.cell(cells.min_row, cells.min_col).value
            sheet.unmerge_cells(cells.coord)
            for row in sheet.iter_rows(
                min_row=cells.min_row,
                max_row=cells.max_row,
                min_col=cells.min_col,
                max_col=cells.max_col,
            ):
                for cell in row:
                    cell.value = value
    return book


def _read_xlsx(file: Path, sheet: str | int | None) -> tuple[pd.DataFrame, RosterSource]:
    name = str(file)
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"cannot read {name!r}: reading .xlsx files needs openpyxl; "
            'install it with: pip install "mentor-matching[excel]"'
        ) from exc
    try:
        book = _unmerged_workbook(file) if _has_merged_cells(file) else file
        df = pd.read_excel(
            book,
            sheet_name=0 if sheet is None else sheet,
            dtype=object,
            keep_default_na=False,
            na_values=[],
            engine="openpyxl",
        )
    except (ValueError, IndexError, KeyError) as exc:
        # pandas' message for a missing sheet names the sheet; any other is not shown
        detail = str(exc) if "orksheet" in str(exc) else f"unreadable ({type(exc).__name__})"
        raise InputError(f"cannot read sheet {sheet!r} of {name!r}: {detail}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {name!r}: {exc}") from exc
    except Exception as exc:  # corrupt workbook: the library's message is not shown
        raise InputError(
            f"cannot read {name!r}: not a readable .xlsx workbook ({type(exc).__name__})"
        ) from exc
    # pandas keeps every sheet row from row 1 (the header) on, blank rows too, when the
    # sheet is more than one column wide: data row i is sheet row i + 2
    wide = len(df.columns) > 1
    return df, RosterSource(name, lambda n: np.arange(2, n + 2) if wide else None)


def _read_source(
    path: str | os.PathLike[str], sheet: str | int | None, roster: str
) -> tuple[pd.DataFrame, RosterSource | None]:
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            f"cannot read {str(file)!r}: unsupported file type {suffix or '(none)'!r}; "
            "expected .csv or .xlsx"
        )
    if not file.is_file():
        raise InputError(f"cannot read {str(file)!r}: no such file")
    if suffix == ".csv":
        if sheet is not None:
            raise InputError(f"cannot read {str(file)!r}: sheet= only applies to .xlsx files")
        return _read_csv(file, roster)
    return _read_xlsx(file, sheet)


def read_table(
    path: str | os.PathLike[str], sheet: str | int | None = None, roster: str = "input"
) -> pd.DataFrame:
    """A roster file as a raw table: every cell as read, nothing validated.

    For callers that change the table before validating it (filling
    coordinates from addresses, splitting a province into districts).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` or ``.xlsx`` file, as for :func:`read_children`.
    sheet : str or int, optional
        Worksheet name or 0-based index, for ``.xlsx`` files only.
    roster : str, optional
        The roster's name in a :class:`~matching.errors.RosterError`.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type or unreadable.
    RosterError
        If a CSV line has more or fewer fields than the header or a quote
        never closed (problems name the lines).
    """
    return _read_source(path, sheet, roster)[0]


def _load(
    path: str | os.PathLike[str], kind: RosterKind, sheet: str | int | None, crs: str
) -> ValidRoster:
    df, source = _read_source(path, sheet, kind)
    return validate_roster(df, kind, crs=crs, source=source)


def load_children(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> ValidRoster:
    """Read and validate a children roster file, as a :class:`ValidRoster`.

    The same as :func:`read_children` (parameters, rules and errors), for a
    caller that hands the roster on: functions that take a roster use a
    ``ValidRoster`` as it is instead of validating it again.
    """
    return _load(path, "children", sheet, crs)


def load_mentors(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> ValidRoster:
    """Read and validate a mentor roster file, as a :class:`ValidRoster`
    (see :func:`load_children`)."""
    return _load(path, "mentors", sheet, crs)


def read_children(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> pd.DataFrame:
    """Read a children roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV file (a byte-order mark is allowed; every cell is read as
        text, so ids like ``"007"`` keep their zeros) or an Excel ``.xlsx``
        workbook (needs ``pip install "mentor-matching[excel]"``); every cell of
        a merged range reads as the merged value (its top-left cell's).
    sheet : str or int, optional
        Worksheet name or 0-based index, for ``.xlsx`` files only; the first
        sheet by default.
    crs : str, optional
        Coordinate system of records with no ``crs`` value (``"wgs84"``,
        ``"gcj02"`` or ``"bd09"``), as for
        :func:`~matching.rosters.validate_children`.

    Returns
    -------
    pandas.DataFrame
        The validated roster, as returned by
        :func:`~matching.rosters.validate_children`.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type or unreadable.
    RosterError
        If the roster is invalid, or a CSV line has more or fewer fields than
        the header or a quote never closed; problems name the file
        (``source``) and each record's line (the header is line 1; for
        ``.xlsx``, the sheet's row).
    """
    return _load(path, "children", sheet, crs).frame


def read_mentors(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> pd.DataFrame:
    """Read a mentor roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters, errors and file rules as for :func:`read_children`; returns
    the validated roster, as :func:`~matching.rosters.validate_mentors` does.
    """
    return _load(path, "mentors", sheet, crs).frame
