"""The steps of a commit, inside its transaction: what changed, and the rows that record it.

Internal to :mod:`matching.programme.store`.  The writing steps are module
functions called through this module, so that a test can interrupt one.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matching.errors import StoreError
from matching.programme.state import DEPARTED_STATUSES
from matching.programme.store.checks import End, Start
from matching.programme.store.codec import Encoded, Pair, Row, dumps, jsonable

__all__: list[str] = []

# event kinds that end an enrolment: kind -> (role, the event's field naming the person)
_DEPARTURES = {"exit_effective": ("child", "child_id"), "mentor_leave": ("mentor", "mentor_id")}


def read_encoded(conn: sqlite3.Connection) -> Encoded:
    """The stored state, encoded as a commit compares it (no capacities)."""
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
    return Encoded(children, mentors, {}, pairs, forbidden, queue)


def _rosters(
    new: Encoded, old: Encoded
) -> tuple[tuple[str, str, dict[str, Row], dict[str, Row]], ...]:
    """(table, role, new rows, stored rows) of the children, then the mentors."""
    return (
        ("children", "child", new.children, old.children),
        ("mentors", "mentor", new.mentors, old.mentors),
    )


# ----------------------------------------------------------------------------------------------
# what changed


@dataclass(frozen=True)
class SpellChange:
    """How one person's enrolment spells change in a commit: each part is (date, reason) or
    None; ``start`` is the new spell's joined_on."""

    ident: str
    end_old: tuple[str, str] | None
    start: str | None
    end_new: tuple[str, str] | None


Spells = dict[str, list[SpellChange]]
"""Role (``child`` / ``mentor``) -> the spell changes of that role's people."""


def spell_changes(new: Encoded, old: Encoded, events: Sequence[Mapping[str, Any]]) -> Spells:
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
    out: Spells = {}
    for _, role, new_rows, old_rows in _rosters(new, old):
        changes = out.setdefault(role, [])
        for ident in sorted(new_rows):
            change = _spell_change(ident, new_rows[ident], old_rows.get(ident), role, departures)
            if change is not None:
                changes.append(change)
    return out


def _spell_change(
    ident: str,
    row: Row,
    before: Row | None,
    role: str,
    departures: Mapping[tuple[str, str], tuple[str, str]],
) -> SpellChange | None:
    """How one person's spells change, from their stored row to the new one (None: not)."""
    left = (row[3], row[4]) if row[1] in DEPARTED_STATUSES else None
    if before is None:
        return SpellChange(ident, None, row[2], left)
    rejoined = row[2] != before[2]  # a new spell began in this commit
    if before[1] in DEPARTED_STATUSES:
        if rejoined or left is None:  # back, perhaps gone again, in this commit
            return SpellChange(ident, None, row[2], left)
        return None
    if not rejoined:
        return SpellChange(ident, left, None, None) if left is not None else None
    first = departures.get((role, ident), (row[2], "rejoined"))
    return SpellChange(ident, first, row[2], left)


def changed_pins(new: Encoded, old: Encoded) -> list[Pair]:
    """Kept pairs whose ``pinned`` changed, sorted."""
    return sorted(
        key for key in new.pairs.keys() & old.pairs.keys() if new.pairs[key][2] != old.pairs[key][2]
    )


def pin_events(
    new: Encoded, pins: list[Pair], event_rows: list[dict[str, Any]], run_date: str
) -> list[dict[str, Any]]:
    """A ``pin_changed`` event for each changed pin that no event of the run reports."""
    told = {(e["child_id"], e["mentor_id"]) for e in event_rows if e["kind"] == "pin_changed"}
    return [
        {
            "kind": "pin_changed",
            "child_id": child,
            "mentor_id": mentor,
            "actor": "",
            "note": "",
            "date": run_date,
            "key": None,
            "payload": dumps({"pinned": new.pairs[(child, mentor)][2]}, "payload"),
        }
        for child, mentor in pins
        if (child, mentor) not in told
    ]


def commit_counts(
    user_counts: Mapping[str, Any],
    new: Encoded,
    old: Encoded,
    changes: tuple[list[Start], list[End], list[Pair]],
    events: int,
    spells: Spells,
) -> dict[str, Any]:
    """The run's ``counts``: the caller's, then the store's own (see ``StateStore.commit``)."""
    starts, ends, pins = changes
    counts: dict[str, Any] = jsonable(user_counts, "run.counts")
    counts.update(
        pairs_started=len(starts),
        pairs_ended=len(ends),
        pairs_current=len(new.pairs),
        pins_changed=len(pins),
        events=events,
    )
    for name, role, new_rows, old_rows in _rosters(new, old):
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
    return counts


def _updated(name: str, row: Row, before: Row) -> bool:
    """Whether a kept person's row changed, other than a child's paired/waiting status."""
    if row[0] != before[0] or row[2:] != before[2:]:
        return True
    return name == "mentors" and row[1] != before[1]


# ----------------------------------------------------------------------------------------------
# writing


def insert_run(conn: sqlite3.Connection, run_row: Mapping[str, Any], counts: Any) -> int:
    """Insert the ``runs`` row, stamped with the UTC time of the commit; return its id."""
    row = {**run_row, "counts": dumps(counts, "run.counts")}
    row["committed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    names = list(row)
    cursor = conn.execute(
        f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [row[n] for n in names],
    )
    run_id = cursor.lastrowid
    assert run_id is not None
    return run_id


def write_run(
    conn: sqlite3.Connection,
    run_id: int,
    new: Encoded,
    old: Encoded,
    spells: Spells,
    changes: tuple[list[Start], list[End]],
    event_rows: list[dict[str, Any]],
    files: Mapping[str, bytes],
) -> None:
    """Write everything run ``run_id`` changed: rosters and spells, pairs, history, events
    and files (the ``runs`` row is already in)."""
    conn.executemany(
        "DELETE FROM pairs WHERE child_id = ? AND mentor_id = ?",
        sorted(old.pairs.keys() - new.pairs.keys()),
    )
    _write_rosters(conn, new, old, run_id, spells)
    _write_pairs(conn, new, old)
    _write_history(conn, run_id, *changes)
    _write_events(conn, run_id, event_rows)
    _write_files(conn, run_id, files)


def _write_rosters(
    conn: sqlite3.Connection, new: Encoded, old: Encoded, run_id: int, spells: Spells
) -> None:
    for table, role, new_rows, old_rows in _rosters(new, old):
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


def _write_pairs(conn: sqlite3.Connection, new: Encoded, old: Encoded) -> None:
    """Insert the new pairs, update the kept ones that changed; forbidden pairs and queue."""
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
    conn: sqlite3.Connection, run_id: int, starts: list[Start], ends: list[End]
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
    columns = ("kind", "child_id", "mentor_id", "actor", "note", "date", "key", "payload")
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, child_id, mentor_id, actor, note, event_date, "
        "event_key, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, seq, *(e[c] for c in columns)) for seq, e in enumerate(events)],
    )


def _write_files(conn: sqlite3.Connection, run_id: int, files: Mapping[str, bytes]) -> None:
    conn.executemany(
        "INSERT INTO run_files (run_id, name, data) VALUES (?, ?, ?)",
        [(run_id, name, sqlite3.Binary(data)) for name, data in sorted(files.items())],
    )
