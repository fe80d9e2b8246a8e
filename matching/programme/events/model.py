"""The event model: the kinds of event, the fields each kind needs, and an event's identity.

Internal to :mod:`matching.programme.events`, which exports the public names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from matching.errors import EventError
from matching.i18n import N_
from matching.i18n import gettext as _
from matching.programme.events.vocabulary import field_label, join_label, join_list, kind_label
from matching.programme.state import iso_date

__all__ = ["EVENT_FIELDS", "EVENT_KINDS", "Event", "check_date", "event_key", "id_is_plain"]

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
# the fields each kind needs (REQUIRED) and how a missing one is reported (_WHAT)
REQUIRED: dict[str, tuple[str, ...]] = {
    **{kind: ("child_id",) for kind in EVENT_KINDS if kind.startswith("exit_")},
    **{kind: ("mentor_id",) for kind in EVENT_KINDS if kind.startswith("mentor_")},
    **{kind: ("child_id", "mentor_id") for kind in _PAIR_KINDS},
}
REQUIRED["child_rejoin"] = ("child_id",)
REQUIRED["exit_approve"] = ("child_id", "actor")
REQUIRED["end_pair"] = ("child_id", "mentor_id", "note")
_WHAT = {
    "child_id": N_("missing {child_id}"),
    "mentor_id": N_("missing {mentor_id}"),
    "actor": N_("missing {actor} (who approved the exit)"),
    "note": N_("missing {note} (the reason the pair ends)"),
}
# the exit workflow: kind -> (exit states it starts from, exit state it leads to)
EXIT_STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "exit_request": (("",), "requested"),
    "exit_investigate": (("requested",), "investigated"),
    "exit_approve": (("investigated",), "approved"),
    "exit_reject": (("requested", "investigated", "approved"), ""),
}
MENTOR_STEPS: dict[str, tuple[str, str]] = {
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
    source : str
        The file the event was read from (``""``: none).  Not part of what the
        event says: it is left out of comparisons, of ``repr`` and of
        :func:`event_key`; messages name it.
    line : int or None
        The event's line in that file (for ``.xlsx``, the sheet's row; for
        ``.json``, the item's number), for messages; left out likewise.
    """

    kind: str
    child_id: str = ""
    mentor_id: str = ""
    actor: str = ""
    note: str = ""
    date: str = ""
    source: str = field(default="", compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)


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


_WHO = {
    "child_id": (N_("child {id}"), N_("child (malformed id)")),
    "mentor_id": (N_("mentor {id}"), N_("mentor (malformed id)")),
}


def event_label(event: Any) -> str:
    """How a problem names an event: its kind and ids (never its free text)."""
    kind = getattr(event, "kind", None)
    parts = [kind_label(kind) if isinstance(kind, str) and kind in EVENT_KINDS else "?"]
    for name, (plain, malformed) in _WHO.items():
        ident = getattr(event, name, "")
        if isinstance(ident, str) and ident:
            parts.append(_(plain).format(id=ident) if id_is_plain(ident) else _(malformed))
    return join_label(parts)


def id_is_plain(ident: str) -> bool:
    """Whether ``ident`` may be shown in a message: short, one line, no delimiter.

    A longer or delimited "id" is more likely a shifted cell (a name, an
    address) than an id, so messages name its row instead.
    """
    return len(ident) <= 64 and not any(ch in ident for ch in ",;\t\n\r|，；")


def accepted_kinds() -> str:
    """The accepted kinds, as messages list them (Chinese names in Chinese)."""
    return join_list([kind_label(kind) for kind in EVENT_KINDS])


def missing_field(name: str, header: str | None = None) -> str:
    """The problem of a field a kind needs and the event lacks, naming ``header`` (the
    file's header for the field; default: the field as messages name it)."""
    return _(_WHAT[name]).format(**{name: field_label(name) if header is None else header})


def structure_problems(
    values: dict[str, str], headers: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """``(column, problem)`` pairs for one event's fields alone: kind, the fields it needs.

    ``headers`` maps a field to the header the file had for it (messages name
    that header); the others are named by :func:`field_label`.
    """
    kind = values["kind"]
    if not kind:
        return [("kind", _("missing kind"))]
    if kind not in EVENT_KINDS:
        return [("kind", _("unknown kind (accepted: {kinds})").format(kinds=accepted_kinds()))]
    names = headers or {}
    problems = [
        (name, missing_field(name, names.get(name))) for name in REQUIRED[kind] if not values[name]
    ]
    for name in ("child_id", "mentor_id"):
        if values[name] and not id_is_plain(values[name]):
            problems.append((name, _("malformed id (over 64 characters, or holds a delimiter)")))
    if values.get("date") and iso_date(values["date"]) is None:
        problems.append(("date", _("not a date (expected YYYY-MM-DD)")))
    return problems


def check_date(date: object) -> str:
    """``date`` as an ISO date, or an :class:`EventError` saying what is expected."""
    day = iso_date(date) if isinstance(date, str) else None
    if day is None:
        raise EventError(_("invalid date"), [_("date: expected an ISO date (YYYY-MM-DD)")])
    return day
