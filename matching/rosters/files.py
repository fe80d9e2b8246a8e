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

Finding the table
-----------------
- **Encoding.** A CSV file is read as UTF-8 (with or without a byte-order
  mark), UTF-16 (with its mark) or GB18030, the superset of the GBK that
  Excel on Chinese Windows writes (:func:`matching._files.decode_text`); the
  roster's :class:`~matching.rosters.reading.RosterReading` names it.
- **The header row** is the first row that names an id column (``id``,
  ``编号``) and either both coordinates (``lat``/``纬度`` and
  ``lon``/``经度``) or an address (:data:`~matching.rosters.ADDRESS_HEADERS`),
  among the first 30 rows.  Title rows and blank rows above it (``钟楼区困境儿童
  结对帮扶台账（2026年3月）``) are skipped; line numbers in problems stay the
  file's lines (a workbook's sheet rows).  When no row qualifies, the first
  row is the header, as before (and the missing columns are reported).
- **Notes below the table.**  Below the last record, a row is no record when it
  is blank, or when it holds one text only (in one cell, or the same text in
  cells merged across the row) starting in the first column, and that text
  could not be an id in that column: the first column is not the id column,
  or the text holds a colon (``:`` ``：``) or whitespace or is longer than 64
  characters (``填表人：张三``, ``注：数据截至3月底``).  Such notes are not read
  as records; their lines are listed in the reading (blank rows are dropped
  silently).  A lone short text without a colon (``合计30人``) stays a record
  and is reported if it is not a valid one.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._files import decode_text, fill_merged_cells
from matching.errors import InputError, Problem, RosterError
from matching.i18n import N_, ngettext
from matching.i18n import gettext as _
from matching.rosters.columns import ADDRESS_HEADERS, CHILD_COLUMNS, MENTOR_COLUMNS, header_forms
from matching.rosters.validate import RosterKind, RosterSource, ValidRoster, validate_roster
from matching.rosters.vocabulary import VOCABULARY, Vocabulary

__all__ = [
    "load_children",
    "load_mentors",
    "load_rosters",
    "read_children",
    "read_mentors",
    "read_table",
]

# A header of one column holding one of these was written with it as the delimiter.
_FOREIGN_DELIMITERS: dict[str, str] = {";": "';'", "\t": N_("tab"), "|": "'|'", "；": "'；'"}
_UNTERMINATED = N_("unterminated quote: a quoted field starting on this line is never closed")


def _not_text(file: Path) -> InputError:
    return InputError(
        _(
            "cannot read {file!r}: not text in UTF-8, GB18030 (GBK) or UTF-16 "
            '(save it as "CSV UTF-8")'
        ).format(file=str(file))
    )


def _cannot_read(file: Path, exc: OSError) -> InputError:
    return InputError(_("cannot read {file!r}: {error}").format(file=str(file), error=exc))


def _headers_of(name: str) -> frozenset[str]:
    """The headers (stripped, lower-cased) that name column ``name`` in either roster."""
    return frozenset(
        header
        for column in (*CHILD_COLUMNS, *MENTOR_COLUMNS)
        if column.name == name
        for header in (column.name, *column.aliases)
    )


_ID = _headers_of("id")
_LAT = _headers_of("lat")
_LON = _headers_of("lon")
_ADDRESS = frozenset(ADDRESS_HEADERS)
_COORDINATES = _LAT | _LON
_HEADER_SEARCH = 30  # rows looked at for the header
_NOT_AN_ID = re.compile(r"[\s:：,;，；|]")


def _is_header(cells: list[Any]) -> bool:
    """Whether a row names an id column and both coordinates or an address."""
    names = {form for cell in cells if not _blank(cell) for form in header_forms(cell)}
    return bool(names & _ID) and (
        (bool(names & _LAT) and bool(names & _LON)) or bool(names & _ADDRESS)
    )


def _blank(cell: Any) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and cell != cell:  # NaN
        return True
    return isinstance(cell, str) and not cell.strip()


def _header_row(rows: list[list[Any]]) -> int:
    """The index of the header among ``rows`` (the first ones of a table); 0 when the
    first row is it or when no row is."""
    for k, cells in enumerate(rows[:_HEADER_SEARCH]):
        if _is_header(cells):
            return k
    return 0


def _is_note(cells: list[Any], id_position: int | None) -> bool:
    """Whether a row below the table is a note (see the module's text); blank rows too."""
    texts = [str(cell).strip() for cell in cells if not _blank(cell)]
    if not texts:
        return True
    if _blank(cells[0]) or len(set(texts)) > 1:
        return False
    text = texts[0]
    holds_id = id_position is not None and not _blank(cells[id_position])
    return not holds_id or len(text) > 64 or bool(_NOT_AN_ID.search(text))


def _rows_below(df: pd.DataFrame) -> tuple[int, list[int]]:
    """How many rows at the end of a raw table are notes or blank, and which of them
    (positions in the table) are notes with text; none unless the header was found."""
    if not _is_header(list(df.columns)):
        return 0, []
    id_position = next(
        (k for k, label in enumerate(df.columns) if set(header_forms(label)) & _ID), None
    )
    n = len(df)
    start = n
    values = df.to_numpy(dtype=object) if n else None
    while start > 0 and values is not None and _is_note(list(values[start - 1]), id_position):
        start -= 1
    notes = [
        k
        for k in range(start, n)
        if values is not None and any(not _blank(cell) for cell in values[k])
    ]
    return n - start, notes


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


def _layout_problems(layout: _Layout, records: int | None = None) -> list[Problem]:
    """Lines whose field count is not the header's, a quote never closed, or a
    header that shows the file was written with another delimiter; only the first
    ``records`` records (the header counted) when given: the rest are notes."""
    if layout.fields.size == 0:
        return []
    expected = int(layout.fields[0])
    if expected == 1:
        for char, name in _FOREIGN_DELIMITERS.items():
            if char in layout.header:
                message = _(
                    "the header is one column holding {name}: the file looks "
                    "{name}-delimited; save it as CSV with ',' delimiters"
                ).format(name=_(name))
                return [Problem("(header)", "", message)]
    fields = layout.fields if records is None else layout.fields[:records]
    problems = [
        Problem(
            f"line {layout.lines[i]}",
            "",
            ngettext(
                "expected {expected} field (as in the header), found {found}",
                "expected {expected} fields (as in the header), found {found}",
                expected,
            ).format(expected=expected, found=layout.fields[i]),
            row=int(i),
            line=int(layout.lines[i]),
        )
        for i in np.flatnonzero(fields != expected)
    ]
    if layout.unterminated is not None:
        line = layout.unterminated
        problems.append(Problem(f"line {line}", "", _(_UNTERMINATED), line=line))
    return problems


def _csv_text(file: Path) -> tuple[bytes, str, int]:
    """A CSV file's table as UTF-8 bytes, the file's encoding, and the file's line the
    bytes start on (above 1 when title rows sit above the header)."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise _cannot_read(file, exc) from exc
    try:
        text, encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise _not_text(file) from exc
    data = raw if encoding in ("utf-8", "utf-8-sig") else text.encode("utf-8")
    # the header: the first records, read with their lines (a record may span lines)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    starts: list[int] = []
    try:
        while len(rows) < _HEADER_SEARCH:
            start = reader.line_num + 1
            record = next(reader)
            rows.append(record)
            starts.append(start)
    except (StopIteration, csv.Error):
        pass
    k = _header_row(rows)
    if k == 0:
        return data, encoding, 1
    first = starts[k]
    # the bytes from the start of line `first` (lines end at \n, \r\n or a lone \r)
    breaks = re.finditer(r"\r\n|\r|\n", text)
    end = 0
    for _line in range(first - 1):
        end = next(breaks).end()
    return text[end:].encode("utf-8"), encoding, first


def _read_csv(file: Path, roster: str) -> tuple[pd.DataFrame, RosterSource | None]:
    name = str(file)
    data, encoding, first = _csv_text(file)
    offset = first - 1  # lines above the header
    layouts: list[_Layout] = []  # worked out once, only when needed

    def layout(parser_failed: bool = False) -> _Layout:
        if not layouts:
            try:
                found = _csv_layout(data, parser_failed=parser_failed)
            except UnicodeDecodeError as exc:  # decoded above: cannot happen
                raise _not_text(file) from exc
            if offset:
                found = _Layout(
                    found.fields,
                    found.lines + offset,
                    found.header,
                    None if found.unterminated is None else found.unterminated + offset,
                )
            layouts.append(found)
        return layouts[0]

    df: pd.DataFrame | None
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), None
    except UnicodeDecodeError as exc:
        raise _not_text(file) from exc
    except pd.errors.ParserError:  # its message is not shown: it may quote the line
        df = None
    dropped, notes = _rows_below(df) if df is not None else (0, [])
    kept = None if df is None else len(df) - dropped
    # pandas pads a short line with empty fields (they end up in the last column), takes the
    # first column as the index when the first data line has a field too many, and reads a
    # ';'-delimited file as one column: then look at the file's lines
    if (
        df is None
        or len(df.columns) == 1
        or not isinstance(df.index, pd.RangeIndex)
        or (len(df) > 0 and bool((df.iloc[:, -1] == "").any()))
    ):
        problems = _layout_problems(
            layout(parser_failed=df is None), None if kept is None else kept + 1
        )
        if problems:
            raise RosterError(roster, problems, source=name)
        if df is None:
            raise InputError(
                _("cannot read {file!r}: not a well-formed CSV file").format(file=name)
            )
    note_lines: tuple[int, ...] = ()
    if dropped:
        df = df.iloc[: len(df) - dropped]
        all_lines = layout().lines[1:]
        if len(all_lines) == len(df) + dropped:
            note_lines = tuple(int(all_lines[k]) for k in notes)

    def lines(n: int) -> np.ndarray | None:
        data_lines = layout().lines[1:]
        return data_lines[:n] if len(data_lines) == n + dropped else None

    return df, RosterSource(name, lines, encoding, first, note_lines)


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
        fill_merged_cells(sheet)
    return book


def _read_xlsx(file: Path, sheet: str | int | None) -> tuple[pd.DataFrame, RosterSource]:
    name = str(file)
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise InputError(
            _(
                "cannot read {file!r}: reading .xlsx files needs openpyxl; "
                'install it with: pip install "mentor-matching[excel]"'
            ).format(file=name)
        ) from exc
    header = 0  # the header's row among the sheet's rows (0-based)
    try:
        book = _unmerged_workbook(file) if _has_merged_cells(file) else file

        def read(header: int) -> pd.DataFrame:
            return pd.read_excel(
                book,
                sheet_name=0 if sheet is None else sheet,
                header=header,
                dtype=object,
                keep_default_na=False,
                na_values=[],
                engine="openpyxl",
            )

        df = read(0)
        if not _is_header(list(df.columns)):
            # title or blank rows above the header: look for it among the first rows
            k = _header_row([list(row) for row in df.head(_HEADER_SEARCH).to_numpy(dtype=object)])
            if k or (len(df) and _is_header(list(df.iloc[0]))):
                header = k + 1
                df = read(header)
    except (ValueError, IndexError, KeyError) as exc:
        # pandas' message for a missing sheet names the sheet; any other is not shown
        if "orksheet" in str(exc):
            detail = str(exc)
        else:
            detail = _("unreadable ({error})").format(error=type(exc).__name__)
        raise InputError(
            _("cannot read sheet {sheet!r} of {file!r}: {detail}").format(
                sheet=sheet, file=name, detail=detail
            )
        ) from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(_("cannot read {file!r}: {error}").format(file=name, error=exc)) from exc
    except Exception as exc:  # corrupt workbook: the library's message is not shown
        raise InputError(
            _("cannot read {file!r}: not a readable .xlsx workbook ({error})").format(
                file=name, error=type(exc).__name__
            )
        ) from exc
    # pandas keeps every sheet row from row 1 on, blank rows too, when the sheet is more
    # than one column wide: the header is sheet row header + 1, data row i the row after
    wide = len(df.columns) > 1
    first = header + 2  # the sheet row of data row 0
    dropped, notes = _rows_below(df)
    if dropped:
        df = df.iloc[: len(df) - dropped]
    note_lines = tuple(first + k for k in notes) if wide else ()
    return df, RosterSource(
        name,
        lambda n: np.arange(first, first + n) if wide else None,
        None,
        header + 1 if wide else None,
        note_lines,
    )


def _read_source(
    path: str | os.PathLike[str], sheet: str | int | None, roster: str
) -> tuple[pd.DataFrame, RosterSource | None]:
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            _(
                "cannot read {file!r}: unsupported file type {suffix!r}; expected .csv or .xlsx"
            ).format(file=str(file), suffix=suffix or _("(none)"))
        )
    if not file.is_file():
        raise InputError(_("cannot read {file!r}: no such file").format(file=str(file)))
    if suffix == ".csv":
        if sheet is not None:
            raise InputError(
                _("cannot read {file!r}: sheet= only applies to .xlsx files").format(file=str(file))
            )
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
    path: str | os.PathLike[str],
    kind: RosterKind,
    sheet: str | int | None,
    crs: str,
    vocabulary: Vocabulary,
) -> ValidRoster:
    df, source = _read_source(path, sheet, kind)
    return validate_roster(df, kind, crs=crs, source=source, vocabulary=vocabulary)


def load_children(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> ValidRoster:
    """Read and validate a children roster file, as a :class:`ValidRoster`.

    The same as :func:`read_children` (parameters, rules and errors), for a
    caller that hands the roster on: functions that take a roster use a
    ``ValidRoster`` as it is instead of validating it again.  Its
    ``reading`` says how the file was read (encoding, header line, notes
    below the table, cells read through the vocabulary).
    """
    return _load(path, "children", sheet, crs, vocabulary)


def load_mentors(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> ValidRoster:
    """Read and validate a mentor roster file, as a :class:`ValidRoster`
    (see :func:`load_children`)."""
    return _load(path, "mentors", sheet, crs, vocabulary)


def load_rosters(
    children: str | os.PathLike[str],
    mentors: str | os.PathLike[str],
    *,
    children_sheet: str | int | None = None,
    mentors_sheet: str | int | None = None,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> tuple[ValidRoster, ValidRoster]:
    """Read and validate both roster files, reporting the problems of both at once.

    Each file is read and validated as by :func:`load_children` /
    :func:`load_mentors`, the second even when the first is invalid, so that
    staff fix both in one round.

    Raises
    ------
    RosterError
        If one roster is invalid (its own error), or a
        :class:`~matching.errors.RosterErrors` if both are: every problem of
        both, each roster's summary line followed by its problems.
    InputError
        If a file is missing, of an unsupported type or unreadable (the
        first such file; nothing else is reported then).
    """
    errors: list[RosterError] = []
    found: list[ValidRoster] = []
    for path, kind, sheet in (
        (children, "children", children_sheet),
        (mentors, "mentors", mentors_sheet),
    ):
        try:
            found.append(_load(path, kind, sheet, crs, vocabulary))  # type: ignore[arg-type]
        except RosterError as exc:
            errors.append(exc)
    if errors:
        raise RosterError.combine(errors)
    return found[0], found[1]


def read_children(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> pd.DataFrame:
    """Read a children roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file in UTF-8 (a byte-order mark is allowed), GB18030/GBK or
        UTF-16 (every cell is read as text, so ids like ``"007"`` keep their
        zeros) or an Excel ``.xlsx`` workbook (needs ``pip install
        "mentor-matching[excel]"``); every cell of a merged range reads as the
        merged value (its top-left cell's).  Title rows above the header and
        notes below the table are skipped (see the module's text).
    sheet : str or int, optional
        Worksheet name or 0-based index, for ``.xlsx`` files only; the first
        sheet by default.
    crs : str, optional
        Coordinate system of records with no ``crs`` value (``"wgs84"``,
        ``"gcj02"`` or ``"bd09"``), as for
        :func:`~matching.rosters.validate_children`.
    vocabulary : Vocabulary, optional
        The words read in cells (:data:`~matching.rosters.VOCABULARY` by
        default; see :func:`matching.config.load_vocabulary`).

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
    return _load(path, "children", sheet, crs, vocabulary).frame


def read_mentors(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> pd.DataFrame:
    """Read a mentor roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters, errors and file rules as for :func:`read_children`; returns
    the validated roster, as :func:`~matching.rosters.validate_mentors` does.
    """
    return _load(path, "mentors", sheet, crs, vocabulary).frame
