"""A durable, embedded store of the programme's state (one SQLite file, no server).

The nightly batch job opens the store, :meth:`StateStore.load` s the current
:class:`~matching.programme.state.State`, applies events and re-matching, and
:meth:`StateStore.commit` s the new state.  Each commit is one SQLite
transaction: it writes the rosters that changed, replaces the current pairs,
the forbidden pairs and the first-in-line queue, appends to the pair and
enrolment histories, and records the run, its events and its plan files.
Either all of it lands or none of it does (a crash, a ``SIGKILL`` or an
exception in the middle leaves the store as it was before the commit), and
readers never see a half-applied run.

What is stored
    ``children`` / ``mentors``
        One row per person ever enrolled, never deleted: the id, a JSON
        object of the roster columns (:data:`~matching.programme.state.CHILD_STATE_COLUMNS`
        less the lifecycle; tuples as lists, NaN as ``null``), and the
        lifecycle columns ``status``, ``joined_on``, ``left_on`` and
        ``left_reason`` (:data:`~matching.programme.state.LIFECYCLE_COLUMNS`).  A child's
        ``status`` is ``"exited"`` or else follows the pairs (``"paired"`` /
        ``"waiting"``).  Other columns a roster may carry (a name, a phone
        number...) are **not** stored.
    ``enrolments``
        Every enrolment spell, append-only: who (``role``, ``person_id``),
        ``joined_on`` and the run that recorded it, and once it ends
        ``left_on``, ``left_reason`` and that run.  A rejoin opens a new spell.
    ``pairs``
        The current pairs (:data:`~matching.programme.state.PAIR_COLUMNS`).
    ``forbidden``, ``queue``
        ``State.forbidden`` and ``State.first_in_line`` (in queue order).
    ``history``
        Every pair ever made, append-only: a row is inserted when a pair
        starts (``started_on``: the pair's own start date, ``start_reason``,
        ``start_run_id``) and its end (``ended_on``: the decision's date,
        ``end_reason``, ``end_approved_by``, ``end_run_id``) is filled exactly
        once, when the pair ends.  Database triggers refuse any other update
        and every delete.
    ``runs``
        One row per commit: date, kind, library version, configuration,
        input hashes, metrics and counts (JSON), the digest of the run's
        inputs (:attr:`RunInfo.inputs_digest`, which finds a night already
        committed) and the UTC wall-clock time of the commit.
    ``events``
        The events of each run, numbered ``seq`` 0, 1, ... within the run,
        with the date each took effect and its identity (``event_key``,
        :func:`matching.programme.events.event_key`).
    ``run_files``
        Files a run produced (the nightly plan), byte for byte, so that the
        plan of any run can be written again (``matching plan``).
    ``meta``
        ``schema_version``; :data:`MIGRATIONS` bring an older file up to date
        when it is opened for writing.

Creating and refusing files
    A store is created only where no file exists: it is built in a
    temporary file beside the path and linked into place whole.  An existing
    file that is empty, not an SQLite database, or an SQLite database without
    the store's tables is refused (:class:`StoreError` naming the file), never
    started over.

One writer at a time, enforced by SQLite itself
    The file uses SQLite's rollback journal, whose locks live in the database
    file: a read-write :meth:`StateStore.open` starts a write transaction
    (``BEGIN IMMEDIATE``) and holds it until :meth:`StateStore.close`, so a
    second writer gets :class:`StoreLockedError` whatever path it uses (the
    same path, a symbolic link or a hard link).  On top of that each commit
    checks that no other run was committed since the store was opened or
    last committed (:class:`StoreConflictError`), so a stale plan can never
    land.  Read-only opens take no write lock and see committed state only.

Error messages name tables, record ids and columns, never other personal data.

Examples
--------
>>> import tempfile, pathlib
>>> from matching.programme.state import empty_state
>>> folder = tempfile.mkdtemp()
>>> with StateStore.open(pathlib.Path(folder) / "state.db") as store:
...     run_id = store.commit(empty_state(), run=RunInfo(run_date="2026-11-24", kind="import"))
...     state = store.load()
>>> run_id, len(state.children), store.SCHEMA_VERSION
(1, 0, 2)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import glob
import json
import logging
import math
import numbers
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from matching._files import fsync_path
from matching.errors import StoreConflictError, StoreError, StoreLockedError
from matching.programme.state import (
    CHILD_STATE_COLUMNS,
    CHILD_STATUSES,
    DEPARTED_STATUSES,
    EXIT_STATES,
    LIFECYCLE_COLUMNS,
    MENTOR_STATE_COLUMNS,
    MENTOR_STATUSES,
    PAIR_COLUMNS,
    State,
    empty_state,
    iso_date,
)
from matching.rosters import CHILD_COLUMNS, MENTOR_COLUMNS

__all__ = [
    "ENROLMENT_COLUMNS",
    "HISTORY_COLUMNS",
    "MIGRATIONS",
    "RunInfo",
    "StateStore",
    "backup",
]

_log = logging.getLogger(__name__)

Pair = tuple[str, str]


# ----------------------------------------------------------------------------------------------
# schema and migrations

_V1_STATEMENTS = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_date TEXT NOT NULL,
        kind TEXT NOT NULL,
        library_version TEXT NOT NULL,
        config TEXT NOT NULL,
        input_hashes TEXT NOT NULL,
        metrics TEXT NOT NULL,
        counts TEXT NOT NULL,
        committed_at TEXT NOT NULL
    )""",
    "CREATE TABLE children (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE mentors (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE pairs (
        child_id TEXT PRIMARY KEY REFERENCES children(id),
        mentor_id TEXT NOT NULL REFERENCES mentors(id),
        started_on TEXT NOT NULL,
        start_reason TEXT NOT NULL,
        pinned INTEGER NOT NULL CHECK (pinned IN (0, 1))
    )""",
    "CREATE INDEX pairs_mentor ON pairs(mentor_id)",
    """CREATE TABLE forbidden (
        child_id TEXT NOT NULL,
        mentor_id TEXT NOT NULL,
        PRIMARY KEY (child_id, mentor_id)
    ) WITHOUT ROWID""",
    "CREATE TABLE queue (position INTEGER PRIMARY KEY, child_id TEXT NOT NULL UNIQUE)",
    """CREATE TABLE history (
        history_id INTEGER PRIMARY KEY AUTOINCREMENT,
        child_id TEXT NOT NULL,
        mentor_id TEXT NOT NULL,
        started_on TEXT NOT NULL,
        start_reason TEXT NOT NULL,
        start_run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ended_on TEXT,
        end_reason TEXT,
        end_approved_by TEXT,
        end_run_id INTEGER REFERENCES runs(run_id),
        CHECK ((ended_on IS NULL) = (end_run_id IS NULL))
    )""",
    "CREATE UNIQUE INDEX history_open_child ON history(child_id) WHERE ended_on IS NULL",
    "CREATE INDEX history_pair ON history(child_id, mentor_id)",
    """CREATE TRIGGER history_never_deleted BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history rows are never deleted'); END""",
    """CREATE TRIGGER history_end_once BEFORE UPDATE ON history
    WHEN OLD.ended_on IS NOT NULL
        OR NEW.history_id IS NOT OLD.history_id
        OR NEW.child_id IS NOT OLD.child_id
        OR NEW.mentor_id IS NOT OLD.mentor_id
        OR NEW.started_on IS NOT OLD.started_on
        OR NEW.start_reason IS NOT OLD.start_reason
        OR NEW.start_run_id IS NOT OLD.start_run_id
    BEGIN SELECT RAISE(ABORT, 'history rows are append-only: only open pairs may end'); END""",
    """CREATE TABLE events (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        child_id TEXT,
        mentor_id TEXT,
        actor TEXT NOT NULL,
        note TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER runs_never_changed BEFORE UPDATE ON runs
    BEGIN SELECT RAISE(ABORT, 'runs are never changed'); END""",
    """CREATE TRIGGER runs_never_deleted BEFORE DELETE ON runs
    BEGIN SELECT RAISE(ABORT, 'runs are never deleted'); END""",
    """CREATE TRIGGER events_never_changed BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never changed'); END""",
    """CREATE TRIGGER events_never_deleted BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END""",
)


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    """Version 0 (an empty file) to 1: create every table."""
    for statement in _V1_STATEMENTS:
        conn.execute(statement)


_V2_STATEMENTS = (
    *(
        f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
        for table in ("children", "mentors")
        for column in LIFECYCLE_COLUMNS
    ),
    """CREATE TABLE enrolments (
        enrolment_id INTEGER PRIMARY KEY AUTOINCREMENT,
        role TEXT NOT NULL CHECK (role IN ('child', 'mentor')),
        person_id TEXT NOT NULL,
        joined_on TEXT NOT NULL,
        join_run_id INTEGER REFERENCES runs(run_id),
        left_on TEXT,
        left_reason TEXT,
        leave_run_id INTEGER REFERENCES runs(run_id),
        CHECK ((left_on IS NULL) = (leave_run_id IS NULL))
    )""",
    "CREATE UNIQUE INDEX enrolments_open ON enrolments(role, person_id) WHERE left_on IS NULL",
    "CREATE INDEX enrolments_person ON enrolments(role, person_id)",
    """CREATE TRIGGER enrolments_never_deleted BEFORE DELETE ON enrolments
    BEGIN SELECT RAISE(ABORT, 'enrolments are never deleted'); END""",
    """CREATE TRIGGER enrolments_end_once BEFORE UPDATE ON enrolments
    WHEN OLD.left_on IS NOT NULL
        OR NEW.enrolment_id IS NOT OLD.enrolment_id
        OR NEW.role IS NOT OLD.role
        OR NEW.person_id IS NOT OLD.person_id
        OR NEW.joined_on IS NOT OLD.joined_on
        OR NEW.join_run_id IS NOT OLD.join_run_id
    BEGIN SELECT RAISE(ABORT, 'enrolments are append-only: only open spells may end'); END""",
    "ALTER TABLE events ADD COLUMN event_date TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE events ADD COLUMN event_key TEXT",
    "CREATE INDEX events_key ON events(event_key)",
    "ALTER TABLE runs ADD COLUMN inputs_digest TEXT",
    "CREATE INDEX runs_night ON runs(run_date, inputs_digest)",
    """CREATE TABLE run_files (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER run_files_never_changed BEFORE UPDATE ON run_files
    BEGIN SELECT RAISE(ABORT, 'run files are never changed'); END""",
    """CREATE TRIGGER run_files_never_deleted BEFORE DELETE ON run_files
    BEGIN SELECT RAISE(ABORT, 'run files are never deleted'); END""",
)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: lifecycle columns and enrolments, dated and keyed events, run files.

    Schema 1 deleted children who exited and mentors who left, so they are
    not in the migrated store (their pairs are in ``history``).  For the
    people it kept, ``joined_on`` is the earliest date the store shows them
    enrolled: the start of their first pair, or else the last run's date.
    Events get their run's date and their identity.
    """
    from matching.programme.events import EVENT_KINDS, Event, event_key

    for statement in _V2_STATEMENTS:
        conn.execute(statement)
    last = conn.execute("SELECT run_date FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    last_date = "" if last is None else str(last[0])
    paired = {str(r[0]) for r in conn.execute("SELECT child_id FROM pairs")}
    for table, role, column in (
        ("children", "child", "child_id"),
        ("mentors", "mentor", "mentor_id"),
    ):
        first = dict(
            conn.execute(f"SELECT {column}, MIN(started_on) FROM history GROUP BY {column}")
        )
        rows = conn.execute(f"SELECT id, data FROM {table}").fetchall()
        for ident, text in rows:
            data = _json_row(table, f"record {ident}", text)
            joined = min(d for d in (first.get(ident), last_date) if d) if last_date else ""
            if table == "mentors":
                status = str(data.pop("status", "active"))
            else:
                status = "paired" if ident in paired else "waiting"
            conn.execute(
                f"UPDATE {table} SET data = ?, status = ?, joined_on = ? WHERE id = ?",
                (
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                    status,
                    joined,
                    ident,
                ),
            )
            conn.execute(
                "INSERT INTO enrolments (role, person_id, joined_on) VALUES (?, ?, ?)",
                (role, ident, joined),
            )
    # events were immutable in schema 1; lift the trigger while they are dated, then restore it
    conn.execute("DROP TRIGGER events_never_changed")
    dated = conn.execute(
        "SELECT e.run_id, e.seq, e.kind, e.child_id, e.mentor_id, e.actor, e.note, r.run_date "
        "FROM events e JOIN runs r ON r.run_id = e.run_id"
    ).fetchall()
    for run_id, seq, kind, child, mentor, actor, note, run_date in dated:
        key = None
        if kind in EVENT_KINDS:
            event = Event(kind=kind, child_id=child or "", mentor_id=mentor or "",
                          actor=actor, note=note)  # fmt: skip
            key = event_key(event, run_date)
        conn.execute(
            "UPDATE events SET event_date = ?, event_key = ? WHERE run_id = ? AND seq = ?",
            (run_date, key, run_id, seq),
        )
    conn.execute(
        """CREATE TRIGGER events_never_changed BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are never changed'); END"""
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1, _migrate_1_to_2]
"""``MIGRATIONS[i]`` brings a store from schema version ``i`` to ``i + 1``.

Each runs inside the transaction that opens the store for writing, so a
failed migration leaves the file as it was.  It must not commit, and it must
not touch ``meta.schema_version`` (the caller sets it).
"""

HISTORY_COLUMNS = (
    "child_id",
    "mentor_id",
    "started_on",
    "start_reason",
    "start_run_id",
    "ended_on",
    "end_reason",
    "end_approved_by",
    "end_run_id",
)
"""The columns of :meth:`StateStore.history`."""

_RUN_COLUMNS = (
    "run_id",
    "run_date",
    "kind",
    "library_version",
    "config",
    "input_hashes",
    "metrics",
    "counts",
    "committed_at",
    "inputs_digest",
)
_RUN_JSON = ("config", "input_hashes", "metrics", "counts")
_EVENT_COLUMNS = (
    "run_id",
    "seq",
    "kind",
    "child_id",
    "mentor_id",
    "actor",
    "note",
    "event_date",
    "event_key",
    "payload",
)
_EVENT_KEYS = frozenset(
    {"kind", "child_id", "mentor_id", "actor", "note", "payload", "date", "key"}
)
ENROLMENT_COLUMNS = (
    "role",
    "person_id",
    "joined_on",
    "join_run_id",
    "left_on",
    "left_reason",
    "leave_run_id",
)
"""The columns of :meth:`StateStore.enrolments`."""

# ----------------------------------------------------------------------------------------------
# columns of the stored rosters

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
_CHILD_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in CHILD_COLUMNS}
_CHILD_KINDS.update(exit_state="text", exit_approved_by="text", **_LIFE_KINDS)
_MENTOR_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in MENTOR_COLUMNS}
_MENTOR_KINDS.update(_LIFE_KINDS)
assert tuple(_CHILD_KINDS) == CHILD_STATE_COLUMNS
assert tuple(_MENTOR_KINDS) == MENTOR_STATE_COLUMNS
_CHILD_ALLOWED: dict[str, tuple[str, ...]] = {
    "exit_state": EXIT_STATES,
    "status": CHILD_STATUSES,
}
_MENTOR_ALLOWED: dict[str, tuple[str, ...]] = {"status": MENTOR_STATUSES}

_MAX_SHOWN = 30


def _library_version() -> str:
    from matching._version import __version__

    return str(__version__)


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What a commit records about the run that made it.

    Attributes
    ----------
    run_date : str
        ISO date (``"2026-11-24"``) the run stands for: pairs that start or
        end in this commit start or end on this date.
    kind : str
        Free text: ``"nightly"``, ``"api"``, ``"import"``, ...
    library_version : str
        Version of mentor-matching that made the run (this one by default).
    config, input_hashes, metrics, counts : Mapping
        JSON-able mappings (numpy scalars, tuples and dataclasses are
        converted; NaN and infinities become ``null``).  The store adds its
        own counts of what changed (see :meth:`StateStore.commit`) to
        ``counts``.
    inputs_digest : str or None
        A digest of everything that decides the run's outcome (the nightly
        job hashes its rosters, events, date, configuration and options):
        :meth:`StateStore.find_run` finds a run already committed with the
        same digest, so that the night is not applied twice.
    """

    run_date: str
    kind: str = "nightly"
    library_version: str = field(default_factory=_library_version)
    config: Mapping[str, Any] = field(default_factory=dict)
    input_hashes: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)
    inputs_digest: str | None = None


# ----------------------------------------------------------------------------------------------
# JSON helpers


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (dicts, lists, str, int, float, bool, None)."""
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
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, np.generic):
                key = key.item()
            if not isinstance(key, str | int | float | bool):
                raise StoreError(f"{where} is not JSON-able: a key of type {type(key).__name__}")
            out[str(key)] = _jsonable(item, where)
        return out
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [_jsonable(item, where) for item in value]
    if isinstance(value, set | frozenset):
        items = [_jsonable(item, where) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), where)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is pd.NA or value is pd.NaT:
        return None
    raise StoreError(f"{where} is not JSON-able: a value of type {type(value).__name__}")


def _dumps(value: Any, where: str) -> str:
    return json.dumps(_jsonable(value, where), ensure_ascii=False, allow_nan=False)


# ----------------------------------------------------------------------------------------------
# encoding and decoding the state


def _problem_error(what: str, problems: list[str]) -> StoreError:
    shown = "\n".join(f"  - {p}" for p in problems[:_MAX_SHOWN])
    more = len(problems) - _MAX_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return StoreError(f"{what}: {len(problems)} problem(s)\n{shown}{tail}", problems)


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


def _encode_roster(
    frame: Any,
    name: str,
    kinds: Mapping[str, str],
    allowed_values: Mapping[str, tuple[str, ...]],
    problems: list[str],
) -> dict[str, _Row]:
    """{id: (JSON text, status, joined_on, left_on, left_reason)} of a roster.

    Appends problems (ids and columns only).
    """
    where = f"new_state.{name}"
    if not isinstance(frame, pd.DataFrame):
        problems.append(f"{where} is not a DataFrame")
        return {}
    if frame.columns.duplicated().any():
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        problems.append(f"{where}: duplicate column(s) {', '.join(dups)}")
        return {}
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        problems.append(f"{where}: missing column(s) {', '.join(missing)}")
        return {}
    columns = list(kinds)
    cells = {c: frame[c].tolist() for c in columns}
    ids = cells["id"]
    labels = [
        ident if isinstance(ident, str) and ident else f"row {row + 1}"
        for row, ident in enumerate(ids)
    ]
    encoded: dict[str, list[Any]] = {}
    for column in columns:
        kind = kinds[column]
        allowed = allowed_values.get(column)
        values = []
        for row, value in enumerate(cells[column]):
            out, problem = _encode_value(kind, value)
            if problem is None and allowed is not None and out not in allowed:
                problem = f"not one of {', '.join(repr(a) for a in allowed)}"
            if problem is None and column == "id" and not out:
                problem = "empty id"
            if problem is not None:
                problems.append(f"{where} {labels[row]}: column {column!r}: {problem}")
            values.append(out)
        encoded[column] = values
    for row, (status, joined, left, why) in enumerate(
        zip(*(encoded[c] for c in LIFECYCLE_COLUMNS), strict=True)
    ):
        if not all(isinstance(v, str) for v in (status, joined, left, why)):
            continue  # already reported
        departed = status in DEPARTED_STATUSES
        if not _is_iso(joined):
            problems.append(f"{where} {labels[row]}: column 'joined_on': not an ISO date")
        if departed != bool(left) or (left and not _is_iso(left)):
            problems.append(
                f"{where} {labels[row]}: column 'left_on': "
                + (
                    "an ISO date when the status is " + status
                    if departed
                    else "blank while enrolled"
                )
            )
        elif left and joined and left < joined:
            problems.append(f"{where} {labels[row]}: left_on is before joined_on")
    seen: dict[str, int] = {}
    for ident in ids:
        if isinstance(ident, str):
            seen[ident] = seen.get(ident, 0) + 1
    for ident, count in seen.items():
        if count > 1:
            problems.append(f"{where}: duplicate id {ident} ({count} rows)")
    data_columns = [c for c in columns if c != "id" and c not in LIFECYCLE_COLUMNS]
    rows: dict[str, _Row] = {}
    for row in range(len(ids)):
        ident = ids[row]
        if not isinstance(ident, str):
            continue
        record = {column: encoded[column][row] for column in data_columns}
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        life = tuple(str(encoded[c][row]) for c in LIFECYCLE_COLUMNS)
        rows[ident] = (text, life[0], life[1], life[2], life[3])
    return rows


def _is_iso(text: str) -> bool:
    """Whether ``text`` is an ISO date written as such (``YYYY-MM-DD``, nothing else)."""
    return iso_date(text) == text


def _json_row(table: str, label: str, text: str) -> dict[str, Any]:
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


def _decode_roster(
    table: str, rows: list[tuple[Any, ...]], kinds: Mapping[str, str]
) -> pd.DataFrame:
    """Rows ``(id, data, status, joined_on, left_on, left_reason)`` as a typed roster frame."""
    records = [_json_row(table, f"record {row[0]}", row[1]) for row in rows]
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


_Row = tuple[str, str, str, str, str]  # (JSON data, status, joined_on, left_on, left_reason)


@dataclass
class _Encoded:
    """A state as the store holds it."""

    children: dict[str, _Row]
    mentors: dict[str, _Row]
    capacity: dict[str, int]
    pairs: dict[Pair, tuple[str, str, bool]]  # (child, mentor) -> (started_on, reason, pinned)
    forbidden: set[Pair]
    queue: list[str]


def _encode_state(state: Any) -> tuple[_Encoded, list[str]]:
    """Encode ``state``; return it with the problems found that need nothing stored."""
    problems: list[str] = []
    if not isinstance(state, State):
        raise StoreError(f"new_state must be a State, not {type(state).__name__}")
    children = _encode_roster(state.children, "children", _CHILD_KINDS, _CHILD_ALLOWED, problems)
    mentors = _encode_roster(state.mentors, "mentors", _MENTOR_KINDS, _MENTOR_ALLOWED, problems)
    capacity: dict[str, int] = {}
    if isinstance(state.mentors, pd.DataFrame) and mentors:
        ids, caps = state.mentors["id"].tolist(), state.mentors["capacity"].tolist()
        for ident, cap in zip(ids, caps, strict=True):
            if isinstance(ident, str) and isinstance(cap, int | float | np.integer | np.floating):
                capacity[ident] = int(cap)  # checked by _encode_roster

    pairs: dict[Pair, tuple[str, str, bool]] = {}
    frame = state.pairs
    if not isinstance(frame, pd.DataFrame):
        problems.append("new_state.pairs is not a DataFrame")
    elif [c for c in PAIR_COLUMNS if c not in frame.columns]:
        missing = ", ".join(c for c in PAIR_COLUMNS if c not in frame.columns)
        problems.append(f"new_state.pairs: missing column(s) {missing}")
    else:
        cols = [frame[c].tolist() for c in PAIR_COLUMNS]
        mentors_of: dict[str, list[str]] = {}
        for row, (child, mentor, started_on, reason, pinned) in enumerate(zip(*cols, strict=True)):
            if not (isinstance(child, str) and isinstance(mentor, str) and child and mentor):
                problems.append(f"new_state.pairs row {row + 1}: child_id/mentor_id not text")
                continue
            label = f"pair ({child}, {mentor})"
            bad = [
                name
                for name, value in (("started_on", started_on), ("start_reason", reason))
                if not isinstance(value, str)
            ]
            if not isinstance(pinned, bool | np.bool_):
                bad.append("pinned")
            if bad:
                problems.append(f"{label}: column(s) {', '.join(bad)} of the wrong type")
                continue
            mentors_of.setdefault(child, []).append(mentor)
            pairs[(child, mentor)] = (started_on, reason, bool(pinned))
        for child, its_mentors in mentors_of.items():
            if len(its_mentors) > 1:
                problems.append(
                    f"child {child} is in {len(its_mentors)} pairs "
                    f"(mentors {', '.join(its_mentors)})"
                )

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
    return _Encoded(children, mentors, capacity, pairs, forbidden, queue), problems


def _settle_children(new: _Encoded) -> None:
    """An enrolled child's stored status follows the pairs: ``paired`` or ``waiting``."""
    paired = {child for child, _ in new.pairs}
    for ident, row in new.children.items():
        if row[1] != "exited":
            status = "paired" if ident in paired else "waiting"
            if row[1] != status:
                new.children[ident] = (row[0], status, row[2], row[3], row[4])


_Start = tuple[str, str, str, str]  # child, mentor, reason, started_on
_End = tuple[str, str, str, str, str]  # child, mentor, reason, approved_by, ended_on


def _check_pairs(
    new: _Encoded,
    old: _Encoded,
    started: Mapping[Any, Any],
    ended: Mapping[Any, Any],
    run_date: str,
) -> tuple[list[str], list[_Start], list[_End]]:
    """Problems of the new state against the stored one; the pairs that start and end."""
    problems: list[str] = []
    for name, new_rows, old_rows in (
        ("children", new.children, old.children),
        ("mentors", new.mentors, old.mentors),
    ):
        for ident in sorted(old_rows.keys() - new_rows.keys()):
            problems.append(
                f"new_state.{name}: {ident} is missing; people are never removed "
                "(their status records that they left)"
            )
    load: dict[str, int] = {}
    for child, mentor in new.pairs:
        label = f"pair ({child}, {mentor})"
        if child not in new.children:
            problems.append(f"{label}: child {child} is not in new_state.children")
        elif new.children[child][1] == "exited":
            problems.append(f"{label}: child {child} has exited")
        if mentor not in new.mentors:
            problems.append(f"{label}: mentor {mentor} is not in new_state.mentors")
        elif new.mentors[mentor][1] == "left":
            problems.append(f"{label}: mentor {mentor} has left")
        if (child, mentor) in new.forbidden:
            problems.append(f"{label} is forbidden")
        if new.pairs[(child, mentor)][0] > run_date:
            problems.append(f"{label} starts after the run's date")
        load[mentor] = load.get(mentor, 0) + 1
    for mentor, count in sorted(load.items()):
        cap = new.capacity.get(mentor)
        if cap is not None and count > cap:
            problems.append(f"mentor {mentor} has {count} pairs but capacity {cap}")

    starts: list[_Start] = []
    # a pair that ends and starts again in this commit (ended by an event, made again by
    # the re-match or a staff override) is named in both ``started`` and ``ended``
    restarted = {
        key
        for key in started.keys() & ended.keys()
        if isinstance(key, tuple) and key in old.pairs and key in new.pairs
    }
    for key, value in started.items():
        fresh = isinstance(key, tuple) and key in new.pairs and key not in old.pairs
        if not (fresh or key in restarted):
            problems.append(f"started names {_key_label(key)}, which is not a pair started now")
            continue
        reason, on = (value, None) if isinstance(value, str) else (None, None)
        if isinstance(value, tuple | list) and len(value) == 2:
            reason, on = value
        if not isinstance(reason, str) or not (on is None or on == new.pairs[key][0]):
            problems.append(
                f"started[{_key_label(key)}] is not a reason, or (reason, the pair's started_on)"
            )
    for key in sorted((new.pairs.keys() - old.pairs.keys()) | restarted):
        value = started.get(key)
        reason = value if isinstance(value, str) else value[0] if value else ""
        starts.append((key[0], key[1], reason or new.pairs[key][1] or "matched", new.pairs[key][0]))

    ends: list[_End] = []
    for key, value in ended.items():
        gone = isinstance(key, tuple) and key in old.pairs and key not in new.pairs
        if not (gone or key in restarted):
            problems.append(f"ended names {_key_label(key)}, which is not a pair ended now")
        elif not (
            isinstance(value, tuple | list)
            and len(value) in (2, 3)
            and all(isinstance(v, str) for v in value)
            and (len(value) == 2 or _is_iso(value[2]))
        ):
            problems.append(
                f"ended[{_key_label(key)}] is not (reason, approved_by) or "
                "(reason, approved_by, ended_on)"
            )
    if problems:
        return problems, starts, ends
    for key in sorted((old.pairs.keys() - new.pairs.keys()) | restarted):
        why: tuple[str, ...] = tuple(ended.get(key, ("re-matched", "")))
        ended_on = why[2] if len(why) == 3 else run_date
        if ended_on < old.pairs[key][0] or ended_on > run_date:
            problems.append(
                f"pair ({key[0]}, {key[1]}) would end on {ended_on}, outside its start "
                f"({old.pairs[key][0]}) and the run's date ({run_date})"
            )
        if key in restarted and new.pairs[key][0] < ended_on:
            problems.append(
                f"pair ({key[0]}, {key[1]}) would start again on {new.pairs[key][0]}, "
                f"before it ended ({ended_on})"
            )
        ends.append((key[0], key[1], why[0], why[1], ended_on))
    return problems, starts, ends


def _key_label(key: Any) -> str:
    if isinstance(key, tuple) and all(isinstance(v, str) for v in key):
        return f"({', '.join(key)})"
    return f"a key of type {type(key).__name__}"


def _check_run(run: Any) -> dict[str, Any]:
    """The ``runs`` row of ``run`` (JSON texts; counts are added later)."""
    if not isinstance(run, RunInfo):
        raise StoreError(f"run must be a RunInfo, not {type(run).__name__}")
    date = run.run_date
    if not (isinstance(date, str) and _is_iso(date)):
        raise StoreError("run.run_date must be an ISO date such as '2026-11-24'")
    digest = run.inputs_digest
    if digest is not None and not (isinstance(digest, str) and digest):
        raise StoreError("run.inputs_digest must be None or non-empty text")
    if not isinstance(run.kind, str) or not run.kind:
        raise StoreError("run.kind must be non-empty text")
    if not isinstance(run.library_version, str):
        raise StoreError("run.library_version must be text")
    row: dict[str, Any] = {
        "run_date": date,
        "kind": run.kind,
        "library_version": run.library_version,
        "inputs_digest": digest,
    }
    for name in ("config", "input_hashes", "metrics", "counts"):
        value = getattr(run, name)
        if not isinstance(value, Mapping) and not (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        ):
            raise StoreError(f"run.{name} must be a mapping")
        row[name] = _dumps(value, f"run.{name}")
    return row


def _check_events(events: Sequence[Mapping[str, object]], run_date: str) -> list[dict[str, Any]]:
    if isinstance(events, Mapping | str):
        raise StoreError("events must be a sequence of mappings")
    out = []
    for number, event in enumerate(events):
        where = f"events[{number}]"
        if not isinstance(event, Mapping):
            raise StoreError(f"{where} is not a mapping")
        kind = event.get("kind")
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"{where}: 'kind' must be non-empty text")
        row: dict[str, Any] = {"kind": kind}
        for key in ("child_id", "mentor_id"):
            value = event.get(key)
            if value is not None and not isinstance(value, str):
                raise StoreError(f"{where}: {key!r} must be text or None")
            row[key] = value
        for key in ("actor", "note"):
            value = event.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise StoreError(f"{where}: {key!r} must be text")
            row[key] = value
        day = event.get("date") or run_date
        if not (isinstance(day, str) and _is_iso(day)) or day > run_date:
            raise StoreError(f"{where}: 'date' must be an ISO date no later than the run's date")
        row["date"] = day
        key_value = event.get("key")
        if key_value is not None and not (isinstance(key_value, str) and key_value):
            raise StoreError(f"{where}: 'key' must be None or non-empty text")
        row["key"] = key_value
        payload = event.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, Mapping):
            raise StoreError(f"{where}: 'payload' must be a mapping")
        merged = dict(payload)
        for key, value in event.items():
            if key in _EVENT_KEYS:
                continue
            if key in merged:
                raise StoreError(f"{where}: {key!r} is both a key of the event and of its payload")
            merged[key] = value
        row["payload"] = _dumps(merged, f"{where} payload")
        out.append(row)
    return out


# ----------------------------------------------------------------------------------------------
# the steps of a commit (module functions, so that tests can interrupt one)


def _write_rosters(
    conn: sqlite3.Connection, new: _Encoded, old: _Encoded, run_id: int, spells: _Spells
) -> None:
    for table, role, new_rows, old_rows in (
        ("children", "child", new.children, old.children),
        ("mentors", "mentor", new.mentors, old.mentors),
    ):
        changed = [(ident, *row) for ident, row in new_rows.items() if old_rows.get(ident) != row]
        conn.executemany(
            f"INSERT INTO {table} (id, data, status, joined_on, left_on, left_reason) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data, "
            "status = excluded.status, joined_on = excluded.joined_on, "
            "left_on = excluded.left_on, left_reason = excluded.left_reason",
            changed,
        )
        for change in spells[role]:
            if change.end_old is not None:
                _end_spell(conn, role, change.ident, change.end_old, run_id)
            if change.start is not None:
                conn.execute(
                    "INSERT INTO enrolments (role, person_id, joined_on, join_run_id) "
                    "VALUES (?, ?, ?, ?)",
                    (role, change.ident, change.start, run_id),
                )
            if change.end_new is not None:
                _end_spell(conn, role, change.ident, change.end_new, run_id)


def _end_spell(
    conn: sqlite3.Connection, role: str, ident: str, end: tuple[str, str], run_id: int
) -> None:
    cursor = conn.execute(
        "UPDATE enrolments SET left_on = ?, left_reason = ?, leave_run_id = ? "
        "WHERE role = ? AND person_id = ? AND left_on IS NULL",
        (end[0], end[1], run_id, role, ident),
    )
    if cursor.rowcount != 1:
        raise StoreError(f"enrolments has no open spell for {role} {ident}")


@dataclass(frozen=True)
class _SpellChange:
    """How one person's enrolment spells change in a commit: each part is (date, reason) or
    None; ``start`` is the new spell's joined_on."""

    ident: str
    end_old: tuple[str, str] | None
    start: str | None
    end_new: tuple[str, str] | None


_Spells = dict[str, list[_SpellChange]]
_DEPARTURES = {"exit_effective": ("child", "child_id"), "mentor_leave": ("mentor", "mentor_id")}


def _spell_changes(new: _Encoded, old: _Encoded, events: Sequence[Mapping[str, Any]]) -> _Spells:
    """The enrolment spells a commit ends and starts, person by person.

    The states before and after say who left and who (re)joined; a departure
    and a rejoin within the same commit show only in the events, whose dates
    and kinds then close the earlier spell.
    """
    departures: dict[tuple[str, str], tuple[str, str]] = {}
    for event in events:
        role_field = _DEPARTURES.get(str(event["kind"]))
        if role_field is not None and event.get(role_field[1]):
            key = (role_field[0], str(event[role_field[1]]))
            departures.setdefault(key, (str(event["date"]), str(event["kind"])))
    out: _Spells = {}
    for role, new_rows, old_rows in (
        ("child", new.children, old.children),
        ("mentor", new.mentors, old.mentors),
    ):
        changes = out.setdefault(role, [])
        for ident in sorted(new_rows):
            row, before = new_rows[ident], old_rows.get(ident)
            left = (row[3], row[4]) if row[1] in DEPARTED_STATUSES else None
            if before is None:
                changes.append(_SpellChange(ident, None, row[2], left))
                continue
            was_departed = before[1] in DEPARTED_STATUSES
            rejoined = row[2] != before[2]  # a new spell began in this commit
            if was_departed:
                if rejoined or left is None:  # back, perhaps gone again, in this commit
                    changes.append(_SpellChange(ident, None, row[2], left))
                continue
            if not rejoined:
                if left is not None:
                    changes.append(_SpellChange(ident, left, None, None))
                continue
            first = departures.get((role, ident), (row[2], "rejoined"))
            changes.append(_SpellChange(ident, first, row[2], left))
    return out


def _write_pairs(conn: sqlite3.Connection, new: _Encoded, old: _Encoded) -> None:
    conn.executemany(
        "INSERT INTO pairs (child_id, mentor_id, started_on, start_reason, pinned) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (child, mentor, started_on, reason, int(pinned))
            for (child, mentor), (started_on, reason, pinned) in new.pairs.items()
            if (child, mentor) not in old.pairs
        ],
    )
    conn.executemany(
        "UPDATE pairs SET started_on = ?, start_reason = ?, pinned = ? "
        "WHERE child_id = ? AND mentor_id = ?",
        [
            (started_on, reason, int(pinned), child, mentor)
            for (child, mentor), (started_on, reason, pinned) in new.pairs.items()
            if (child, mentor) in old.pairs
            and old.pairs[(child, mentor)] != new.pairs[(child, mentor)]
        ],
    )
    conn.executemany(
        "DELETE FROM forbidden WHERE child_id = ? AND mentor_id = ?",
        sorted(old.forbidden - new.forbidden),
    )
    conn.executemany(
        "INSERT INTO forbidden (child_id, mentor_id) VALUES (?, ?)",
        sorted(new.forbidden - old.forbidden),
    )
    if new.queue != old.queue:
        conn.execute("DELETE FROM queue")
        conn.executemany(
            "INSERT INTO queue (position, child_id) VALUES (?, ?)", list(enumerate(new.queue))
        )


def _write_history(
    conn: sqlite3.Connection, run_id: int, starts: list[_Start], ends: list[_End]
) -> None:
    for child, mentor, reason, approved_by, ended_on in ends:
        cursor = conn.execute(
            "UPDATE history SET ended_on = ?, end_reason = ?, end_approved_by = ?, "
            "end_run_id = ? WHERE child_id = ? AND mentor_id = ? AND ended_on IS NULL",
            (ended_on, reason, approved_by, run_id, child, mentor),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"history has no open row for pair ({child}, {mentor})")
    conn.executemany(
        "INSERT INTO history (child_id, mentor_id, started_on, start_reason, start_run_id) "
        "VALUES (?, ?, ?, ?, ?)",
        [(child, mentor, on, reason, run_id) for child, mentor, reason, on in starts],
    )


def _write_events(conn: sqlite3.Connection, run_id: int, events: list[dict[str, Any]]) -> None:
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, child_id, mentor_id, actor, note, event_date, "
        "event_key, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                seq,
                e["kind"],
                e["child_id"],
                e["mentor_id"],
                e["actor"],
                e["note"],
                e["date"],
                e["key"],
                e["payload"],
            )
            for seq, e in enumerate(events)
        ],
    )


def _write_files(conn: sqlite3.Connection, run_id: int, files: Mapping[str, bytes]) -> None:
    conn.executemany(
        "INSERT INTO run_files (run_id, name, data) VALUES (?, ?, ?)",
        [(run_id, name, sqlite3.Binary(data)) for name, data in sorted(files.items())],
    )


# ----------------------------------------------------------------------------------------------
# the store


_SQLITE_HEADER = b"SQLite format 3\x00"
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_BUSY_MS = 30_000
_LEFTOVER_SECONDS = 600.0


def _sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return StoreError(f"{str(path)!r} is not a state store (not an SQLite database)")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreLockedError(f"state store {str(path)!r} is locked by another process")
    return StoreError(f"state store {str(path)!r}: {type(exc).__name__}: {text}")


def _check_file(file: Path) -> None:
    """Refuse an existing file that cannot be a state store, naming it."""
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot open state store {str(file)!r}: {exc.strerror}") from None
    if size == 0:
        raise StoreError(
            f"{str(file)!r} is an empty file, not a state store; a store is created only where "
            "no file exists (restore it from a backup, or move the file away to start anew)"
        )
    if head != _SQLITE_HEADER:
        raise StoreError(f"{str(file)!r} is not a state store (not an SQLite database)")


def _link_into_place(tmp: Path, target: Path) -> bool:
    """Link the finished ``tmp`` to ``target`` unless ``target`` exists; True if linked."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links
        if target.exists():
            return False
        os.replace(tmp, target)
    fsync_path(target.parent)
    return True


def _remove_leftovers(file: Path) -> None:
    """Remove temporary stores that killed creators left beside ``file`` (old ones only)."""
    now = dt.datetime.now().timestamp()
    for leftover in file.parent.glob(f".{glob.escape(file.name)}.new-*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _LEFTOVER_SECONDS:
                leftover.unlink()


def _create(file: Path, target: int) -> None:
    """Build a new store in a temporary file beside ``file`` and link it into place whole."""
    _remove_leftovers(file)
    tmp = file.with_name(f".{file.name}.new-{secrets.token_hex(8)}")
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn, tmp, 0, target)
        finally:
            conn.close()
        fsync_path(tmp)
        if _link_into_place(tmp, file):
            _log.info("state store: created %s", file)
    except sqlite3.Error as exc:
        raise _sqlite_error(file, exc) from exc
    except OSError as exc:
        raise StoreError(f"cannot create state store {str(file)!r}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _reader(file: Path) -> sqlite3.Connection:
    """A connection that never writes: read-write where allowed (so that SQLite can roll back
    a killed writer's journal), else read-only."""
    if os.access(file, os.W_OK) and os.access(file.parent, os.W_OK):
        conn = sqlite3.connect(file, isolation_level=None, timeout=_BUSY_MS / 1000)
        conn.execute("PRAGMA query_only = ON")
        return conn
    uri = file.absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_BUSY_MS / 1000)


def _begin_writer(conn: sqlite3.Connection, file: Path) -> None:
    """Take the writer's lock: a write transaction, refused at once if another writer has one."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreLockedError(
                f"state store {str(file)!r} is locked by another writer; nothing was changed"
            ) from None
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")


class StateStore:
    """A durable store of the programme's :class:`~matching.programme.State` (see the module doc).

    Make one with :meth:`open`; use it as a context manager or call
    :meth:`close`.  A store is used by one thread at a time.
    """

    SCHEMA_VERSION: int = 2

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._readonly = readonly
        self._base_run_id = 0

    # -- opening and closing

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> StateStore:
        """Open the store at ``path``; for writing, create it first if no file is there.

        Parameters
        ----------
        path : str or os.PathLike
            The SQLite file.  Its directory must exist.  A symbolic link is
            followed (the store is the file it points to).
        readonly : bool
            Open for reading only: no lock is taken, nothing is created or
            migrated, :meth:`commit` is refused.

        Raises
        ------
        StoreLockedError
            If another writer has the store open (``readonly=False`` only),
            through this path or any other.
        StoreError
            If the directory or (``readonly=True``) the file does not exist;
            the file is empty, not an SQLite database or not a state store;
            or its schema version is newer than this library supports (or,
            read-only, older).
        """
        given = Path(os.fspath(path))
        file = Path(os.path.realpath(given))
        if not file.parent.is_dir():
            raise StoreError(
                f"cannot open state store {str(given)!r}: directory "
                f"{str(given.parent)!r} does not exist"
            )
        if file.is_dir():
            raise StoreError(f"cannot open state store {str(given)!r}: it is a directory")
        if readonly and not file.is_file():
            raise StoreError(f"cannot open state store {str(given)!r}: no such file")
        target = cls.SCHEMA_VERSION
        if not readonly and not file.exists():
            _create(file, target)
        _check_file(file)
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                conn = _reader(file)
                conn.execute("BEGIN")
            else:
                conn = sqlite3.connect(file, isolation_level=None, timeout=0.0)
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "delete":
                    # schema 1 used WAL, whose locks live beside the path, not in the file
                    mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
                    if str(mode).lower() != "delete":
                        raise StoreLockedError(
                            f"state store {str(file)!r} is in use by another process"
                        )
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA foreign_keys = ON")
                _begin_writer(conn, file)
            version = _read_version(conn, file)
            if version == 0:
                raise StoreError(
                    f"{str(file)!r} is not a state store (an SQLite file without tables)"
                )
            if version > target:
                raise StoreError(
                    f"cannot open {str(file)!r}: store schema version {version} is newer "
                    f"than this library supports ({target})"
                )
            if readonly and version < target:
                raise StoreError(
                    f"cannot open {str(file)!r} read-only: store schema version {version} "
                    f"is older than this library's ({target}); open it for writing once "
                    "to migrate it"
                )
            if readonly:
                conn.execute("COMMIT")
            elif version < target:
                _migrate(conn, file, version, target, in_transaction=True)
                conn.execute("COMMIT")
                _begin_writer(conn, file)
            store = cls(file, conn, readonly)
            if not readonly:
                store._base_run_id = _last_run_id(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _sqlite_error(file, exc) from exc
            raise
        return store

    def close(self) -> None:
        """Close the database, releasing the writer's lock (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self._readonly else "writer"
        state = "closed" if self._conn is None else "open"
        return f"<StateStore {str(self._path)!r} {mode} {state}>"

    @property
    def path(self) -> Path:
        """The store's file (symbolic links resolved)."""
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"state store {str(self._path)!r} is closed")
        return self._conn

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self._connection()
        try:
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _sqlite_error(self._path, exc) from exc

    # -- reading

    def schema_version(self) -> int:
        """The schema version of the file (``SCHEMA_VERSION`` once opened for writing)."""
        with self._snapshot() as conn:
            return _read_version(conn, self._path)

    def load(self) -> State:
        """The current state (:func:`~matching.programme.state.empty_state` for a new store).

        Rosters hold everyone ever enrolled, with their lifecycle columns, and
        have the canonical state columns with fixed dtypes (float64 ``lat``,
        ``lon``, ``age``, ``max_distance_km``; int64 ``priority``,
        ``capacity``; bool ``active``; object text and tuple columns), sorted
        by id, with a fresh ``RangeIndex``; pairs are sorted by child id.

        Raises
        ------
        StoreError
            If a stored row is damaged (naming the table and the record id).
        """
        with self._snapshot() as conn:
            if conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None:
                return empty_state()
            roster = "SELECT id, data, status, joined_on, left_on, left_reason FROM {} ORDER BY id"
            kids = conn.execute(roster.format("children")).fetchall()
            mentors = conn.execute(roster.format("mentors")).fetchall()
            pair_rows = conn.execute(
                "SELECT child_id, mentor_id, started_on, start_reason, pinned "
                "FROM pairs ORDER BY child_id"
            ).fetchall()
            forbidden = conn.execute("SELECT child_id, mentor_id FROM forbidden").fetchall()
            queue = conn.execute("SELECT child_id FROM queue ORDER BY position").fetchall()
        pairs = pd.DataFrame(
            {
                "child_id": pd.Series([r[0] for r in pair_rows], dtype=object),
                "mentor_id": pd.Series([r[1] for r in pair_rows], dtype=object),
                "started_on": pd.Series([r[2] for r in pair_rows], dtype=object),
                "start_reason": pd.Series([r[3] for r in pair_rows], dtype=object),
                "pinned": pd.Series([bool(r[4]) for r in pair_rows], dtype=bool),
            }
        )
        return State(
            children=_decode_roster("children", kids, _CHILD_KINDS),
            mentors=_decode_roster("mentors", mentors, _MENTOR_KINDS),
            pairs=pairs,
            forbidden=tuple(sorted((c, m) for c, m in forbidden)),
            first_in_line=tuple(r[0] for r in queue),
        )

    def history(self) -> pd.DataFrame:
        """Every pair ever made, in the order they started (:data:`HISTORY_COLUMNS`).

        ``ended_on``, ``end_reason`` and ``end_approved_by`` are ``None`` and
        ``end_run_id`` is ``<NA>`` (``Int64``) while a pair is current.
        """
        return self._table(
            "history", HISTORY_COLUMNS, "history_id", ints=("start_run_id",),
            nullable_ints=("end_run_id",),
        )  # fmt: skip

    def enrolments(self) -> pd.DataFrame:
        """Every enrolment spell, in the order they began (:data:`ENROLMENT_COLUMNS`).

        ``left_on`` and ``left_reason`` are ``None`` and ``leave_run_id`` is
        ``<NA>`` while the spell lasts; ``join_run_id`` is ``<NA>`` for spells
        brought over from a schema-1 store.
        """
        return self._table(
            "enrolments", ENROLMENT_COLUMNS, "enrolment_id",
            nullable_ints=("join_run_id", "leave_run_id"),
        )  # fmt: skip

    def runs(self) -> pd.DataFrame:
        """One row per commit, oldest first; JSON columns as dicts."""
        return self._table("runs", _RUN_COLUMNS, "run_id", ints=("run_id",), json_cols=_RUN_JSON)

    def events(self) -> pd.DataFrame:
        """Every recorded event, by run then ``seq``; ``payload`` as a dict.

        ``event_date`` is the date the event took effect; ``event_key`` its
        identity (:func:`matching.programme.events.event_key`; ``None`` for events the
        store adds itself, such as ``pin_changed``).
        """
        return self._table(
            "events", _EVENT_COLUMNS, "run_id, seq", ints=("run_id", "seq"),
            json_cols=("payload",),
        )  # fmt: skip

    def event_keys(self, among: Iterable[str] | None = None) -> set[str]:
        """The identities of recorded events (see :func:`matching.programme.events.apply_events`).

        With ``among``, only those of ``among`` that are recorded (an indexed
        lookup: what a night needs, whatever the length of the history).
        """
        with self._snapshot() as conn:
            if among is not None:
                return _recorded_keys(conn, set(among))
            rows = conn.execute("SELECT event_key FROM events WHERE event_key IS NOT NULL")
            return {str(r[0]) for r in rows}

    def find_run(self, *, run_date: str, inputs_digest: str) -> int | None:
        """The id of the last run committed for ``run_date`` with ``inputs_digest``, if any."""
        with self._snapshot() as conn:
            row = conn.execute(
                "SELECT MAX(run_id) FROM runs WHERE run_date = ? AND inputs_digest = ?",
                (run_date, inputs_digest),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def last_run_id(self) -> int:
        """The id of the newest run (0 for a store with none)."""
        with self._snapshot() as conn:
            return _last_run_id(conn)

    def run_files(self, run_id: int) -> dict[str, bytes]:
        """The files run ``run_id`` stored (its plan), by name.

        Raises
        ------
        StoreError
            If there is no such run.
        """
        if not isinstance(run_id, int) or isinstance(run_id, bool):
            raise StoreError(f"run_id must be an int, not {type(run_id).__name__}")
        with self._snapshot() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise StoreError(f"state store {str(self._path)!r} has no run {run_id}")
            rows = conn.execute(
                "SELECT name, data FROM run_files WHERE run_id = ? ORDER BY name", (run_id,)
            ).fetchall()
        return {str(name): bytes(data) for name, data in rows}

    def _table(
        self,
        table: str,
        columns: Sequence[str],
        order: str,
        *,
        ints: Sequence[str] = (),
        nullable_ints: Sequence[str] = (),
        json_cols: Sequence[str] | frozenset[str] = (),
    ) -> pd.DataFrame:
        """One table as a frame, read in one snapshot, with typed columns."""
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
            ).fetchall()
        data: dict[str, Any] = {}
        for i, column in enumerate(columns):
            values = [r[i] for r in rows]
            if column in ints:
                data[column] = pd.Series(values, dtype=np.int64)
            elif column in nullable_ints:
                data[column] = pd.Series(values, dtype=object).astype("Int64")
            elif column in json_cols:
                decoded = [
                    _json_row(table, _record_label(table, r), v)
                    for r, v in zip(rows, values, strict=True)
                ]
                data[column] = pd.Series(decoded, dtype=object)
            else:
                data[column] = pd.Series(values, dtype=object)
        return pd.DataFrame(data)

    def _read_encoded(self, conn: sqlite3.Connection) -> _Encoded:
        roster = "SELECT id, data, status, joined_on, left_on, left_reason FROM {}"
        children = {r[0]: tuple(r[1:]) for r in conn.execute(roster.format("children"))}
        mentors = {r[0]: tuple(r[1:]) for r in conn.execute(roster.format("mentors"))}
        pairs = {
            (c, m): (s, r, bool(p))
            for c, m, s, r, p in conn.execute(
                "SELECT child_id, mentor_id, started_on, start_reason, pinned FROM pairs"
            )
        }
        forbidden = {(c, m) for c, m in conn.execute("SELECT child_id, mentor_id FROM forbidden")}
        queue = [r[0] for r in conn.execute("SELECT child_id FROM queue ORDER BY position")]
        return _Encoded(children, mentors, {}, pairs, forbidden, queue)  # type: ignore[arg-type]

    # -- writing

    def commit(
        self,
        new_state: State,
        *,
        run: RunInfo,
        started: Mapping[tuple[str, str], Any] | None = None,
        ended: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
        events: Sequence[Mapping[str, object]] = (),
        files: Mapping[str, bytes] | Callable[[int], Mapping[str, bytes]] | None = None,
    ) -> int:
        """Make ``new_state`` the current state, in one transaction; return the new run id.

        Parameters
        ----------
        new_state : State
            The whole new state: everyone ever enrolled (nobody may be
            removed; a departure is a status).  Roster columns other than the
            canonical state columns are not stored.  An enrolled child's
            status is stored as its pairs say (``"paired"`` / ``"waiting"``).
        run : RunInfo
            What to record about the run.
        started : mapping (child_id, mentor_id) -> reason or (reason, started_on), optional
            History reason of pairs that start now (default: the pair's
            ``start_reason``, or ``"matched"`` if it is empty).  A pair's
            history starts on its ``started_on`` in ``new_state``.
        ended : mapping (child_id, mentor_id) -> (reason, approved_by[, ended_on]), optional
            Why and when pairs that end now ended (default ``("re-matched",
            "")``, ended on the run's date).  ``ended_on`` may not be before
            the pair started nor after the run's date.
        events : sequence of mappings
            Events of the run: ``kind`` (required), ``child_id``,
            ``mentor_id``, ``actor``, ``note``, ``date`` (default: the run's
            date), ``key`` (the event's identity, :func:`matching.programme.events.event_key`;
            an event whose key is already recorded is refused), ``payload`` (a
            mapping); any other key goes into the payload.  A change of a kept
            pair's ``pinned`` adds a ``"pin_changed"`` event (payload
            ``{"pinned": new value}``) unless ``events`` already has one for
            that pair.
        files : mapping name -> bytes, or callable run_id -> mapping, optional
            Files of the run to keep byte for byte (:meth:`run_files`); a
            callable gets the new run's id (so that a plan can name its run).
            Names are plain file names (letters, digits, ``.``, ``_``, ``-``).

        ``counts`` of the run get, on top of ``run.counts``: ``pairs_started``,
        ``pairs_ended``, ``pairs_current``, ``pins_changed``,
        ``children_joined``, ``children_left``, ``children_updated``,
        ``children_total`` (enrolled) and the same four for mentors, and
        ``events`` (these replace keys of ``run.counts`` with the same names).

        Raises
        ------
        StoreConflictError
            With nothing written, if another writer committed a run since this
            store was opened or last committed.
        StoreError
            With nothing written, if ``new_state`` is inconsistent (a pair
            names a child or mentor not in the rosters or departed, a child is
            in two pairs, a mentor has more pairs than capacity, a pair is
            forbidden, a person is missing, an id is duplicated, a column is
            missing or holds values of the wrong type...), if ``started`` /
            ``ended`` name a pair that does not start / end now, if ``run``,
            ``events`` or ``files`` are not acceptable, if the store is
            read-only or closed, or if SQLite fails.
        """
        conn = self._connection()
        if self._readonly:
            raise StoreError(f"state store {str(self._path)!r} is open read-only")
        started = {} if started is None else started
        ended = {} if ended is None else ended
        if not isinstance(started, Mapping) or not isinstance(ended, Mapping):
            raise StoreError("started and ended must be mappings")
        run_row = _check_run(run)
        event_rows = _check_events(events, run_row["run_date"])
        if files is not None and not isinstance(files, Mapping) and not callable(files):
            raise StoreError("files must be a mapping of name to bytes, or a callable")
        new, problems = _encode_state(new_state)
        if problems:
            raise _problem_error("new_state is not valid", problems)
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                run_id = self._commit_in_transaction(
                    conn, new, run_row, started, ended, event_rows, run.counts, files
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _sqlite_error(self._path, exc) from exc
        finally:
            # keep the writer's lock for the rest of the session, if nobody took it meanwhile
            if self._conn is not None and not conn.in_transaction:
                with contextlib.suppress(StoreError, sqlite3.Error):
                    _begin_writer(conn, self._path)
        self._base_run_id = run_id
        return run_id

    def _commit_in_transaction(
        self,
        conn: sqlite3.Connection,
        new: _Encoded,
        run_row: dict[str, Any],
        started: Mapping[Any, Any],
        ended: Mapping[Any, Any],
        event_rows: list[dict[str, Any]],
        user_counts: Mapping[str, Any],
        files: Mapping[str, bytes] | Callable[[int], Mapping[str, bytes]] | None,
    ) -> int:
        latest = _last_run_id(conn)
        if latest != self._base_run_id:
            raise StoreConflictError(
                f"state store {str(self._path)!r}: run {latest} was committed by another "
                "writer since this one read the state; nothing was committed"
            )
        old = self._read_encoded(conn)
        _settle_children(new)
        problems, starts, ends = _check_pairs(new, old, started, ended, run_row["run_date"])
        keys = {e["key"] for e in event_rows if e["key"] is not None}
        for key in sorted(_recorded_keys(conn, keys)):
            problems.append(f"events: event {key[:12]}... is already recorded")
        if problems:
            raise _problem_error("new_state is not valid", problems)

        pins = sorted(
            key
            for key in new.pairs.keys() & old.pairs.keys()
            if new.pairs[key][2] != old.pairs[key][2]
        )
        told = {(e["child_id"], e["mentor_id"]) for e in event_rows if e["kind"] == "pin_changed"}
        event_rows = event_rows + [
            {
                "kind": "pin_changed",
                "child_id": child,
                "mentor_id": mentor,
                "actor": "",
                "note": "",
                "date": run_row["run_date"],
                "key": None,
                "payload": _dumps({"pinned": new.pairs[(child, mentor)][2]}, "payload"),
            }
            for child, mentor in pins
            if (child, mentor) not in told
        ]

        counts = _jsonable(user_counts, "run.counts")
        counts.update(
            pairs_started=len(starts),
            pairs_ended=len(ends),
            pairs_current=len(new.pairs),
            pins_changed=len(pins),
            events=len(event_rows),
        )
        spells = _spell_changes(new, old, event_rows)
        for name, role, new_rows, old_rows in (
            ("children", "child", new.children, old.children),
            ("mentors", "mentor", new.mentors, old.mentors),
        ):
            moved = {c.ident for c in spells[role]}
            closed = [e for c in spells[role] for e in (c.end_old, c.end_new) if e is not None]
            counts[f"{name}_joined"] = sum(1 for c in spells[role] if c.start is not None)
            counts[f"{name}_left"] = sum(1 for e in closed if e[1] != "rejoined")
            counts[f"{name}_updated"] = sum(
                1
                for ident, row in new_rows.items()
                if ident in old_rows and ident not in moved and _updated(name, row, old_rows[ident])
            )
            counts[f"{name}_total"] = sum(
                1 for row in new_rows.values() if row[1] not in DEPARTED_STATUSES
            )
        run_row = {**run_row, "counts": _dumps(counts, "run.counts")}
        run_row["committed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        names = list(run_row)
        cursor = conn.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [run_row[n] for n in names],
        )
        run_id = cursor.lastrowid
        assert run_id is not None
        stored = _check_files(files(run_id) if callable(files) else files or {})

        conn.executemany(
            "DELETE FROM pairs WHERE child_id = ? AND mentor_id = ?",
            sorted(old.pairs.keys() - new.pairs.keys()),
        )
        _write_rosters(conn, new, old, run_id, spells)
        _write_pairs(conn, new, old)
        _write_history(conn, run_id, starts, ends)
        _write_events(conn, run_id, event_rows)
        _write_files(conn, run_id, stored)
        _log.info(
            "state store: committed run %d (%s, %s): %d pair(s) started, %d ended",
            run_id,
            run_row["kind"],
            run_row["run_date"],
            len(starts),
            len(ends),
        )
        return run_id


def _updated(name: str, row: _Row, before: _Row) -> bool:
    """Whether a kept person's row changed, other than a child's paired/waiting status."""
    if row[0] != before[0] or row[2:] != before[2:]:
        return True
    return name == "mentors" and row[1] != before[1]


def _check_files(files: Any) -> dict[str, bytes]:
    if not isinstance(files, Mapping):
        raise StoreError("files must be a mapping of name to bytes")
    out: dict[str, bytes] = {}
    for name, data in files.items():
        if not isinstance(name, str) or _FILE_NAME.fullmatch(name) is None:
            raise StoreError("files: a name is not a plain file name")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreError(f"files[{name!r}] is not bytes")
        out[name] = bytes(data)
    return out


def _record_label(table: str, row: Sequence[Any]) -> str:
    """How an error names a row of ``table``: its key columns (ids and numbers only)."""
    if table == "runs":
        return f"run {row[0]}"
    if table == "events":
        return f"run {row[0]} event {row[1]}"
    return "?"


def _recorded_keys(conn: sqlite3.Connection, keys: set[str]) -> set[str]:
    """Those of ``keys`` already recorded in ``events`` (chunked under SQLite's variable limit)."""
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        marks = ", ".join("?" * len(part))
        rows = conn.execute(f"SELECT event_key FROM events WHERE event_key IN ({marks})", part)
        found.update(str(r[0]) for r in rows)
    return found


def _last_run_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(run_id) FROM runs").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def _read_version(conn: sqlite3.Connection, file: Path) -> int:
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if "meta" not in tables:
        if tables:
            raise StoreError(f"{str(file)!r} is not a state store (an SQLite file without meta)")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise StoreError(f"{str(file)!r} is not a state store (no schema version)") from None


@contextlib.contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error (or interrupt) roll back and re-raise."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _migrate(
    conn: sqlite3.Connection, file: Path, version: int, target: int, *, in_transaction: bool = False
) -> None:
    """Run ``MIGRATIONS[version:target]`` in one transaction (the caller's, if it has one)."""
    if len(MIGRATIONS) < target:
        raise StoreError(f"no migration to schema version {target}")
    scope = contextlib.nullcontext() if in_transaction else _write_transaction(conn)
    with scope:
        version = _read_version(conn, file)
        for step in range(version, target):
            MIGRATIONS[step](conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(step + 1),),
            )
    _log.info("state store: migrated from schema version %d to %d", version, target)


def backup(db: str | os.PathLike[str], to: str | os.PathLike[str]) -> Path:
    """Copy the store at ``db`` to the new file ``to``, consistently, while others may use it.

    SQLite's online backup copies the committed state as of one moment (a
    writer holding the store does not block it, and a commit waits for it).
    The copy is written beside ``to`` and linked into place whole; ``to``
    must not exist.

    Raises
    ------
    StoreError
        If ``db`` is not a state store, or ``to`` exists or cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matching.programme.state import empty_state
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with StateStore.open(folder / "state.db") as store:
    ...     _ = store.commit(empty_state(), run=RunInfo(run_date="2026-11-24"))
    >>> copy = backup(folder / "state.db", folder / "copy.db")
    >>> with StateStore.open(copy, readonly=True) as store:
    ...     len(store.runs())
    1
    """
    target = Path(os.fspath(to))
    if target.exists() or target.is_symlink():
        raise StoreError(f"cannot back up to {str(target)!r}: it exists (choose a new file name)")
    if not target.parent.is_dir():
        raise StoreError(f"cannot back up to {str(target)!r}: its directory does not exist")
    tmp = target.with_name(f".{target.name}.new-{secrets.token_hex(8)}")
    try:
        with StateStore.open(db, readonly=True) as store:
            source = store._connection()
            dest = sqlite3.connect(tmp, isolation_level=None)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
        fsync_path(tmp)
        if not _link_into_place(tmp, target):
            raise StoreError(
                f"cannot back up to {str(target)!r}: it exists (choose a new file name)"
            )
    except sqlite3.Error as exc:
        raise _sqlite_error(Path(os.fspath(db)), exc) from exc
    except OSError as exc:
        raise StoreError(f"cannot back up to {str(target)!r}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return target
