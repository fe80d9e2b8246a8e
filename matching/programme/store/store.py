"""The state store itself: :class:`StateStore` (open, load, commit, close) and :func:`backup`.

See :mod:`matching.programme.store` for what is stored and how writers are
kept apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from matching.errors import StoreConflictError, StoreError
from matching.programme.state import State, empty_state
from matching.programme.store.checks import (
    RunInfo,
    check_events,
    check_files,
    check_pairs,
    check_run,
)
from matching.programme.store.codec import (
    CHILD_KINDS,
    MENTOR_KINDS,
    Encoded,
    decode_roster,
    encode_state,
    json_row,
    problem_error,
    settle_children,
)
from matching.programme.store.commit import (
    changed_pins,
    commit_counts,
    insert_run,
    pin_events,
    read_encoded,
    spell_changes,
    write_run,
)
from matching.programme.store.files import (
    begin_writer,
    check_file,
    check_version,
    create,
    link_into_place,
    reader,
    sqlite_error,
    staged_file,
    store_file,
    writer,
)
from matching.programme.store.schema import (
    ENROLMENT_COLUMNS,
    EVENT_COLUMNS,
    HISTORY_COLUMNS,
    MIGRATIONS,
    RUN_COLUMNS,
    RUN_JSON,
    Migration,
    last_run_id,
    migrate,
    read_version,
    recorded_keys,
    write_transaction,
)

__all__ = ["StateStore", "backup"]

_log = logging.getLogger("matching.programme.store")

Files = Mapping[str, bytes] | Callable[[int], Mapping[str, bytes]]


class StateStore:
    """A durable store of the programme's :class:`~matching.programme.State`.

    See :mod:`matching.programme.store` for what it holds.  Make one with
    :meth:`open`; use it as a context manager or call :meth:`close`.  A store
    is used by one thread at a time.
    """

    SCHEMA_VERSION: ClassVar[int] = 2
    """The schema version this class reads and writes (a file is migrated up to it)."""
    MIGRATIONS: ClassVar[Sequence[Migration]] = MIGRATIONS
    """The migrations :meth:`open` runs (:data:`matching.programme.store.MIGRATIONS`)."""

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
        file = store_file(Path(os.fspath(path)), readonly)
        target = cls.SCHEMA_VERSION
        if not readonly and not file.exists():
            create(file, target, cls.MIGRATIONS)
        check_file(file)
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                conn = reader(file)
                conn.execute("BEGIN")
            else:
                conn = writer(file)
            version = read_version(conn, file)
            check_version(file, version, target, readonly)
            if readonly:
                conn.execute("COMMIT")
            elif version < target:
                migrate(conn, file, target, cls.MIGRATIONS, in_transaction=True)
                conn.execute("COMMIT")
                begin_writer(conn, file)
            store = cls(file, conn, readonly)
            if not readonly:
                store._base_run_id = last_run_id(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.Error):
                raise sqlite_error(file, exc) from exc
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

    def __exit__(self, *exc_info: object) -> None:
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
            raise sqlite_error(self._path, exc) from exc

    # -- reading

    def schema_version(self) -> int:
        """The schema version of the file (``SCHEMA_VERSION`` once opened for writing)."""
        with self._snapshot() as conn:
            return read_version(conn, self._path)

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
            children=decode_roster("children", kids, CHILD_KINDS),
            mentors=decode_roster("mentors", mentors, MENTOR_KINDS),
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
        return self._table("runs", RUN_COLUMNS, "run_id", ints=("run_id",), json_cols=RUN_JSON)

    def events(self) -> pd.DataFrame:
        """Every recorded event, by run then ``seq``; ``payload`` as a dict.

        ``event_date`` is the date the event took effect; ``event_key`` its
        identity (:func:`matching.programme.events.event_key`; ``None`` for events the
        store adds itself, such as ``pin_changed``).
        """
        return self._table(
            "events", EVENT_COLUMNS, "run_id, seq", ints=("run_id", "seq"),
            json_cols=("payload",),
        )  # fmt: skip

    def event_keys(self, among: Iterable[str] | None = None) -> set[str]:
        """The identities of recorded events (see :func:`matching.programme.events.apply_events`).

        With ``among``, only those of ``among`` that are recorded (an indexed
        lookup: what a night needs, whatever the length of the history).
        """
        with self._snapshot() as conn:
            if among is not None:
                return recorded_keys(conn, set(among))
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
            return last_run_id(conn)

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
                    json_row(table, _record_label(table, r), v)
                    for r, v in zip(rows, values, strict=True)
                ]
                data[column] = pd.Series(decoded, dtype=object)
            else:
                data[column] = pd.Series(values, dtype=object)
        return pd.DataFrame(data)

    def commit(
        self,
        new_state: State,
        *,
        run: RunInfo,
        started: Mapping[tuple[str, str], Any] | None = None,
        ended: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
        events: Sequence[Mapping[str, object]] = (),
        files: Files | None = None,
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
        run_row = check_run(run)
        event_rows = check_events(events, run_row["run_date"])
        if files is not None and not isinstance(files, Mapping) and not callable(files):
            raise StoreError("files must be a mapping of name to bytes, or a callable")
        new, problems = encode_state(new_state)
        if problems:
            raise problem_error("new_state is not valid", problems)
        with self._committing(conn):
            run_id = self._commit_in_transaction(
                conn, new, run_row, (started, ended), event_rows, run.counts, files
            )
        self._base_run_id = run_id
        return run_id

    @contextlib.contextmanager
    def _committing(self, conn: sqlite3.Connection) -> Iterator[None]:
        """The commit's transaction: committed if the body succeeds, else rolled back.

        The writer's lock is taken again afterwards, for the rest of the
        session, if nobody took it meanwhile.
        """
        try:
            with write_transaction(conn):
                yield
        except sqlite3.Error as exc:
            raise sqlite_error(self._path, exc) from exc
        finally:
            if self._conn is not None and not conn.in_transaction:
                with contextlib.suppress(StoreError, sqlite3.Error):
                    begin_writer(conn, self._path)

    def _commit_in_transaction(
        self,
        conn: sqlite3.Connection,
        new: Encoded,
        run_row: dict[str, Any],
        pair_reasons: tuple[Mapping[Any, Any], Mapping[Any, Any]],
        event_rows: list[dict[str, Any]],
        user_counts: Mapping[str, Any],
        files: Files | None,
    ) -> int:
        """Check ``new`` against the stored state, then write the run; return its id."""
        latest = last_run_id(conn)
        if latest != self._base_run_id:
            raise StoreConflictError(
                f"state store {str(self._path)!r}: run {latest} was committed by another "
                "writer since this one read the state; nothing was committed"
            )
        old = read_encoded(conn)
        settle_children(new)
        run_date = run_row["run_date"]
        problems, starts, ends = check_pairs(new, old, *pair_reasons, run_date)
        keys = {e["key"] for e in event_rows if e["key"] is not None}
        for key in sorted(recorded_keys(conn, keys)):
            problems.append(f"events: event {key[:12]}... is already recorded")
        if problems:
            raise problem_error("new_state is not valid", problems)
        pins = changed_pins(new, old)
        event_rows = event_rows + pin_events(new, pins, event_rows, run_date)
        spells = spell_changes(new, old, event_rows)
        counts = commit_counts(user_counts, new, old, (starts, ends, pins), len(event_rows), spells)
        run_id = insert_run(conn, run_row, counts)
        stored = check_files(files(run_id) if callable(files) else files or {})
        write_run(conn, run_id, new, old, spells, (starts, ends), event_rows, stored)
        _log.info(
            "state store: committed run %d (%s, %s): %d pair(s) started, %d ended",
            run_id,
            run_row["kind"],
            run_date,
            len(starts),
            len(ends),
        )
        return run_id


def _record_label(table: str, row: Sequence[Any]) -> str:
    """How an error names a row of ``table``: its key columns (ids and numbers only)."""
    if table == "runs":
        return f"run {row[0]}"
    if table == "events":
        return f"run {row[0]} event {row[1]}"
    return "?"


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
    try:
        with staged_file(target) as tmp:
            with StateStore.open(db, readonly=True) as store:
                dest = sqlite3.connect(tmp, isolation_level=None)
                try:
                    store._connection().backup(dest)
                    dest.execute("PRAGMA journal_mode = DELETE")
                finally:
                    dest.close()
            if not link_into_place(tmp, target):
                raise StoreError(
                    f"cannot back up to {str(target)!r}: it exists (choose a new file name)"
                )
    except sqlite3.Error as exc:
        raise sqlite_error(Path(os.fspath(db)), exc) from exc
    except OSError as exc:
        raise StoreError(f"cannot back up to {str(target)!r}: {exc.strerror}") from None
    return target
