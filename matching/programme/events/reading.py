"""Reading events from a ``.csv``, ``.xlsx`` or ``.json`` file (:func:`read_events`).

Internal to :mod:`matching.programme.events`, which exports :func:`read_events`,
:func:`read_events_file` and :class:`EventsFile`.

A CSV or XLSX events file is a table as staff keep it: headers and kinds in
Chinese or English (:data:`~matching.programme.events.EVENT_VOCABULARY`),
title rows above the header (the header is the first row naming the kind
column), rows of notes below the table (skipped and reported), a CSV in
UTF-8 (with or without a byte-order mark), UTF-16 or GB18030/GBK, and dates
written ``2026-03-05``, ``2026/3/5``, ``2026.3.5``, ``2026年3月5日`` or as an
Excel date cell.  Messages name the file, the line (for ``.xlsx``, the
sheet's row), the header as the file had it and the record's ids; never the
content of any other cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from matching._files import decode_text, fill_merged_cells
from matching.errors import EventError
from matching.i18n import gettext as _
from matching.i18n import use_language
from matching.programme.events.model import (
    EVENT_FIELDS,
    REQUIRED,
    Event,
    id_is_plain,
    structure_problems,
)
from matching.programme.events.vocabulary import (
    column_fields,
    field_label,
    join_label,
    join_list,
    kind_label,
    kinds_for,
)

__all__ = [
    "EVENT_FILE_SUFFIXES",
    "EventsFile",
    "parse_event_date",
    "read_events",
    "read_events_file",
]

log = logging.getLogger(__name__)

EVENT_FILE_SUFFIXES = (".csv", ".xlsx", ".json")
"""The events files :func:`read_events` reads, by suffix (any case)."""

_DATE = re.compile(
    r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_ID_FIELDS = ("child_id", "mentor_id")


@dataclass(frozen=True)
class EventsFile:
    """An events file as :func:`read_events_file` read it.

    Attributes
    ----------
    path : str
        The file.
    events : tuple of Event
        Its events, in file order (each with its ``source`` and ``line``).
    encoding : str
        How it was read: a text encoding of
        :data:`matching._files.TEXT_ENCODINGS` (``"utf-8-sig"``, ``"utf-16"``,
        ``"utf-8"``, ``"gb18030"``) for ``.csv`` and ``.json``, ``"xlsx"`` for
        a workbook.
    header_line : int or None
        The header's line (for ``.xlsx``, the sheet's row); lines above it
        (titles) were skipped.  None for ``.json`` and for an empty file.
    columns : dict
        Each header of the file, as the file had it, -> the event field it
        was read as (``""``: a row-number column, not read).
    notes_lines : tuple of int
        Lines below the table that are not events (no kind, no ids: a
        signature, a remark) and were skipped.
    """

    path: str
    events: tuple[Event, ...]
    encoding: str
    header_line: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    notes_lines: tuple[int, ...] = ()


@dataclass
class _Found:
    """What reading a file found: rows of values, problems (ordered), the header."""

    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line or 0, text)
    header_line: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # field -> the file's header
    columns: dict[str, str] = field(default_factory=dict)
    notes_lines: list[int] = field(default_factory=list)


def parse_event_date(value: object) -> str | None:
    """A date cell as an ISO date, or None if it is not a date.

    Accepted: an Excel date cell (``datetime.date`` / ``datetime.datetime``)
    and text written ``YYYY-MM-DD``, ``YYYY/M/D``, ``YYYY.M.D`` or
    ``YYYY年M月D日`` (full-width digits too), optionally followed by a time
    of day, which is ignored.

    Examples
    --------
    >>> [parse_event_date(t) for t in ("2026-03-05", "2026/3/5", "2026年3月5日", " 2026.3.5 ")]
    ['2026-03-05', '2026-03-05', '2026-03-05', '2026-03-05']
    >>> parse_event_date(dt.datetime(2026, 3, 5, 0, 0)), parse_event_date("2026-02-30")
    ('2026-03-05', None)
    """
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    found = _DATE.fullmatch(unicodedata.normalize("NFKC", value).strip())
    if found is None:
        return None
    try:
        return dt.date(*(int(part) for part in found.groups())).isoformat()
    except ValueError:
        return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, name: str) -> tuple[str, str | None]:
    """A cell of column ``name`` as text: (text, problem).  Ids and kinds must be text
    or whole numbers; a note or an actor may be any value."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value.strip(), None
    if isinstance(value, bool):
        return "", _("must be text")
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), None
    if name in ("actor", "note"):
        if isinstance(value, dt.datetime) and value.time() == dt.time():
            return value.date().isoformat(), None
        return str(value), None
    if isinstance(value, dt.date | dt.time):
        return "", _("a date or time cell where text is expected (format the column as text)")
    return "", _("must be text")


def _where(line: int, values: dict[str, str], *, json_row: bool = False) -> str:
    """How a problem names a record: its line (or JSON row) and its ids."""
    ids = [
        (_("child {id}") if name == "child_id" else _("mentor {id}")).format(id=values[name])
        for name in _ID_FIELDS
        if values.get(name) and id_is_plain(values[name])
    ]
    if json_row:
        if ids:
            return _("row {row} ({ids})").format(row=line, ids=join_label(ids))
        return _("row {row}").format(row=line)
    if ids:
        return _("line {line} ({ids})").format(line=line, ids=join_label(ids))
    return _("line {line}").format(line=line)


def _cell_problem(where: str, column: str, problem: str) -> str:
    return _("{where}: column {column}: {problem}").format(
        where=where, column=repr(column), problem=problem
    )


def _resolve_kind(text: str, values: dict[str, str]) -> tuple[str, bool]:
    """The event kind a cell names (a kind of two resolved by the ids the row gives):
    (kind, ambiguous).  An unknown kind comes back as its folded text, which
    :func:`structure_problems` reports (and no message shows)."""
    kinds = kinds_for(text)
    if len(kinds) == 1:
        return kinds[0], False
    if not kinds:
        return text.casefold(), False
    fitting = [k for k in kinds if all(values[name] for name in REQUIRED[k] if name in _ID_FIELDS)]
    fitting = [k for k in fitting if not any(values[n] for n in _ID_FIELDS if n not in REQUIRED[k])]
    return (fitting[0], False) if len(fitting) == 1 else (kinds[0], True)


def _record(line: int, cells: dict[str, object], found: _Found, *, json_row: bool = False) -> None:
    """One record (field -> raw cell) checked and added to ``found``: values or problems."""
    values = dict.fromkeys(EVENT_FIELDS, "")
    cell_problems: list[tuple[str, str]] = []
    for name, raw in cells.items():
        if name == "date":
            if _blank(raw):
                continue
            day = parse_event_date(raw)
            if day is None:
                cell_problems.append(
                    ("date", _("not a date (expected 2026-03-05, 2026/3/5 or 2026年3月5日)"))
                )
            else:
                values["date"] = day
            continue
        text, problem = _text(raw, name)
        if problem is not None:
            cell_problems.append((name, problem))
        values[name] = text
    kind_text = values["kind"]
    ambiguous = False
    if kind_text:
        values["kind"], ambiguous = _resolve_kind(kind_text, values)
    where = _where(line, values, json_row=json_row)
    headers = found.headers
    if ambiguous:
        message = _("{kind} names a child or a mentor: fill in one of {child} and {mentor}")
        cell_problems.append(
            (
                "kind",
                message.format(
                    kind=kind_label("child_rejoin") + "/" + kind_label("mentor_rejoin"),
                    child=repr(headers.get("child_id", field_label("child_id"))),
                    mentor=repr(headers.get("mentor_id", field_label("mentor_id"))),
                ),
            )
        )
    bad = {name for name, _problem in cell_problems}
    problems = cell_problems + [
        (name, problem)
        for name, problem in structure_problems(values, headers)
        if name not in bad and not (ambiguous and name in _ID_FIELDS)
    ]
    for name, problem in sorted(problems, key=lambda p: EVENT_FIELDS.index(p[0])):
        column = headers.get(name, field_label(name))
        found.problems.append((line, _cell_problem(where, column, problem)))
    if not problems:
        found.rows.append((line, values))


def _header(
    records: list[tuple[int, list[object]]],
) -> tuple[int, bool]:
    """The index of the header record, and whether it names the kind column (when no
    record does, the first record is taken as the header)."""
    for index, (_line, cells) in enumerate(records):
        if any(isinstance(c, str) and column_fields(c) == "kind" for c in cells):
            return index, True
    return 0, False


def _accepted_fields() -> str:
    return join_list([field_label(name) for name in EVENT_FIELDS])


def _read_table(records: list[tuple[int, list[object]]], *, ragged: bool) -> _Found:
    """The events of a table: (line, cells) records, blank ones left out.

    ``ragged``: records may be longer than the header (CSV), which is a
    problem when the extra cells hold values; otherwise (XLSX) the extra
    columns are columns with a blank header.
    """
    found = _Found()
    records = [(line, cells) for line, cells in records if not all(map(_blank, cells))]
    if not records:
        return found
    at, named = _header(records)
    header_line, header_cells = records[at]
    found.header_line = header_line
    data = records[at + 1 :]
    width = len(header_cells) if ragged else max(len(c) for _l, c in records[at:])
    texts = [(str(c).strip() if c is not None else "") for c in header_cells] + [""] * (
        width - len(header_cells)
    )
    prefix = _("header") if header_line == 1 else _("header (line {line})").format(line=header_line)
    problems: list[str] = []
    names = [
        column_fields(text) if text and isinstance(header_cells[position], str) else None
        for position, text in enumerate(texts)
    ]
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        if name:
            positions.setdefault(name, []).append(position)
    for position, (text, name) in enumerate(zip(texts, names, strict=True)):
        if not text:
            if any(position < len(c) and not _blank(c[position]) for _l, c in data):
                problems.append(
                    _("{header}: column {position} is blank (accepted: {fields})").format(
                        header=prefix, position=position + 1, fields=_accepted_fields()
                    )
                )
            continue
        if name is None:
            message = (
                _("{header}: column {position} {name} is not an event field (accepted: {fields})")
                if named
                else _("{header}: column {position} is not an event field (accepted: {fields})")
            )
            problems.append(
                message.format(
                    header=prefix, position=position + 1, name=repr(text),
                    fields=_accepted_fields(),
                )
            )  # fmt: skip
            continue
        found.columns[text] = name
        if not name:
            continue
        where = positions[name]
        if len(where) > 1 and where[0] == position:
            same = [texts[p] for p in where]
            if len(set(same)) == 1:
                message = _("{header}: column {name} appears {count} times").format(
                    header=prefix, name=repr(same[0]), count=len(same)
                )
            else:
                message = _("{header}: columns {names} all name {field}").format(
                    header=prefix, names=join_list([repr(n) for n in same]),
                    field=repr(field_label(name)),
                )  # fmt: skip
            problems.append(message)
        found.headers.setdefault(name, text)
    if "kind" not in positions:
        problems.append(
            _("{header}: missing required column {kind}").format(
                header=prefix, kind=repr(field_label("kind"))
            )
        )
    found.problems += [(0, p) for p in problems]
    if problems:
        return found
    columns = {name: where[0] for name, where in positions.items()}
    tail = len(data)
    while tail and _is_note(data[tail - 1][1], columns):
        tail -= 1
    found.notes_lines = [line for line, _c in data[tail:]]
    for line, cells in data[:tail]:
        if ragged and len(cells) > width and not all(map(_blank, cells[width:])):
            count = width + max(i + 1 for i, c in enumerate(cells[width:]) if not _blank(c))
            found.problems.append(
                (
                    line,
                    _("{where}: {cells} cells but {columns} columns").format(
                        where=_("line {line}").format(line=line), cells=count, columns=width
                    ),
                )
            )
            continue
        _record(
            line,
            {name: cells[p] if p < len(cells) else None for name, p in columns.items()},
            found,
        )
    return found


def _is_note(cells: list[object], columns: dict[str, int]) -> bool:
    """Whether a row below the table is a note, not an event: no id, and no kind it names."""

    def cell(name: str) -> object:
        position = columns.get(name)
        return None if position is None or position >= len(cells) else cells[position]

    if any(not _blank(cell(name)) for name in _ID_FIELDS):
        return False
    kind = cell("kind")
    return not (isinstance(kind, str) and kinds_for(kind))


def _csv_records(text: str) -> list[tuple[int, list[object]]]:
    """The records of a CSV text with the line each starts on (raises ``csv.Error``)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[object]]] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records
        records.append((start, list(record)))


def _read_json(text: str) -> _Found:
    found = _Found()
    if not text.strip():
        return found
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        found.problems.append(
            (0, _("not valid JSON: {reason} (line {line}, column {column})").format(
                reason=exc.msg, line=exc.lineno, column=exc.colno
            ))
        )  # fmt: skip
        return found
    if not isinstance(data, list):
        found.problems.append(
            (0, _("expected a JSON list of event objects, got {type}").format(
                type=type(data).__name__
            ))
        )  # fmt: skip
        return found
    for number, item in enumerate(data, start=1):
        row = _("row {row}").format(row=number)
        if not isinstance(item, dict):
            found.problems.append(
                (number, _("{where}: expected an object, got {type}").format(
                    where=row, type=type(item).__name__
                ))
            )  # fmt: skip
            continue
        cells: dict[str, object] = {}
        ok = True
        for key, value in item.items():
            name = column_fields(key) if isinstance(key, str) else None
            if not name:
                found.problems.append(
                    (number, _("{where}: a key that is not an event field (accepted: {fields})")
                     .format(where=row, fields=_accepted_fields()))
                )  # fmt: skip
                ok = False
                continue
            found.headers.setdefault(name, key)
            if isinstance(value, float | bool | list | dict):
                found.problems.append((number, _cell_problem(row, key, _("must be text"))))
                ok = False
                continue
            cells[name] = value
        if ok:
            _record(number, cells, found, json_row=True)
        found.headers.clear()  # each object names its own keys
    return found


def _read_xlsx(file: Path, where: str) -> list[tuple[int, list[object]]]:
    """The rows of the workbook's first sheet, numbered as the sheet numbers them; every
    cell of a merged range holds the range's value."""
    try:
        import openpyxl
    except ImportError as exc:
        raise EventError(
            _("cannot read {file}").format(file=where),
            [
                _(
                    "reading .xlsx files needs openpyxl; "
                    'install it with: pip install "mentor-matching[excel]"'
                )
            ],
        ) from exc
    try:
        book = openpyxl.load_workbook(file, data_only=True, keep_links=False)
        sheet = book.worksheets[0]
        fill_merged_cells(sheet)
        rows = [list(r) for r in sheet.iter_rows(min_row=1, values_only=True)]
    except OSError as exc:
        raise EventError(
            _("cannot read {file}").format(file=where), [exc.strerror or type(exc).__name__]
        ) from None
    except Exception as exc:  # a corrupt workbook: the library's message is not shown
        raise EventError(
            _("cannot read {file}").format(file=where),
            [_("not a readable .xlsx workbook ({error})").format(error=type(exc).__name__)],
        ) from None
    return [(line, row) for line, row in enumerate(rows, start=1)]


def _read(file: Path) -> tuple[_Found, str]:
    where = repr(str(file))
    suffix = file.suffix.lower()
    cannot = _("cannot read {file}").format(file=where)
    if suffix not in EVENT_FILE_SUFFIXES:
        raise EventError(
            cannot,
            [
                _("unsupported file type {suffix}; expected .csv, .xlsx or .json").format(
                    suffix=repr(suffix or "(none)")
                )
            ],
        )
    if not file.is_file():
        raise EventError(cannot, [_("no such file")])
    if suffix == ".xlsx":
        if not zipfile.is_zipfile(file):
            if file.stat().st_size == 0:
                return _Found(), "xlsx"
            raise EventError(
                cannot, [_("not a readable .xlsx workbook ({error})").format(error="BadZipFile")]
            )
        return _read_table(_read_xlsx(file, where), ragged=False), "xlsx"
    try:
        text, encoding = decode_text(file.read_bytes())
    except UnicodeDecodeError:
        raise EventError(cannot, [_("not text in UTF-8, UTF-16 or GB18030 (GBK)")]) from None
    except OSError as exc:
        raise EventError(cannot, [exc.strerror or type(exc).__name__]) from None
    if suffix == ".json":
        return _read_json(text), encoding
    try:
        return _read_table(_csv_records(text), ragged=True), encoding
    except csv.Error as exc:
        raise EventError(cannot, [_("malformed CSV: {reason}").format(reason=exc)]) from None


def read_events_file(path: str | os.PathLike[str], *, language: str | None = None) -> EventsFile:
    """Read an events file, and say how it was read (encoding, header line, columns).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.xlsx`` or ``.json`` events file, as for :func:`read_events`.
    language : {"zh", "en"}, optional
        The language of the error's messages (default: the current language,
        :func:`matching.i18n.current_language`).

    Returns
    -------
    EventsFile
        The events (each knowing its file and line), the encoding, the
        header's line, the file's headers and the fields they were read as,
        and the lines of notes below the table that were skipped.

    Raises
    ------
    EventError
        As :func:`read_events`.
    """
    file = Path(path)
    with use_language(language):
        found, encoding = _read(file)
        if found.problems:
            problems = [text for _line, text in sorted(found.problems, key=lambda p: p[0])]
            raise EventError(
                _("events file {file} is invalid: {count} problem(s)").format(
                    file=repr(str(file)), count=len(problems)
                ),
                problems,
            )
        if found.notes_lines:
            log.warning(
                _("%s: %d line(s) below the table are not events and were skipped: %s"),
                str(file), len(found.notes_lines), ", ".join(map(str, found.notes_lines)),
            )  # fmt: skip
    json_file = file.suffix.lower() == ".json"
    events = tuple(
        Event(**values, source=str(file), line=None if json_file else line)
        for line, values in found.rows
    )
    return EventsFile(
        path=str(file),
        events=events,
        encoding=encoding,
        header_line=found.header_line,
        columns=dict(found.columns),
        notes_lines=tuple(found.notes_lines),
    )


def read_events(path: str | os.PathLike[str], *, language: str | None = None) -> list[Event]:
    """Read events from a ``.csv``, ``.xlsx`` or ``.json`` file.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file (UTF-8 with or without a byte-order mark, UTF-16, or
        GB18030/GBK as Excel on Chinese Windows saves it) or an ``.xlsx``
        workbook (its first sheet; needs ``pip install
        "mentor-matching[excel]"``) whose header holds the kind column and
        any of the child id, mentor id, actor, note and date columns, one
        event per row; or a JSON file holding a list of objects with those
        keys (ids may be JSON integers; ``null`` is blank).

        Headers and kinds may be written in Chinese or English, as
        :data:`~matching.programme.events.EVENT_VOCABULARY` lists them
        (``类型,儿童编号,爱心妈妈编号,操作人,备注,日期`` or
        ``kind,child_id,mentor_id,actor,note,date``; ``退出申请`` or
        ``exit_request``); headers may carry spaces and any case, English
        kinds any case.  An absent column is blank; a ``序号`` (row number)
        column is not read; any other column is an error.  Rows above the
        header (titles) are skipped: the header is the first row naming the
        kind column.  Blank rows are skipped, and so are rows below the table
        that name no kind and no id (a signature, a remark; they are logged).
        Dates may be written ``2026-03-05``, ``2026/3/5``, ``2026.3.5`` or
        ``2026年3月5日``, or be Excel date cells (:func:`parse_event_date`).
        Cells are stripped of surrounding spaces.  An empty file holds no
        events.
    language : {"zh", "en"}, optional
        The language of the error's messages (default: the current language).

    Returns
    -------
    list of Event
        In file order, each with its ``source`` (the file) and ``line``, so
        that :func:`apply_events` names them.  Only the fields are checked
        here; whether the events fit the state is checked by
        :func:`apply_events`.

    Raises
    ------
    EventError
        If the file is missing, of another type, unreadable, or any row is
        invalid (unknown kind, an id the kind needs is missing, no actor for
        ``exit_approve``, no note for ``end_pair``, a date that is not one).
        ``problems`` lists every problem, as ``"line N (child C1): column
        'c': reason"`` (``N``: the record's line, the header being the line
        it is on; for ``.xlsx`` the sheet's row; ``'c'``: the header as the
        file has it; for ``.json``, ``"row N"``: the N-th object), or
        ``"header: ..."`` for the header.  No message shows a cell's content.
    """
    return list(read_events_file(path, language=language).events)
