"""The state store's tables, its schema versions and the migrations between them.

Internal to :mod:`matching.programme.store`: the DDL of each version, the
migrations that bring an older file up to date, the column lists of the
tables the store reads back, and the small queries on the schema itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from matching.errors import StoreError
from matching.programme.state import LIFECYCLE_COLUMNS
from matching.programme.store.codec import json_row

__all__ = ["ENROLMENT_COLUMNS", "HISTORY_COLUMNS", "MIGRATIONS"]

_log = logging.getLogger("matching.programme.store")

Migration = Callable[[sqlite3.Connection], None]


def _refuse(name: str, action: str, table: str, message: str) -> str:
    """A trigger that aborts every ``action`` (UPDATE or DELETE) on ``table``."""
    return (
        f"CREATE TRIGGER {name} BEFORE {action} ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _end_once(name: str, table: str, end: str, fixed: Sequence[str], message: str) -> str:
    """A trigger that lets a row of an append-only ``table`` be updated once, only to end it:
    refused when ``end`` is already set or any of the ``fixed`` columns changes."""
    changes = "".join(f"        OR NEW.{column} IS NOT OLD.{column}\n" for column in fixed)
    return (
        f"CREATE TRIGGER {name} BEFORE UPDATE ON {table}\n"
        f"    WHEN OLD.{end} IS NOT NULL\n{changes}"
        f"    BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _ended_once(
    create: str, ends: Sequence[str], indexes: tuple[tuple[str, str], ...], words: tuple[str, str]
) -> tuple[str, ...]:
    """The table, indexes and triggers of an append-only table whose rows open, then end once.

    ``create`` is ``CREATE TABLE name (`` and the columns set when a row
    opens; ``ends`` are the text columns set when it ends, the last of them
    the run that ended it.  At most one row per key of ``indexes[0]`` is
    open; ``indexes[1]`` is a plain index (name, columns).  Rows are never
    deleted, and an open row may be updated only to end it.  ``words`` name
    the rows and what they record, for the triggers' messages.
    """
    table = create.split()[2]
    fixed = [line.split()[0] for line in create.splitlines()[1:]]
    end, end_run = ends[0], ends[-1]
    tail = "".join(f"\n        {column} TEXT," for column in ends[:-1])
    rows, what = words
    (open_name, open_key), (index_name, index_key) = indexes
    return (
        f"{create}{tail}\n        {end_run} INTEGER REFERENCES runs(run_id),"
        f"\n        CHECK (({end} IS NULL) = ({end_run} IS NULL))\n    )",
        f"CREATE UNIQUE INDEX {open_name} ON {table}({open_key}) WHERE {end} IS NULL",
        f"CREATE INDEX {index_name} ON {table}({index_key})",
        _refuse(f"{table}_never_deleted", "DELETE", table, f"{rows} are never deleted"),
        _end_once(
            f"{table}_end_once",
            table,
            end,
            fixed,
            f"{rows} are append-only: only open {what} may end",
        ),
    )


def _immutable(table: str, rows: str) -> tuple[str, str]:
    """The triggers that refuse every update and every delete of ``table`` (whose ``rows``
    the messages name)."""
    return (
        _refuse(f"{table}_never_changed", "UPDATE", table, f"{rows} are never changed"),
        _refuse(f"{table}_never_deleted", "DELETE", table, f"{rows} are never deleted"),
    )


_EVENTS_NEVER_CHANGED = _immutable("events", "events")[0]

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
    *_ended_once(
        """CREATE TABLE history (
        history_id INTEGER PRIMARY KEY AUTOINCREMENT,
        child_id TEXT NOT NULL,
        mentor_id TEXT NOT NULL,
        started_on TEXT NOT NULL,
        start_reason TEXT NOT NULL,
        start_run_id INTEGER NOT NULL REFERENCES runs(run_id),""",
        ("ended_on", "end_reason", "end_approved_by", "end_run_id"),
        (("history_open_child", "child_id"), ("history_pair", "child_id, mentor_id")),
        ("history rows", "pairs"),
    ),
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
    *_immutable("runs", "runs"),
    *_immutable("events", "events"),
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
    *_ended_once(
        """CREATE TABLE enrolments (
        enrolment_id INTEGER PRIMARY KEY AUTOINCREMENT,
        role TEXT NOT NULL CHECK (role IN ('child', 'mentor')),
        person_id TEXT NOT NULL,
        joined_on TEXT NOT NULL,
        join_run_id INTEGER REFERENCES runs(run_id),""",
        ("left_on", "left_reason", "leave_run_id"),
        (("enrolments_open", "role, person_id"), ("enrolments_person", "role, person_id")),
        ("enrolments", "spells"),
    ),
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
    *_immutable("run_files", "run files"),
)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: lifecycle columns and enrolments, dated and keyed events, run files.

    Schema 1 deleted children who exited and mentors who left, so they are
    not in the migrated store (their pairs are in ``history``).  For the
    people it kept, ``joined_on`` is the earliest date the store shows them
    enrolled: the start of their first pair, or else the last run's date.
    Events get their run's date and their identity.
    """
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
        for ident, text in conn.execute(f"SELECT id, data FROM {table}").fetchall():
            data = json_row(table, f"record {ident}", text)
            joined = min(d for d in (first.get(ident), last_date) if d) if last_date else ""
            if table == "mentors":
                status = str(data.pop("status", "active"))
            else:
                status = "paired" if ident in paired else "waiting"
            record = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            conn.execute(
                f"UPDATE {table} SET data = ?, status = ?, joined_on = ? WHERE id = ?",
                (record, status, joined, ident),
            )
            conn.execute(
                "INSERT INTO enrolments (role, person_id, joined_on) VALUES (?, ?, ?)",
                (role, ident, joined),
            )
    _date_events(conn)


def _date_events(conn: sqlite3.Connection) -> None:
    """Give each schema-1 event its run's date and its identity (``event_key``).

    Events were immutable in schema 1: the trigger is lifted while they are
    dated, then restored.
    """
    from matching.programme.events import EVENT_KINDS, Event, event_key

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
    # restored with the text every schema-2 store holds (only its indentation differs)
    conn.execute(_EVENTS_NEVER_CHANGED.replace("\n    BEGIN", "\n        BEGIN"))


MIGRATIONS: list[Migration] = [_migrate_0_to_1, _migrate_1_to_2]
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

RUN_COLUMNS = (
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
"""The columns of :meth:`StateStore.runs`; :data:`RUN_JSON` of them hold JSON."""

RUN_JSON = ("config", "input_hashes", "metrics", "counts")

EVENT_COLUMNS = (
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
"""The columns of :meth:`StateStore.events` (``payload`` holds JSON)."""


# ----------------------------------------------------------------------------------------------
# queries on the schema


def read_version(conn: sqlite3.Connection, file: Path) -> int:
    """The file's schema version: 0 for a file without tables; a StoreError for a foreign one."""
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


def last_run_id(conn: sqlite3.Connection) -> int:
    """The id of the newest run (0 for a store with none)."""
    row = conn.execute("SELECT MAX(run_id) FROM runs").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def recorded_keys(conn: sqlite3.Connection, keys: set[str]) -> set[str]:
    """Those of ``keys`` already recorded in ``events`` (chunked under SQLite's variable limit)."""
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        marks = ", ".join("?" * len(part))
        rows = conn.execute(f"SELECT event_key FROM events WHERE event_key IN ({marks})", part)
        found.update(str(r[0]) for r in rows)
    return found


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (unless one is open) ... ``COMMIT``; on any error (or interrupt)
    roll back and re-raise."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def migrate(
    conn: sqlite3.Connection,
    file: Path,
    target: int,
    migrations: Sequence[Migration],
    *,
    in_transaction: bool = False,
) -> None:
    """Run ``migrations[version:target]`` in one transaction (the caller's, if it has one),
    recording each new version in ``meta``."""
    if len(migrations) < target:
        raise StoreError(f"no migration to schema version {target}")
    scope = contextlib.nullcontext() if in_transaction else write_transaction(conn)
    with scope:
        version = read_version(conn, file)
        for step in range(version, target):
            migrations[step](conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(step + 1),),
            )
    _log.info("state store: migrated from schema version %d to %d", version, target)
