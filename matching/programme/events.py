"""Events: the day's changes to the programme, applied to a :class:`~matching.programme.State`.

A nightly batch job reads the day's events (:func:`read_events`), folds in the
day's roster files (:func:`apply_rosters`) and applies the events
(:func:`apply_events`) before re-matching.  Everything here is a pure
function: the input ``State`` is never modified, a new one is returned.

Event kinds (:data:`EVENT_KINDS`)
    ``exit_request`` → ``exit_investigate`` → ``exit_approve`` (``actor``
    required: who approved) → ``exit_effective`` walk a child's exit through
    the workflow (parent applies, street investigates, district approves, the
    exit takes effect); ``exit_reject`` stops an exit in progress.  Only an
    effective exit ends the child's enrolment (status ``"exited"``, dated)
    and their pair.  Nobody is ever removed: ``child_rejoin`` brings an
    exited child back (waiting, joined on the event's date).

    ``mentor_pause`` / ``mentor_resume`` switch a mentor between ``"active"``
    and ``"paused"`` (a paused mentor keeps their children but takes no new
    one); ``mentor_leave`` marks the mentor ``"left"``, ends their pairs and
    puts those children first in line; ``mentor_rejoin`` brings them back.

    ``pin`` marks an existing pair as never to be moved, or - a staff override
    - creates a new pinned pair, ending the child's current (unpinned) pair;
    ``unpin`` releases a pinned pair; ``forbid`` forbids a pair (ending it if
    it exists and putting the child first in line); ``end_pair`` ends a pair
    for the reason given in ``note``.

Dates and identity
    An event may carry the ``date`` the decision took effect (blank: the
    run's date; never later).  That date ends and starts the pairs the event
    touches and dates departures and rejoins.  An event is identified by what
    it says (:func:`event_key`): one recorded by an earlier run is not applied
    again, whatever file it comes in, while the same bytes on a later night
    (a blank date, so another date) are new events.

Errors
    Every problem is reported at once in one :class:`EventError`, whose
    ``problems`` name events by number, kind and ids - never by the free text
    of ``note``, ``actor`` or any personal data.

Example
-------
>>> import pandas as pd
>>> from matching.programme.events import Event, apply_events, apply_rosters
>>> from matching.programme.state import empty_state
>>> kids = pd.DataFrame({"id": ["C1", "C2"], "lat": [31.8, 31.81], "lon": [119.9, 119.91]})
>>> mums = pd.DataFrame({"id": ["M1"], "lat": [31.8], "lon": [119.9], "capacity": [2]})
>>> state, changes = apply_rosters(empty_state(), kids, mums, date="2026-03-01")
>>> changes["children_joined"]
['C1', 'C2']
>>> outcome = apply_events(
...     state,
...     [
...         Event(kind="pin", child_id="C1", mentor_id="M1", actor="staff-07"),
...         Event(kind="exit_request", child_id="C2"),
...     ],
...     date="2026-03-01",
... )
>>> outcome.started
{('C1', 'M1'): ('staff_override', '2026-03-01')}
>>> outcome.state.children[["exit_state", "status"]].values.tolist()
[['', 'paired'], ['requested', 'waiting']]
>>> apply_events(state, [Event(kind="exit_effective", child_id="C2")], date="2026-03-01")
Traceback (most recent call last):
...
matching.errors.EventError: 1 invalid event(s); nothing was applied
  - event 1 (exit_effective, child C2): exit_state is none; exit_effective needs approved
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import EventError
from matching.programme.state import (
    CHILD_STATE_COLUMNS,
    DEPARTED_STATUSES,
    LIFECYCLE_COLUMNS,
    MENTOR_STATE_COLUMNS,
    PAIR_COLUMNS,
    State,
    empty_state,
    iso_date,
    settle,
)
from matching.rosters import (
    CHILD_COLUMNS,
    MENTOR_COLUMNS,
    ValidRoster,
    valid_children,
    valid_mentors,
)

__all__ = [
    "EVENT_FIELDS",
    "EVENT_KINDS",
    "Event",
    "EventOutcome",
    "apply_events",
    "apply_rosters",
    "check_date",
    "event_key",
    "id_is_plain",
    "read_events",
]

EVENT_KINDS = (
    "exit_request",
    "exit_investigate",
    "exit_approve",
    "exit_effective",
    "exit_reject",
    "mentor_pause",
    "mentor_resume",
    "mentor_leave",
    "child_rejoin",
    "mentor_rejoin",
    "pin",
    "unpin",
    "forbid",
    "end_pair",
)
"""Every accepted event kind."""

EVENT_FIELDS = ("kind", "child_id", "mentor_id", "actor", "note", "date")
"""The fields of an event: the columns of an events CSV, the keys of an events JSON object."""

_PAIR_KINDS = ("pin", "unpin", "forbid", "end_pair")
_REQUIRED: dict[str, tuple[str, ...]] = {
    **{kind: ("child_id",) for kind in EVENT_KINDS if kind.startswith("exit_")},
    **{kind: ("mentor_id",) for kind in EVENT_KINDS if kind.startswith("mentor_")},
    **{kind: ("child_id", "mentor_id") for kind in _PAIR_KINDS},
}
_REQUIRED["child_rejoin"] = ("child_id",)
_REQUIRED["exit_approve"] = ("child_id", "actor")
_REQUIRED["end_pair"] = ("child_id", "mentor_id", "note")
_WHAT = {
    "child_id": "missing child_id",
    "mentor_id": "missing mentor_id",
    "actor": "missing actor (who approved the exit)",
    "note": "missing note (the reason the pair ends)",
}
# exit workflow: kind -> (exit states it starts from, exit state it leads to)
_EXIT_STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "exit_request": (("",), "requested"),
    "exit_investigate": (("requested",), "investigated"),
    "exit_approve": (("investigated",), "approved"),
    "exit_reject": (("requested", "investigated", "approved"), ""),
}
_MENTOR_STEPS: dict[str, tuple[str, str]] = {
    "mentor_pause": ("active", "paused"),
    "mentor_resume": ("paused", "active"),
}


@dataclass(frozen=True, kw_only=True)
class Event:
    """One change to the programme.

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    child_id, mentor_id : str
        The ids the event is about (which ones are needed depends on ``kind``).
    actor : str
        Who did it (staff id or office); required for ``exit_approve``.
    note : str
        Free text; required for ``end_pair`` (the stated reason).
    date : str
        ISO date the decision took effect (``""``: the run's date).  It dates
        the pairs the event ends or starts, and the departures and rejoins it
        records; it may not be later than the run's date.
    """

    kind: str
    child_id: str = ""
    mentor_id: str = ""
    actor: str = ""
    note: str = ""
    date: str = ""


def event_key(event: Event, run_date: str) -> str:
    """The identity of ``event``: a SHA-256 digest of what it says.

    Two events are the same event when their kind, ids, date (a blank date
    being ``run_date``), actor and note are equal; the bytes of the file they
    came in do not matter.  :func:`apply_events` applies an event whose key
    it has already seen only once.
    """
    fields = [event.kind, event.child_id, event.mentor_id, event.date or run_date]
    fields += [event.actor, event.note]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EventOutcome:
    """What :func:`apply_events` did.

    Attributes
    ----------
    state : State
        The new state.
    ended : dict
        ``(child_id, mentor_id) -> (reason, approved_by, ended_on)`` for every
        pair an event ended.  Reasons: ``"exit_effective"`` (approved_by: who
        approved the exit), ``"mentor_left"``, ``"forbidden"``,
        ``"staff_override"`` and ``"ended: <note>"`` (approved_by: the event's
        ``actor``); ``ended_on`` is the event's date.
    started : dict
        ``(child_id, mentor_id) -> (reason, started_on)`` for every pair an
        event created (``"staff_override"``), even if a later event of the
        batch ended it.
    log : list of dict
        One row per applied event, in order: ``kind``, ``child_id``,
        ``mentor_id``, ``actor``, ``note``, ``date`` (resolved: never blank)
        and ``key`` (:func:`event_key`).
    duplicates : list of dict
        Events not applied because the same event was applied before (its
        key is in ``seen``):
        ``number`` (1-based position in the batch), ``kind``, ``child_id``,
        ``mentor_id``, ``date``.
    """

    state: State
    ended: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    started: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    log: list[dict[str, object]] = field(default_factory=list)
    duplicates: list[dict[str, object]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# helpers


def _label(event: Any) -> str:
    """How a problem names an event: its kind and ids (never its free text)."""
    kind = getattr(event, "kind", None)
    parts = [kind if isinstance(kind, str) and kind in EVENT_KINDS else "?"]
    for name, word in (("child_id", "child"), ("mentor_id", "mentor")):
        ident = getattr(event, name, "")
        if isinstance(ident, str) and ident:
            parts.append(f"{word} {ident}" if id_is_plain(ident) else f"{word} (malformed id)")
    return ", ".join(parts)


def id_is_plain(ident: str) -> bool:
    """Whether ``ident`` may be shown in a message: short, one line, no delimiter.

    A longer or delimited "id" is more likely a shifted cell (a name, an
    address) than an id, so messages name its row instead.
    """
    return len(ident) <= 64 and not any(ch in ident for ch in ",;\t\n\r|，；")


def _accepted() -> str:
    return ", ".join(EVENT_KINDS)


def _structure_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    """``(column, problem)`` pairs for one event's fields alone: kind, the fields it needs."""
    kind = values["kind"]
    if not kind:
        return [("kind", "missing kind")]
    if kind not in EVENT_KINDS:
        return [("kind", f"unknown kind (accepted: {_accepted()})")]
    problems = [(name, _WHAT[name]) for name in _REQUIRED[kind] if not values[name]]
    for name in ("child_id", "mentor_id"):
        if values[name] and not id_is_plain(values[name]):
            problems.append((name, "malformed id (over 64 characters, or holds a delimiter)"))
    if values.get("date") and iso_date(values["date"]) is None:
        problems.append(("date", "not a date (expected YYYY-MM-DD)"))
    return problems


# ----------------------------------------------------------------------------------------------
# applying events


class _Sim:
    """The evolving state while a batch of events is checked and applied."""

    def __init__(self, state: State) -> None:
        kids = state.children
        ids = [str(c) for c in kids["id"]]
        self.exit: dict[str, tuple[str, str]] = {
            c: (str(s), str(a))
            for c, s, a in zip(ids, kids["exit_state"], kids["exit_approved_by"], strict=True)
        }
        self.child_life: dict[str, list[str]] = {
            c: [str(s), str(j), str(on), str(why)]
            for c, s, j, on, why in zip(
                ids, kids["status"], kids["joined_on"], kids["left_on"], kids["left_reason"],
                strict=True,
            )
        }  # fmt: skip
        mentors = state.mentors
        mids = [str(m) for m in mentors["id"]]
        self.mentor_life: dict[str, list[str]] = {
            m: [str(s), str(j), str(on), str(why)]
            for m, s, j, on, why in zip(
                mids, mentors["status"], mentors["joined_on"], mentors["left_on"],
                mentors["left_reason"], strict=True,
            )
        }  # fmt: skip
        self.capacity: dict[str, int] = {
            m: int(c) for m, c in zip(mids, mentors["capacity"], strict=True)
        }
        self.pairs: dict[tuple[str, str], dict[str, Any]] = {}
        self.by_child: dict[str, list[str]] = {}
        self.by_mentor: dict[str, list[str]] = {}
        for row in state.pairs.loc[:, list(PAIR_COLUMNS)].to_dict("records"):
            row["pinned"] = bool(row["pinned"])
            self._add(row)
        self.forbidden: set[tuple[str, str]] = {(str(c), str(m)) for c, m in state.forbidden}
        self.queue: list[str] = [str(c) for c in state.first_in_line]
        self.ended: dict[tuple[str, str], tuple[str, str, str]] = {}
        self.started: dict[tuple[str, str], tuple[str, str]] = {}

    # -- pairs
    def _add(self, row: dict[str, Any]) -> None:
        key = (str(row["child_id"]), str(row["mentor_id"]))
        self.pairs[key] = row
        self.by_child.setdefault(key[0], []).append(key[1])
        self.by_mentor.setdefault(key[1], []).append(key[0])

    def _end(self, key: tuple[str, str], reason: str, approved_by: str, day: str) -> None:
        del self.pairs[key]
        self.by_child[key[0]].remove(key[1])
        self.by_mentor[key[1]].remove(key[0])
        self.ended[key] = (reason, approved_by, day)

    def _queue(self, child: str) -> None:
        if child not in self.queue:
            self.queue.append(child)

    # -- checks
    def _child_problem(self, child: str, kind: str) -> str | None:
        life = self.child_life.get(child)
        if life is None:
            return "unknown child id"
        if kind == "child_rejoin":
            return None if life[0] == "exited" else "the child is enrolled; rejoin needs exited"
        if life[0] == "exited":
            return f"the child exited on {life[2]}; a child_rejoin event must come first"
        return None

    def _mentor_problem(self, mentor: str, kind: str) -> str | None:
        life = self.mentor_life.get(mentor)
        if life is None:
            return "unknown mentor id"
        if kind == "mentor_rejoin":
            return None if life[0] == "left" else f"mentor status is {life[0]}; rejoin needs left"
        if life[0] == "left":
            return f"the mentor left on {life[2]}; a mentor_rejoin event must come first"
        return None

    def _date_problem(self, event: Event, day: str) -> str | None:
        """The event's date against the enrolments it names and the pairs it ends or starts."""
        kind, child, mentor = event.kind, event.child_id, event.mentor_id
        needs = _REQUIRED[kind]
        for who, ident, lives, rejoin in (
            ("child", child, self.child_life, "child_rejoin"),
            ("mentor", mentor, self.mentor_life, "mentor_rejoin"),
        ):
            if f"{who}_id" in needs and kind != rejoin and day < lives[ident][1]:
                return f"date {day} is before the {who} joined ({lives[ident][1]})"
        if kind in ("exit_effective", "mentor_leave"):
            person = 0 if kind == "exit_effective" else 1
            ident = child if kind == "exit_effective" else mentor
            for key, (_, _, ended_on) in sorted(self.ended.items()):
                if key[person] == ident and day < ended_on:
                    return (
                        f"date {day} is before the pair ({key[0]}, {key[1]}) ended earlier "
                        f"in this batch ({ended_on})"
                    )
        # (a departure dated before the person joined is caught above, with every event)
        if kind == "child_rejoin" and day < self.child_life[child][2]:
            return f"date {day} is before the child exited ({self.child_life[child][2]})"
        if kind == "mentor_rejoin" and day < self.mentor_life[mentor][2]:
            return f"date {day} is before the mentor left ({self.mentor_life[mentor][2]})"
        ending: list[tuple[str, str]] = []
        if kind == "exit_effective":
            ending = [(child, m) for m in self.by_child.get(child, [])]
        elif kind == "mentor_leave":
            ending = [(c, mentor) for c in self.by_mentor.get(mentor, [])]
        elif kind in ("forbid", "end_pair") and (child, mentor) in self.pairs:
            ending = [(child, mentor)]
        elif kind == "pin" and (child, mentor) not in self.pairs:
            ending = [(child, m) for m in self.by_child.get(child, [])]
        for key in ending:
            started_on = str(self.pairs[key]["started_on"])
            if day < started_on:
                return f"date {day} is before the pair ({key[0]}, {key[1]}) started ({started_on})"
        return None

    def check(self, event: Event, day: str) -> list[str]:
        """Problems of ``event`` against the current state (structure already checked)."""
        kind, child, mentor = event.kind, event.child_id, event.mentor_id
        needs = _REQUIRED[kind]
        problems = [
            p
            for p in (
                self._child_problem(child, kind) if "child_id" in needs else None,
                self._mentor_problem(mentor, kind) if "mentor_id" in needs else None,
            )
            if p is not None
        ]
        if problems:
            return problems
        problem = self._date_problem(event, day)
        if problem is not None:
            return [problem]
        if kind in _EXIT_STEPS or kind == "exit_effective":
            sources = _EXIT_STEPS[kind][0] if kind in _EXIT_STEPS else ("approved",)
            current = self.exit[child][0]
            if current not in sources:
                wanted = " or ".join(s or "none" for s in sources)
                return [f"exit_state is {current or 'none'}; {kind} needs {wanted}"]
            return []
        if kind in _MENTOR_STEPS:
            source = _MENTOR_STEPS[kind][0]
            current = self.mentor_life[mentor][0]
            if current != source:
                return [f"mentor status is {current}; {kind} needs {source}"]
            return []
        key = (child, mentor)
        if kind == "unpin":
            if key not in self.pairs:
                return ["no such pair"]
            return [] if self.pairs[key]["pinned"] else ["the pair is not pinned"]
        if kind == "end_pair":
            return [] if key in self.pairs else ["no such pair"]
        if kind == "pin" and key not in self.pairs:
            return self._override_problems(child, mentor)
        return []  # mentor_leave, forbid, pin of an existing pair, rejoins

    def _override_problems(self, child: str, mentor: str) -> list[str]:
        problems = []
        status = self.mentor_life[mentor][0]
        if status != "active":
            problems.append(f"mentor status is {status}; a new pair needs active")
        if (child, mentor) in self.forbidden:
            problems.append("the pair is forbidden")
        load = len(self.by_mentor.get(mentor, []))
        if load >= self.capacity[mentor]:
            problems.append(f"mentor is full ({load} of capacity {self.capacity[mentor]})")
        for other in self.by_child.get(child, []):
            if self.pairs[(child, other)]["pinned"]:
                problems.append(f"the child's pair with mentor {other} is pinned; unpin it first")
        return problems

    # -- transitions
    def apply(self, event: Event, day: str) -> None:
        kind, child, mentor, actor = event.kind, event.child_id, event.mentor_id, event.actor
        key = (child, mentor)
        if kind in _EXIT_STEPS:
            target = _EXIT_STEPS[kind][1]
            approved_by = actor if kind == "exit_approve" else self.exit[child][1]
            self.exit[child] = (target, approved_by if target else "")
        elif kind == "exit_effective":
            approver = self.exit[child][1]
            for other in list(self.by_child.get(child, [])):
                self._end((child, other), "exit_effective", approver, day)
            self.exit[child] = ("", "")
            life = self.child_life[child]
            life[0], life[2], life[3] = "exited", day, "exit_effective"
            self.queue = [c for c in self.queue if c != child]
        elif kind == "child_rejoin":
            self.child_life[child] = ["waiting", day, "", ""]
        elif kind in _MENTOR_STEPS:
            self.mentor_life[mentor][0] = _MENTOR_STEPS[kind][1]
        elif kind == "mentor_leave":
            for other in list(self.by_mentor.get(mentor, [])):
                self._end((other, mentor), "mentor_left", actor, day)
                self._queue(other)
            life = self.mentor_life[mentor]
            life[0], life[2], life[3] = "left", day, "mentor_leave"
        elif kind == "mentor_rejoin":
            self.mentor_life[mentor] = ["active", day, "", ""]
        elif kind == "pin":
            if key in self.pairs:
                self.pairs[key]["pinned"] = True
            else:
                for other in list(self.by_child.get(child, [])):
                    self._end((child, other), "staff_override", actor, day)
                self._add(
                    {
                        "child_id": child,
                        "mentor_id": mentor,
                        "started_on": day,
                        "start_reason": "staff_override",
                        "pinned": True,
                    }
                )
                self.started[key] = ("staff_override", day)
        elif kind == "unpin":
            self.pairs[key]["pinned"] = False
        elif kind == "forbid":
            self.forbidden.add(key)
            if key in self.pairs:
                self._end(key, "forbidden", actor, day)
                self._queue(child)
        elif kind == "end_pair":
            self._end(key, f"ended: {event.note}", actor, day)

    def state(self, before: State) -> State:
        children = before.children.reset_index(drop=True).copy()
        ids = [str(c) for c in children["id"]]
        children["exit_state"] = pd.Series([self.exit[c][0] for c in ids], dtype=object)
        children["exit_approved_by"] = pd.Series([self.exit[c][1] for c in ids], dtype=object)
        for at, name in enumerate(LIFECYCLE_COLUMNS):
            children[name] = pd.Series([self.child_life[c][at] for c in ids], dtype=object)

        mentors = before.mentors.reset_index(drop=True).copy()
        mids = [str(m) for m in mentors["id"]]
        for at, name in enumerate(LIFECYCLE_COLUMNS):
            mentors[name] = pd.Series([self.mentor_life[m][at] for m in mids], dtype=object)

        rows = [self.pairs[key] for key in sorted(self.pairs)]
        pairs = pd.DataFrame(
            {
                name: pd.Series(
                    [row[name] for row in rows], dtype=bool if name == "pinned" else object
                )
                for name in PAIR_COLUMNS
            }
        )
        return settle(
            State(
                children=children,
                mentors=mentors,
                pairs=pairs,
                forbidden=tuple(sorted(self.forbidden)),
                first_in_line=tuple(self.queue),
            )
        )


def check_date(date: object) -> str:
    """``date`` as an ISO date, or an :class:`EventError` saying what is expected."""
    day = iso_date(date) if isinstance(date, str) else None
    if day is None:
        raise EventError("invalid date", ["date: expected an ISO date (YYYY-MM-DD)"])
    return day


def apply_events(
    state: State,
    events: Sequence[Event],
    *,
    date: str,
    seen: Collection[str] = frozenset(),
) -> EventOutcome:
    """Apply a batch of events, in order, to ``state``; all or nothing.

    Parameters
    ----------
    state : State
        The programme before the events; not modified.
    events : sequence of Event
        The day's events, applied in order, each against the state left by
        the ones before it.
    date : str
        ISO date (``YYYY-MM-DD``) of the run: the date of events whose own
        ``date`` is blank, and the latest date an event may carry.
    seen : collection of str
        Keys (:func:`event_key`) of events applied before, e.g. by earlier
        runs (:meth:`matching.programme.store.StateStore.event_keys`): such an event is
        not applied again but listed in ``duplicates``.  Within the batch,
        events are never merged: the same row twice is checked twice (a
        second ``exit_request`` is an invalid transition), so that a batch
        means exactly what it says.

    Returns
    -------
    EventOutcome
        The new state, the pairs ended and started, the log and the duplicates.

    Raises
    ------
    EventError
        If any event is invalid (or ``date`` is not an ISO date).  Its
        ``problems`` list every invalid event as ``"event N (kind, child X,
        mentor Y): reason"`` (1-based ``N``; reasons joined by ``"; "``):
        every event is checked, an invalid one being skipped so that the
        events after it are checked against the state they would meet.
        Nothing is applied.  Problems name events by kind and ids, never by
        the text of ``note`` or ``actor``.
    """
    run_day = check_date(date)
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise EventError("invalid events", ["events must be a sequence of Event"])
    sim = _Sim(state)
    problems: list[str] = []
    log: list[dict[str, object]] = []
    duplicates: list[dict[str, object]] = []
    for number, event in enumerate(events, start=1):
        if not isinstance(event, Event):
            problems.append(f"event {number} ({_label(event)}): not an Event")
            continue
        values = {name: getattr(event, name) for name in EVENT_FIELDS}
        bad = [name for name, value in values.items() if not isinstance(value, str)]
        reasons = [f"{name} must be text" for name in bad]
        if not reasons:
            reasons = [problem for _, problem in _structure_problems(values)]
        day = run_day
        if not reasons and event.date:
            day = str(iso_date(event.date))
            if day > run_day:
                reasons = [f"date {day} is after the run's date {run_day}"]
        key = "" if reasons else event_key(event, run_day)
        if key and key in seen:
            duplicates.append(
                {"number": number, "kind": event.kind, "child_id": event.child_id,
                 "mentor_id": event.mentor_id, "date": day}
            )  # fmt: skip
            continue
        reasons = reasons or sim.check(event, day)
        if reasons:
            problems.append(f"event {number} ({_label(event)}): {'; '.join(reasons)}")
            continue
        sim.apply(event, day)
        log.append({**values, "date": day, "key": key})
    if problems:
        raise EventError(f"{len(problems)} invalid event(s); nothing was applied", problems)
    return EventOutcome(
        state=sim.state(state),
        ended=sim.ended,
        started=sim.started,
        log=log,
        duplicates=duplicates,
    )


# ----------------------------------------------------------------------------------------------
# reading events


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
        for column, problem in _structure_problems(values):
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


# ----------------------------------------------------------------------------------------------
# rosters


def _same(a: object, b: object) -> bool:
    if isinstance(a, float | np.floating) and isinstance(b, float | np.floating):
        if math.isnan(a) and math.isnan(b):
            return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _frame(records: dict[str, dict[str, Any]], reference: pd.DataFrame) -> pd.DataFrame:
    ordered = [records[key] for key in sorted(records)]
    return pd.DataFrame(
        {
            name: pd.Series([row[name] for row in ordered], dtype=reference[name].dtype)
            for name in reference.columns
        }
    )


def _merge(
    current: pd.DataFrame,
    roster: pd.DataFrame,
    reference: pd.DataFrame,
    roster_columns: list[str],
    status_of: Callable[[dict[str, Any], dict[str, Any] | None, str], dict[str, Any]],
    date: str,
) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    """(frame, joined, updated, ignored): the roster folded into ``current``."""
    records: dict[str, dict[str, Any]] = {
        str(row["id"]): row for row in current.loc[:, list(reference.columns)].to_dict("records")
    }
    joined: list[str] = []
    updated: list[str] = []
    ignored: list[str] = []
    for row in roster.loc[:, roster_columns].to_dict("records"):
        ident = str(row["id"])
        previous = records.get(ident)
        if previous is not None and previous["status"] in DEPARTED_STATUSES:
            ignored.append(ident)  # left the programme: only a rejoin event brings them back
            continue
        merged = {**row, **status_of(row, previous, date)}
        if previous is None:
            joined.append(ident)
        elif not all(_same(merged[name], previous[name]) for name in reference.columns):
            updated.append(ident)
        records[ident] = merged
    return _frame(records, reference), sorted(joined), sorted(updated), sorted(ignored)


def _life(previous: dict[str, Any] | None, status: str, date: str) -> dict[str, Any]:
    if previous is None:
        return {"status": status, "joined_on": date, "left_on": "", "left_reason": ""}
    return {name: previous[name] for name in LIFECYCLE_COLUMNS}


def _child_status(
    row: dict[str, Any], previous: dict[str, Any] | None, date: str
) -> dict[str, Any]:
    life = _life(previous, "waiting", date)
    if previous is None:
        return {"exit_state": "", "exit_approved_by": "", **life}
    exit_ = {"exit_state": previous["exit_state"], "exit_approved_by": previous["exit_approved_by"]}
    return {**exit_, **life}


def _mentor_status(
    row: dict[str, Any], previous: dict[str, Any] | None, date: str
) -> dict[str, Any]:
    life = _life(previous, "active", date)
    if not row["active"]:
        life["status"] = "paused"
    return life


def apply_rosters(
    state: State,
    children: pd.DataFrame | ValidRoster | None,
    mentors: pd.DataFrame | ValidRoster | None,
    *,
    date: str,
) -> tuple[State, dict[str, list[str]]]:
    """Fold the day's roster files into ``state``: new people join, known ones are updated.

    Parameters
    ----------
    state : State
        The programme before; not modified.
    children, mentors : pandas.DataFrame, ValidRoster or None
        Raw roster frames (as read from a file), validated here with
        :func:`~matching.rosters.validate_children` /
        :func:`~matching.rosters.validate_mentors`, or rosters validated already
        (used as they are); ``None`` leaves that side as it is.  Columns
        outside the schema (names, notes, ...) are not kept.
    date : str
        ISO date of the run: the ``joined_on`` of people who join.

    Returns
    -------
    (State, dict)
        The new state, and ``{"children_joined", "children_updated",
        "children_ignored", "mentors_joined", "mentors_updated",
        "mentors_ignored"}`` -> sorted ids.  A new child joins ``"waiting"``
        with no exit in progress, a new mentor as ``"active"`` (or
        ``"paused"`` if the roster says ``active`` is false), both on ``date``.
        A known id gets the roster's values; its exit state, status and dates
        are kept, except that a mentor whose roster row says ``active`` is
        false becomes ``"paused"``; it counts as updated only if something
        changed.  A row naming a child who exited or a mentor who left changes
        nothing and is listed as ignored: only a ``child_rejoin`` /
        ``mentor_rejoin`` event brings them back.  Ids absent from a roster
        are *not* removed: people leave only through events.  Frames are
        sorted by id, with exactly the columns of
        :data:`~matching.programme.state.CHILD_STATE_COLUMNS` /
        :data:`~matching.programme.state.MENTOR_STATE_COLUMNS`.  Pairs, forbidden pairs
        and the queue are unchanged.

    Raises
    ------
    RosterError
        If a roster is invalid.
    """
    day = check_date(date)
    kids_v = None if children is None else valid_children(children).frame
    mums_v = None if mentors is None else valid_mentors(mentors).frame
    reference = empty_state()
    changes: dict[str, list[str]] = {
        f"{who}_{what}": []
        for who in ("children", "mentors")
        for what in ("joined", "updated", "ignored")
    }
    new_children = state.children
    new_mentors = state.mentors
    if kids_v is not None:
        (
            new_children,
            changes["children_joined"],
            changes["children_updated"],
            changes["children_ignored"],
        ) = _merge(
            state.children,
            kids_v,
            reference.children.loc[:, list(CHILD_STATE_COLUMNS)],
            [c.name for c in CHILD_COLUMNS],
            _child_status,
            day,
        )
    if mums_v is not None:
        (
            new_mentors,
            changes["mentors_joined"],
            changes["mentors_updated"],
            changes["mentors_ignored"],
        ) = _merge(
            state.mentors,
            mums_v,
            reference.mentors.loc[:, list(MENTOR_STATE_COLUMNS)],
            [c.name for c in MENTOR_COLUMNS],
            _mentor_status,
            day,
        )
    return settle(state.with_(children=new_children, mentors=new_mentors)), changes
