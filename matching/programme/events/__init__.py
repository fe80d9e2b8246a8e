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

Files and languages
    :func:`read_events` reads ``.csv``, ``.xlsx`` and ``.json`` events files
    whose headers and kinds are Chinese or English: :data:`EVENT_VOCABULARY`
    is the one table of accepted headers and kinds (``类型``, ``儿童编号``,
    ``退出申请`` ...), :func:`vocabulary_markdown` renders it as the README
    shows it.  :func:`read_events_file` also says how a file was read
    (encoding, header line, columns, notes skipped below the table).

Errors
    Every problem is reported at once in one :class:`EventError`, whose
    ``problems`` name events by number, line, kind and ids - never by the
    free text of ``note``, ``actor`` or any personal data.  Messages come
    from the catalogue (:mod:`matching.i18n`): in Chinese, kinds and states
    are named in Chinese (:data:`EVENT_VOCABULARY`, :data:`EVENT_STATE_NAMES`).

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

from matching.programme.events.apply import EventOutcome, apply_events
from matching.programme.events.model import (
    EVENT_FIELDS,
    EVENT_KINDS,
    Event,
    check_date,
    event_key,
    id_is_plain,
)
from matching.programme.events.reading import (
    EVENT_FILE_SUFFIXES,
    EventsFile,
    parse_event_date,
    read_events,
    read_events_file,
)
from matching.programme.events.roster_updates import apply_rosters
from matching.programme.events.vocabulary import (
    EVENT_STATE_NAMES,
    EVENT_VOCABULARY,
    EventTerm,
    vocabulary_markdown,
)

__all__ = [
    "EVENT_FIELDS",
    "EVENT_FILE_SUFFIXES",
    "EVENT_KINDS",
    "EVENT_STATE_NAMES",
    "EVENT_VOCABULARY",
    "Event",
    "EventOutcome",
    "EventTerm",
    "EventsFile",
    "apply_events",
    "apply_rosters",
    "check_date",
    "event_key",
    "id_is_plain",
    "parse_event_date",
    "read_events",
    "read_events_file",
    "vocabulary_markdown",
]
