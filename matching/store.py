"""A durable, embedded store of the programme's state (one SQLite file, no server).

The nightly batch job opens the store, :meth:`StateStore.load` s the current
:class:`~matching.state.State`, applies events and re-matching, and
:meth:`StateStore.commit` s the new state.  Each commit is one SQLite
transaction: it writes the rosters that changed, replaces the current pairs,
the forbidden pairs and the first-in-line queue, appends to the pair history,
and records the run and its events.  Either all of it lands or none of it does
(a crash, a ``SIGKILL`` or an exception in the middle leaves the store as it
was before the commit), and readers never see a half-applied run.

What is stored
    ``children`` / ``mentors``
        One row per record: the id and a JSON object of the canonical state
        columns (:data:`~matching.state.CHILD_STATE_COLUMNS`,
        :data:`~matching.state.MENTOR_STATE_COLUMNS`); tuples are stored as
        lists and NaN as ``null``.  Other columns a roster may carry (a name,
        a phone number, ``kind``...) are **not** stored: the store keeps what
        matching needs and nothing more.
    ``pairs``
        The current pairs (:data:`~matching.state.PAIR_COLUMNS`).
    ``forbidden``, ``queue``
        ``State.forbidden`` and ``State.first_in_line`` (in queue order).
    ``history``
        Every pair ever made, append-only: a row is inserted when a pair
        starts (``started_on`` = the run's date, ``start_reason``,
        ``start_run_id``) and its end (``ended_on``, ``end_reason``,
        ``end_approved_by``, ``end_run_id``) is filled exactly once, when the
        pair ends.  Database triggers refuse any other update and every
        delete.
    ``runs``
        One row per commit: date, kind, library version, configuration,
        input hashes, metrics and counts (JSON), and the UTC wall-clock time
        of the commit.
    ``events``
        The events of each run, numbered ``seq`` 0, 1, ... within the run.
    ``meta``
        ``schema_version``; :data:`MIGRATIONS` bring an older file up to date
        when it is opened for writing.

One writer at a time: a read-write :meth:`StateStore.open` takes an exclusive
lock on the sibling file ``<path>.lock`` (``fcntl.flock``, released by
:meth:`StateStore.close` or by the kernel when the process dies) and a second
writer gets :class:`StoreLockedError`.  Read-only opens take no lock.

Error messages name record ids, never other personal data.

Examples
--------
>>> import tempfile, pathlib
>>> from matching.state import empty_state
>>> folder = tempfile.mkdtemp()
>>> with StateStore.open(pathlib.Path(folder) / "state.db") as store:
...     run_id = store.commit(empty_state(), run=RunInfo(run_date="2026-11-24", kind="import"))
...     state = store.load()
>>> run_id, len(state.children), store.SCHEMA_VERSION
(1, 0, 1)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import math
import numbers
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from .errors import MatchingError
from .schema import CHILD_COLUMNS, MENTOR_COLUMNS
from .state import (
    CHILD_STATE_COLUMNS,
    EXIT_STATES,
    MENTOR_STATE_COLUMNS,
    MENTOR_STATUSES,
    PAIR_COLUMNS,
    State,
    empty_state,
)

__all__ = [
    "HISTORY_COLUMNS",
    "MIGRATIONS",
    "RunInfo",
    "StateStore",
    "StoreError",
    "StoreLockedError",
]

_log = logging.getLogger(__name__)

Pair = tuple[str, str]


class StoreError(MatchingError):
    """The state store cannot be opened, read or written as asked.

    ``problems`` lists every problem found when a commit is refused (empty
    for other errors).  Messages name record ids, never other data.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class StoreLockedError(StoreError):
    """Another writer holds the store's lock."""


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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1]
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
)
_RUN_JSON = ("config", "input_hashes", "metrics", "counts")
_EVENT_COLUMNS = ("run_id", "seq", "kind", "child_id", "mentor_id", "actor", "note", "payload")
_EVENT_KEYS = frozenset({"kind", "child_id", "mentor_id", "actor", "note", "payload"})

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
_CHILD_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in CHILD_COLUMNS}
_CHILD_KINDS.update(exit_state="text", exit_approved_by="text")
_MENTOR_KINDS: dict[str, str] = {c.name: _KINDS[c.kind] for c in MENTOR_COLUMNS}
_MENTOR_KINDS.update(status="text")
assert tuple(_CHILD_KINDS) == CHILD_STATE_COLUMNS
assert tuple(_MENTOR_KINDS) == MENTOR_STATE_COLUMNS
_ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "exit_state": EXIT_STATES,
    "status": MENTOR_STATUSES,
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_SHOWN = 30


def _library_version() -> str:
    from . import __version__

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
    """

    run_date: str
    kind: str = "nightly"
    library_version: str = field(default_factory=_library_version)
    config: Mapping[str, Any] = field(default_factory=dict)
    input_hashes: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)


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
    frame: Any, name: str, kinds: Mapping[str, str], problems: list[str]
) -> dict[str, str]:
    """{id: JSON text} of a roster; appends problems (ids and columns only)."""
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
        allowed = _ALLOWED_VALUES.get(column)
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
    seen: dict[str, int] = {}
    for ident in ids:
        if isinstance(ident, str):
            seen[ident] = seen.get(ident, 0) + 1
    for ident, count in seen.items():
        if count > 1:
            problems.append(f"{where}: duplicate id {ident} ({count} rows)")
    rows: dict[str, str] = {}
    for row in range(len(ids)):
        ident = ids[row]
        if not isinstance(ident, str):
            continue
        record = {column: encoded[column][row] for column in columns}
        del record["id"]
        rows[ident] = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return rows


def _decode_roster(rows: list[tuple[str, str]], kinds: Mapping[str, str]) -> pd.DataFrame:
    records = [json.loads(text) for _, text in rows]
    data: dict[str, Any] = {}
    for column, kind in kinds.items():
        if column == "id":
            data[column] = pd.Series([ident for ident, _ in rows], dtype=object)
            continue
        values = [record.get(column) for record in records]
        if kind == "text":
            data[column] = pd.Series(["" if v is None else v for v in values], dtype=object)
        elif kind == "float":
            data[column] = pd.Series(
                np.array([math.nan if v is None else v for v in values], dtype=np.float64)
            )
        elif kind == "int":
            data[column] = pd.Series(np.array(values, dtype=np.int64))
        elif kind == "bool":
            data[column] = pd.Series(np.array(values, dtype=bool))
        else:
            cells = np.empty(len(values), dtype=object)
            for row, v in enumerate(values):
                cells[row] = tuple(v or ())
            data[column] = pd.Series(cells, dtype=object)
    return pd.DataFrame(data)


@dataclass
class _Encoded:
    """A state as the store holds it."""

    children: dict[str, str]
    mentors: dict[str, str]
    capacity: dict[str, int]
    pairs: dict[Pair, tuple[str, str, bool]]  # (child, mentor) -> (started_on, reason, pinned)
    forbidden: set[Pair]
    queue: list[str]


def _encode_state(state: Any) -> tuple[_Encoded, list[str]]:
    """Encode ``state``; return it with the problems found that need nothing stored."""
    problems: list[str] = []
    if not isinstance(state, State):
        raise StoreError(f"new_state must be a State, not {type(state).__name__}")
    children = _encode_roster(state.children, "children", _CHILD_KINDS, problems)
    mentors = _encode_roster(state.mentors, "mentors", _MENTOR_KINDS, problems)
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


def _check_pairs(
    new: _Encoded, old: _Encoded, started: Mapping[Any, Any], ended: Mapping[Any, Any]
) -> list[str]:
    """Problems of the new pairs against the new rosters and the stored state."""
    problems: list[str] = []
    load: dict[str, int] = {}
    for child, mentor in new.pairs:
        label = f"pair ({child}, {mentor})"
        if child not in new.children:
            gone = " (removed in this commit)" if child in old.children else ""
            problems.append(f"{label}: child {child} is not in new_state.children{gone}")
        if mentor not in new.mentors:
            gone = " (removed in this commit)" if mentor in old.mentors else ""
            problems.append(f"{label}: mentor {mentor} is not in new_state.mentors{gone}")
        if (child, mentor) in new.forbidden:
            problems.append(f"{label} is forbidden")
        load[mentor] = load.get(mentor, 0) + 1
    for mentor, count in sorted(load.items()):
        cap = new.capacity.get(mentor)
        if cap is not None and count > cap:
            problems.append(f"mentor {mentor} has {count} pairs but capacity {cap}")

    for key, value in started.items():
        if not (isinstance(key, tuple) and key in new.pairs and key not in old.pairs):
            problems.append(f"started names {_key_label(key)}, which is not a pair started now")
        elif not isinstance(value, str):
            problems.append(f"started[{_key_label(key)}] is not text")
    for key, value in ended.items():
        if not (isinstance(key, tuple) and key in old.pairs and key not in new.pairs):
            problems.append(f"ended names {_key_label(key)}, which is not a pair ended now")
        elif not (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"ended[{_key_label(key)}] is not a (reason, approved_by) pair")
    return problems


def _key_label(key: Any) -> str:
    if isinstance(key, tuple) and all(isinstance(v, str) for v in key):
        return f"({', '.join(key)})"
    return f"a key of type {type(key).__name__}"


def _check_run(run: Any) -> dict[str, str]:
    """The ``runs`` row of ``run`` (JSON texts; counts are added later)."""
    if not isinstance(run, RunInfo):
        raise StoreError(f"run must be a RunInfo, not {type(run).__name__}")
    date = run.run_date
    valid = isinstance(date, str) and _ISO_DATE.fullmatch(date) is not None
    if valid:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            valid = False
    if not valid:
        raise StoreError("run.run_date must be an ISO date such as '2026-11-24'")
    if not isinstance(run.kind, str) or not run.kind:
        raise StoreError("run.kind must be non-empty text")
    if not isinstance(run.library_version, str):
        raise StoreError("run.library_version must be text")
    row = {"run_date": date, "kind": run.kind, "library_version": run.library_version}
    for name in ("config", "input_hashes", "metrics", "counts"):
        value = getattr(run, name)
        if not isinstance(value, Mapping) and not (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        ):
            raise StoreError(f"run.{name} must be a mapping")
        row[name] = _dumps(value, f"run.{name}")
    return row


def _check_events(events: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
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


def _write_rosters(conn: sqlite3.Connection, new: _Encoded, old: _Encoded) -> None:
    for table, new_rows, old_rows in (
        ("children", new.children, old.children),
        ("mentors", new.mentors, old.mentors),
    ):
        removed = [(ident,) for ident in old_rows if ident not in new_rows]
        conn.executemany(f"DELETE FROM {table} WHERE id = ?", removed)
        changed = [(ident, text) for ident, text in new_rows.items() if old_rows.get(ident) != text]
        conn.executemany(
            f"INSERT INTO {table} (id, data) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            changed,
        )


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
    conn: sqlite3.Connection,
    run_id: int,
    run_date: str,
    starts: list[tuple[str, str, str]],
    ends: list[tuple[str, str, str, str]],
) -> None:
    for child, mentor, reason, approved_by in ends:
        cursor = conn.execute(
            "UPDATE history SET ended_on = ?, end_reason = ?, end_approved_by = ?, "
            "end_run_id = ? WHERE child_id = ? AND mentor_id = ? AND ended_on IS NULL",
            (run_date, reason, approved_by, run_id, child, mentor),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"history has no open row for pair ({child}, {mentor})")
    conn.executemany(
        "INSERT INTO history (child_id, mentor_id, started_on, start_reason, start_run_id) "
        "VALUES (?, ?, ?, ?, ?)",
        [(child, mentor, run_date, reason, run_id) for child, mentor, reason in starts],
    )


def _write_events(conn: sqlite3.Connection, run_id: int, events: list[dict[str, Any]]) -> None:
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, child_id, mentor_id, actor, note, payload) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                seq,
                e["kind"],
                e["child_id"],
                e["mentor_id"],
                e["actor"],
                e["note"],
                e["payload"],
            )
            for seq, e in enumerate(events)
        ],
    )


# ----------------------------------------------------------------------------------------------
# the store


def _sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return StoreError(f"{str(path)!r} is not a state store (not an SQLite database)")
    return StoreError(f"state store {str(path)!r}: {type(exc).__name__}: {text}")


class StateStore:
    """A durable store of the programme's :class:`~matching.state.State` (see the module doc).

    Make one with :meth:`open`; use it as a context manager or call
    :meth:`close`.  A store is used by one thread at a time.
    """

    SCHEMA_VERSION: int = 1

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock_fd: int | None, readonly: bool
    ) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock_fd = lock_fd
        self._readonly = readonly

    # -- opening and closing

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> StateStore:
        """Open the store at ``path``, creating it (for writing) if it does not exist.

        Parameters
        ----------
        path : str or os.PathLike
            The SQLite file.  Its directory must exist.
        readonly : bool
            Open for reading only: no lock is taken, nothing is migrated or
            created, :meth:`commit` is refused.

        Raises
        ------
        StoreLockedError
            If another writer has the store open (``readonly=False`` only).
        StoreError
            If the directory or (``readonly=True``) the file does not exist,
            the file is not a state store, or its schema version is newer than
            this library supports (or, read-only, older).
        """
        file = Path(os.fspath(path))
        if not file.parent.is_dir():
            raise StoreError(
                f"cannot open state store {str(file)!r}: directory "
                f"{str(file.parent)!r} does not exist"
            )
        if file.is_dir():
            raise StoreError(f"cannot open state store {str(file)!r}: it is a directory")
        if readonly and not file.is_file():
            raise StoreError(f"cannot open state store {str(file)!r}: no such file")
        lock_fd = None if readonly else _take_lock(file)
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                uri = file.absolute().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            else:
                conn = sqlite3.connect(file, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA foreign_keys = ON")
            version = _read_version(conn, file)
            target = cls.SCHEMA_VERSION
            if version > target:
                raise StoreError(
                    f"cannot open {str(file)!r}: store schema version {version} is newer "
                    f"than this library supports ({target})"
                )
            if readonly:
                if version < target:
                    raise StoreError(
                        f"cannot open {str(file)!r} read-only: store schema version {version} "
                        f"is older than this library's ({target}); open it for writing once "
                        "to migrate it"
                    )
            else:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"cannot open {str(file)!r}: WAL journal mode refused")
                conn.execute("PRAGMA synchronous = FULL")
                if version < target:
                    _migrate(conn, file, version, target)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            _release_lock(lock_fd)
            if isinstance(exc, sqlite3.Error):
                raise _sqlite_error(file, exc) from exc
            raise
        return cls(file, conn, lock_fd, readonly)

    def close(self) -> None:
        """Close the database and release the writer's lock (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        lock_fd, self._lock_fd = self._lock_fd, None
        _release_lock(lock_fd)

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
        """The current state (:func:`~matching.state.empty_state` for a new store).

        Rosters have the canonical state columns with fixed dtypes (float64
        ``lat``, ``lon``, ``age``, ``max_distance_km``; int64 ``priority``,
        ``capacity``; bool ``active``; object text and tuple columns), sorted by
        id, with a fresh ``RangeIndex``; pairs are sorted by child id.
        """
        with self._snapshot() as conn:
            if conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None:
                return empty_state()
            kids = conn.execute("SELECT id, data FROM children ORDER BY id").fetchall()
            mentors = conn.execute("SELECT id, data FROM mentors ORDER BY id").fetchall()
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
            children=_decode_roster(kids, _CHILD_KINDS),
            mentors=_decode_roster(mentors, _MENTOR_KINDS),
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

    def runs(self) -> pd.DataFrame:
        """One row per commit, oldest first; JSON columns as dicts."""
        return self._table("runs", _RUN_COLUMNS, "run_id", ints=("run_id",), json_cols=_RUN_JSON)

    def events(self) -> pd.DataFrame:
        """Every recorded event, by run then ``seq``; ``payload`` as a dict."""
        return self._table(
            "events", _EVENT_COLUMNS, "run_id, seq", ints=("run_id", "seq"),
            json_cols=("payload",),
        )  # fmt: skip

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
                data[column] = pd.Series([json.loads(v) for v in values], dtype=object)
            else:
                data[column] = pd.Series(values, dtype=object)
        return pd.DataFrame(data)

    def _read_encoded(self, conn: sqlite3.Connection) -> _Encoded:
        children = dict(conn.execute("SELECT id, data FROM children").fetchall())
        mentors = dict(conn.execute("SELECT id, data FROM mentors").fetchall())
        pairs = {
            (c, m): (s, r, bool(p))
            for c, m, s, r, p in conn.execute(
                "SELECT child_id, mentor_id, started_on, start_reason, pinned FROM pairs"
            )
        }
        forbidden = {(c, m) for c, m in conn.execute("SELECT child_id, mentor_id FROM forbidden")}
        queue = [r[0] for r in conn.execute("SELECT child_id FROM queue ORDER BY position")]
        return _Encoded(children, mentors, {}, pairs, forbidden, queue)

    # -- writing

    def commit(
        self,
        new_state: State,
        *,
        run: RunInfo,
        started: Mapping[tuple[str, str], str] | None = None,
        ended: Mapping[tuple[str, str], tuple[str, str]] | None = None,
        events: Sequence[Mapping[str, object]] = (),
    ) -> int:
        """Make ``new_state`` the current state, in one transaction; return the new run id.

        Parameters
        ----------
        new_state : State
            The whole new state.  Roster columns other than the canonical
            state columns are not stored.
        run : RunInfo
            What to record about the run.
        started : mapping (child_id, mentor_id) -> reason, optional
            History reason of pairs that start now (default: the pair's
            ``start_reason``, or ``"matched"`` if it is empty).
        ended : mapping (child_id, mentor_id) -> (reason, approved_by), optional
            Why pairs that end now ended (default ``("re-matched", "")``).
        events : sequence of mappings
            Events of the run: ``kind`` (required), ``child_id``,
            ``mentor_id``, ``actor``, ``note``, ``payload`` (a mapping); any
            other key goes into the payload.  A change of a kept pair's
            ``pinned`` adds a ``"pin_changed"`` event (payload ``{"pinned":
            new value}``) unless ``events`` already has one for that pair.

        ``counts`` of the run get, on top of ``run.counts``: ``pairs_started``,
        ``pairs_ended``, ``pairs_current``, ``pins_changed``,
        ``children_joined``, ``children_left``, ``children_updated``,
        ``children_total`` and the same four for mentors, and ``events`` (these
        replace keys of ``run.counts`` with the same names).

        Raises
        ------
        StoreError
            With nothing written, if ``new_state`` is inconsistent (a pair
            names a child or mentor not in the rosters, a child is in two
            pairs, a mentor has more pairs than capacity, a pair is forbidden,
            an id is duplicated, a column is missing or holds values of the
            wrong type...), if ``started`` / ``ended`` name a pair that does
            not start / end now, if ``run`` or ``events`` are not acceptable,
            if the store is read-only or closed, or if SQLite fails.
        """
        conn = self._connection()
        if self._readonly:
            raise StoreError(f"state store {str(self._path)!r} is open read-only")
        started = {} if started is None else started
        ended = {} if ended is None else ended
        if not isinstance(started, Mapping) or not isinstance(ended, Mapping):
            raise StoreError("started and ended must be mappings")
        run_row = _check_run(run)
        event_rows = _check_events(events)
        new, problems = _encode_state(new_state)
        if problems:
            raise _problem_error("new_state is not valid", problems)

        try:
            with _write_transaction(conn):
                run_id = self._commit_in_transaction(
                    conn, new, run_row, started, ended, event_rows, run.counts
                )
        except sqlite3.Error as exc:
            raise _sqlite_error(self._path, exc) from exc
        return run_id

    def _commit_in_transaction(
        self,
        conn: sqlite3.Connection,
        new: _Encoded,
        run_row: dict[str, str],
        started: Mapping[Any, Any],
        ended: Mapping[Any, Any],
        event_rows: list[dict[str, Any]],
        user_counts: Mapping[str, Any],
    ) -> int:
        old = self._read_encoded(conn)
        problems = _check_pairs(new, old, started, ended)
        if problems:
            raise _problem_error("new_state is not valid", problems)

        starts = []
        for key in sorted(new.pairs.keys() - old.pairs.keys()):
            reason = started.get(key) or new.pairs[key][1] or "matched"
            starts.append((key[0], key[1], reason))
        ends = []
        for key in sorted(old.pairs.keys() - new.pairs.keys()):
            reason, approved_by = ended.get(key, ("re-matched", ""))
            ends.append((key[0], key[1], reason, approved_by))
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
        for name, new_rows, old_rows in (
            ("children", new.children, old.children),
            ("mentors", new.mentors, old.mentors),
        ):
            counts[f"{name}_joined"] = len(new_rows.keys() - old_rows.keys())
            counts[f"{name}_left"] = len(old_rows.keys() - new_rows.keys())
            counts[f"{name}_updated"] = sum(
                1 for ident, text in new_rows.items() if old_rows.get(ident, text) != text
            )
            counts[f"{name}_total"] = len(new_rows)
        run_row = {**run_row, "counts": _dumps(counts, "run.counts")}
        run_row["committed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        names = list(run_row)
        cursor = conn.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [run_row[n] for n in names],
        )
        run_id = cursor.lastrowid
        assert run_id is not None

        conn.executemany(
            "DELETE FROM pairs WHERE child_id = ? AND mentor_id = ?",
            sorted(old.pairs.keys() - new.pairs.keys()),
        )
        _write_rosters(conn, new, old)
        _write_pairs(conn, new, old)
        _write_history(conn, run_id, run_row["run_date"], starts, ends)
        _write_events(conn, run_id, event_rows)
        _log.info(
            "state store: committed run %d (%s, %s): %d pair(s) started, %d ended",
            run_id,
            run_row["kind"],
            run_row["run_date"],
            len(starts),
            len(ends),
        )
        return run_id


# ----------------------------------------------------------------------------------------------
# helpers of open()


def _take_lock(file: Path) -> int:
    lock_path = file.with_name(file.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot open state store {str(file)!r}: cannot create lock file "
            f"{str(lock_path)!r} ({exc.strerror})"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise StoreLockedError(
            f"state store {str(file)!r} is locked by another writer (lock file {str(lock_path)!r})"
        ) from exc
    return fd


def _release_lock(fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


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


def _migrate(conn: sqlite3.Connection, file: Path, version: int, target: int) -> None:
    if len(MIGRATIONS) < target:
        raise StoreError(f"no migration to schema version {target}")
    with _write_transaction(conn):
        version = _read_version(conn, file)
        for step in range(version, target):
            MIGRATIONS[step](conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(step + 1),),
            )
    _log.info("state store: migrated from schema version %d to %d", version, target)
