"""The nightly batch job: rosters and events in, a re-matching plan committed atomically.

Order of work, so that bad input never touches the store and no plan appears
for a night that did not happen:

1. read and validate every input (date, rosters, events, configuration);
2. open the store (one writer at a time, enforced by the store itself) and
   load the current state; a dry run opens it read-only and creates nothing;
3. if this night was already committed with the same inputs, change nothing:
   write that run's plan again from the store and say so;
4. apply the roster updates (joins and changes; a row naming someone who left
   is ignored and listed; nobody is removed by absence), then the events (exit
   workflow, rejoins, mentor pauses and departures, pins, forbidden pairs,
   ended pairs), each event once -- an invalid event rejects the whole run;
5. re-match with minimal disruption (:func:`matching.programme.rematch.rematch`);
6. unless ``dry_run``, commit the new state, the pair and enrolment
   histories, the events, the run record and the plan's files in one
   transaction;
7. only then write the plan folder, whole (a sibling folder swapped in).

Idempotent: re-running a committed night with the same inputs is a no-op
that says so; an event already recorded is not applied again (events are
identified by what they say, :func:`matching.programme.events.event_key`), rosters
that did not change change nothing, and re-matching a settled state makes no
change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from matching.config import MatchConfig, RematchPolicy
from matching.errors import InputError
from matching.i18n import gettext as _
from matching.i18n import ngettext, use_language
from matching.programme.events import (
    EVENT_FIELDS,
    Event,
    apply_events,
    apply_rosters,
    event_key,
)
from matching.programme.night_inputs import NightInputs, Source
from matching.programme.plan import PLAN_FILES, publish_plan, render_plan, write_plan
from matching.programme.plan_text import carry_from_rosters, plan_summary_lines
from matching.programme.rematch import RematchPlan, rematch
from matching.programme.state import DEPARTED_STATUSES, State, empty_state
from matching.programme.store import RunInfo, StateStore
from matching.rosters import (
    VOCABULARY,
    ValidRoster,
    Vocabulary,
)

__all__ = [
    "PLAN_FILES",
    "NightlyReport",
    "already_committed_line",
    "night_line",
    "publish_plan",
    "run_nightly",
    "today",
]

_T = TypeVar("_T")

log = logging.getLogger("matching")

COUNT_KEYS = (
    "children_joined",
    "children_updated",
    "mentors_joined",
    "mentors_updated",
    "events_applied",
    "pairs_started",
    "pairs_ended",
    "pairs_moved",
    "children_waiting",
    "roster_rows_ignored",
    "events_duplicate",
)
# counted, but not changes to the programme
_NOT_CHANGES = frozenset({"children_waiting", "roster_rows_ignored", "events_duplicate"})
_IGNORED = ["roster", "id", "reason", "left_on"]


@dataclass(frozen=True)
class NightlyReport:
    """What a nightly run did (or, with ``dry_run``, would do).

    Attributes
    ----------
    plan : RematchPlan or None
        The re-matching plan; ``None`` when the night was already committed.
    counts : dict
        :data:`COUNT_KEYS`, ``changes`` (their sum, less waiting children,
        ignored rows and duplicate events) and, with a geocoder,
        ``*_geocode_failed``.  All zero when the night was already committed.
    files : dict
        The plan files written, by name (empty without ``out_dir``).
    run_id : int or None
        The committed run (the earlier one when already committed); ``None``
        for a dry run.
    already_committed : bool
        The night was committed before with the same inputs: nothing changed.
    ignored : DataFrame
        Roster rows that named someone who left the programme: ``roster``,
        ``id``, ``reason`` (``child_exited`` / ``mentor_left``), ``left_on``.
    summary : tuple of str
        What the night did (for a night committed before: what it did
        then), in plain sentences in the run's language, the price of
        stability among them (:func:`matching.programme.plan_text.plan_summary_lines`);
        counts only, never a roster's cells.
    """

    plan: RematchPlan | None
    counts: dict[str, int]
    files: dict[str, Path]
    run_id: int | None
    already_committed: bool = False
    ignored: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_IGNORED))
    summary: tuple[str, ...] = ()


def today(timezone: str = "Asia/Shanghai") -> str:
    """Today's ISO date in the programme's time zone (a run at 03:27 in Beijing is that day)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"The 'timezone' setting must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {timezone!r} instead."
        ) from None
    return dt.datetime.now(zone).date().isoformat()


def run_nightly(
    db: str | Path,
    *,
    date: str,
    out_dir: str | Path | None = None,
    children: Source = None,
    mentors: Source = None,
    events: str | Path | Sequence[Event] | None = None,
    config: MatchConfig | None = None,
    dry_run: bool = False,
    policy: RematchPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    geocoder: Any | None = None,
    geocode_cache: str | Path | None = None,
    geocode_options: dict[str, Any] | None = None,
    language: str | None = None,
    xlsx: bool = False,
    carry_columns: Sequence[str] = (),
    vocabulary: Vocabulary = VOCABULARY,
) -> NightlyReport:
    """Run one night against the state store at ``db``.

    Parameters
    ----------
    db : path
        The SQLite state store (created on the first night if no file is
        there; an empty or foreign file is refused).
    date : str
        ISO date the run stands for (see :func:`today`).
    out_dir : path, optional
        The plan folder, written whole after the commit (:func:`publish_plan`);
        ``None`` writes no files.  ``matching plan`` writes any committed run's plan again.
    children, mentors : path or DataFrame, optional
        Roster files (``.csv``/``.xlsx``) or raw frames: joins and updates.
    events : path or sequence of Event, optional
        The day's events (``.csv``, ``.xlsx`` or ``.json`` file, or :class:`Event` objects).
    config : MatchConfig, optional
    dry_run : bool
        Plan and report, commit nothing; the store is opened read-only (and
        not created).
    policy : RematchPolicy, optional
        How the re-match treats existing pairs (the price of stability costs a from-scratch solve).
    progress : callable, optional
        Called with a short phase name as the run advances (for a progress
        display); never with personal data.
    geocoder : geopy geocoder, optional
        Fill the rosters' missing coordinates from their ``address`` column
        first (:func:`matching.geo.geocode.geocode_roster`).  Records that cannot
        be placed are not guessed: they are left out of tonight's roster,
        counted (``*_geocode_failed``) and listed by id and reason in
        ``geocode_failures.csv``; the run carries on with the rest.
    geocode_cache : path, optional
        The geocoding cache (SQLite), so that no address is asked twice.
    geocode_options : dict, optional
        Further keywords of :func:`~matching.geo.geocode.geocode_roster`
        (``address_column``, ``crs``, ``provider``, ``min_delay_seconds``, ...).
    language : {"zh", "en"}, optional
        The language of the published plan (headers, reasons, the summary,
        the workbook) and of the log lines; default: the current language
        (:func:`matching.i18n.current_language`).  The store keeps the plan
        in canonical form, so ``matching plan`` can write it again in the
        other language (:mod:`matching.programme.plan`).
    xlsx : bool, default False
        Also write ``plan.xlsx`` into ``out_dir``: a summary sheet in plain
        words and one sheet per kind of change (needs openpyxl).
    carry_columns : sequence of str, default ()
        Staff's own roster columns (e.g. ``["姓名", "联系电话"]``), taken from
        tonight's ``children`` and ``mentors`` and put into the plan's CSV
        files and workbook beside each id.  They never go into the store,
        ``plan.json``, the log or the report; a column that no roster given
        tonight has is an ``InputError`` (before the store is touched).
    vocabulary : Vocabulary, default matching.rosters.VOCABULARY
        The words the roster files may use for numbers, needs, yes/no and
        gender (:func:`matching.config.load_vocabulary` reads a ``[vocabulary]``
        table).

    Both rosters and the events are checked before anything else: every
    problem of all three comes out in one error (an
    :class:`~matching.errors.InputErrors` when more than one is invalid).

    Returns
    -------
    NightlyReport

    Raises
    ------
    RosterError, EventError, ConfigError, InputError
        Bad input, before the store is touched.
    StoreLockedError
        Another run holds the store (nothing is changed, no plan written).
    StoreError
        The store file is empty, foreign or damaged.
    """
    with use_language(language):
        step = progress or (lambda _phase: None)
        step("validating input")
        inputs = NightInputs.read(
            date, config, policy, step, children=children, mentors=mentors, events=events,
            geocoding=(geocoder, geocode_cache, geocode_options), vocabulary=vocabulary,
        )  # fmt: skip
        publishing = {"carried": _carried(inputs, carry_columns), "xlsx": xlsx}
        return _night(db, inputs, out_dir, dry_run, step, publishing)


def _carried(inputs: NightInputs, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Staff's columns of tonight's rosters, by roster (empty without ``columns``)."""
    if isinstance(columns, str):
        raise InputError(_("carry_columns must be a list of column headers, not a str"))
    return carry_from_rosters(
        columns,
        children=inputs.kids.frame if inputs.kids is not None else None,
        mentors=inputs.mentors.frame if inputs.mentors is not None else None,
    )


def _night(
    db: str | Path,
    inputs: NightInputs,
    out_dir: str | Path | None,
    dry_run: bool,
    step: Callable[[str], None],
    publishing: dict[str, Any],
) -> NightlyReport:
    """The night after its input was read: open the store, apply, re-match, commit, publish."""
    day = inputs.day
    step("loading the state store")
    with contextlib.ExitStack() as stack:
        store = _open_store(stack, db, dry_run)
        state = store.load() if store is not None else empty_state()
        if store is not None and not dry_run:
            done = store.find_run(run_date=day, inputs_digest=inputs.digest)
            if done is not None:
                return _replay(store, done, day, out_dir, step, publishing)
        step("applying rosters and events")
        night = _apply(state, inputs.kids, inputs.mentors, inputs.events, day, _seen(store, inputs))
        step("re-matching")
        plan = rematch(night.state, inputs.config, date=day, policy=inputs.policy)
        started, ended = _pair_changes(state, plan, night)
        counts = _counts(night, plan, started, ended, inputs.geo_failures or {})
        _log_night(day, night, counts)

        render = _renderer(plan, ended, counts, night, inputs, dry_run)
        run_id, contents = None, None
        if not dry_run and store is not None:
            step("committing")
            run_id, contents = _commit(store, inputs, plan, counts, (started, ended), night, render)
        canonical = render(None) if contents is None else contents
        files = write_plan(out_dir, canonical, step, **publishing)
    step("done")
    summary = tuple(plan_summary_lines(canonical))
    return NightlyReport(plan, counts, files, run_id, ignored=night.ignored, summary=summary)


def _replay(
    store: StateStore,
    done: int,
    day: str,
    out_dir: str | Path | None,
    step: Callable[[str], None],
    publishing: dict[str, Any],
) -> NightlyReport:
    """The night was committed before as run ``done``: change nothing, write its plan again."""
    log.info(already_committed_line(day, done))
    stored = store.run_files(done)
    files = write_plan(out_dir, stored, step, **publishing)
    step("done")
    zeros = dict.fromkeys((*COUNT_KEYS, "changes"), 0)
    summary = tuple(plan_summary_lines(stored)) if "plan.json" in stored else ()
    return NightlyReport(None, zeros, files, done, already_committed=True, summary=summary)


def _renderer(
    plan: RematchPlan,
    ended: Mapping[tuple[str, str], tuple[str, str, str]],
    counts: dict[str, int],
    night: _Night,
    inputs: NightInputs,
    dry_run: bool,
) -> Callable[[int | None], dict[str, bytes]]:
    """Renders tonight's plan files for a run id (None: not committed)."""

    def render(run_id: int | None) -> dict[str, bytes]:
        summary = {
            "date": inputs.day,
            "run_id": run_id,
            "dry_run": dry_run,
            "input_hashes": inputs.hashes,
            "mentors_full": _mentors_full(plan),
        }
        return render_plan(
            plan, ended=ended, counts=counts, ignored=night.ignored,
            duplicates=night.duplicates, geo_failures=inputs.geo_failures, summary=summary,
        )  # fmt: skip

    return render


def _open_store(stack: contextlib.ExitStack, db: str | Path, dry_run: bool) -> StateStore | None:
    """The store, open for writing (created if absent); a dry run opens an existing store
    read-only and creates none (None)."""
    if not dry_run:
        return stack.enter_context(StateStore.open(db))
    if Path(db).exists() or Path(db).is_symlink():
        return stack.enter_context(StateStore.open(db, readonly=True))
    return None


def _seen(store: StateStore | None, inputs: NightInputs) -> set[str]:
    """The keys of tonight's events that the store has already recorded."""
    if store is None:
        return set()
    batch = {
        event_key(e, inputs.day)
        for e in inputs.events
        if all(isinstance(getattr(e, f), str) for f in EVENT_FIELDS)
    }
    return store.event_keys(among=batch)


def _mentors_full(plan: RematchPlan) -> int:
    """Active mentors paired to capacity after the plan."""
    mentors = plan.state.mentors
    active = mentors[mentors["status"] == "active"]
    load = plan.state.pairs["mentor_id"].value_counts()
    taken = load.reindex(active["id"]).fillna(0).to_numpy()
    return int((taken >= active["capacity"].to_numpy()).sum())


def already_committed_line(date: str, run_id: int) -> str:
    """The line that says a night was committed before (current language).

    Examples
    --------
    >>> already_committed_line("2026-03-09", 2)
    'nightly 2026-03-09: already committed as run 2; nothing changed'
    """
    return _("nightly {date}: already committed as run {run}; nothing changed").format(
        date=date, run=run_id
    )


def night_line(date: str, counts: Mapping[str, int]) -> str:
    """One line of what a night did, in words and counts (current language).

    Examples
    --------
    >>> night_line("2026-03-09", {"pairs_started": 2, "pairs_ended": 1, "changes": 4})
    'nightly 2026-03-09: 2 new pairs, 1 ended, 0 moved, 0 children waiting; 4 changes in all'
    """
    n = counts.get("changes", 0)
    in_all = ngettext("{n} change in all", "{n} changes in all", n).format(n=n)
    return _(
        "nightly {date}: {new} new pairs, {ended} ended, {moved} moved, "
        "{waiting} children waiting; {in_all}"
    ).format(
        date=date,
        new=counts.get("pairs_started", 0),
        ended=counts.get("pairs_ended", 0),
        moved=counts.get("pairs_moved", 0),
        waiting=counts.get("children_waiting", 0),
        in_all=in_all,
    )


def _log_night(day: str, night: _Night, counts: Mapping[str, int]) -> None:
    n = len(night.ignored)
    if n:
        log.warning(
            ngettext(
                "nightly {date}: {n} roster row names someone who left the programme and was "
                "ignored (plan_ignored_rows.csv); a child_rejoin or mentor_rejoin event "
                "brings someone back",
                "nightly {date}: {n} roster rows name people who left the programme and were "
                "ignored (plan_ignored_rows.csv); a child_rejoin or mentor_rejoin event "
                "brings someone back",
                n,
            ).format(date=day, n=n)
        )
    log.info(night_line(day, counts))


def _commit(
    store: StateStore,
    inputs: NightInputs,
    plan: RematchPlan,
    counts: dict[str, int],
    changes: tuple[Mapping[tuple[str, str], Any], Mapping[tuple[str, str], tuple[str, ...]]],
    night: _Night,
    render: Callable[[int | None], dict[str, bytes]],
) -> tuple[int, dict[str, bytes]]:
    """Commit the plan's state, histories, events, run record and plan files in one
    transaction; return the run id and the files (rendered with it)."""
    rendered: dict[str, bytes] = {}

    def stored(new_id: int) -> dict[str, bytes]:
        rendered.update(render(new_id))
        return rendered

    run = RunInfo(
        run_date=inputs.day,
        kind="nightly",
        config=inputs.config.to_dict(),
        input_hashes=inputs.hashes,
        metrics=plan.metrics,
        counts=counts,
        inputs_digest=inputs.digest,
    )
    started, ended = changes
    run_id = store.commit(
        plan.state, run=run, started=started, ended=ended, events=night.log, files=stored
    )
    return run_id, rendered


@dataclass(frozen=True)
class _Night:
    """The state after tonight's rosters and events, and what they did."""

    state: State
    roster_changes: dict[str, list[str]]
    ignored: pd.DataFrame
    ended: dict[tuple[str, str], tuple[str, str, str]]
    started: dict[tuple[str, str], tuple[str, str]]
    log: list[dict[str, object]]
    duplicates: list[dict[str, object]]


def _apply(
    state: State,
    kids_roster: ValidRoster | None,
    mentors_roster: ValidRoster | None,
    event_list: list[Event],
    day: str,
    seen: set[str],
) -> _Night:
    after, changes = apply_rosters(state, kids_roster, mentors_roster, date=day)
    ignored = _ignored_table(state, changes)
    if not event_list:
        return _Night(after, changes, ignored, {}, {}, [], [])
    outcome = apply_events(after, event_list, date=day, seen=seen)
    state_now, changes, ignored = _rejoined_rows(
        outcome.state, kids_roster, mentors_roster, day, changes
    )
    return _Night(
        state_now,
        changes,
        ignored,
        dict(outcome.ended),
        dict(outcome.started),
        list(outcome.log),
        list(outcome.duplicates),
    )


def _rejoined_rows(
    state: State,
    kids_roster: ValidRoster | None,
    mentors_roster: ValidRoster | None,
    day: str,
    changes: dict[str, list[str]],
) -> tuple[State, dict[str, list[str]], pd.DataFrame]:
    """Tonight's roster rows of people a rejoin event brought back tonight, applied now.

    Rosters are applied before events (so that events may name new
    referrals), so such a row was set aside as naming someone who had left;
    it is applied once they are back, and no longer listed as ignored.
    """
    rows: dict[str, ValidRoster | None] = {}
    back: dict[str, set[str]] = {}
    for roster, table, frame in (
        ("children", kids_roster, state.children),
        ("mentors", mentors_roster, state.mentors),
    ):
        status = dict(zip(frame["id"], frame["status"], strict=True))
        back[roster] = {
            i for i in changes[f"{roster}_ignored"] if status[i] not in DEPARTED_STATUSES
        }
        # ignored ids came from this roster, so it is there whenever back[roster] is not empty
        if back[roster] and table is not None:
            rows[roster] = table.select(table.frame["id"].isin(back[roster]))
        else:
            rows[roster] = None
    if not (back["children"] or back["mentors"]):
        ignored = _ignored_table(state, changes)
        return state, changes, ignored
    state, again = apply_rosters(state, rows["children"], rows["mentors"], date=day)
    merged = dict(changes)
    for roster in ("children", "mentors"):
        merged[f"{roster}_ignored"] = sorted(set(changes[f"{roster}_ignored"]) - back[roster])
        updated = set(changes[f"{roster}_updated"]) | set(again[f"{roster}_updated"])
        merged[f"{roster}_updated"] = sorted(updated)
    return state, merged, _ignored_table(state, merged)


def _ignored_table(state: State, changes: Mapping[str, list[str]]) -> pd.DataFrame:
    rows = []
    for roster, frame, reason in (
        ("children", state.children, "child_exited"),
        ("mentors", state.mentors, "mentor_left"),
    ):
        left_on = dict(zip(frame["id"], frame["left_on"], strict=True))
        rows += [(roster, i, reason, left_on[i]) for i in changes[f"{roster}_ignored"]]
    return pd.DataFrame(rows, columns=_IGNORED)


def _pair_changes(
    before: State, plan: RematchPlan, night: _Night
) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[tuple[str, str], tuple[str, str, str]]]:
    """(started, ended) between the stored state and the plan's, with reasons and dates.

    A pair ended by an event and made again the same night (by re-matching or
    a staff override) is in both: its history row ends and a new one starts.
    """
    day = str(plan.metrics["date"])
    ended = dict(night.ended)
    started = dict(night.started)
    for c, m, reason in plan.ended.itertuples(index=False):
        ended[(c, m)] = (reason, "", day)
    for c, m, _distance, _cost, reason in plan.new_pairs.itertuples(index=False):
        started[(c, m)] = (reason, day)
    old = set(zip(before.pairs["child_id"], before.pairs["mentor_id"], strict=True))
    new = set(zip(plan.state.pairs["child_id"], plan.state.pairs["mentor_id"], strict=True))
    # ended by an event and made again tonight: the history records both
    restarted = {k for k in (old & new) if k in ended and k in started}
    started = {k: v for k, v in started.items() if (k in new and k not in old) or k in restarted}
    ended = {k: v for k, v in ended.items() if (k in old and k not in new) or k in restarted}
    return started, ended


def _counts(
    night: _Night,
    plan: RematchPlan,
    started: Mapping[Any, Any],
    ended: Mapping[Any, Any],
    geo_failures: Mapping[str, pd.DataFrame],
) -> dict[str, int]:
    changes = night.roster_changes
    counts = {
        "children_joined": len(changes["children_joined"]),
        "children_updated": len(changes["children_updated"]),
        "mentors_joined": len(changes["mentors_joined"]),
        "mentors_updated": len(changes["mentors_updated"]),
        "events_applied": len(night.log),
        "pairs_started": len(started),
        "pairs_ended": len(ended),
        "pairs_moved": len(plan.moved),
        "children_waiting": len(plan.waiting),
        "roster_rows_ignored": len(night.ignored),
        "events_duplicate": len(night.duplicates),
    }
    for roster, f in geo_failures.items():
        counts[f"{roster}_geocode_failed"] = len(f)
    counts["changes"] = sum(
        v for k, v in counts.items() if k not in _NOT_CHANGES and not k.endswith("_geocode_failed")
    )
    return counts
