"""How the state store encodes a :class:`~matching.programme.state.State` and decodes it.

Internal to :mod:`matching.programme.store`.  A roster row is stored as a
JSON object of its roster columns (tuples as lists, NaN as ``null``) beside
its lifecycle columns; configuration, metrics and payloads as plain JSON.
Encoding checks every cell's type and collects every problem (ids and
columns only, never a cell's content); decoding names the table and the
record of a damaged row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import StoreError
from matching.programme.state import (
    CHILD_STATUSES,
    DEPARTED_STATUSES,
    EXIT_STATES,
    LIFECYCLE_COLUMNS,
    MENTOR_STATUSES,
    PAIR_COLUMNS,
    State,
    iso_date,
)
from matching.rosters import CHILD_COLUMNS, MENTOR_COLUMNS

__all__: list[str] = []

Pair = tuple[str, str]
Row = tuple[str, str, str, str, str]
"""A stored roster row: (JSON data, status, joined_on, left_on, left_reason)."""

# the stored kind of each roster column kind
_KINDS = {
    "id": "text",
    "text": "text",
    "gender": "text",
    "float": "float",
    "int": "int",
    "bool": "bool",
    "categories": "tuple",
    "tags": "tuple",
}
_LIFE_KINDS = dict.fromkeys(LIFECYCLE_COLUMNS, "text")
CHILD_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in CHILD_COLUMNS}
"""The stored kind of each column of a child's state row."""
CHILD_KINDS.update(exit_state="text", exit_approved_by="text", **_LIFE_KINDS)
MENTOR_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in MENTOR_COLUMNS}
"""The stored kind of each column of a mentor's state row."""
MENTOR_KINDS.update(_LIFE_KINDS)
_CHILD_ALLOWED: dict[str, tuple[str, ...]] = {
    "exit_state": EXIT_STATES,
    "status": CHILD_STATUSES,
}
_MENTOR_ALLOWED: dict[str, tuple[str, ...]] = {"status": MENTOR_STATUSES}

_MAX_SHOWN = 30  # problems listed in one error message


# ----------------------------------------------------------------------------------------------
# JSON


def jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (dicts, lists, str, int, float, bool, None).

    Numpy scalars, tuples, sets, dataclasses, dates and paths are converted;
    NaN and infinities become ``None``.  Anything else is a StoreError naming
    ``where`` and the type.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return _jsonable_mapping(value, where)
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [jsonable(item, where) for item in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(item, where) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), where)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is pd.NA or value is pd.NaT:
        return None
    raise StoreError(f"{where} is not JSON-able: a value of type {type(value).__name__}")


def _jsonable_mapping(value: Mapping[Any, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, np.generic):
            key = key.item()
        if not isinstance(key, str | int | float | bool):
            raise StoreError(f"{where} is not JSON-able: a key of type {type(key).__name__}")
        out[str(key)] = jsonable(item, where)
    return out


def dumps(value: Any, where: str) -> str:
    """``value`` as JSON text (see :func:`jsonable`)."""
    return json.dumps(jsonable(value, where), ensure_ascii=False, allow_nan=False)


def json_row(table: str, label: str, text: str) -> dict[str, Any]:
    """A stored JSON object, or a StoreError naming the table and the record."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise StoreError(
            f"state store is damaged: table {table!r}, {label}: the stored data is not "
            "a JSON object; restore the store from a backup"
        )
    return data


def is_iso(text: str) -> bool:
    """Whether ``text`` is an ISO date written as such (``YYYY-MM-DD``, nothing else)."""
    return iso_date(text) == text


def problem_error(what: str, problems: list[str]) -> StoreError:
    """One StoreError listing ``problems`` (the first :data:`_MAX_SHOWN`, then how many more)."""
    shown = "\n".join(f"  - {p}" for p in problems[:_MAX_SHOWN])
    more = len(problems) - _MAX_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return StoreError(f"{what}: {len(problems)} problem(s)\n{shown}{tail}", problems)


# ----------------------------------------------------------------------------------------------
# encoding a roster


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _encode_value(kind: str, value: Any) -> tuple[Any, str | None]:
    """(JSON value, problem or None) for one cell of a roster column."""
    if kind == "text":
        if isinstance(value, str):
            return value, None
        return None, "not text"
    if kind == "float":
        if _is_missing(value):
            return None, None
        if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
            return float(value), None
        return None, "not a number"
    if kind == "int":
        if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
            return int(value), None
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return int(value), None
        return None, "not an integer"
    if kind == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value), None
        return None, "not a boolean"
    # tuple
    if isinstance(value, tuple | list | np.ndarray) and all(isinstance(v, str) for v in value):
        return list(value), None
    return None, "not a tuple of text"


def _frame_problem(frame: Any, kinds: Mapping[str, str]) -> str | None:
    """Why ``frame`` cannot be encoded at all (after its name), or None."""
    if not isinstance(frame, pd.DataFrame):
        return " is not a DataFrame"
    if frame.columns.duplicated().any():
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        return f": duplicate column(s) {', '.join(dups)}"
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        return f": missing column(s) {', '.join(missing)}"
    return None


def _encode_column(
    column: str,
    kind: str,
    cells: list[Any],
    allowed: tuple[str, ...] | None,
    labels: list[str],
    problems: list[str],
) -> list[Any]:
    """The JSON values of one column; appends a problem per bad cell (after its row label)."""
    values = []
    for row, value in enumerate(cells):
        out, problem = _encode_value(kind, value)
        if problem is None and allowed is not None and out not in allowed:
            problem = f"not one of {', '.join(repr(a) for a in allowed)}"
        if problem is None and column == "id" and not out:
            problem = "empty id"
        if problem is not None:
            problems.append(f"{labels[row]}: column {column!r}: {problem}")
        values.append(out)
    return values


def _lifecycle_problems(encoded: Mapping[str, list[Any]], labels: list[str]) -> list[str]:
    """Problems of the lifecycle dates: ISO dates, a departure dated, an enrolment not."""
    problems = []
    for row, (status, joined, left, why) in enumerate(
        zip(*(encoded[c] for c in LIFECYCLE_COLUMNS), strict=True)
    ):
        if not all(isinstance(v, str) for v in (status, joined, left, why)):
            continue  # already reported
        departed = status in DEPARTED_STATUSES
        if not is_iso(joined):
            problems.append(f"{labels[row]}: column 'joined_on': not an ISO date")
        if departed != bool(left) or (left and not is_iso(left)):
            wanted = (
                "an ISO date when the status is " + status if departed else "blank while enrolled"
            )
            problems.append(f"{labels[row]}: column 'left_on': {wanted}")
        elif left and joined and left < joined:
            problems.append(f"{labels[row]}: left_on is before joined_on")
    return problems


def _duplicate_ids(ids: list[Any]) -> list[str]:
    seen: dict[str, int] = {}
    for ident in ids:
        if isinstance(ident, str):
            seen[ident] = seen.get(ident, 0) + 1
    return [f"duplicate id {ident} ({count} rows)" for ident, count in seen.items() if count > 1]


def _encode_roster(
    frame: Any,
    name: str,
    kinds: Mapping[str, str],
    allowed_values: Mapping[str, tuple[str, ...]],
    problems: list[str],
) -> dict[str, Row]:
    """{id: stored row} of a roster; appends its problems (ids and columns only)."""
    where = f"new_state.{name}"
    unusable = _frame_problem(frame, kinds)
    if unusable is not None:
        problems.append(where + unusable)
        return {}
    ids = frame["id"].tolist()
    labels = [
        f"{where} {ident if isinstance(ident, str) and ident else f'row {row + 1}'}"
        for row, ident in enumerate(ids)
    ]
    encoded = {
        column: _encode_column(
            column, kind, frame[column].tolist(), allowed_values.get(column), labels, problems
        )
        for column, kind in kinds.items()
    }
    problems += _lifecycle_problems(encoded, labels)
    problems += [f"{where}: {problem}" for problem in _duplicate_ids(ids)]
    data_columns = [c for c in kinds if c != "id" and c not in LIFECYCLE_COLUMNS]
    rows: dict[str, Row] = {}
    for row, ident in enumerate(ids):
        if not isinstance(ident, str):
            continue
        record = {column: encoded[column][row] for column in data_columns}
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        life = tuple(str(encoded[c][row]) for c in LIFECYCLE_COLUMNS)
        rows[ident] = (text, life[0], life[1], life[2], life[3])
    return rows


# ----------------------------------------------------------------------------------------------
# decoding a roster


def decode_roster(
    table: str, rows: list[tuple[Any, ...]], kinds: Mapping[str, str]
) -> pd.DataFrame:
    """Rows ``(id, data, status, joined_on, left_on, left_reason)`` as a typed roster frame."""
    records = [json_row(table, f"record {row[0]}", row[1]) for row in rows]
    data: dict[str, Any] = {}
    for column, kind in kinds.items():
        if column == "id":
            data[column] = pd.Series([row[0] for row in rows], dtype=object)
            continue
        if column in LIFECYCLE_COLUMNS:
            at = 2 + LIFECYCLE_COLUMNS.index(column)
            data[column] = pd.Series([str(row[at]) for row in rows], dtype=object)
            continue
        values = [record.get(column) for record in records]
        try:
            data[column] = _decode_column(kind, values)
        except (TypeError, ValueError):
            bad = next(
                (row[0] for row, v in zip(rows, values, strict=True) if not _decodes(kind, v)),
                "?",
            )
            raise StoreError(
                f"state store is damaged: table {table!r}, record {bad}: column {column!r} "
                f"is not {kind}; restore the store from a backup"
            ) from None
    return pd.DataFrame(data)


def _decode_column(kind: str, values: list[Any]) -> pd.Series:
    if kind == "text":
        if not all(v is None or isinstance(v, str) for v in values):
            raise TypeError
        return pd.Series(["" if v is None else v for v in values], dtype=object)
    if kind == "float":
        return pd.Series(np.array([math.nan if v is None else v for v in values], dtype=np.float64))
    if kind == "int":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise TypeError
        return pd.Series(np.array(values, dtype=np.int64))
    if kind == "bool":
        if not all(isinstance(v, bool) for v in values):
            raise TypeError
        return pd.Series(np.array(values, dtype=bool))
    cells = np.empty(len(values), dtype=object)
    for row, v in enumerate(values):
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise TypeError
        cells[row] = tuple(v or ())
    return pd.Series(cells, dtype=object)


def _decodes(kind: str, value: Any) -> bool:
    try:
        _decode_column(kind, [value])
    except (TypeError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------------------------
# encoding a whole state


@dataclass
class Encoded:
    """A state as the store holds it."""

    children: dict[str, Row]
    mentors: dict[str, Row]
    capacity: dict[str, int]
    pairs: dict[Pair, tuple[str, str, bool]]  # (child, mentor) -> (started_on, reason, pinned)
    forbidden: set[Pair]
    queue: list[str]


def encode_state(state: Any) -> tuple[Encoded, list[str]]:
    """Encode ``state``; return it with the problems found that need nothing stored."""
    problems: list[str] = []
    if not isinstance(state, State):
        raise StoreError(f"new_state must be a State, not {type(state).__name__}")
    children = _encode_roster(state.children, "children", CHILD_KINDS, _CHILD_ALLOWED, problems)
    mentors = _encode_roster(state.mentors, "mentors", MENTOR_KINDS, _MENTOR_ALLOWED, problems)
    capacity: dict[str, int] = {}
    if isinstance(state.mentors, pd.DataFrame) and mentors:
        ids, caps = state.mentors["id"].tolist(), state.mentors["capacity"].tolist()
        for ident, cap in zip(ids, caps, strict=True):
            if isinstance(ident, str) and isinstance(cap, int | float | np.integer | np.floating):
                capacity[ident] = int(cap)  # checked by _encode_roster
    pairs = _encode_pairs(state.pairs, problems)
    forbidden: set[Pair] = set()
    for item in state.forbidden:
        if (
            isinstance(item, tuple | list)
            and len(item) == 2
            and all(isinstance(v, str) for v in item)
        ):
            forbidden.add((item[0], item[1]))
        else:
            problems.append("new_state.forbidden: an entry is not a (child_id, mentor_id) pair")
    queue: list[str] = []
    for ident in state.first_in_line:
        if not isinstance(ident, str):
            problems.append("new_state.first_in_line: an entry is not text")
        elif ident in queue:
            problems.append(f"new_state.first_in_line: child {ident} is queued twice")
        else:
            queue.append(ident)
    return Encoded(children, mentors, capacity, pairs, forbidden, queue), problems


def _encode_pairs(frame: Any, problems: list[str]) -> dict[Pair, tuple[str, str, bool]]:
    """The pairs of ``State.pairs``; appends the problems of their cells and of a child in two."""
    pairs: dict[Pair, tuple[str, str, bool]] = {}
    if not isinstance(frame, pd.DataFrame):
        problems.append("new_state.pairs is not a DataFrame")
        return pairs
    if [c for c in PAIR_COLUMNS if c not in frame.columns]:
        missing = ", ".join(c for c in PAIR_COLUMNS if c not in frame.columns)
        problems.append(f"new_state.pairs: missing column(s) {missing}")
        return pairs
    cols = [frame[c].tolist() for c in PAIR_COLUMNS]
    mentors_of: dict[str, list[str]] = {}
    for row, (child, mentor, started_on, reason, pinned) in enumerate(zip(*cols, strict=True)):
        if not (isinstance(child, str) and isinstance(mentor, str) and child and mentor):
            problems.append(f"new_state.pairs row {row + 1}: child_id/mentor_id not text")
            continue
        bad = [
            name
            for name, value in (("started_on", started_on), ("start_reason", reason))
            if not isinstance(value, str)
        ]
        if not isinstance(pinned, bool | np.bool_):
            bad.append("pinned")
        if bad:
            problems.append(
                f"pair ({child}, {mentor}): column(s) {', '.join(bad)} of the wrong type"
            )
            continue
        mentors_of.setdefault(child, []).append(mentor)
        pairs[(child, mentor)] = (started_on, reason, bool(pinned))
    for child, its_mentors in mentors_of.items():
        if len(its_mentors) > 1:
            problems.append(
                f"child {child} is in {len(its_mentors)} pairs (mentors {', '.join(its_mentors)})"
            )
    return pairs


def settle_children(new: Encoded) -> None:
    """An enrolled child's stored status follows the pairs: ``paired`` or ``waiting``."""
    paired = {child for child, _ in new.pairs}
    for ident, row in new.children.items():
        if row[1] != "exited":
            status = "paired" if ident in paired else "waiting"
            if row[1] != status:
                new.children[ident] = (row[0], status, row[2], row[3], row[4])
