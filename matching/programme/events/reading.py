"""Reading events from a ``.csv`` or ``.json`` file (:func:`read_events`).

Internal to :mod:`matching.programme.events`, which exports :func:`read_events`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from matching.errors import EventError
from matching.programme.events.model import EVENT_FIELDS, Event, structure_problems

__all__ = ["read_events"]


def _cell(value: object) -> tuple[str, str | None]:
    """A JSON value as text: (text, problem)."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value.strip(), None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    return "", "must be text"


def _rows_problems(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[Event], list[str]]:
    events: list[Event] = []
    problems: list[str] = []
    for number, values in rows:
        values["kind"] = values["kind"].casefold()
        for column, problem in structure_problems(values):
            problems.append(f"row {number}: column {column!r}: {problem}")
        events.append(Event(**values))
    return events, problems


def _read_csv(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    records = list(csv.reader(io.StringIO(text, newline="")))
    while records and not any(cell.strip() for cell in records[0]):
        records.pop(0)
    if not records:
        return [], []
    header = [cell.strip().lower() for cell in records[0]]
    problems: list[str] = []
    for position, name in enumerate(header, start=1):
        if name not in EVENT_FIELDS:
            what = "is blank" if not name else "is not an event field"
            problems.append(
                f"header: column {position} {what} (accepted: {', '.join(EVENT_FIELDS)})"
            )
        elif header.count(name) > 1 and header.index(name) == position - 1:
            problems.append(f"header: column {name!r} appears {header.count(name)} times")
    if "kind" not in header:
        problems.append("header: missing required column 'kind'")
    if problems:
        return [], problems
    rows: list[tuple[int, dict[str, str]]] = []
    for number, record in enumerate(records[1:], start=1):
        cells = [cell.strip() for cell in record]
        if not any(cells):
            continue  # blank line, or a row of empty cells
        if len(cells) > len(header):
            problems.append(f"row {number}: {len(cells)} cells but {len(header)} columns")
            continue
        cells += [""] * (len(header) - len(cells))
        values = dict.fromkeys(EVENT_FIELDS, "")
        values.update(zip(header, cells, strict=True))
        rows.append((number, values))
    return rows, problems


def _read_json(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    if not text.strip():
        return [], []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]
    if not isinstance(data, list):
        return [], [f"expected a JSON list of event objects, got {type(data).__name__}"]
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[str] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            problems.append(f"row {number}: expected an object, got {type(item).__name__}")
            continue
        values = dict.fromkeys(EVENT_FIELDS, "")
        ok = True
        for key, value in item.items():
            if key not in EVENT_FIELDS:
                problems.append(
                    f"row {number}: a key that is not an event field "
                    f"(accepted: {', '.join(EVENT_FIELDS)})"
                )
                ok = False
                continue
            text_value, problem = _cell(value)
            if problem is not None:
                problems.append(f"row {number}: column {key!r}: {problem}")
                ok = False
            values[key] = text_value
        if ok:
            rows.append((number, values))
    return rows, problems


def read_events(path: str | os.PathLike[str]) -> list[Event]:
    """Read events from a ``.csv`` or ``.json`` file.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV file (a byte-order mark is allowed) whose header holds
        ``kind`` and any of ``child_id``, ``mentor_id``, ``actor``, ``note``
        (an absent column is blank; any other column is an error), one event
        per row; or a JSON file holding a list of objects with those keys
        (ids may be JSON integers; ``null`` is blank).  Cells are stripped
        of surrounding spaces and ``kind`` is case-insensitive; blank rows
        are skipped.  An empty file holds no events.

    Returns
    -------
    list of Event
        In file order.  Only the fields are checked here; whether the events
        fit the state is checked by :func:`apply_events`.

    Raises
    ------
    EventError
        If the file is missing, of another type, unreadable, or any row is
        invalid (unknown kind, an id the kind needs is missing, no ``actor``
        for ``exit_approve``, no ``note`` for ``end_pair``).  ``problems``
        lists every problem as ``"row N: column 'c': reason"`` (``N``: 1-based
        data row, the header not counted).
    """
    file = Path(path)
    where = repr(str(file))
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise EventError(
            f"cannot read {where}",
            [f"unsupported file type {suffix or '(none)'!r}; expected .csv or .json"],
        )
    if not file.is_file():
        raise EventError(f"cannot read {where}", ["no such file"])
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise EventError(f"cannot read {where}", ["not UTF-8 text"]) from None
    except OSError as exc:
        raise EventError(f"cannot read {where}", [exc.strerror or type(exc).__name__]) from None
    try:
        rows, problems = _read_csv(text) if suffix == ".csv" else _read_json(text)
    except csv.Error as exc:
        raise EventError(f"cannot read {where}", [f"malformed CSV: {exc}"]) from None
    events, row_problems = _rows_problems(rows)
    problems += row_problems
    if problems:
        problems.sort(key=_problem_order)
        raise EventError(f"events file {where} is invalid: {len(problems)} problem(s)", problems)
    return events


def _problem_order(problem: str) -> tuple[int, int]:
    if problem.startswith("row "):
        return 1, int(problem.split()[1].rstrip(":"))
    return 0, 0
