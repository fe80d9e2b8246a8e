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

The modules, by job
    :mod:`~matching.programme.store.schema` the tables, schema versions and
    migrations; :mod:`~matching.programme.store.codec` encoding and decoding
    rows; :mod:`~matching.programme.store.checks` :class:`RunInfo` and the
    checks of a commit; :mod:`~matching.programme.store.commit` the steps of
    a commit; :mod:`~matching.programme.store.files` creating, connecting and
    locking the file; :mod:`~matching.programme.store.store` :class:`StateStore`
    and :func:`backup`.

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

from matching.programme.store.checks import RunInfo
from matching.programme.store.schema import ENROLMENT_COLUMNS, HISTORY_COLUMNS, MIGRATIONS
from matching.programme.store.store import StateStore, backup

__all__ = [
    "ENROLMENT_COLUMNS",
    "HISTORY_COLUMNS",
    "MIGRATIONS",
    "RunInfo",
    "StateStore",
    "backup",
]
