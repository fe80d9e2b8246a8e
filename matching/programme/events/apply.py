"""Applying a batch of events to a :class:`~matching.programme.state.State`, all or nothing.

Internal to :mod:`matching.programme.events`, which exports :func:`apply_events`
and :class:`EventOutcome`.  Each event is checked against the state the
events before it left, then applied; the input state is never modified.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from matching.errors import EventError
from matching.i18n import N_, use_language
from matching.i18n import gettext as _
from matching.programme.events.model import (
    EVENT_FIELDS,
    EXIT_STEPS,
    MENTOR_STEPS,
    REQUIRED,
    Event,
    check_date,
    event_key,
    event_label,
    structure_problems,
)
from matching.programme.events.vocabulary import (
    field_label,
    join_alternatives,
    join_reasons,
    kind_label,
    state_label,
)
from matching.programme.state import LIFECYCLE_COLUMNS, PAIR_COLUMNS, State, iso_date, settle

__all__ = ["EventOutcome", "apply_events"]

_BEFORE_JOINED = {
    "child_id": N_("date {day} is before the child joined ({joined})"),
    "mentor_id": N_("date {day} is before the mentor joined ({joined})"),
}


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
            return _("unknown child id")
        if kind == "child_rejoin":
            return None if life[0] == "exited" else _("the child is enrolled; rejoin needs exited")
        if life[0] == "exited":
            return _("the child exited on {date}; a {rejoin} event must come first").format(
                date=life[2], rejoin=kind_label("child_rejoin")
            )
        return None

    def _mentor_problem(self, mentor: str, kind: str) -> str | None:
        life = self.mentor_life.get(mentor)
        if life is None:
            return _("unknown mentor id")
        if kind == "mentor_rejoin":
            if life[0] == "left":
                return None
            return _("mentor status is {status}; rejoin needs {needed}").format(
                status=state_label(life[0]), needed=state_label("left")
            )
        if life[0] == "left":
            return _("the mentor left on {date}; a {rejoin} event must come first").format(
                date=life[2], rejoin=kind_label("mentor_rejoin")
            )
        return None

    def _date_problem(self, event: Event, day: str) -> str | None:
        """The event's date against the enrolments it names and the pairs it ends or starts."""
        kind, child, mentor = event.kind, event.child_id, event.mentor_id
        needs = REQUIRED[kind]
        for who, ident, lives, rejoin in (
            ("child_id", child, self.child_life, "child_rejoin"),
            ("mentor_id", mentor, self.mentor_life, "mentor_rejoin"),
        ):
            if who in needs and kind != rejoin and day < lives[ident][1]:
                return _(_BEFORE_JOINED[who]).format(day=day, joined=lives[ident][1])
        if kind in ("exit_effective", "mentor_leave"):
            person = 0 if kind == "exit_effective" else 1
            ident = child if kind == "exit_effective" else mentor
            for key, (_reason, _by, ended_on) in sorted(self.ended.items()):
                if key[person] == ident and day < ended_on:
                    return _(
                        "date {day} is before the pair ({child}, {mentor}) ended earlier "
                        "in this batch ({ended})"
                    ).format(day=day, child=key[0], mentor=key[1], ended=ended_on)
        # (a departure dated before the person joined is caught above, with every event)
        if kind == "child_rejoin" and day < self.child_life[child][2]:
            return _("date {day} is before the child exited ({left})").format(
                day=day, left=self.child_life[child][2]
            )
        if kind == "mentor_rejoin" and day < self.mentor_life[mentor][2]:
            return _("date {day} is before the mentor left ({left})").format(
                day=day, left=self.mentor_life[mentor][2]
            )
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
                message = _("date {day} is before the pair ({child}, {mentor}) started ({started})")
                return message.format(day=day, child=key[0], mentor=key[1], started=started_on)
        return None

    def check(self, event: Event, day: str) -> list[str]:
        """Problems of ``event`` against the current state (structure already checked)."""
        kind, child, mentor = event.kind, event.child_id, event.mentor_id
        needs = REQUIRED[kind]
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
        if kind in EXIT_STEPS or kind == "exit_effective":
            sources = EXIT_STEPS[kind][0] if kind in EXIT_STEPS else ("approved",)
            current = self.exit[child][0]
            if current not in sources:
                wanted = join_alternatives([state_label(s) for s in sources])
                return [
                    _("exit_state is {current}; {kind} needs {wanted}").format(
                        current=state_label(current), kind=kind_label(kind), wanted=wanted
                    )
                ]
            return []
        if kind in MENTOR_STEPS:
            source = MENTOR_STEPS[kind][0]
            current = self.mentor_life[mentor][0]
            if current != source:
                return [
                    _("mentor status is {status}; {kind} needs {needed}").format(
                        status=state_label(current), kind=kind_label(kind),
                        needed=state_label(source),
                    )
                ]  # fmt: skip
            return []
        key = (child, mentor)
        if kind == "unpin":
            if key not in self.pairs:
                return [_("no such pair")]
            return [] if self.pairs[key]["pinned"] else [_("the pair is not pinned")]
        if kind == "end_pair":
            return [] if key in self.pairs else [_("no such pair")]
        if kind == "pin" and key not in self.pairs:
            return self._override_problems(child, mentor)
        return []  # mentor_leave, forbid, pin of an existing pair, rejoins

    def _override_problems(self, child: str, mentor: str) -> list[str]:
        problems = []
        status = self.mentor_life[mentor][0]
        if status != "active":
            problems.append(
                _("mentor status is {status}; a new pair needs {needed}").format(
                    status=state_label(status), needed=state_label("active")
                )
            )
        if (child, mentor) in self.forbidden:
            problems.append(_("the pair is forbidden"))
        load = len(self.by_mentor.get(mentor, []))
        if load >= self.capacity[mentor]:
            problems.append(
                _("mentor is full ({load} of capacity {capacity})").format(
                    load=load, capacity=self.capacity[mentor]
                )
            )
        for other in self.by_child.get(child, []):
            if self.pairs[(child, other)]["pinned"]:
                problems.append(
                    _("the child's pair with mentor {mentor} is pinned; unpin it first").format(
                        mentor=other
                    )
                )
        return problems

    # -- transitions
    def apply(self, event: Event, day: str) -> None:
        kind, child, mentor, actor = event.kind, event.child_id, event.mentor_id, event.actor
        key = (child, mentor)
        if kind in EXIT_STEPS:
            target = EXIT_STEPS[kind][1]
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
        elif kind in MENTOR_STEPS:
            self.mentor_life[mentor][0] = MENTOR_STEPS[kind][1]
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


def apply_events(
    state: State,
    events: Sequence[Event],
    *,
    date: str,
    seen: Collection[str] = frozenset(),
    language: str | None = None,
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
    language : {"zh", "en"}, optional
        The language of the error's messages (default: the current language,
        :func:`matching.i18n.current_language`).

    Returns
    -------
    EventOutcome
        The new state, the pairs ended and started, the log and the duplicates.

    Raises
    ------
    EventError
        If any event is invalid (or ``date`` is not an ISO date).  Its
        ``problems`` list every invalid event as ``"event N (kind, child X,
        mentor Y): reason"`` (1-based ``N``; reasons joined by ``"; "``;
        ``"event N, line L (...)"`` for an event read from a file, whose
        name the first line of the message then gives), in the current
        language (:mod:`matching.i18n`; in Chinese, kinds and states by their
        Chinese names):
        every event is checked, an invalid one being skipped so that the
        events after it are checked against the state they would meet.
        Nothing is applied.  Problems name events by kind and ids, never by
        the text of ``note`` or ``actor``.
    """
    with use_language(language):
        return _apply_events(state, events, date=date, seen=seen)


def _apply_events(
    state: State, events: Sequence[Event], *, date: str, seen: Collection[str]
) -> EventOutcome:
    run_day = check_date(date)
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise EventError(_("invalid events"), [_("events must be a sequence of Event")])
    sim = _Sim(state)
    problems: list[str] = []
    log: list[dict[str, object]] = []
    duplicates: list[dict[str, object]] = []
    sources: set[str] = set()
    for number, event in enumerate(events, start=1):
        if not isinstance(event, Event):
            problems.append(
                _("event {number} ({label}): not an Event").format(
                    number=number, label=event_label(event)
                )
            )
            continue
        sources.add(event.source)
        values = {name: getattr(event, name) for name in EVENT_FIELDS}
        bad = [name for name, value in values.items() if not isinstance(value, str)]
        reasons = [_("{field} must be text").format(field=field_label(name)) for name in bad]
        if not reasons:
            reasons = [problem for _column, problem in structure_problems(values)]
        day = run_day
        if not reasons and event.date:
            day = str(iso_date(event.date))
            if day > run_day:
                reasons = [
                    _("date {day} is after the run's date {run}").format(day=day, run=run_day)
                ]
        key = "" if reasons else event_key(event, run_day)
        if key and key in seen:
            duplicates.append(
                {"number": number, "kind": event.kind, "child_id": event.child_id,
                 "mentor_id": event.mentor_id, "date": day}
            )  # fmt: skip
            continue
        reasons = reasons or sim.check(event, day)
        if reasons:
            problems.append(_problem(number, event, reasons))
            continue
        sim.apply(event, day)
        log.append({**values, "date": day, "key": key})
    if problems:
        raise EventError(_summary(len(problems), sources), problems)
    return EventOutcome(
        state=sim.state(state),
        ended=sim.ended,
        started=sim.started,
        log=log,
        duplicates=duplicates,
    )


def _problem(number: int, event: Event, reasons: list[str]) -> str:
    """One invalid event: its number in the batch (and line in its file), kind, ids, reasons."""
    label, why = event_label(event), join_reasons(reasons)
    if event.line is None:
        return _("event {number} ({label}): {reasons}").format(
            number=number, label=label, reasons=why
        )
    return _("event {number}, line {line} ({label}): {reasons}").format(
        number=number, line=event.line, label=label, reasons=why
    )


def _summary(count: int, sources: set[str]) -> str:
    """The first line of the error: how many events are invalid (and in which file)."""
    if len(sources) == 1 and "" not in sources:
        return _("{count} invalid event(s) in {file}; nothing was applied").format(
            count=count, file=repr(next(iter(sources)))
        )
    return _("{count} invalid event(s); nothing was applied").format(count=count)
