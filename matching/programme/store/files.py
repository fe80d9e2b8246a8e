"""The state store's file: creating it whole, refusing foreign files, connecting and locking.

Internal to :mod:`matching.programme.store`.  A new store (or a backup) is
built in a temporary file beside its path and linked into place whole, so
that no reader ever finds a half-made file; the writer's lock is SQLite's
own write transaction, held in the database file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from matching._files import fsync_path
from matching.errors import StoreError, StoreLockedError
from matching.programme.store.schema import Migration, migrate

__all__: list[str] = []

_log = logging.getLogger("matching.programme.store")

_SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_MS = 30_000
"""How long a reader waits for a committing writer (milliseconds)."""
_LEFTOVER_SECONDS = 600.0  # a temporary store older than this was left by a killed creator


def sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """The StoreError (or StoreLockedError) that says what went wrong with the file."""
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return StoreError(f"{str(path)!r} is not a state store (not an SQLite database)")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreLockedError(f"state store {str(path)!r} is locked by another process")
    return StoreError(f"state store {str(path)!r}: {type(exc).__name__}: {text}")


def check_file(file: Path) -> None:
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


@contextlib.contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``target``, removed afterwards whatever happens."""
    tmp = target.with_name(f".{target.name}.new-{secrets.token_hex(8)}")
    try:
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def link_into_place(tmp: Path, target: Path) -> bool:
    """Flush the finished ``tmp`` and link it to ``target`` unless ``target`` exists;
    True if linked."""
    fsync_path(tmp)
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


def create(file: Path, target: int, migrations: Sequence[Migration]) -> None:
    """Build a new store of schema ``target`` beside ``file`` and link it into place whole."""
    _remove_leftovers(file)
    try:
        with staged_file(file) as tmp:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = DELETE")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA foreign_keys = ON")
                migrate(conn, tmp, target, migrations)
            finally:
                conn.close()
            if link_into_place(tmp, file):
                _log.info("state store: created %s", file)
    except sqlite3.Error as exc:
        raise sqlite_error(file, exc) from exc
    except OSError as exc:
        raise StoreError(f"cannot create state store {str(file)!r}: {exc.strerror}") from None


def reader(file: Path) -> sqlite3.Connection:
    """A connection that never writes: read-write where allowed (so that SQLite can roll back
    a killed writer's journal), else read-only."""
    if os.access(file, os.W_OK) and os.access(file.parent, os.W_OK):
        conn = sqlite3.connect(file, isolation_level=None, timeout=BUSY_MS / 1000)
        conn.execute("PRAGMA query_only = ON")
        return conn
    uri = file.absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_MS / 1000)


def writer(file: Path) -> sqlite3.Connection:
    """A writing connection holding the writer's lock (see :func:`begin_writer`)."""
    conn = sqlite3.connect(file, isolation_level=None, timeout=0.0)
    try:
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "delete":
            # schema 1 used WAL, whose locks live beside the path, not in the file
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            if str(mode).lower() != "delete":
                raise StoreLockedError(f"state store {str(file)!r} is in use by another process")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        begin_writer(conn, file)
    except BaseException:
        conn.close()
        raise
    return conn


def begin_writer(conn: sqlite3.Connection, file: Path) -> None:
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
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")


def store_file(given: Path, readonly: bool) -> Path:
    """The store's file (links resolved); a StoreError if it cannot be opened as asked."""
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
    return file


def check_version(file: Path, version: int, target: int, readonly: bool) -> None:
    """Refuse a file without tables, a newer schema, and (read-only) an older one."""
    if version == 0:
        raise StoreError(f"{str(file)!r} is not a state store (an SQLite file without tables)")
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
